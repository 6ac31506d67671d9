// The PostgreSQL storage backend: several stateless server nodes share one database. All of the
// server's SQL for PostgreSQL is here and in postgres_storage_schema.h.
//
// Isolation: every transaction is SERIALIZABLE. The reconciler reads, decides and writes (a
// field's history decides its winner and conflict-log entries; receipts decide whether a push is a
// resend; a scope decides what a device receives), and under SERIALIZABLE PostgreSQL guarantees
// that concurrent transactions have the effect of some serial order, so that logic, written for
// SQLite's one writer at a time, stays correct with many writers on many nodes without a lock
// taken by hand in the right place. The price is that a transaction may be aborted with a
// serialization failure (40001) or a deadlock (40P01); it surfaces as TransactionRaceError, and
// run_transaction() runs the whole body again. REPEATABLE READ with row locks was the other
// choice; it was set aside because a lock taken after the snapshot does not make the snapshot see
// the lock holder's writes (so a stale history could still decide a winner), and every new method
// would need its own locking argument. Hot rows that every transaction would write were designed
// out instead: the clock floor is one row per connection, sequence numbers come from a sequence
// (outside transactions), and no transaction reads MAX(seq).
//
// Change order across nodes: numbers from change_seq are handed out before commit, so change n
// may commit after change n+1 and a pull between the two commits must not move its cursor past
// n. A writer therefore claims, before its first nextval, a shared advisory lock on the key
// (numbers taken so far + 1), held until its transaction ends; that key is at most every number it
// will get. A transaction, before its snapshot exists (just before BEGIN), reads
// fieldsync_pull_horizon(): first A = the last number taken, then the smallest claim C still
// held; its pulls serve up to H = min(A, C - 1). Why nothing at or below H can appear later: a
// change numbered s <= H was numbered before A was read, and its writer had claimed k <= s before
// that. When the claims were read the claim was gone (else C <= k <= s, so H < s): the writer had
// committed, which PostgreSQL makes visible before it releases locks, so the snapshot taken after
// sees it; or it had rolled back, and s never exists. A transaction's own changes are visible to
// it, so its horizon also extends over numbers it took itself, where they follow H without a gap.
// The cost: a pull does not pass a writer still running, so a slow writer holds back every
// pull's cursor (not its answers) until it ends; idle_in_transaction_session_timeout ends one
// left behind by a node that hung mid-transaction.
//
// Pool: each node keeps up to `connections` connections (one per request thread is enough: a
// thread holds one transaction at a time); a request waits for a free one. A connection lost
// mid-transaction gives the request a 503 (kUnavailable), is reopened at its next use, and the
// transaction is not retried, since its commit may or may not have happened (pushes are
// idempotent, so the device's resend is safe).
//
// Batches: rows that a sync writes together (history, current winners, conflict-log entries,
// record homes) go in one statement each, as arrays spread back into rows by unnest(); lists of
// ids are one array parameter. Statements are prepared once per connection, with binary
// parameters and results.
//
// TLS: the connection string goes to libpq as it is, so sslmode=verify-full and sslrootcert (and
// client certificates) are set there.
//
// Threading: PostgresStorage is thread-safe; a transaction belongs to one thread.
#include <algorithm>
#include <set>

#include "fieldsync/error.h"
#include "fieldsync/server/server_storage.h"
#include "postgres_connection.h"
#include "postgres_storage_schema.h"
#include "stored_value_codec.h"

namespace fieldsync::server {
namespace {

using postgres::Array;
using postgres::Connection;
using postgres::ConnectionPool;
using postgres::DatabaseError;
using postgres::params;
using postgres::Params;
using postgres::Row;

constexpr std::string_view kChangeColumns =
    "record_id, field, collection, case_id, hlc, origin, value, base, device_seq, write_group, "
    "author, received_at, seq";
constexpr std::string_view kConflictColumns =
    "record_id, field, lost_hlc, lost_origin, case_id, resolved_hlc, resolved_origin, seq";
constexpr std::string_view kDeviceColumns =
    "id, user_id, status, token_hash, enrolled_at, last_seen, last_sync, status_reason, telemetry";

std::int64_t as_int(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t as_uint(std::int64_t value) { return static_cast<std::uint64_t>(value); }

// "$first, $first+1, ... " for `count` parameters.
std::string placeholders(int count, int first = 1) {
  std::string list;
  for (int i = 0; i < count; ++i) list += (i == 0 ? "$" : ", $") + std::to_string(first + i);
  return list;
}

// "INSERT INTO table(columns) SELECT * FROM unnest($1, ...)": one statement for many rows, whose
// parameters are one array per column.
std::string insert_rows(std::string_view table, std::string_view columns, int column_count) {
  return "INSERT INTO " + std::string(table) + "(" + std::string(columns) + ") SELECT * FROM unnest(" +
         placeholders(column_count) + ")";
}

// --- Row readers, in the column orders above ---

StoredChange read_change(const Row& row) {
  StoredChange stored;
  Change& change = stored.change;
  change.record_id = row.uuid(0);
  change.field = row.text(1);
  change.collection = row.text(2);
  change.case_id = row.uuid(3);
  change.version = {Hlc::from_packed(as_uint(row.int64(4))), row.uuid(5)};
  change.value = decode_stored_value(row.bytes(6));
  change.base = decode_stored_base(row.bytes(7));
  change.device_seq = as_uint(row.int64(8));
  change.write_group = row.uuid(9);
  change.author = row.text(10);
  stored.received_ms = row.int64(11);
  stored.seq = as_uint(row.int64(12));
  return stored;
}

ConflictEntry read_conflict(const Row& row) {
  ConflictEntry entry;
  entry.record_id = row.uuid(0);
  entry.field = row.text(1);
  entry.lost = {Hlc::from_packed(as_uint(row.int64(2))), row.uuid(3)};
  entry.case_id = row.uuid(4);
  if (!row.is_null(5)) entry.resolved_by = Version{Hlc::from_packed(as_uint(row.int64(5))), row.uuid(6)};
  entry.seq = as_uint(row.int64(7));
  return entry;
}

Device read_device(const Row& row) {
  Device device;
  device.id = row.uuid(0);
  device.user_id = row.text(1);
  device.status = static_cast<DeviceStatus>(row.int64(2));
  device.token_hash = row.bytes(3);
  device.enrolled_at_ms = row.int64(4);
  device.last_seen_ms = row.int64(5);
  device.last_sync_ms = row.int64(6);
  device.status_reason = row.text(7);
  device.telemetry = decode_stored_telemetry(row.text(8));
  return device;
}

User read_user(const Row& row) {
  return User{row.text(0), row.text(1), static_cast<Role>(row.int64(2)), row.text(3)};
}

Team read_team(const Row& row) { return Team{row.text(0), row.text(1)}; }

CaseAllocation read_allocation(const Row& row) {
  return CaseAllocation{row.uuid(0), row.text(1), row.text(2)};
}

Directive read_directive(const Row& row) {
  Directive directive;
  directive.id = as_uint(row.int64(0));
  directive.kind = static_cast<DirectiveKind>(row.int64(1));
  directive.case_id = row.uuid(2);
  directive.detail = row.text(3);
  return directive;
}

// --- Rows as column arrays ---

// Changes, one array per column in kChangeColumns order.
Params change_rows(std::span<const StoredChange> changes) {
  Array record_id(postgres::kUuid), field(postgres::kText), collection(postgres::kText),
      case_id(postgres::kUuid), hlc(postgres::kInt8), origin(postgres::kUuid),
      value(postgres::kBytea), base(postgres::kBytea), device_seq(postgres::kInt8),
      write_group(postgres::kUuid), author(postgres::kText), received(postgres::kInt8),
      seq(postgres::kInt8);
  for (const StoredChange& stored : changes) {
    const Change& change = stored.change;
    record_id.add(change.record_id);
    field.add(change.field);
    collection.add(change.collection);
    case_id.add(change.case_id);
    hlc.add(as_int(change.version.hlc.packed()));
    origin.add(change.version.origin);
    value.add_bytes(encode_stored_value(change.value));
    base.add_bytes(encode_stored_base(change.base));
    device_seq.add(as_int(change.device_seq));
    write_group.add(change.write_group);
    author.add(change.author);
    received.add(stored.received_ms);
    seq.add(as_int(stored.seq));
  }
  return params(record_id, field, collection, case_id, hlc, origin, value, base, device_seq,
                write_group, author, received, seq);
}

// Conflict-log entries, one array per column in kConflictColumns order.
Params conflict_rows(std::span<const ConflictEntry> entries) {
  Array record_id(postgres::kUuid), field(postgres::kText), lost_hlc(postgres::kInt8),
      lost_origin(postgres::kUuid), case_id(postgres::kUuid), resolved_hlc(postgres::kInt8),
      resolved_origin(postgres::kUuid), seq(postgres::kInt8);
  for (const ConflictEntry& entry : entries) {
    record_id.add(entry.record_id);
    field.add(entry.field);
    lost_hlc.add(as_int(entry.lost.hlc.packed()));
    lost_origin.add(entry.lost.origin);
    case_id.add(entry.case_id);
    if (entry.resolved_by) {
      resolved_hlc.add(as_int(entry.resolved_by->hlc.packed()));
      resolved_origin.add(entry.resolved_by->origin);
    } else {
      resolved_hlc.add_null();
      resolved_origin.add_null();
    }
    seq.add(as_int(entry.seq));
  }
  return params(record_id, field, lost_hlc, lost_origin, case_id, resolved_hlc, resolved_origin, seq);
}

Array uuid_array(std::span<const Uuid> ids) {
  Array array(postgres::kUuid);
  for (const Uuid& id : ids) array.add(id);
  return array;
}

// The last of each key wins, as with SQLite's INSERT OR REPLACE (one statement may not update a
// row twice).
template <class Item, class Key>
std::vector<Item> last_of_each(std::span<const Item> items, Key key_of) {
  std::vector<Item> kept;
  std::set<decltype(key_of(items.front()))> seen;
  for (auto item = items.rbegin(); item != items.rend(); ++item) {
    if (seen.insert(key_of(*item)).second) kept.push_back(*item);
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

class PostgresTransaction final : public StorageTransaction {
 public:
  PostgresTransaction(ConnectionPool::Lease connection, Uuid connection_id)
      : connection_(std::move(connection)), connection_id_(connection_id) {
    horizon_ = as_uint(one_int("SELECT fieldsync_pull_horizon()"));
    connection_->run_script("BEGIN ISOLATION LEVEL SERIALIZABLE");
    open_ = true;
  }

  ~PostgresTransaction() override {
    if (!open_) return;
    try {
      connection_->run_script("ROLLBACK");
    } catch (...) {
      // The connection is lost (the server rolls back on its own); it is reopened at next use.
    }
  }

  void commit() override {
    open_ = false;
    if (connection_->run_script("COMMIT") != "COMMIT") {
      throw Error(ErrorCode::kInternal, "PostgreSQL rolled back a transaction asked to commit");
    }
  }

  // --- Server identity ---
  Uuid epoch() override { return meta_uuid("epoch"); }
  OriginId server_origin() override { return meta_uuid("origin"); }
  std::uint64_t last_seq() override {
    std::uint64_t up_to = horizon_;
    for (auto own = own_seqs_.upper_bound(up_to); own != own_seqs_.end() && *own == up_to + 1; ++own) {
      up_to = *own;
    }
    return up_to;
  }
  Hlc clock_floor() override {
    return Hlc::from_packed(as_uint(one_int("SELECT COALESCE(MAX(floor), 0) FROM clock_floors")));
  }
  void set_clock_floor(Hlc floor) override {
    run("INSERT INTO clock_floors(connection_id, floor) VALUES ($1, $2) "
        "ON CONFLICT (connection_id) DO UPDATE SET floor = excluded.floor "
        "WHERE clock_floors.floor < excluded.floor",
        params(connection_id_, as_int(floor.packed())));
  }

  // --- People and cases ---
  void put_team(const Team& team) override {
    insert_unique("team", team.id,
                  run("INSERT INTO teams(id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                      params(team.id, team.name)));
  }
  std::optional<Team> team(const std::string& id) override {
    return one("SELECT id, name FROM teams WHERE id = $1", params(id), read_team);
  }
  std::vector<Team> teams() override {
    return all("SELECT id, name FROM teams ORDER BY id", {}, read_team);
  }
  void put_user(const User& user) override {
    insert_unique("user", user.id,
                  run("INSERT INTO users(id, team_id, role, name) VALUES ($1, $2, $3, $4) "
                      "ON CONFLICT DO NOTHING",
                      params(user.id, user.team_id, static_cast<std::int64_t>(user.role), user.name)));
  }
  std::optional<User> user(const std::string& id) override {
    return one("SELECT id, team_id, role, name FROM users WHERE id = $1", params(id), read_user);
  }
  std::vector<User> users() override {
    return all("SELECT id, team_id, role, name FROM users ORDER BY id", {}, read_user);
  }
  void put_allocation(const CaseAllocation& allocation) override {
    run("INSERT INTO allocations(case_id, team_id, worker_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (case_id) DO UPDATE SET team_id = excluded.team_id, worker_id = excluded.worker_id",
        params(allocation.case_id, allocation.team_id, allocation.worker_id));
  }
  std::optional<CaseAllocation> allocation(const CaseId& case_id) override {
    return one("SELECT case_id, team_id, worker_id FROM allocations WHERE case_id = $1",
               params(case_id), read_allocation);
  }
  std::vector<CaseAllocation> allocations() override {
    return all("SELECT case_id, team_id, worker_id FROM allocations ORDER BY case_id", {},
               read_allocation);
  }
  std::vector<CaseId> scope_of(const User& user) override {
    const bool manager = user.role == Role::kManager;
    return all(manager ? "SELECT case_id FROM allocations WHERE team_id = $1 ORDER BY case_id"
                       : "SELECT case_id FROM allocations WHERE worker_id = $1 ORDER BY case_id",
               params(manager ? user.team_id : user.id), [](const Row& row) { return row.uuid(0); });
  }

  // --- Devices, enrolment, admin tokens ---
  void put_device(const Device& device) override {
    Params values = params(device.id, device.user_id, static_cast<std::int64_t>(device.status));
    values.add_bytes(device.token_hash)
        .add(device.enrolled_at_ms)
        .add(device.last_seen_ms)
        .add(device.last_sync_ms)
        .add(device.status_reason)
        .add(encode_stored_telemetry(device.telemetry));
    run("INSERT INTO devices(" + std::string(kDeviceColumns) + ") VALUES (" + placeholders(9) +
            ") ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, status = excluded.status, "
            "token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at, "
            "last_seen = excluded.last_seen, last_sync = excluded.last_sync, "
            "status_reason = excluded.status_reason, telemetry = excluded.telemetry",
        values);
  }
  std::optional<Device> device(const OriginId& id) override {
    return one("SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id = $1", params(id),
               read_device);
  }
  std::vector<Device> devices() override {
    return all("SELECT " + std::string(kDeviceColumns) + " FROM devices ORDER BY user_id, enrolled_at",
               {}, read_device);
  }
  void put_enrolment_code(const EnrolmentCode& code) override {
    Params values = params(code.id);
    values.add_bytes(code.secret_hash).add(code.user_id).add(code.created_at_ms).add(code.expires_at_ms);
    insert_unique("enrolment code", code.id,
                  run("INSERT INTO enrolment_codes(id, secret_hash, user_id, created_at, expires_at) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                      values));
  }
  std::optional<EnrolmentCode> enrolment_code(const std::string& id) override {
    return one("SELECT id, secret_hash, user_id, created_at, expires_at FROM enrolment_codes "
               "WHERE id = $1",
               params(id), [](const Row& row) {
                 return EnrolmentCode{row.text(0), row.bytes(1), row.text(2), row.int64(3), row.int64(4)};
               });
  }
  bool use_enrolment_code(const std::string& id, const OriginId& device, std::int64_t now_ms) override {
    return run("UPDATE enrolment_codes SET used_at = $1, device_id = $2 WHERE id = $3 AND used_at IS NULL",
               params(now_ms, device, id))
               .affected() == 1;
  }
  void put_admin_token(const AdminToken& token) override {
    Params values = params(token.id);
    values.add_bytes(token.secret_hash)
        .add(token.name)
        .add(encode_stored_roles(token.roles))
        .add(token.created_at_ms)
        .add(token.expires_at_ms);
    insert_unique("admin token", token.id,
                  run("INSERT INTO admin_tokens(id, secret_hash, name, roles, created_at, expires_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                      values));
  }
  std::optional<AdminToken> admin_token(const std::string& id) override {
    return one("SELECT id, secret_hash, name, roles, created_at, expires_at FROM admin_tokens "
               "WHERE id = $1",
               params(id), [](const Row& row) {
                 return AdminToken{row.text(0), row.bytes(1), row.text(2), decode_stored_roles(row.text(3)),
                                   row.int64(4), row.int64(5)};
               });
  }

  // --- What a device holds ---
  std::vector<DeviceCase> device_cases(const OriginId& device) override {
    return all("SELECT case_id, state, delivered_in FROM device_cases WHERE device_id = $1 "
               "ORDER BY case_id",
               params(device), [](const Row& row) {
                 return DeviceCase{row.uuid(0), static_cast<DeviceCaseState>(row.int64(1)),
                                   as_uint(row.int64(2))};
               });
  }
  void put_device_case(const OriginId& device, const DeviceCase& device_case) override {
    run("INSERT INTO device_cases(device_id, case_id, state, delivered_in) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (device_id, case_id) DO UPDATE SET state = excluded.state, "
        "delivered_in = excluded.delivered_in",
        params(device, device_case.case_id, static_cast<std::int64_t>(device_case.state),
               as_int(device_case.delivered_in)));
  }
  void remove_device_case(const OriginId& device, const CaseId& case_id) override {
    run("DELETE FROM device_cases WHERE device_id = $1 AND case_id = $2", params(device, case_id));
  }
  void remove_device_cases(const OriginId& device) override {
    run("DELETE FROM device_cases WHERE device_id = $1", params(device));
  }

  // --- Records, history, current state, conflicts ---
  std::map<RecordId, RecordHome> record_homes(std::span<const RecordId> ids) override {
    std::map<RecordId, RecordHome> homes;
    const auto rows = run("SELECT id, collection, case_id FROM records WHERE id = ANY($1)",
                          params(uuid_array(ids)));
    for (int i = 0; i < rows.size(); ++i) homes.emplace(rows[i].uuid(0), RecordHome{rows[i].text(1), rows[i].uuid(2)});
    return homes;
  }
  void put_record_homes(const std::map<RecordId, RecordHome>& homes) override {
    if (homes.empty()) return;
    Array id(postgres::kUuid), collection(postgres::kText), case_id(postgres::kUuid);
    for (const auto& [record_id, home] : homes) {
      id.add(record_id);
      collection.add(home.collection);
      case_id.add(home.case_id);
    }
    run(insert_rows("records", "id, collection, case_id", 3) + " ON CONFLICT DO NOTHING",
        params(id, collection, case_id));
  }
  std::vector<StoredChange> field_history(const FieldKey& field) override {
    return all("SELECT " + std::string(kChangeColumns) +
                   " FROM history WHERE record_id = $1 AND field = $2 ORDER BY seq",
               params(field.record_id, field.field), read_change);
  }
  std::vector<std::uint64_t> append_history(std::span<const Change> changes,
                                            std::int64_t received_ms) override {
    if (changes.empty()) return {};
    if (!claimed_) {
      // Before the first number: see the header comment (change order across nodes).
      run("SELECT pg_advisory_xact_lock_shared(COALESCE(pg_sequence_last_value('change_seq'), 0) + 1)");
      claimed_ = true;
    }
    std::vector<std::uint64_t> numbers = all(
        "SELECT nextval('change_seq') FROM generate_series(1, $1)",
        params(static_cast<std::int64_t>(changes.size())), [](const Row& row) { return as_uint(row.int64(0)); });
    std::sort(numbers.begin(), numbers.end());
    std::vector<StoredChange> rows;
    rows.reserve(changes.size());
    for (std::size_t i = 0; i < changes.size(); ++i) rows.push_back({changes[i], numbers[i], received_ms});
    run(insert_rows("history", kChangeColumns, 13), change_rows(rows));
    own_seqs_.insert(numbers.begin(), numbers.end());
    return numbers;
  }
  std::vector<StoredChange> current_fields(const RecordId& record_id) override {
    return all("SELECT " + std::string(kChangeColumns) + " FROM current WHERE record_id = $1 ORDER BY field",
               params(record_id), read_change);
  }
  void put_current(std::span<const StoredChange> winners) override {
    if (winners.empty()) return;
    const auto rows = last_of_each(winners, [](const StoredChange& stored) {
      return FieldKey{stored.change.record_id, stored.change.field};
    });
    run(insert_rows("current", kChangeColumns, 13) +
            " ON CONFLICT (record_id, field) DO UPDATE SET collection = excluded.collection, "
            "case_id = excluded.case_id, hlc = excluded.hlc, origin = excluded.origin, "
            "value = excluded.value, base = excluded.base, device_seq = excluded.device_seq, "
            "write_group = excluded.write_group, author = excluded.author, "
            "received_at = excluded.received_at, seq = excluded.seq",
        change_rows(rows));
  }
  std::vector<ConflictEntry> field_conflicts(const FieldKey& field) override {
    return all("SELECT " + std::string(kConflictColumns) +
                   " FROM conflicts WHERE record_id = $1 AND field = $2 ORDER BY lost_hlc, lost_origin",
               params(field.record_id, field.field), read_conflict);
  }
  void put_conflicts(std::span<const ConflictEntry> entries) override {
    if (entries.empty()) return;
    const auto rows = last_of_each(entries, [](const ConflictEntry& entry) {
      return std::tuple(entry.record_id, entry.field, entry.lost);
    });
    run(insert_rows("conflicts", kConflictColumns, 8) +
            " ON CONFLICT (record_id, field, lost_hlc, lost_origin) DO UPDATE SET "
            "case_id = excluded.case_id, resolved_hlc = excluded.resolved_hlc, "
            "resolved_origin = excluded.resolved_origin, seq = excluded.seq",
        conflict_rows(rows));
  }

  // --- Pulls ---
  std::vector<StoredChange> current_since(std::span<const CaseId> cases, std::uint64_t after,
                                          std::uint64_t up_to, std::size_t limit) override {
    return all("SELECT " + std::string(kChangeColumns) +
                   " FROM current WHERE case_id = ANY($1) AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
               params(uuid_array(cases), as_int(after), as_int(up_to), static_cast<std::int64_t>(limit)),
               read_change);
  }
  std::vector<StoredChange> current_of_case(const CaseId& case_id, std::uint64_t up_to) override {
    return all("SELECT " + std::string(kChangeColumns) +
                   " FROM current WHERE case_id = $1 AND seq <= $2 ORDER BY seq",
               params(case_id, as_int(up_to)), read_change);
  }
  std::vector<ConflictEntry> conflicts_since(std::span<const CaseId> cases, std::uint64_t after,
                                             std::uint64_t up_to) override {
    return all("SELECT " + std::string(kConflictColumns) +
                   " FROM conflicts WHERE case_id = ANY($1) AND seq > $2 AND seq <= $3 "
                   "ORDER BY seq, record_id, field, lost_hlc, lost_origin",
               params(uuid_array(cases), as_int(after), as_int(up_to)), read_conflict);
  }
  std::vector<ConflictEntry> open_conflicts_of_case(const CaseId& case_id, std::uint64_t up_to) override {
    return all("SELECT " + std::string(kConflictColumns) +
                   " FROM conflicts WHERE case_id = $1 AND seq <= $2 AND resolved_hlc IS NULL "
                   "ORDER BY seq, record_id, field, lost_hlc, lost_origin",
               params(case_id, as_int(up_to)), read_conflict);
  }
  std::optional<StoredChange> change_by_version(const FieldKey& field, const Version& version) override {
    return one("SELECT " + std::string(kChangeColumns) +
                   " FROM history WHERE record_id = $1 AND field = $2 AND hlc = $3 AND origin = $4 "
                   "ORDER BY seq LIMIT 1",
               params(field.record_id, field.field, as_int(version.hlc.packed()), version.origin),
               read_change);
  }
  std::optional<StoredChange> current_field(const FieldKey& field) override {
    return one("SELECT " + std::string(kChangeColumns) + " FROM current WHERE record_id = $1 AND field = $2",
               params(field.record_id, field.field), read_change);
  }

  // --- Idempotency and the rejected log ---
  std::vector<Receipt> receipts_overlapping(const OriginId& device, std::uint64_t first,
                                            std::uint64_t last) override {
    return all("SELECT write_group, first_seq, last_seq, content_hash FROM receipts "
               "WHERE device_id = $1 AND last_seq >= $2 AND first_seq <= $3 ORDER BY first_seq DESC",
               params(device, as_int(first), as_int(last)), [](const Row& row) {
                 return Receipt{row.uuid(0), as_uint(row.int64(1)), as_uint(row.int64(2)), row.bytes(3)};
               });
  }
  void put_receipt(const OriginId& device, const Receipt& receipt) override {
    Params values = params(device, as_int(receipt.first_seq), as_int(receipt.last_seq), receipt.group);
    values.add_bytes(receipt.content_hash);
    run("INSERT INTO receipts(device_id, first_seq, last_seq, write_group, content_hash) "
        "VALUES ($1, $2, $3, $4, $5)",
        values);
  }
  std::optional<RejectedGroup> rejected_group(const OriginId& device, const WriteGroupId& group) override {
    return one("SELECT rejection, content_hash, rejected_at FROM rejected_groups "
               "WHERE device_id = $1 AND write_group = $2",
               params(device, group), [&](const Row& row) {
                 return RejectedGroup{device, decode_stored_rejection(row.bytes(0)), row.bytes(1),
                                      row.int64(2)};
               });
  }
  void put_rejected_group(const RejectedGroup& rejected) override {
    Params values = params(rejected.device, rejected.rejection.write_group);
    values.add_bytes(encode_stored_rejection(rejected.rejection))
        .add_bytes(rejected.content_hash)
        .add(rejected.rejected_at_ms);
    run("INSERT INTO rejected_groups(device_id, write_group, rejection, content_hash, rejected_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id, write_group) DO UPDATE SET "
        "rejection = excluded.rejection, content_hash = excluded.content_hash, "
        "rejected_at = excluded.rejected_at",
        values);
  }

  // --- Directives ---
  std::uint64_t add_directive(const OriginId& device, DirectiveKind kind, const CaseId& case_id,
                              const std::string& detail, std::int64_t now_ms) override {
    return as_uint(one_int(
        "INSERT INTO directives(device_id, kind, case_id, detail, created_at) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        params(device, static_cast<std::int64_t>(kind), case_id, detail, now_ms)));
  }
  std::vector<Directive> open_directives(const OriginId& device) override {
    return all("SELECT id, kind, case_id, detail FROM directives "
               "WHERE device_id = $1 AND acked_at IS NULL ORDER BY id",
               params(device), read_directive);
  }
  std::vector<Directive> acknowledge_directives(const OriginId& device, std::span<const std::uint64_t> ids,
                                                std::int64_t now_ms) override {
    Array id_array(postgres::kInt8);
    for (const std::uint64_t id : ids) id_array.add(as_int(id));
    std::vector<Directive> acknowledged =
        all("UPDATE directives SET acked_at = $1 WHERE device_id = $2 AND id = ANY($3) "
            "AND acked_at IS NULL RETURNING id, kind, case_id, detail",
            params(now_ms, device, id_array), read_directive);
    // In the order the device named them, as the SQLite backend answers.
    auto position = [&](const Directive& directive) {
      return std::find(ids.begin(), ids.end(), directive.id) - ids.begin();
    };
    std::sort(acknowledged.begin(), acknowledged.end(),
              [&](const Directive& a, const Directive& b) { return position(a) < position(b); });
    return acknowledged;
  }

  // --- Failed authentication ---
  void add_auth_failure(const std::string& key, std::int64_t at_ms) override {
    run("INSERT INTO auth_failures(key, at) VALUES ($1, $2)", params(key, at_ms));
  }
  AuthFailures auth_failures(const std::string& key, std::int64_t since_ms) override {
    const auto rows = run("SELECT COUNT(*), COALESCE(MIN(at), 0) FROM auth_failures WHERE key = $1 AND at > $2",
                          params(key, since_ms));
    return {as_uint(rows[0].int64(0)), rows[0].int64(1)};
  }
  void forget_auth_failures(std::int64_t before_ms) override {
    run("DELETE FROM auth_failures WHERE at <= $1", params(before_ms));
  }

 private:
  postgres::Result run(const std::string& sql, const Params& values = {}) {
    return connection_->run(sql, values);
  }

  template <class Read>
  auto all(const std::string& sql, const Params& values, Read read)
      -> std::vector<std::invoke_result_t<Read&, const Row&>> {
    const auto rows = run(sql, values);
    std::vector<std::invoke_result_t<Read&, const Row&>> items;
    items.reserve(static_cast<std::size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) items.push_back(read(rows[i]));
    return items;
  }

  template <class Read>
  auto one(const std::string& sql, const Params& values, Read read)
      -> std::optional<std::invoke_result_t<Read&, const Row&>> {
    const auto rows = run(sql, values);
    if (rows.size() == 0) return std::nullopt;
    return read(rows[0]);
  }

  std::int64_t one_int(const std::string& sql, const Params& values = {}) {
    const auto rows = run(sql, values);
    if (rows.size() != 1) throw Error(ErrorCode::kInternal, "a PostgreSQL query gave no row");
    return rows[0].int64(0);
  }

  Uuid meta_uuid(const std::string& key) {
    auto value = one("SELECT value FROM meta WHERE key = $1", params(key), [](const Row& row) { return row.uuid(0); });
    if (!value) throw Error(ErrorCode::kIntegrity, "the server database has no " + key);
    return *value;
  }

  // An INSERT ... ON CONFLICT DO NOTHING that inserted nothing: the id is taken. (Checked by the
  // count rather than by catching a unique violation, which would abort the whole transaction.)
  static void insert_unique(std::string_view what, const std::string& id, const postgres::Result& insert) {
    if (insert.affected() == 0) throw Error(ErrorCode::kConflict, std::string(what) + " '" + id + "' already exists");
  }

  ConnectionPool::Lease connection_;
  const Uuid connection_id_;
  bool open_ = false;
  std::uint64_t horizon_ = 0;          // see the header comment
  bool claimed_ = false;               // this transaction holds its claim on sequence numbers
  std::set<std::uint64_t> own_seqs_;   // the numbers this transaction took
};

class PostgresStorage final : public ServerStorage {
 public:
  PostgresStorage(const std::string& connection, std::size_t connections)
      : pool_(connection, connections, prepare_session) {
    migrate();
  }

  std::unique_ptr<StorageTransaction> begin() override {
    ConnectionPool::Lease connection = pool_.acquire();
    const Uuid id = connection_id(*connection);
    return std::make_unique<PostgresTransaction>(std::move(connection), id);
  }

  std::uint64_t size_bytes() override {
    auto connection = pool_.acquire();
    const auto rows = connection->run("SELECT pg_database_size(current_database())");
    return as_uint(rows[0].int64(0));
  }

 private:
  // Every connection: a transaction left idle (a node that hung mid-request) is ended by the
  // server, so that its claim cannot hold back every pull for long.
  static void prepare_session(Connection& connection) {
    connection.run_script("SET idle_in_transaction_session_timeout = '60s'");
  }

  // Each connection names the rows it owns (its clock floor) by an id of its own.
  Uuid connection_id(Connection& connection) {
    std::lock_guard lock(ids_mutex_);
    auto [entry, added] = connection_ids_.try_emplace(&connection, Uuid{});
    if (added) entry->second = Uuid::random_v4();
    return entry->second;
  }

  void migrate() {
    auto connection = pool_.acquire();
    connection->run_script("BEGIN");
    try {
      connection->run("SELECT pg_advisory_xact_lock($1::integer, $2::integer)",
                      params(std::int64_t{postgres_schema::kMigrationLockClass},
                             std::int64_t{postgres_schema::kMigrationLockKey}));
      connection->run_script(std::string(postgres_schema::kVersionTable));
      const auto rows = connection->run("SELECT version FROM schema_version");
      const std::size_t version = rows.size() == 0 ? 0 : static_cast<std::size_t>(rows[0].int64(0));
      if (version > postgres_schema::kMigrations.size()) {
        throw Error(ErrorCode::kUnsupportedVersion,
                    "the server database was written by a newer fieldsync-server (format " +
                        std::to_string(version) + ")");
      }
      for (std::size_t i = version; i < postgres_schema::kMigrations.size(); ++i) {
        connection->run_script(std::string(postgres_schema::kMigrations[i]));
      }
      connection->run_script("DELETE FROM schema_version");
      connection->run("INSERT INTO schema_version(version) VALUES ($1::integer)",
                      params(static_cast<std::int64_t>(postgres_schema::kMigrations.size())));
      // Floors of connections that are gone: only the greatest matters.
      connection->run_script("DELETE FROM clock_floors WHERE floor < (SELECT MAX(floor) FROM clock_floors)");
      connection->run_script("COMMIT");
    } catch (...) {
      if (!connection->broken()) connection->run_script("ROLLBACK");
      throw;
    }
  }

  ConnectionPool pool_;
  std::mutex ids_mutex_;
  std::map<const Connection*, Uuid> connection_ids_;  // guarded by ids_mutex_
};

}  // namespace

std::unique_ptr<ServerStorage> open_postgres_storage(const std::string& connection,
                                                     std::size_t connections) {
  return std::make_unique<PostgresStorage>(connection, connections);
}

}  // namespace fieldsync::server
