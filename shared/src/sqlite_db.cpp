// The SQLite RAII layer: every failing call becomes an Error carrying SQLite's code and message.
#include "fieldsync/sqlite_db.h"

#include <sqlite3.h>

#include "fieldsync/error.h"

namespace fieldsync::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw Error(ErrorDomain::kSqlite, rc, std::move(message));
}

void check(sqlite3* db, int rc, std::string_view context) {
  if (rc != SQLITE_OK) fail(db, rc, context);
}

int open_flags(Database::Mode mode) {
  switch (mode) {
    case Database::Mode::kReadWriteCreate: return SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    case Database::Mode::kReadWrite: return SQLITE_OPEN_READWRITE;
    case Database::Mode::kReadOnly: return SQLITE_OPEN_READONLY;
  }
  return SQLITE_OPEN_READWRITE;
}

}  // namespace

Database::Database(const std::string& path, Mode mode) {
  // NOMUTEX: each connection is guarded by its owner, so SQLite's own mutexes are redundant.
  const int rc = sqlite3_open_v2(path.c_str(), &db_, open_flags(mode) | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database '" + path + "': " +
                          (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error(ErrorDomain::kSqlite, rc, std::move(message));
  }
  sqlite3_extended_result_codes(db_, 1);
  // Another connection of the same store may hold the write lock briefly.
  sqlite3_busy_timeout(db_, 10'000);
}

Database::~Database() {
  for (auto& [sql, statement] : idle_statements_) sqlite3_finalize(statement);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Database::take_statement(const std::string& sql) {
  if (auto it = idle_statements_.find(sql); it != idle_statements_.end()) {
    sqlite3_stmt* statement = it->second;
    idle_statements_.erase(it);
    return statement;
  }
  sqlite3_stmt* statement = nullptr;
  check(db_, sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr),
        "prepare");
  return statement;
}

void Database::give_back_statement(const std::string& sql, sqlite3_stmt* statement) noexcept {
  // Reset ends the statement's read of the database, so no transaction is left open by it.
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
  if (idle_statements_.size() >= kMaxCachedStatements) {
    sqlite3_finalize(statement);
    return;
  }
  try {
    idle_statements_.emplace(sql, statement);
  } catch (...) {
    sqlite3_finalize(statement);  // out of memory: simply not cached
  }
}

void Database::exec(std::string_view sql) {
  char* error = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw Error(ErrorDomain::kSqlite, rc, "exec failed: " + message);
  }
}

Statement Database::prepare(std::string_view sql) { return Statement(*this, sql); }
std::int64_t Database::changes() const { return sqlite3_changes64(db_); }
std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Database::user_version() {
  Statement statement = prepare("PRAGMA user_version");
  statement.step();
  return static_cast<int>(statement.column_int(0));
}

void Database::set_user_version(int version) {
  exec("PRAGMA user_version = " + std::to_string(version));
}

void Database::copy_to(Database& target) {
  sqlite3_backup* backup = sqlite3_backup_init(target.db_, "main", db_, "main");
  if (!backup) fail(target.db_, sqlite3_errcode(target.db_), "backup");
  // All pages in one step: one read transaction on this database, so the copy is consistent.
  const int rc = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) fail(nullptr, rc, "backup");
  check(target.db_, finished, "backup");
}

Statement::Statement(Database& owner, std::string_view sql)
    : owner_(&owner), db_(owner.db_), sql_(sql) {
  stmt_ = owner_->take_statement(sql_);
}

Statement::~Statement() {
  if (stmt_) owner_->give_back_statement(sql_, stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : owner_(other.owner_), db_(other.db_), sql_(std::move(other.sql_)), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(db_, sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  check(db_, sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8),
        "bind");
  return *this;
}

Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const std::uint8_t kEmpty = 0;
  check(db_, sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(),
                                 bytes.size(), SQLITE_TRANSIENT),
        "bind");
  return *this;
}

Statement& Statement::bind(int index, const Uuid& id) {
  return bind_blob(index, std::span<const std::uint8_t>(id.bytes()));
}

Statement& Statement::bind_null(int index) {
  check(db_, sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, rc, "step");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() { sqlite3_reset(stmt_); }

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size))
              : std::string();
}

std::span<const std::uint8_t> Statement::column_blob(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return {data, static_cast<std::size_t>(size)};
}

Bytes Statement::column_bytes(int column) const {
  const auto blob = column_blob(column);
  return Bytes(blob.begin(), blob.end());
}

Uuid Statement::column_uuid(int column) const {
  const auto blob = column_blob(column);
  if (blob.size() != 16) {
    throw Error(ErrorCode::kIntegrity, "an id column does not hold 16 bytes");
  }
  Uuid::Bytes bytes;
  std::copy(blob.begin(), blob.end(), bytes.begin());
  return Uuid(bytes);
}

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
  db_.exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (open_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // Rolling back during unwinding must not throw; SQLite rolls back on close regardless.
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace fieldsync::sqlite
