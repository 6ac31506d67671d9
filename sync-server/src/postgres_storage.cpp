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
// out instead: the clock floor and the fleet's activity buckets are one row per connection,
// sequence numbers come from a sequence (outside transactions), and no transaction reads
// MAX(seq). The audit chain's head, which must be linear, is kept out of them too (below).
//
// Turns (begin_in_turn): syncs of one user's devices edit the same cases, so when they overlap
// they truly conflict, and one of them runs again, often more than once. A transaction begun in a
// turn first takes a session-level advisory lock on (kTurnLockClass, hashtext(turn)), waiting for
// it, and only then reads its pull horizon and begins: its snapshot is taken after the previous
// holder committed, so it sees that one's work and does not race it. The lock is given back as
// soon as the transaction ends (commit or rollback), before the audit seal. It must be taken
// before BEGIN: a lock taken inside a SERIALIZABLE transaction comes after the snapshot (the first
// statement's), too late to see the holder's commit. Turns only spare work; SERIALIZABLE alone
// keeps the syncs correct, with or without them (a sync of another user, an admin's write or a
// manager's device can still race a turn's holder, and then one of them runs again).
//
// Audit log: deferred chaining ("sealing"). The transaction of an action only inserts its entry
// into audit_pending (its id from a sequence), so the entry commits, or not, with the action it
// records, and concurrent transactions have nothing of the chain to conflict on. After a
// transaction that added entries commits, its node seals: a short READ COMMITTED transaction
// takes the audit advisory lock (transaction-scoped), reads the head, chains every pending row it
// sees in id order (the next seq and audit_row_hash, as SQLite does inline), inserts them into
// audit_log and audit_cases, deletes them from audit_pending and moves the head. After a commit
// the lock is only tried: a request never waits for another node's seal. If it is taken, the rows
// are left to that seal, or, if it read the pending rows before they committed, to the node's
// background sealer, which looks every second (open_postgres_storage's seal_interval) and seals,
// waiting for the lock, when an entry pending at its previous look still is; so an entry stays
// pending for about two seconds at most, and under load a seal chains the rows of many commits at
// once. Any node seals every node's rows, so entries left by a node that stopped between a commit
// and its seal are chained by the next seal anywhere; each node also seals (waiting) when it
// opens the database, and the audit routes seal (waiting) before they read, so an admin sees
// every committed entry. A seal that fails (connection lost) does not fail the committed request:
// its rows stay pending for the next seal. The chain's order is the order of the seals, and within one seal the order of ids:
// an entry whose transaction took its id earlier but committed later is chained after entries
// sealed meanwhile, so seq follows the commits more or less, not the ids. Tamper evidence:
// audit_log and audit_cases refuse UPDATE, DELETE and TRUNCATE; audit_pending refuses UPDATE but
// must allow the sealer's DELETE, so a pending row is unprotected by the chain only for the
// moments between its commit and its seal (a second or two at most); the chain's check reports
// how many rows are pending and the oldest one's time, which stays near zero unless seals fail.
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
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>
#include <utility>

#include "fieldsync/error.h"
#include "audit_chain.h"
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
    "id, user_id, status, token_hash, enrolled_at, last_seen, last_sync, status_reason, "
    "telemetry, last_attempt, pending_changes, oldest_pending_at, clock_offset, "
    "failed_in_a_row, last_error_code, last_error_message, last_error_at, syncs, failed_syncs, "
    "changes_pushed, changes_pulled, conflicts, rejections, bytes_in, bytes_out";
constexpr int kDeviceColumnCount = 25;
constexpr std::string_view kAuditColumns =
    "seq, at, node, actor, actor_name, action, address, device_id, user_id, detail, "
    "previous_hash, hash";
constexpr std::string_view kPendingAuditColumns =
    "id, at, node, actor, actor_name, action, address, device_id, user_id, detail";
constexpr std::string_view kSyncEventColumns =
    "device_id, user_id, at, outcome, duration_ms, changes_pushed, changes_pulled, "
    "groups_rejected, conflicts, bytes_in, bytes_out, error_code, error_message";

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
  DeviceActivity& activity = device.activity;
  activity.last_attempt_ms = row.int64(9);
  activity.pending_changes = as_uint(row.int64(10));
  activity.oldest_pending_at_ms = row.int64(11);
  activity.clock_offset_ms = row.int64(12);
  activity.failed_in_a_row = static_cast<std::uint32_t>(row.int64(13));
  activity.last_error_code = row.text(14);
  activity.last_error_message = row.text(15);
  activity.last_error_ms = row.int64(16);
  activity.syncs = as_uint(row.int64(17));
  activity.failed_syncs = as_uint(row.int64(18));
  activity.changes_pushed = as_uint(row.int64(19));
  activity.changes_pulled = as_uint(row.int64(20));
  activity.conflicts = as_uint(row.int64(21));
  activity.rejections = as_uint(row.int64(22));
  activity.bytes_in = as_uint(row.int64(23));
  activity.bytes_out = as_uint(row.int64(24));
  return device;
}

SyncEvent read_sync_event(const Row& row) {
  SyncEvent event;
  event.device = row.uuid(0);
  event.user_id = row.text(1);
  event.at_ms = row.int64(2);
  event.outcome = static_cast<SyncOutcome>(row.int64(3));
  event.duration_ms = row.int64(4);
  event.changes_pushed = as_uint(row.int64(5));
  event.changes_pulled = as_uint(row.int64(6));
  event.groups_rejected = as_uint(row.int64(7));
  event.conflicts = as_uint(row.int64(8));
  event.bytes_in = as_uint(row.int64(9));
  event.bytes_out = as_uint(row.int64(10));
  event.error_code = row.text(11);
  event.error_message = row.text(12);
  return event;
}

// Columns 1 to 9 of a row of audit_log or audit_pending (kAuditColumns, kPendingAuditColumns);
// the case ids are read apart.
AuditEntry read_audit_entry(const Row& row) {
  AuditEntry entry;
  entry.at_ms = row.int64(1);
  entry.node = row.text(2);
  entry.actor = row.text(3);
  entry.actor_name = row.text(4);
  entry.action = row.text(5);
  entry.address = row.text(6);
  if (!row.is_null(7)) entry.device = row.uuid(7);
  entry.user_id = row.text(8);
  entry.detail = row.text(9);
  return entry;
}

AuditRecord read_audit_record(const Row& row) {
  AuditRecord record;
  record.seq = as_uint(row.int64(0));
  record.entry = read_audit_entry(row);
  record.previous_hash = row.bytes(10);
  record.hash = row.bytes(11);
  return record;
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

// Whether a seal waits for the audit lock or, finding it taken, leaves the rows to others.
enum class SealLock { kWait, kIfFree };

// Chains every pending audit entry, oldest id first, after the chain's head, in one short READ
// COMMITTED transaction under the audit lock (so sealers on every node take turns, and each sees
// the rows and head the previous one committed). See the header comment.
void seal_pending_audit(Connection& connection, SealLock lock = SealLock::kWait) {
  connection.run_script("BEGIN ISOLATION LEVEL READ COMMITTED");
  try {
    const Params key = params(std::int64_t{postgres_schema::kMigrationLockClass},
                              std::int64_t{postgres_schema::kAuditLockKey});
    if (lock == SealLock::kWait) {
      connection.run("SELECT pg_advisory_xact_lock($1::integer, $2::integer)", key);
    } else if (connection.run("SELECT pg_try_advisory_xact_lock($1::integer, $2::integer)::int::bigint", key)[0]
                   .int64(0) == 0) {
      connection.run_script("COMMIT");
      return;
    }
    const auto pending = connection.run("SELECT " + std::string(kPendingAuditColumns) +
                                        " FROM audit_pending ORDER BY id");
    if (pending.size() == 0) {
      connection.run_script("COMMIT");
      return;
    }
    const auto head_rows = connection.run("SELECT seq, hash FROM audit_head WHERE id = 1");
    if (head_rows.size() != 1) throw Error(ErrorCode::kIntegrity, "the audit log has no head");
    std::uint64_t seq = as_uint(head_rows[0].int64(0));
    Bytes hash = head_rows[0].bytes(1);

    Array ids(postgres::kInt8);
    std::map<std::int64_t, AuditEntry> entries;  // by id: the order they are chained in
    for (int i = 0; i < pending.size(); ++i) {
      ids.add(pending[i].int64(0));
      entries.emplace(pending[i].int64(0), read_audit_entry(pending[i]));
    }
    const auto cases = connection.run(
        "SELECT p.id, c.case_id FROM audit_pending p, unnest(p.case_ids) AS c(case_id) "
        "WHERE p.id = ANY($1) ORDER BY p.id, c.case_id",
        params(ids));
    for (int i = 0; i < cases.size(); ++i) {
      entries.at(cases[i].int64(0)).case_ids.push_back(cases[i].uuid(1));
    }
    for (const auto& [id, entry] : entries) {
      Bytes previous_hash = std::move(hash);
      ++seq;
      hash = audit_row_hash(previous_hash, seq, entry);
      Params values = params(as_int(seq), entry.at_ms, entry.node, entry.actor, entry.actor_name,
                             entry.action, entry.address);
      values.add(entry.device).add(entry.user_id).add(entry.detail);
      values.add_bytes(previous_hash).add_bytes(hash);
      connection.run("INSERT INTO audit_log(" + std::string(kAuditColumns) + ") VALUES (" +
                         placeholders(12) + ")",
                     values);
      if (!entry.case_ids.empty()) {
        connection.run("INSERT INTO audit_cases(seq, case_id) SELECT $1, unnest($2::uuid[])",
                       params(as_int(seq), uuid_array(entry.case_ids)));
      }
    }
    connection.run("DELETE FROM audit_pending WHERE id = ANY($1)", params(ids));
    Params head_values = params(as_int(seq));
    head_values.add_bytes(hash);
    connection.run("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", head_values);
    connection.run_script("COMMIT");
  } catch (...) {
    if (!connection.broken()) connection.run_script("ROLLBACK");
    throw;
  }
}

// What a node keeps about each of its connections: the id that names the rows it owns, and the
// clock floor it last committed (see set_clock_floor). Used only by the transaction holding the
// connection.
struct ConnectionState {
  Uuid id;
  std::uint64_t floor_written = 0;  // a packed Hlc
};

// How far ahead of the server clock's highest stamp a connection writes the floor.
constexpr std::uint64_t kFloorAheadMs = 1'000;

class PostgresTransaction final : public StorageTransaction {
 public:
  // `turn`: empty, or the turn to wait for (see the header comment), taken before the horizon
  // and the snapshot.
  PostgresTransaction(ConnectionPool::Lease connection, ConnectionState& state,
                      const std::string& turn = {})
      : connection_(std::move(connection)), state_(state), connection_id_(state.id) {
    if (!turn.empty()) {
      run("SELECT pg_advisory_lock($1::integer, hashtext($2))",
          params(std::int64_t{postgres_schema::kTurnLockClass}, turn));
      turn_ = turn;
    }
    try {
      horizon_ = as_uint(one_int("SELECT fieldsync_pull_horizon()"));
      connection_->run_script("BEGIN ISOLATION LEVEL SERIALIZABLE");
    } catch (...) {
      leave_turn_quietly();
      throw;
    }
    open_ = true;
  }

  ~PostgresTransaction() override {
    try {
      if (open_) connection_->run_script("ROLLBACK");
    } catch (...) {
      // The connection is lost (the server rolls back on its own); it is reopened at next use.
    }
    leave_turn_quietly();
  }

  void commit() override {
    open_ = false;
    const std::string outcome = connection_->run_script("COMMIT");
    if (outcome != "COMMIT") {
      throw Error(ErrorCode::kInternal, "PostgreSQL rolled back a transaction asked to commit");
    }
    state_.floor_written = std::max(state_.floor_written, floor_written_);
    leave_turn_quietly();  // before the seal: the next in turn need not wait for it
    prune_after_commit();
    if (!audit_pending_added_) return;
    try {
      seal_pending_audit(*connection_, SealLock::kIfFree);
    } catch (const Error&) {
      // The work is committed, its entries with it; they stay pending and the next seal, on any
      // node, chains them.
    }
  }

  // --- Server identity ---
  Uuid epoch() override { return meta_uuid("epoch"); }
  OriginId server_origin() override { return meta_uuid("origin"); }
  void start_new_epoch() override {
    run("UPDATE meta SET value = gen_random_uuid() WHERE key IN ('epoch', 'origin')");
  }
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
  // Written a second ahead, and only when the clock has passed what this connection committed
  // last: so a busy connection writes its row about once a second rather than in every sync. A
  // write in every sync made concurrent syncs lose races on the table's pages. The clock starts
  // at most a second ahead after a restart, never behind.
  void set_clock_floor(Hlc floor) override {
    if (floor.packed() <= state_.floor_written) return;
    const Hlc ahead(floor.ms() + kFloorAheadMs, 0);
    run("INSERT INTO clock_floors(connection_id, floor) VALUES ($1, $2) "
        "ON CONFLICT (connection_id) DO UPDATE SET floor = excluded.floor "
        "WHERE clock_floors.floor < excluded.floor",
        params(connection_id_, as_int(ahead.packed())));
    floor_written_ = ahead.packed();
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
    const DeviceActivity& activity = device.activity;
    Params values = params(device.id, device.user_id, static_cast<std::int64_t>(device.status));
    values.add_bytes(device.token_hash)
        .add(device.enrolled_at_ms)
        .add(device.last_seen_ms)
        .add(device.last_sync_ms)
        .add(device.status_reason)
        .add(encode_stored_telemetry(device.telemetry))
        .add(activity.last_attempt_ms)
        .add(as_int(activity.pending_changes))
        .add(activity.oldest_pending_at_ms)
        .add(activity.clock_offset_ms)
        .add(static_cast<std::int64_t>(activity.failed_in_a_row))
        .add(activity.last_error_code)
        .add(activity.last_error_message)
        .add(activity.last_error_ms)
        .add(as_int(activity.syncs))
        .add(as_int(activity.failed_syncs))
        .add(as_int(activity.changes_pushed))
        .add(as_int(activity.changes_pulled))
        .add(as_int(activity.conflicts))
        .add(as_int(activity.rejections))
        .add(as_int(activity.bytes_in))
        .add(as_int(activity.bytes_out));
    std::string updates;
    for (std::string_view rest = kDeviceColumns.substr(kDeviceColumns.find(',') + 2); !rest.empty();) {
      const std::size_t comma = std::min(rest.find(','), rest.size());
      const std::string column(rest.substr(0, comma));
      updates += (updates.empty() ? "" : ", ") + column + " = excluded." + column;
      rest.remove_prefix(std::min(comma + 2, rest.size()));
    }
    run("INSERT INTO devices(" + std::string(kDeviceColumns) + ") VALUES (" +
            placeholders(kDeviceColumnCount) + ") ON CONFLICT (id) DO UPDATE SET " + updates,
        values);
  }
  std::optional<Device> device(const OriginId& id) override {
    return one("SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id = $1", params(id),
               read_device);
  }
  std::vector<Device> devices(const DeviceFilter& filter) override {
    // Each condition holds when its parameter is empty, so one statement serves every filter.
    return all("SELECT " + std::string(kDeviceColumns) +
                   " FROM devices d WHERE "
                   "($1 = '' OR d.user_id = $1) AND "
                   "($2 = '' OR d.user_id IN (SELECT id FROM users WHERE team_id = $2)) AND "
                   "($3 = '' OR lower(d.telemetry::jsonb ->> 'platform') LIKE $4 ESCAPE '\\') AND "
                   "($5 = '' OR replace(d.id::text, '-', '') LIKE $6 ESCAPE '\\' "
                   "     OR lower(d.user_id) LIKE $7 ESCAPE '\\' "
                   "     OR d.user_id IN (SELECT id FROM users WHERE lower(name) LIKE $7 ESCAPE '\\')) "
                   "ORDER BY d.id",
               params(filter.user_id, filter.team_id, filter.platform,
                      like_pattern(filter.platform, /*prefix_only=*/true), filter.text,
                      like_pattern(without(filter.text, '-'), false),
                      like_pattern(filter.text, false)),
               read_device);
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
  void put_admin_session(const AdminSession& session) override {
    Params values;
    values.add_bytes(session.secret_hash)
        .add(session.token_id)
        .add(session.created_at_ms)
        .add(session.expires_at_ms);
    run("INSERT INTO admin_sessions(secret_hash, token_id, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        values);
  }
  std::optional<AdminSession> admin_session(const Bytes& secret_hash) override {
    Params values;
    values.add_bytes(secret_hash);
    return one("SELECT secret_hash, token_id, created_at, expires_at FROM admin_sessions "
               "WHERE secret_hash = $1",
               values, [](const Row& row) {
                 return AdminSession{row.bytes(0), row.text(1), row.int64(2), row.int64(3)};
               });
  }
  void delete_admin_session(const Bytes& secret_hash) override {
    Params values;
    values.add_bytes(secret_hash);
    run("DELETE FROM admin_sessions WHERE secret_hash = $1", values);
  }
  void delete_admin_sessions_expired_by(std::int64_t now_ms) override {
    run("DELETE FROM admin_sessions WHERE expires_at <= $1", params(now_ms));
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
  std::uint64_t highest_accepted_seq(const OriginId& device) override {
    return as_uint(one_int("SELECT COALESCE(MAX(last_seq), 0) FROM receipts WHERE device_id = $1",
                           params(device)));
  }
  std::optional<RejectedGroup> rejected_group(const OriginId& device, const WriteGroupId& group) override {
    return one("SELECT rejection, content_hash, rejected_at, user_id, change_count, record_id, field "
               "FROM rejected_groups WHERE device_id = $1 AND write_group = $2",
               params(device, group), [&](const Row& row) {
                 return RejectedGroup{device,
                                      decode_stored_rejection(row.bytes(0)),
                                      row.bytes(1),
                                      row.int64(2),
                                      row.text(3),
                                      as_uint(row.int64(4)),
                                      row.is_null(5) ? RecordId{} : row.uuid(5),
                                      row.text(6)};
               });
  }
  void put_rejected_group(const RejectedGroup& rejected) override {
    Params values = params(rejected.device, rejected.rejection.write_group);
    values.add_bytes(encode_stored_rejection(rejected.rejection))
        .add_bytes(rejected.content_hash)
        .add(rejected.rejected_at_ms)
        .add(rejected.user_id)
        .add(static_cast<std::int64_t>(rejected.rejection.code))
        .add(rejected.rejection.message)
        .add(rejected.record_id.is_nil() ? std::nullopt : std::optional(rejected.record_id))
        .add(rejected.field)
        .add(as_int(rejected.change_count));
    run("INSERT INTO rejected_groups(device_id, write_group, rejection, content_hash, rejected_at, "
        "user_id, code, message, record_id, field, change_count) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (device_id, write_group) DO UPDATE SET "
        "rejection = excluded.rejection, content_hash = excluded.content_hash, "
        "rejected_at = excluded.rejected_at, user_id = excluded.user_id, code = excluded.code, "
        "message = excluded.message, record_id = excluded.record_id, field = excluded.field, "
        "change_count = excluded.change_count",
        values);
  }
  Page<RejectionMetadata> rejections(const RejectionFilter& filter) override {
    const std::string where =
        " FROM rejected_groups WHERE ($1::uuid IS NULL OR device_id = $1) AND "
        "($2 = '' OR user_id = $2) AND ($3 = 0 OR code = $3) AND rejected_at >= $4";
    const Params filter_values =
        params(filter.device, filter.user_id,
               filter.code ? static_cast<std::int64_t>(*filter.code) : std::int64_t{0},
               filter.since_ms);
    Page<RejectionMetadata> page;
    page.total = as_uint(one_int("SELECT COUNT(*)" + where, filter_values));
    Params page_values = filter_values;
    page_values.add(static_cast<std::int64_t>(filter.limit)).add(static_cast<std::int64_t>(filter.offset));
    page.items = all("SELECT device_id, user_id, write_group, code, message, record_id, field, "
                     "change_count, rejected_at" + where +
                         " ORDER BY rejected_at DESC, device_id, write_group LIMIT $5 OFFSET $6",
                     page_values, [](const Row& row) {
                       RejectionMetadata rejection;
                       rejection.device = row.uuid(0);
                       rejection.user_id = row.text(1);
                       rejection.write_group = row.uuid(2);
                       rejection.code = static_cast<RejectionCode>(row.int64(3));
                       rejection.message = row.text(4);
                       if (!row.is_null(5)) rejection.record_id = row.uuid(5);
                       rejection.field = row.text(6);
                       rejection.change_count = as_uint(row.int64(7));
                       rejection.rejected_at_ms = row.int64(8);
                       return rejection;
                     });
    return page;
  }

  // --- The device registry's history ---
  void add_sync_event(const SyncEvent& event, const SyncHistoryLimits& limits) override {
    Params values = params(event.device, event.user_id, event.at_ms,
                           static_cast<std::int64_t>(event.outcome), event.duration_ms,
                           as_int(event.changes_pushed), as_int(event.changes_pulled),
                           as_int(event.groups_rejected), as_int(event.conflicts),
                           as_int(event.bytes_in), as_int(event.bytes_out));
    values.add(event.error_code).add(event.error_message);
    run("INSERT INTO sync_events(" + std::string(kSyncEventColumns) + ") VALUES (" +
            placeholders(13) + ")",
        values);
    // The device's events beyond the newest `events_per_device`, and buckets past the retention,
    // are deleted after the commit (prune_after_commit): reading them here would make concurrent
    // syncs of other devices conflict on the index pages it reads.
    prune_.events_of = event.device;
    prune_.events_kept = limits.events_per_device;

    // This connection's row of the bucket: concurrent syncs never write the same row.
    const bool failed =
        event.outcome == SyncOutcome::kFailed || event.outcome == SyncOutcome::kUpgradeRequired;
    const std::int64_t start = event.at_ms - event.at_ms % kActivityBucketMs;
    const auto counted = run("INSERT INTO sync_activity AS a(start, connection_id, syncs, failed_syncs, rejections, "
        "changes_pushed, changes_pulled, conflicts, bytes_in, bytes_out) "
        "VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (start, connection_id) DO UPDATE SET syncs = a.syncs + 1, "
        "failed_syncs = a.failed_syncs + $3, rejections = a.rejections + $4, "
        "changes_pushed = a.changes_pushed + $5, changes_pulled = a.changes_pulled + $6, "
        "conflicts = a.conflicts + $7, bytes_in = a.bytes_in + $8, bytes_out = a.bytes_out + $9 "
        "RETURNING syncs",
        params(start, connection_id_, std::int64_t{failed ? 1 : 0}, as_int(event.groups_rejected),
               as_int(event.changes_pushed), as_int(event.changes_pulled), as_int(event.conflicts),
               as_int(event.bytes_in), as_int(event.bytes_out)));
    if (counted.size() == 1 && counted[0].int64(0) == 1) {
      prune_.activity_before = event.at_ms - limits.activity_kept_ms;  // once per bucket and connection
    }
  }
  std::vector<SyncEvent> sync_events(const OriginId& device, std::size_t limit) override {
    return all("SELECT " + std::string(kSyncEventColumns) +
                   " FROM sync_events WHERE device_id = $1 ORDER BY id DESC LIMIT $2",
               params(device, static_cast<std::int64_t>(limit)), read_sync_event);
  }
  std::vector<SyncActivity> sync_activity(std::int64_t from_ms) override {
    return all("SELECT start, SUM(syncs)::bigint, SUM(failed_syncs)::bigint, "
               "SUM(rejections)::bigint, SUM(changes_pushed)::bigint, SUM(changes_pulled)::bigint, "
               "SUM(conflicts)::bigint, SUM(bytes_in)::bigint, SUM(bytes_out)::bigint "
               "FROM sync_activity WHERE start >= $1 GROUP BY start ORDER BY start",
               params(from_ms), [](const Row& row) {
                 return SyncActivity{row.int64(0),          as_uint(row.int64(1)),
                                     as_uint(row.int64(2)), as_uint(row.int64(3)),
                                     as_uint(row.int64(4)), as_uint(row.int64(5)),
                                     as_uint(row.int64(6)), as_uint(row.int64(7)),
                                     as_uint(row.int64(8))};
               });
  }

  // --- Conflicts for the admins ---
  Page<ConflictMetadata> conflict_log(const ConflictFilter& filter) override {
    // The lost change and the current winner come from history and current by their keys; their
    // values are never selected.
    const std::string from =
        " FROM conflicts c "
        "JOIN history l ON l.record_id = c.record_id AND l.field = c.field "
        "  AND l.hlc = c.lost_hlc AND l.origin = c.lost_origin "
        "LEFT JOIN current w ON w.record_id = c.record_id AND w.field = c.field "
        "LEFT JOIN history t ON t.seq = c.seq "
        "WHERE ($1 = 0 OR ($1 = 1) = (c.resolved_hlc IS NULL)) "
        "AND ($2::uuid IS NULL OR c.lost_origin = $2 OR w.origin = $2) "
        "AND ($3 = '' OR l.author = $3 OR w.author = $3)";
    const std::int64_t state = filter.state == ConflictState::kAny    ? 0
                               : filter.state == ConflictState::kOpen ? 1
                                                                      : 2;
    const Params filter_values = params(state, filter.device, filter.user_id);
    Page<ConflictMetadata> page;
    page.total = as_uint(one_int("SELECT COUNT(*)" + from, filter_values));
    Params page_values = filter_values;
    page_values.add(static_cast<std::int64_t>(filter.limit)).add(static_cast<std::int64_t>(filter.offset));
    page.items = all(
        "SELECT c.record_id, l.collection, c.field, c.case_id, c.lost_hlc, c.lost_origin, "
        "l.author, l.received_at, w.hlc, w.origin, w.author, c.resolved_hlc, c.resolved_origin, "
        "COALESCE(t.received_at, 0), c.seq" + from +
            " ORDER BY c.seq DESC, c.record_id, c.field, c.lost_hlc LIMIT $4 OFFSET $5",
        page_values, [](const Row& row) {
          ConflictMetadata entry;
          entry.record_id = row.uuid(0);
          entry.collection = row.text(1);
          entry.field = row.text(2);
          entry.case_id = row.uuid(3);
          entry.lost = {Hlc::from_packed(as_uint(row.int64(4))), row.uuid(5)};
          entry.lost_author = row.text(6);
          entry.lost_received_ms = row.int64(7);
          if (!row.is_null(8)) {
            entry.winner = Version{Hlc::from_packed(as_uint(row.int64(8))), row.uuid(9)};
            entry.winner_author = row.text(10);
          }
          if (!row.is_null(11)) {
            entry.resolved_by = Version{Hlc::from_packed(as_uint(row.int64(11))), row.uuid(12)};
          }
          entry.updated_ms = row.int64(13);
          entry.seq = as_uint(row.int64(14));
          return entry;
        });
    return page;
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

  // --- The audit log ---
  // The entry goes into audit_pending, committed with the action it records; no lock and no read
  // of the head, so concurrent writers do not contend here. commit() then seals it.
  void append_audit(const AuditEntry& entry) override {
    AuditEntry row = entry;
    std::sort(row.case_ids.begin(), row.case_ids.end());
    row.case_ids.erase(std::unique(row.case_ids.begin(), row.case_ids.end()), row.case_ids.end());
    Params values = params(row.at_ms, row.node, row.actor, row.actor_name, row.action, row.address);
    values.add(row.device).add(row.user_id).add(row.detail).add(uuid_array(row.case_ids));
    run("INSERT INTO audit_pending(at, node, actor, actor_name, action, address, device_id, "
        "user_id, detail, case_ids) VALUES (" + placeholders(10) + ")",
        values);
    audit_pending_added_ = true;
  }
  std::vector<AuditRecord> audit_entries(const AuditQuery& query) override {
    std::string sql = "SELECT " + std::string(kAuditColumns) + " FROM audit_log WHERE true";
    Params values;
    // `test` with its parameter's number in place of "?".
    auto condition = [&](std::string_view test, const auto& value) {
      const std::size_t mark = test.find('?');
      sql += " AND " + std::string(test.substr(0, mark)) + "$" + std::to_string(values.size() + 1) +
             std::string(test.substr(mark + 1));
      values.add(value);
    };
    if (!query.actor.empty()) condition("actor = ?", query.actor);
    if (!query.action.empty()) condition("action = ?", query.action);
    if (query.device) condition("device_id = ?", *query.device);
    if (query.case_id) condition("seq IN (SELECT seq FROM audit_cases WHERE case_id = ?)", *query.case_id);
    if (query.from_ms) condition("at >= ?", *query.from_ms);
    if (query.to_ms) condition("at < ?", *query.to_ms);
    if (query.before_seq > 0) condition("seq < ?", as_int(query.before_seq));
    sql += " ORDER BY seq DESC LIMIT $" + std::to_string(values.size() + 1);
    values.add(static_cast<std::int64_t>(query.limit));
    return with_audit_cases(all(sql, values, read_audit_record));
  }
  std::vector<AuditRecord> audit_range(std::uint64_t after, std::size_t limit) override {
    return with_audit_cases(all("SELECT " + std::string(kAuditColumns) +
                                    " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                                params(as_int(after), static_cast<std::int64_t>(limit)),
                                read_audit_record));
  }
  AuditHead audit_head() override {
    auto head = one("SELECT seq, hash FROM audit_head WHERE id = 1", {}, [](const Row& row) {
      return AuditHead{as_uint(row.int64(0)), row.bytes(1)};
    });
    if (!head) throw Error(ErrorCode::kIntegrity, "the audit log has no head");
    return *head;
  }
  AuditPending audit_pending() override {
    const auto rows = run("SELECT count(*), min(at) FROM audit_pending");
    AuditPending pending{as_uint(rows[0].int64(0)), std::nullopt};
    if (!rows[0].is_null(1)) pending.oldest_at_ms = rows[0].int64(1);
    return pending;
  }

  // --- Metrics ---
  std::map<std::string, std::uint64_t> node_counters(const std::string& node) override {
    std::map<std::string, std::uint64_t> counters;
    const auto rows = run("SELECT name, value FROM node_counters WHERE node = $1", params(node));
    for (int i = 0; i < rows.size(); ++i) counters[rows[i].text(0)] = as_uint(rows[i].int64(1));
    return counters;
  }
  void put_node_counters(const std::string& node,
                         const std::map<std::string, std::uint64_t>& counters) override {
    run("DELETE FROM node_counters WHERE node = $1", params(node));
    if (counters.empty()) return;
    Array names(postgres::kText), values(postgres::kInt8);
    for (const auto& [name, value] : counters) {
      names.add(name);
      values.add(as_int(value));
    }
    run("INSERT INTO node_counters(node, name, value) SELECT $1, * FROM unnest($2::text[], $3::bigint[])",
        params(node, names, values));
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

  // The case ids of each record, read in one statement.
  std::vector<AuditRecord> with_audit_cases(std::vector<AuditRecord> records) {
    if (records.empty()) return records;
    Array seqs(postgres::kInt8);
    std::map<std::uint64_t, AuditRecord*> by_seq;
    for (AuditRecord& record : records) {
      seqs.add(as_int(record.seq));
      by_seq[record.seq] = &record;
    }
    const auto rows = run("SELECT seq, case_id FROM audit_cases WHERE seq = ANY($1) ORDER BY seq, case_id",
                          params(seqs));
    for (int i = 0; i < rows.size(); ++i) {
      by_seq.at(as_uint(rows[i].int64(0)))->entry.case_ids.push_back(rows[i].uuid(1));
    }
    return records;
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

  // Deletes what add_sync_event left to delete, in a READ COMMITTED transaction of its own: no
  // serializable transaction reads what it deletes (the admins' views read the newest events and
  // the kept buckets), so it needs no predicate locks and races nothing. A failure (connection
  // lost) leaves the rows to the next sync's prune: what is kept is only a little longer.
  void prune_after_commit() noexcept {
    const Prune prune = std::exchange(prune_, {});
    if (!prune.events_of && !prune.activity_before) return;
    try {
      connection_->run_script("BEGIN ISOLATION LEVEL READ COMMITTED");
      if (prune.events_of) {
        run("DELETE FROM sync_events WHERE device_id = $1 AND id <= (SELECT id FROM sync_events "
            "WHERE device_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            params(*prune.events_of, static_cast<std::int64_t>(prune.events_kept)));
      }
      if (prune.activity_before) {
        run("DELETE FROM sync_activity WHERE start < $1", params(*prune.activity_before));
      }
      connection_->run_script("COMMIT");
    } catch (...) {
      try {
        if (!connection_->broken()) connection_->run_script("ROLLBACK");
      } catch (...) {
        // The connection is lost; the pool reopens it.
      }
    }
  }

  // Gives the turn back, if this transaction holds one: a session-level lock, which outlives the
  // transaction unless given back. Runs outside any transaction (before BEGIN or after its end),
  // so it fails only when the connection is lost, and the lock is gone with the session.
  void leave_turn_quietly() noexcept {
    if (turn_.empty()) return;
    const std::string turn = std::exchange(turn_, {});
    try {
      if (!connection_->broken()) {
        run("SELECT pg_advisory_unlock($1::integer, hashtext($2))",
            params(std::int64_t{postgres_schema::kTurnLockClass}, turn));
      }
    } catch (...) {
      // The connection is lost, and the lock with it.
    }
  }

  ConnectionPool::Lease connection_;
  ConnectionState& state_;
  const Uuid connection_id_;
  std::uint64_t floor_written_ = 0;    // the floor this transaction wrote, if any
  bool open_ = false;
  std::string turn_;                   // the turn this transaction holds, if any
  struct Prune {
    std::optional<OriginId> events_of;  // the device whose oldest sync events go
    std::size_t events_kept = 0;
    std::optional<std::int64_t> activity_before;  // buckets starting before this go
  };
  Prune prune_;                        // what to delete after the commit (add_sync_event)
  bool audit_pending_added_ = false;   // append_audit ran: seal after the commit
  std::uint64_t horizon_ = 0;          // see the header comment
  bool claimed_ = false;               // this transaction holds its claim on sequence numbers
  std::set<std::uint64_t> own_seqs_;   // the numbers this transaction took
};

class PostgresStorage final : public ServerStorage {
 public:
  PostgresStorage(const std::string& connection, std::size_t connections,
                  std::chrono::milliseconds seal_interval)
      : conninfo_(connection), pool_(connection, connections, prepare_session) {
    migrate();
    seal_audit();  // entries left pending by a node that stopped between a commit and its seal
    if (seal_interval.count() > 0) {
      sealer_ = std::jthread([this, seal_interval](std::stop_token stop) {
        seal_left_entries(stop, seal_interval);
      });
    }
  }

  std::unique_ptr<StorageTransaction> begin() override { return begin_in_turn({}); }

  std::unique_ptr<StorageTransaction> begin_in_turn(const std::string& turn) override {
    ConnectionPool::Lease connection = pool_.acquire();
    ConnectionState& state = connection_state(*connection);
    return std::make_unique<PostgresTransaction>(std::move(connection), state, turn);
  }

  void seal_audit() override {
    ConnectionPool::Lease connection = pool_.acquire();
    seal_pending_audit(*connection);
  }

  // On a connection of its own, outside the pool: the admins' overview asks while its thread
  // holds a transaction (and so a pooled connection).
  std::uint64_t size_bytes() override {
    std::lock_guard lock(size_mutex_);
    if (!size_connection_ || size_connection_->broken()) {
      size_connection_ = std::make_unique<Connection>(conninfo_);
    }
    const auto rows = size_connection_->run("SELECT pg_database_size(current_database())");
    return as_uint(rows[0].int64(0));
  }

 private:
  // Every connection: a transaction left idle (a node that hung mid-request) is ended by the
  // server, so that its claim cannot hold back every pull for long.
  static void prepare_session(Connection& connection) {
    connection.run_script("SET idle_in_transaction_session_timeout = '60s'");
  }

  // Each connection names the rows it owns (its clock floor) by an id of its own.
  ConnectionState& connection_state(Connection& connection) {
    std::lock_guard lock(states_mutex_);
    auto [entry, added] = connection_states_.try_emplace(&connection);
    if (added) entry->second.id = Uuid::random_v4();
    return entry->second;
  }

  // Every `interval`, on a connection of its own, seals if an entry pending at the previous look
  // still is: one that a commit left because another seal held the lock, after that seal had read
  // the pending rows. So an entry waits at most about two intervals, and nothing is locked while
  // nothing waits. A failure (connection lost) is tried again at the next look.
  void seal_left_entries(std::stop_token stop, std::chrono::milliseconds interval) {
    std::unique_ptr<Connection> connection;
    std::int64_t seen_up_to = 0;  // the highest id pending at the previous look
    std::mutex mutex;
    std::condition_variable_any wake;
    for (;;) {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) return;
      try {
        if (!connection || connection->broken()) connection = std::make_unique<Connection>(conninfo_);
        const auto rows = connection->run("SELECT COALESCE(min(id), 0), COALESCE(max(id), 0) FROM audit_pending");
        const std::int64_t oldest = rows[0].int64(0);
        if (oldest != 0 && oldest <= seen_up_to) seal_pending_audit(*connection);
        seen_up_to = rows[0].int64(1);
      } catch (const std::exception&) {
        connection.reset();
      }
    }
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

  const std::string conninfo_;
  ConnectionPool pool_;
  std::mutex size_mutex_;
  std::unique_ptr<Connection> size_connection_;  // guarded by size_mutex_
  std::mutex states_mutex_;
  // Guarded by states_mutex_; each value belongs to the transaction holding its connection.
  std::map<const Connection*, ConnectionState> connection_states_;
  std::jthread sealer_;  // last: stopped and joined before the rest goes
};

}  // namespace

std::unique_ptr<ServerStorage> open_postgres_storage(const std::string& connection,
                                                     std::size_t connections,
                                                     std::chrono::milliseconds seal_interval) {
  return std::make_unique<PostgresStorage>(connection, connections, seal_interval);
}

}  // namespace fieldsync::server
