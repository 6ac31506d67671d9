// libpq connections, binary parameters and rows, and the connection pool. See
// postgres_connection.h.
#include "postgres_connection.h"

#include <libpq-fe.h>

#include <cstring>

#include "fieldsync/server/server_storage.h"

namespace fieldsync::server::postgres {
namespace {

// Type oids of what we read back.
constexpr Oid kInt2 = 21;
constexpr Oid kInt4 = 23;

void put_big_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

std::uint64_t get_big_endian(std::span<const std::uint8_t> bytes) {
  std::uint64_t value = 0;
  for (const std::uint8_t byte : bytes) value = (value << 8) | byte;
  return value;
}

std::string big_endian(std::int64_t value) {
  std::string out;
  put_big_endian(out, static_cast<std::uint64_t>(value), 8);
  return out;
}

std::string error_field(const PGresult* result, int field) {
  const char* text = PQresultErrorField(result, field);
  return text ? text : "";
}

// SQLSTATEs after which the connection, or the server, cannot go on (class 08: connection
// exception; 57P01-03: shutting down; 53300: too many connections).
bool is_unavailable(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "53300";
}

}  // namespace

// --- Array ---

Array& Array::add(std::int64_t value) {
  const std::string bytes = big_endian(value);
  add_element(bytes.data(), bytes.size());
  return *this;
}

Array& Array::add(std::string_view text) {
  add_element(text.data(), text.size());
  return *this;
}

Array& Array::add(const Uuid& id) {
  add_element(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size());
  return *this;
}

Array& Array::add_bytes(std::span<const std::uint8_t> bytes) {
  add_element(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return *this;
}

Array& Array::add_null() {
  put_big_endian(elements_, static_cast<std::uint32_t>(-1), 4);
  has_null_ = true;
  ++count_;
  return *this;
}

void Array::add_element(const char* data, std::size_t size) {
  put_big_endian(elements_, size, 4);
  elements_.append(data, size);
  ++count_;
}

Oid Array::array_type() const {
  switch (element_type_) {
    case kInt8: return kInt8Array;
    case kText: return kTextArray;
    case kBytea: return kByteaArray;
    case kUuid: return kUuidArray;
    default: throw Error(ErrorCode::kInternal, "no array type for this element type");
  }
}

std::string Array::encode() const {
  // Dimensions, a null flag, the element type; for one dimension its length and lower bound (1).
  std::string out;
  put_big_endian(out, count_ == 0 ? 0 : 1, 4);
  put_big_endian(out, has_null_ ? 1 : 0, 4);
  put_big_endian(out, element_type_, 4);
  if (count_ > 0) {
    put_big_endian(out, count_, 4);
    put_big_endian(out, 1, 4);
  }
  return out + elements_;
}

// --- Params ---

void Params::add_value(Oid type, std::string value) {
  types_.push_back(type);
  values_.push_back(std::move(value));
  nulls_.push_back(false);
}

Params& Params::add_null(Oid type) {
  add_value(type, {});
  nulls_.back() = true;
  return *this;
}

Params& Params::add(std::int64_t value) {
  add_value(kInt8, big_endian(value));
  return *this;
}

Params& Params::add(std::string_view text) {
  add_value(kText, std::string(text));
  return *this;
}

Params& Params::add(const Uuid& id) {
  add_value(kUuid, std::string(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size()));
  return *this;
}

Params& Params::add_bytes(std::span<const std::uint8_t> bytes) {
  add_value(kBytea, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return *this;
}

Params& Params::add(const Array& array) {
  add_value(array.array_type(), array.encode());
  return *this;
}

// --- Row and Result ---

bool Row::is_null(int column) const { return PQgetisnull(result_, row_, column) != 0; }

std::span<const std::uint8_t> Row::raw(int column, Oid type) const {
  if (PQftype(result_, column) != type) {
    throw Error(ErrorCode::kInternal, "a PostgreSQL column has another type than the reader expects");
  }
  return {reinterpret_cast<const std::uint8_t*>(PQgetvalue(result_, row_, column)),
          static_cast<std::size_t>(PQgetlength(result_, row_, column))};
}

std::int64_t Row::int64(int column) const {
  const Oid type = PQftype(result_, column);
  const std::size_t size = type == kInt8 ? 8 : type == kInt4 ? 4 : type == kInt2 ? 2 : 0;
  if (size == 0) throw Error(ErrorCode::kInternal, "a PostgreSQL column is not an integer");
  const auto bytes = raw(column, type);
  if (bytes.size() != size) throw Error(ErrorCode::kIntegrity, "a PostgreSQL integer has the wrong size");
  const std::uint64_t value = get_big_endian(bytes);
  const int unused_bits = static_cast<int>(64 - size * 8);
  // Sign-extend the narrower integers.
  return static_cast<std::int64_t>(value << unused_bits) >> unused_bits;
}

std::string Row::text(int column) const {
  const auto bytes = raw(column, kText);
  return std::string(bytes.begin(), bytes.end());
}

Uuid Row::uuid(int column) const {
  const auto bytes = raw(column, kUuid);
  Uuid::Bytes id{};
  if (bytes.size() != id.size()) throw Error(ErrorCode::kIntegrity, "a PostgreSQL uuid has the wrong size");
  std::memcpy(id.data(), bytes.data(), id.size());
  return Uuid(id);
}

Bytes Row::bytes(int column) const {
  const auto bytes = raw(column, kBytea);
  return Bytes(bytes.begin(), bytes.end());
}

Result::Result(pg_result* result) : result_(result) {}
Result::~Result() { PQclear(result_); }
Result::Result(Result&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }

int Result::size() const { return PQntuples(result_); }

std::uint64_t Result::affected() const {
  const char* count = PQcmdTuples(result_);
  return count && *count ? std::strtoull(count, nullptr, 10) : 0;
}

// --- Connection ---

Connection::Connection(const std::string& conninfo) : conninfo_(conninfo) {
  // The string may be a URI or key=value pairs (expand_dbname); the application name shows in
  // pg_stat_activity unless the string sets its own.
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo_.c_str(), "fieldsync-server", nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) throw Error(ErrorCode::kUnavailable, "cannot allocate a PostgreSQL connection");
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw Error(ErrorCode::kUnavailable, "cannot connect to PostgreSQL: " + message);
  }
  ignore_notices();
}

void Connection::ignore_notices() {
  // libpq prints notices ("relation ... already exists, skipping") on standard error, where the
  // server's log is JSON lines; they never say anything the server acts on.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

void Connection::reconnect() {
  statements_.clear();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    throw Error(ErrorCode::kUnavailable, std::string("cannot reconnect to PostgreSQL: ") + PQerrorMessage(conn_));
  }
  ignore_notices();
}

void Connection::fail(pg_result* result, std::string_view doing) {
  const std::string sqlstate = result ? error_field(result, PG_DIAG_SQLSTATE) : "";
  std::string message = result ? error_field(result, PG_DIAG_MESSAGE_PRIMARY) : "";
  if (message.empty()) message = PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  PQclear(result);
  if (sqlstate == "40001" || sqlstate == "40P01") {
    throw TransactionRaceError("a concurrent transaction won the race (" + message + ")");
  }
  if (broken() || is_unavailable(sqlstate)) {
    throw Error(ErrorCode::kUnavailable, "PostgreSQL is unavailable (" + message + ")");
  }
  throw DatabaseError(sqlstate, message + ", " + std::string(doing));
}

Result Connection::checked(pg_result* result, std::string_view doing) {
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, doing);
  return Result(result);
}

Result Connection::run(const std::string& sql, const Params& params) {
  auto statement = statements_.find(sql);
  if (statement == statements_.end()) {
    const std::string name = "fieldsync_" + std::to_string(statements_.size() + 1);
    checked(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()),
                      params.types_.data()),
            "preparing a statement");
    statement = statements_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  const std::vector<int> formats(params.size(), 1);
  for (std::size_t i = 0; i < params.values_.size(); ++i) {
    values.push_back(params.nulls_[i] ? nullptr : params.values_[i].data());
    lengths.push_back(static_cast<int>(params.values_[i].size()));
  }
  return checked(PQexecPrepared(conn_, statement->second.c_str(), static_cast<int>(params.size()),
                                values.data(), lengths.data(), formats.data(), /*resultFormat=*/1),
                 "running a statement");
}

std::string Connection::run_script(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(result, "running a script");
  std::string tag = PQcmdStatus(result);
  PQclear(result);
  return tag;
}

// --- ConnectionPool ---

ConnectionPool::ConnectionPool(std::string conninfo, std::size_t size,
                               std::function<void(Connection&)> prepare_session)
    : conninfo_(std::move(conninfo)), size_(std::max<std::size_t>(size, 1)),
      prepare_session_(std::move(prepare_session)) {}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<Connection> ConnectionPool::open() {
  auto connection = std::make_unique<Connection>(conninfo_);
  prepare_session_(*connection);
  return connection;
}

ConnectionPool::Lease ConnectionPool::acquire() {
  std::unique_ptr<Connection> connection;
  {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || opened_ < size_; });
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++opened_;
    }
  }
  try {
    if (!connection) {
      connection = open();
    } else if (connection->broken()) {
      connection->reconnect();
      prepare_session_(*connection);
    }
  } catch (...) {
    give_back(std::move(connection));
    throw;
  }
  return Lease(*this, std::move(connection));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    if (connection) {
      idle_.push_back(std::move(connection));
    } else {
      --opened_;  // it never opened: its place is free again
    }
  }
  available_.notify_one();
}

ConnectionPool::Lease::~Lease() {
  if (connection_) pool_->give_back(std::move(connection_));
}

}  // namespace fieldsync::server::postgres
