// A thin RAII layer over SQLite's C API, shared by the client store and the server's SQLite
// backend: connections, prepared statements with typed binding, and transactions that roll back
// unless committed. Every failure becomes Error(ErrorDomain::kSqlite, result code, message).
//
// A connection compiles each SQL text once and keeps the compiled statement for reuse: compiling
// costs more than running the small statements a store runs on every write. A Statement handed
// out by prepare() goes back to its connection, reset and unbound, when it is destroyed, so it
// must not outlive the Database.
//
// Threading: a Database and its statements belong to one thread at a time; callers that share a
// connection guard it with their own mutex (SQLite's own serialisation is not relied upon).
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <string>
#include <string_view>

#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fieldsync::sqlite {

class Statement;

class Database {
 public:
  enum class Mode { kReadWriteCreate, kReadWrite, kReadOnly };
  Database(const std::string& path, Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows.
  void exec(std::string_view sql);
  // A statement for `sql`, compiled on first use and reused after.
  Statement prepare(std::string_view sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  // PRAGMA user_version: the format version of what the file holds.
  int user_version();
  void set_user_version(int version);
  // Copies the whole database into `target`, replacing what it held, as of one moment (SQLite's
  // online backup API): other connections may keep writing to this one meanwhile.
  void copy_to(Database& target);
  sqlite3* handle() const { return db_; }

 private:
  friend class Statement;
  static constexpr std::size_t kMaxCachedStatements = 64;
  sqlite3_stmt* take_statement(const std::string& sql);
  void give_back_statement(const std::string& sql, sqlite3_stmt* statement) noexcept;

  sqlite3* db_ = nullptr;
  // Compiled statements not in use, reset and unbound; a text in use twice at once gets a second.
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_statements_;
};

// A prepared statement. bind() indexes start at 1, column() indexes at 0, as in SQLite.
class Statement {
 public:
  Statement(Database& owner, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::uint8_t> bytes);
  Statement& bind(int index, const Uuid& id);  // as a 16-byte blob
  Statement& bind_null(int index);

  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();  // ready to run again (bindings kept)

  bool is_null(int column) const;
  std::int64_t column_int(int column) const;
  std::string column_text(int column) const;
  std::span<const std::uint8_t> column_blob(int column) const;  // valid until the next step
  Bytes column_bytes(int column) const;
  Uuid column_uuid(int column) const;  // Error(kIntegrity) when not 16 bytes

 private:
  Database* owner_;
  sqlite3* db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE (or a read transaction) that rolls back on destruction unless committed.
class Transaction {
 public:
  enum class Kind { kRead, kWrite };
  explicit Transaction(Database& db, Kind kind = Kind::kWrite);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace fieldsync::sqlite
