// The plain SQLite reference table.
#include "plain_table.h"

#include "store_format.h"

namespace fieldsync::bench {
namespace {

sqlite::Database& prepared(sqlite::Database& db) {
  // The store's own settings, from the store's own code, so that the two cannot drift apart.
  client::configure_connection(db);
  db.exec(R"sql(
    CREATE TABLE visits(
      record_id BLOB PRIMARY KEY,
      case_id   BLOB NOT NULL,
      body      BLOB NOT NULL
    );
    CREATE INDEX visits_by_case ON visits(case_id, record_id);
  )sql");
  return db;
}

}  // namespace

PlainTable::PlainTable(const std::string& path)
    : db_(path, sqlite::Database::Mode::kReadWriteCreate),
      insert_(
          prepared(db_).prepare("INSERT INTO visits(record_id, case_id, body) VALUES (?, ?, ?)")) {}

void PlainTable::insert(const PlainRow& row) {
  const auto* body = reinterpret_cast<const std::uint8_t*>(row.body.data());
  insert_.bind(1, row.record_id).bind(2, row.case_id).bind_blob(3, {body, row.body.size()}).run();
}

void PlainTable::insert_in_own_transaction(const PlainRow& row) {
  sqlite::Transaction transaction(db_);
  insert(row);
  transaction.commit();
}

void PlainTable::insert_in_one_transaction(const std::vector<PlainRow>& rows) {
  sqlite::Transaction transaction(db_);
  for (const PlainRow& row : rows) insert(row);
  transaction.commit();
}

}  // namespace fieldsync::bench
