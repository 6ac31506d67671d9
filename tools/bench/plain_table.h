// The reference every store and sync figure is divided by: the same visits' plain bytes inserted
// into ordinary SQLite tables with the store's connection settings (WAL, synchronous = FULL,
// secure delete), laid out like the store's records table, with no versions, outbox or encryption.
// With two tables each row is written twice, as a sync server writes a change to its history and
// to the current state. One thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fieldsync/sqlite_db.h"
#include "workload.h"

namespace fieldsync::bench {

class PlainTable {
 public:
  // `tables`: 1, or 2 for the server's two copies of every change.
  explicit PlainTable(const std::string& path, std::size_t tables = 1);

  void insert_in_own_transaction(const PlainRow& row);
  void insert_in_one_transaction(const std::vector<PlainRow>& rows);

 private:
  void insert(const PlainRow& row);

  sqlite::Database db_;
  std::vector<sqlite::Statement> inserts_;  // one per table
};

// Rows per second inserting `rows` visits' plain rows (rounded up to whole transactions of
// kBatchSize) into a new PlainTable of `tables` tables at `path`, timing only the inserts.
// Progress goes to stderr under `mode`.
double bulk_insert_rate(const std::string& path, std::size_t tables, std::size_t rows,
                        const std::string& mode);

}  // namespace fieldsync::bench
