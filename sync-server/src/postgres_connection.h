// A thin layer over libpq for the PostgreSQL storage backend: a connection that prepares each SQL
// text once and runs it with binary parameters and results, typed readers of result rows, arrays
// as parameters (so that a batch of rows is one statement: INSERT ... SELECT * FROM unnest($1,
// $2, ...)), and the pool of connections that one server node's request threads share.
//
// Errors: a serialization failure (SQLSTATE 40001) or a deadlock (40P01) becomes
// TransactionRaceError; a lost or refused connection Error(kUnavailable); anything else
// DatabaseError (kIo) with its SQLSTATE. Messages carry PostgreSQL's primary message, never its
// DETAIL, which may quote values.
//
// Threading: a Connection belongs to one thread at a time; ConnectionPool is thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fieldsync/error.h"
#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

struct pg_conn;
struct pg_result;

namespace fieldsync::server::postgres {

using Oid = unsigned int;

// Type oids of the parameters we send (fixed in PostgreSQL's catalogue).
enum TypeOid : Oid {
  kInt8 = 20,
  kText = 25,
  kBytea = 17,
  kUuid = 2950,
  kInt8Array = 1016,
  kTextArray = 1009,
  kByteaArray = 1001,
  kUuidArray = 2951,
};

inline constexpr std::string_view kUniqueViolation = "23505";

// A statement failed: its SQLSTATE and PostgreSQL's primary message.
class DatabaseError : public Error {
 public:
  DatabaseError(std::string sqlstate, const std::string& message)
      : Error(ErrorCode::kIo, "PostgreSQL: " + message + " (SQLSTATE " + sqlstate + ")"),
        sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// One array parameter in PostgreSQL's binary array form, built element by element.
class Array {
 public:
  explicit Array(Oid element_type) : element_type_(element_type) {}
  Array& add(std::int64_t value);
  Array& add(std::string_view text);
  Array& add(const Uuid& id);
  Array& add_bytes(std::span<const std::uint8_t> bytes);
  Array& add_null();
  Oid array_type() const;
  std::string encode() const;

 private:
  void add_element(const char* data, std::size_t size);
  Oid element_type_;
  std::size_t count_ = 0;
  bool has_null_ = false;
  std::string elements_;  // each: a 4-byte length (-1 for null), then the bytes
};

// The parameters of one statement, in binary form, in order ($1, $2, ...).
class Params {
 public:
  Params& add(std::int64_t value);
  Params& add(std::string_view text);
  Params& add(const std::string& text) { return add(std::string_view(text)); }
  Params& add(const char* text) { return add(std::string_view(text)); }
  Params& add(const Uuid& id);
  Params& add_bytes(std::span<const std::uint8_t> bytes);
  Params& add(const Array& array);
  // SQL NULL as a parameter of `type`.
  Params& add_null(Oid type);
  // The id, or NULL (uuid).
  Params& add(const std::optional<Uuid>& id) { return id ? add(*id) : add_null(kUuid); }

  std::size_t size() const { return types_.size(); }

 private:
  friend class Connection;
  void add_value(Oid type, std::string value);
  std::vector<Oid> types_;
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

// Parameters from values: params(device.id, user_id, as_int(seq)).
template <class... Values>
Params params(const Values&... values) {
  Params list;
  (list.add(values), ...);
  return list;
}

// One row of a result; columns count from 0. Readers check the column's type.
class Row {
 public:
  Row(const pg_result* result, int row) : result_(result), row_(row) {}
  bool is_null(int column) const;
  std::int64_t int64(int column) const;  // int2, int4 or int8
  std::string text(int column) const;
  Uuid uuid(int column) const;
  Bytes bytes(int column) const;

 private:
  std::span<const std::uint8_t> raw(int column, Oid type) const;
  const pg_result* result_;
  int row_;
};

class Result {
 public:
  explicit Result(pg_result* result);
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;

  int size() const;
  Row operator[](int row) const { return Row(result_, row); }
  // Rows that an INSERT, UPDATE or DELETE touched.
  std::uint64_t affected() const;

 private:
  pg_result* result_;
};

class Connection {
 public:
  // Connects with a libpq connection string (a URI or key=value pairs).
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` as a statement prepared on this connection at its first use, with `params`;
  // results come back in binary form.
  Result run(const std::string& sql, const Params& params = {});
  // Runs SQL without parameters, possibly several statements (BEGIN, COMMIT, migrations); returns
  // the command tag of the last one ("COMMIT", "ROLLBACK", ...).
  std::string run_script(const std::string& sql);

  // The connection was lost; reconnect() before using it again.
  bool broken() const;
  void reconnect();

 private:
  void ignore_notices();
  [[noreturn]] void fail(pg_result* result, std::string_view doing);
  Result checked(pg_result* result, std::string_view doing);

  std::string conninfo_;
  pg_conn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> statements_;  // SQL text -> prepared name
};

// The connections of one server node. Connections are opened when first needed, at most `size`;
// a caller waits for a free one. A connection given back broken is reopened before its next use.
class ConnectionPool {
 public:
  // `prepare_session` runs on every new (or reopened) connection, e.g. to SET session options.
  ConnectionPool(std::string conninfo, std::size_t size,
                 std::function<void(Connection&)> prepare_session);
  ~ConnectionPool();

  // A connection held until the lease is destroyed.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    ~Lease();
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> open();

  const std::string conninfo_;
  const std::size_t size_;
  const std::function<void(Connection&)> prepare_session_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::size_t opened_ = 0;                          // guarded by mutex_
};

}  // namespace fieldsync::server::postgres
