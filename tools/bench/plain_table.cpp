// The plain SQLite reference tables.
#include "plain_table.h"

#include "measure.h"
#include "store_format.h"

namespace fieldsync::bench {
namespace {

constexpr std::size_t kCases = 50;
constexpr std::size_t kRounds = 10;

std::string table_name(std::size_t index) {
  return index == 0 ? "visits" : "visits_" + std::to_string(index + 1);
}

sqlite::Database& prepared(sqlite::Database& db, std::size_t tables) {
  // The store's own settings, from the store's own code, so that the two cannot drift apart.
  client::configure_connection(db);
  for (std::size_t i = 0; i < tables; ++i) {
    const std::string name = table_name(i);
    db.exec("CREATE TABLE " + name +
            "(record_id BLOB PRIMARY KEY, case_id BLOB NOT NULL, body BLOB NOT NULL);"
            "CREATE INDEX " + name + "_by_case ON " + name + "(case_id, record_id);");
  }
  return db;
}

}  // namespace

PlainTable::PlainTable(const std::string& path, std::size_t tables)
    : db_(path, sqlite::Database::Mode::kReadWriteCreate) {
  prepared(db_, tables);
  for (std::size_t i = 0; i < tables; ++i) {
    inserts_.push_back(
        db_.prepare("INSERT INTO " + table_name(i) + "(record_id, case_id, body) VALUES (?, ?, ?)"));
  }
}

void PlainTable::insert(const PlainRow& row) {
  const auto* body = reinterpret_cast<const std::uint8_t*>(row.body.data());
  for (sqlite::Statement& insert : inserts_) {
    insert.reset();
    insert.bind(1, row.record_id).bind(2, row.case_id).bind_blob(3, {body, row.body.size()}).run();
  }
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

double bulk_insert_rate(const std::string& path, std::size_t tables, std::size_t rows,
                        const std::string& mode) {
  PlainTable table(path, tables);
  VisitWorkload workload(kCases);
  Stopwatch watch;
  const std::size_t batches = (rows + kBatchSize - 1) / kBatchSize;
  const std::string what = tables == 1 ? "raw SQLite bulk inserts, batches"
                                       : "raw SQLite bulk inserts into " + std::to_string(tables) +
                                             " tables, batches";
  in_rounds(mode, what, batches, std::min(kRounds, batches), {[&](std::size_t count) {
              for (std::size_t i = 0; i < count; ++i) {
                std::vector<PlainRow> batch;
                for (std::size_t row = 0; row < kBatchSize; ++row) {
                  batch.push_back(VisitWorkload::plain_row(workload.next_visit()));
                }
                watch.time([&] { table.insert_in_one_transaction(batch); });
              }
            }});
  return watch.per_second(batches * kBatchSize);
}

}  // namespace fieldsync::bench
