// The reference every store figure is divided by: the same visits' plain bytes inserted into an
// ordinary SQLite table with the store's connection settings (WAL, synchronous = FULL, secure
// delete), laid out like the store's records table, with no versions, outbox or encryption.
// One thread at a time.
#pragma once

#include <string>
#include <vector>

#include "fieldsync/sqlite_db.h"
#include "workload.h"

namespace fieldsync::bench {

class PlainTable {
 public:
  explicit PlainTable(const std::string& path);

  void insert_in_own_transaction(const PlainRow& row);
  void insert_in_one_transaction(const std::vector<PlainRow>& rows);

 private:
  void insert(const PlainRow& row);

  sqlite::Database db_;
  sqlite::Statement insert_;
};

}  // namespace fieldsync::bench
