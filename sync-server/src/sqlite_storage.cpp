// The embedded storage backend: one SQLite file in WAL mode whose commits return only once the
// WAL is synced (group commit), so a commit is durable before the server acknowledges anything.
// All of the server's SQL for SQLite is here and in sqlite_storage_schema.h. Also its backups and
// restores: a backup is a consistent copy made with SQLite's online backup API; a restore puts
// such a copy in place with a new epoch.
//
// Threading: SQLite has one writer at a time, and nearly every request writes (a sync records the
// device's visit), so the backend keeps one connection and hands it to one transaction at a time
// under a mutex; other requests wait for it (never fail for it). A commit releases the connection
// before it waits for its fsync, which it shares with the commits made meanwhile
// (wal_group_commit.h).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>

#include "fieldsync/error.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/sqlite_db.h"
#include "audit_chain.h"
#include "sqlite_storage_schema.h"
#include "stored_value_codec.h"
#include "wal_group_commit.h"

namespace fieldsync::server {
namespace {

using sqlite::Database;
using sqlite::Statement;

constexpr std::string_view kDatabaseFile = "fieldsync-server.db";
constexpr std::string_view kLockFile = "fieldsync-server.lock";
constexpr std::string_view kChangeColumns =
    "record_id, field, collection, case_id, hlc, origin, value, base, device_seq, write_group, "
    "author, received_at, seq";

std::int64_t as_int(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::uint64_t as_uint(std::int64_t value) { return static_cast<std::uint64_t>(value); }

StoredChange read_change(const Statement& row) {
  StoredChange stored;
  Change& change = stored.change;
  change.record_id = row.column_uuid(0);
  change.field = row.column_text(1);
  change.collection = row.column_text(2);
  change.case_id = row.column_uuid(3);
  change.version = {Hlc::from_packed(as_uint(row.column_int(4))), row.column_uuid(5)};
  change.value = decode_stored_value(row.column_blob(6));
  change.base = decode_stored_base(row.column_blob(7));
  change.device_seq = as_uint(row.column_int(8));
  change.write_group = row.column_uuid(9);
  change.author = row.column_text(10);
  stored.received_ms = row.column_int(11);
  stored.seq = as_uint(row.column_int(12));
  return stored;
}

// Binds a change's columns, in kChangeColumns order, starting at `first`.
void bind_change(Statement& statement, const Change& change, std::int64_t received_ms,
                 std::uint64_t seq) {
  statement.bind(1, change.record_id)
      .bind(2, change.field)
      .bind(3, change.collection)
      .bind(4, change.case_id)
      .bind(5, as_int(change.version.hlc.packed()))
      .bind(6, change.version.origin)
      .bind_blob(7, encode_stored_value(change.value))
      .bind_blob(8, encode_stored_base(change.base))
      .bind(9, as_int(change.device_seq))
      .bind(10, change.write_group)
      .bind(11, change.author)
      .bind(12, received_ms)
      .bind(13, as_int(seq));
}

Directive read_directive(const Statement& row) {
  Directive directive;
  directive.id = as_uint(row.column_int(0));
  directive.kind = static_cast<DirectiveKind>(row.column_int(1));
  directive.case_id = row.column_uuid(2);
  directive.detail = row.column_text(3);
  return directive;
}

ConflictEntry read_conflict(const Statement& row) {
  ConflictEntry entry;
  entry.record_id = row.column_uuid(0);
  entry.field = row.column_text(1);
  entry.lost = {Hlc::from_packed(as_uint(row.column_int(2))), row.column_uuid(3)};
  entry.case_id = row.column_uuid(4);
  if (!row.is_null(5)) {
    entry.resolved_by = Version{Hlc::from_packed(as_uint(row.column_int(5))), row.column_uuid(6)};
  }
  entry.seq = as_uint(row.column_int(7));
  return entry;
}

constexpr std::string_view kConflictColumns =
    "record_id, field, lost_hlc, lost_origin, case_id, resolved_hlc, resolved_origin, seq";

bool is_constraint_violation(const Error& error) {
  return error.domain() == ErrorDomain::kSqlite && (error.code() & 0xFF) == 19;  // SQLITE_CONSTRAINT
}

// A new epoch and a new origin (StorageTransaction::start_new_epoch); also the first ones.
void write_new_epoch(Database& db) {
  auto upsert = db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  for (const char* key : {"epoch", "origin"}) {
    upsert.reset();
    upsert.bind(1, key).bind(2, Uuid::random_v4()).run();
  }
}

class SqliteTransaction final : public StorageTransaction {
 public:
  SqliteTransaction(std::unique_lock<std::mutex> lock, Database& db, WalGroupCommit& durability)
      : lock_(std::move(lock)),
        db_(db),
        durability_(durability),
        transaction_(db, sqlite::Transaction::Kind::kWrite) {}

  // Committed on the connection, which the next request may have at once; then durable once the
  // WAL is synced past this commit.
  void commit() override {
    transaction_.commit();
    const std::uint64_t number = durability_.note_commit();
    lock_.unlock();
    durability_.wait_durable(number);
  }

  // --- Server identity ---
  Uuid epoch() override { return meta_uuid("epoch"); }
  OriginId server_origin() override { return meta_uuid("origin"); }
  void start_new_epoch() override { write_new_epoch(db_); }
  std::uint64_t last_seq() override {
    auto select = db_.prepare("SELECT COALESCE(MAX(seq), 0) FROM history");
    select.step();
    return as_uint(select.column_int(0));
  }
  Hlc clock_floor() override {
    auto select = db_.prepare("SELECT value FROM meta WHERE key = 'clock_floor'");
    return select.step() ? Hlc::from_packed(as_uint(select.column_int(0))) : Hlc{};
  }
  void set_clock_floor(Hlc floor) override {
    db_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES ('clock_floor', ?)")
        .bind(1, as_int(floor.packed()))
        .run();
  }

  // --- People and cases ---
  void put_team(const Team& team) override {
    insert_unique("team", team.id, [&] {
      db_.prepare("INSERT INTO teams(id, name) VALUES (?, ?)").bind(1, team.id).bind(2, team.name).run();
    });
  }
  std::optional<Team> team(const std::string& id) override {
    auto select = db_.prepare("SELECT id, name FROM teams WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return Team{select.column_text(0), select.column_text(1)};
  }
  std::vector<Team> teams() override {
    std::vector<Team> teams;
    auto select = db_.prepare("SELECT id, name FROM teams ORDER BY id");
    while (select.step()) teams.push_back({select.column_text(0), select.column_text(1)});
    return teams;
  }
  void put_user(const User& user) override {
    insert_unique("user", user.id, [&] {
      db_.prepare("INSERT INTO users(id, team_id, role, name) VALUES (?, ?, ?, ?)")
          .bind(1, user.id)
          .bind(2, user.team_id)
          .bind(3, static_cast<std::int64_t>(user.role))
          .bind(4, user.name)
          .run();
    });
  }
  std::optional<User> user(const std::string& id) override {
    auto select = db_.prepare("SELECT id, team_id, role, name FROM users WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return read_user(select);
  }
  std::vector<User> users() override {
    std::vector<User> users;
    auto select = db_.prepare("SELECT id, team_id, role, name FROM users ORDER BY id");
    while (select.step()) users.push_back(read_user(select));
    return users;
  }
  void put_allocation(const CaseAllocation& allocation) override {
    db_.prepare("INSERT OR REPLACE INTO allocations(case_id, team_id, worker_id) VALUES (?, ?, ?)")
        .bind(1, allocation.case_id)
        .bind(2, allocation.team_id)
        .bind(3, allocation.worker_id)
        .run();
  }
  std::optional<CaseAllocation> allocation(const CaseId& case_id) override {
    auto select = db_.prepare("SELECT case_id, team_id, worker_id FROM allocations WHERE case_id = ?");
    select.bind(1, case_id);
    if (!select.step()) return std::nullopt;
    return CaseAllocation{select.column_uuid(0), select.column_text(1), select.column_text(2)};
  }
  std::vector<CaseAllocation> allocations() override {
    std::vector<CaseAllocation> allocations;
    auto select = db_.prepare("SELECT case_id, team_id, worker_id FROM allocations ORDER BY case_id");
    while (select.step()) {
      allocations.push_back({select.column_uuid(0), select.column_text(1), select.column_text(2)});
    }
    return allocations;
  }
  std::vector<CaseId> scope_of(const User& user) override {
    auto select = user.role == Role::kManager
                      ? db_.prepare("SELECT case_id FROM allocations WHERE team_id = ? ORDER BY case_id")
                      : db_.prepare("SELECT case_id FROM allocations WHERE worker_id = ? ORDER BY case_id");
    select.bind(1, user.role == Role::kManager ? user.team_id : user.id);
    std::vector<CaseId> cases;
    while (select.step()) cases.push_back(select.column_uuid(0));
    return cases;
  }

  // --- Devices, enrolment, admin tokens ---
  void put_device(const Device& device) override {
    const DeviceActivity& activity = device.activity;
    db_.prepare(
           "INSERT OR REPLACE INTO devices(" + std::string(kDeviceColumns) +
           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, device.id)
        .bind(2, device.user_id)
        .bind(3, static_cast<std::int64_t>(device.status))
        .bind_blob(4, device.token_hash)
        .bind(5, device.enrolled_at_ms)
        .bind(6, device.last_seen_ms)
        .bind(7, device.last_sync_ms)
        .bind(8, device.status_reason)
        .bind(9, encode_stored_telemetry(device.telemetry))
        .bind(10, activity.last_attempt_ms)
        .bind(11, as_int(activity.pending_changes))
        .bind(12, activity.oldest_pending_at_ms)
        .bind(13, activity.clock_offset_ms)
        .bind(14, static_cast<std::int64_t>(activity.failed_in_a_row))
        .bind(15, activity.last_error_code)
        .bind(16, activity.last_error_message)
        .bind(17, activity.last_error_ms)
        .bind(18, as_int(activity.syncs))
        .bind(19, as_int(activity.failed_syncs))
        .bind(20, as_int(activity.changes_pushed))
        .bind(21, as_int(activity.changes_pulled))
        .bind(22, as_int(activity.conflicts))
        .bind(23, as_int(activity.rejections))
        .bind(24, as_int(activity.bytes_in))
        .bind(25, as_int(activity.bytes_out))
        .run();
  }
  std::optional<Device> device(const OriginId& id) override {
    auto select =
        db_.prepare("SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return read_device(select);
  }
  std::vector<Device> devices(const DeviceFilter& filter) override {
    // Each condition holds when its parameter is empty, so one statement serves every filter.
    auto select = db_.prepare(
        "SELECT " + std::string(kDeviceColumns) +
        " FROM devices d WHERE "
        "(?1 = '' OR d.user_id = ?1) AND "
        "(?2 = '' OR d.user_id IN (SELECT id FROM users WHERE team_id = ?2)) AND "
        "(?3 = '' OR lower(json_extract(d.telemetry, '$.platform')) LIKE ?4 ESCAPE '\\') AND "
        "(?5 = '' OR lower(hex(d.id)) LIKE ?6 ESCAPE '\\' OR lower(d.user_id) LIKE ?7 ESCAPE '\\' "
        "     OR d.user_id IN (SELECT id FROM users WHERE lower(name) LIKE ?7 ESCAPE '\\')) "
        "ORDER BY d.id");
    const std::string text_without_dashes = without(filter.text, '-');
    select.bind(1, filter.user_id)
        .bind(2, filter.team_id)
        .bind(3, filter.platform)
        .bind(4, like_pattern(filter.platform, /*prefix_only=*/true))
        .bind(5, filter.text)
        .bind(6, like_pattern(text_without_dashes, false))
        .bind(7, like_pattern(filter.text, false));
    std::vector<Device> devices;
    while (select.step()) devices.push_back(read_device(select));
    return devices;
  }
  void put_enrolment_code(const EnrolmentCode& code) override {
    insert_unique("enrolment code", code.id, [&] {
      db_.prepare(
             "INSERT INTO enrolment_codes(id, secret_hash, user_id, created_at, expires_at) "
             "VALUES (?, ?, ?, ?, ?)")
          .bind(1, code.id)
          .bind_blob(2, code.secret_hash)
          .bind(3, code.user_id)
          .bind(4, code.created_at_ms)
          .bind(5, code.expires_at_ms)
          .run();
    });
  }
  std::optional<EnrolmentCode> enrolment_code(const std::string& id) override {
    auto select = db_.prepare(
        "SELECT id, secret_hash, user_id, created_at, expires_at FROM enrolment_codes "
        "WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return EnrolmentCode{select.column_text(0), select.column_bytes(1), select.column_text(2),
                         select.column_int(3), select.column_int(4)};
  }
  bool use_enrolment_code(const std::string& id, const OriginId& device,
                          std::int64_t now_ms) override {
    db_.prepare(
           "UPDATE enrolment_codes SET used_at = ?, device_id = ? WHERE id = ? AND used_at IS NULL")
        .bind(1, now_ms)
        .bind(2, device)
        .bind(3, id)
        .run();
    return db_.changes() == 1;
  }
  void put_admin_token(const AdminToken& token) override {
    insert_unique("admin token", token.id, [&] {
      db_.prepare(
             "INSERT INTO admin_tokens(id, secret_hash, name, roles, created_at, expires_at) "
             "VALUES (?, ?, ?, ?, ?, ?)")
          .bind(1, token.id)
          .bind_blob(2, token.secret_hash)
          .bind(3, token.name)
          .bind(4, encode_stored_roles(token.roles))
          .bind(5, token.created_at_ms)
          .bind(6, token.expires_at_ms)
          .run();
    });
  }
  std::optional<AdminToken> admin_token(const std::string& id) override {
    auto select = db_.prepare(
        "SELECT id, secret_hash, name, roles, created_at, expires_at FROM admin_tokens "
        "WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return AdminToken{select.column_text(0), select.column_bytes(1), select.column_text(2),
                      decode_stored_roles(select.column_text(3)), select.column_int(4),
                      select.column_int(5)};
  }

  void put_admin_session(const AdminSession& session) override {
    db_.prepare(
           "INSERT INTO admin_sessions(secret_hash, token_id, created_at, expires_at) "
           "VALUES (?, ?, ?, ?)")
        .bind_blob(1, session.secret_hash)
        .bind(2, session.token_id)
        .bind(3, session.created_at_ms)
        .bind(4, session.expires_at_ms)
        .run();
  }
  std::optional<AdminSession> admin_session(const Bytes& secret_hash) override {
    auto select = db_.prepare(
        "SELECT secret_hash, token_id, created_at, expires_at FROM admin_sessions "
        "WHERE secret_hash = ?");
    select.bind_blob(1, secret_hash);
    if (!select.step()) return std::nullopt;
    return AdminSession{select.column_bytes(0), select.column_text(1), select.column_int(2),
                        select.column_int(3)};
  }
  void delete_admin_session(const Bytes& secret_hash) override {
    db_.prepare("DELETE FROM admin_sessions WHERE secret_hash = ?").bind_blob(1, secret_hash).run();
  }
  void delete_admin_sessions_expired_by(std::int64_t now_ms) override {
    db_.prepare("DELETE FROM admin_sessions WHERE expires_at <= ?").bind(1, now_ms).run();
  }

  // --- What a device holds ---
  std::vector<DeviceCase> device_cases(const OriginId& device) override {
    std::vector<DeviceCase> cases;
    auto select =
        db_.prepare("SELECT case_id, state, delivered_in FROM device_cases WHERE device_id = ?");
    select.bind(1, device);
    while (select.step()) {
      cases.push_back({select.column_uuid(0), static_cast<DeviceCaseState>(select.column_int(1)),
                       static_cast<std::uint64_t>(select.column_int(2))});
    }
    return cases;
  }
  void put_device_case(const OriginId& device, const DeviceCase& device_case) override {
    db_.prepare(
           "INSERT OR REPLACE INTO device_cases(device_id, case_id, state, delivered_in) "
           "VALUES (?, ?, ?, ?)")
        .bind(1, device)
        .bind(2, device_case.case_id)
        .bind(3, static_cast<std::int64_t>(device_case.state))
        .bind(4, as_int(device_case.delivered_in))
        .run();
  }
  void remove_device_case(const OriginId& device, const CaseId& case_id) override {
    db_.prepare("DELETE FROM device_cases WHERE device_id = ? AND case_id = ?")
        .bind(1, device)
        .bind(2, case_id)
        .run();
  }
  void remove_device_cases(const OriginId& device) override {
    db_.prepare("DELETE FROM device_cases WHERE device_id = ?").bind(1, device).run();
  }

  // --- Records, history, current state, conflicts ---
  std::map<RecordId, RecordHome> record_homes(std::span<const RecordId> ids) override {
    std::map<RecordId, RecordHome> homes;
    auto select = db_.prepare("SELECT collection, case_id FROM records WHERE id = ?");
    for (const RecordId& id : ids) {
      select.reset();
      select.bind(1, id);
      if (select.step()) homes.emplace(id, RecordHome{select.column_text(0), select.column_uuid(1)});
    }
    return homes;
  }
  void put_record_homes(const std::map<RecordId, RecordHome>& homes) override {
    auto insert = db_.prepare("INSERT OR IGNORE INTO records(id, collection, case_id) VALUES (?, ?, ?)");
    for (const auto& [id, home] : homes) {
      insert.reset();
      insert.bind(1, id).bind(2, home.collection).bind(3, home.case_id).run();
    }
  }
  std::vector<StoredChange> field_history(const FieldKey& field) override {
    auto select = db_.prepare("SELECT " + std::string(kChangeColumns) +
                              " FROM history WHERE record_id = ? AND field = ? ORDER BY seq");
    select.bind(1, field.record_id).bind(2, field.field);
    return read_changes(select);
  }
  std::vector<std::uint64_t> append_history(std::span<const Change> changes,
                                            std::int64_t received_ms) override {
    std::uint64_t next = last_seq() + 1;
    std::vector<std::uint64_t> numbers;
    numbers.reserve(changes.size());
    auto insert = db_.prepare("INSERT INTO history(" + std::string(kChangeColumns) +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const Change& change : changes) {
      insert.reset();
      bind_change(insert, change, received_ms, next);
      insert.run();
      numbers.push_back(next++);
    }
    return numbers;
  }
  std::vector<StoredChange> current_fields(const RecordId& record_id) override {
    auto select = db_.prepare("SELECT " + std::string(kChangeColumns) +
                              " FROM current WHERE record_id = ? ORDER BY field");
    select.bind(1, record_id);
    return read_changes(select);
  }
  void put_current(std::span<const StoredChange> winners) override {
    auto insert = db_.prepare("INSERT OR REPLACE INTO current(" + std::string(kChangeColumns) +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const StoredChange& winner : winners) {
      insert.reset();
      bind_change(insert, winner.change, winner.received_ms, winner.seq);
      insert.run();
    }
  }
  std::vector<ConflictEntry> field_conflicts(const FieldKey& field) override {
    auto select = db_.prepare("SELECT " + std::string(kConflictColumns) +
                              " FROM conflicts WHERE record_id = ? AND field = ?");
    select.bind(1, field.record_id).bind(2, field.field);
    return read_conflicts(select);
  }
  void put_conflicts(std::span<const ConflictEntry> entries) override {
    auto insert = db_.prepare("INSERT OR REPLACE INTO conflicts(" + std::string(kConflictColumns) +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const ConflictEntry& entry : entries) {
      insert.reset();
      insert.bind(1, entry.record_id)
          .bind(2, entry.field)
          .bind(3, as_int(entry.lost.hlc.packed()))
          .bind(4, entry.lost.origin)
          .bind(5, entry.case_id)
          .bind(8, as_int(entry.seq));
      if (entry.resolved_by) {
        insert.bind(6, as_int(entry.resolved_by->hlc.packed())).bind(7, entry.resolved_by->origin);
      } else {
        insert.bind_null(6).bind_null(7);
      }
      insert.run();
    }
  }

  // --- Pulls ---
  // A page is the scope's first `limit` rows after `after`. Asking SQLite for them with ORDER BY
  // seq LIMIT would read and sort every row of the scope after `after` on every page (a fresh
  // device's first pull would cost the square of its caseload). Instead the page's last sequence
  // number is found first, from the index alone, in windows of the sequence that double until
  // they hold a whole page; then exactly the page's rows are read. So a page costs its own rows,
  // plus a few index probes per case in scope: never what came before it.
  std::vector<StoredChange> current_since(std::span<const CaseId> cases, std::uint64_t after,
                                          std::uint64_t up_to, std::size_t limit) override {
    if (limit == 0) return {};
    fill_scope(cases);
    const std::uint64_t last = up_to;
    std::uint64_t page_end = last;
    for (std::uint64_t window = limit; after < last; window *= 2) {
      const std::uint64_t upper = last - after <= window ? last : after + window;
      if (scope_rows_between(after, upper) >= limit) {
        page_end = nth_scope_seq_between(after, upper, limit);
        break;
      }
      if (upper == last) break;
    }
    auto select = db_.prepare("SELECT " + prefixed_change_columns("c") + " FROM " +
                              std::string(kScopeJoin) +
                              " WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq");
    select.bind(1, as_int(after)).bind(2, as_int(page_end));
    return read_changes(select);
  }
  std::vector<StoredChange> current_of_case(const CaseId& case_id, std::uint64_t up_to) override {
    auto select = db_.prepare("SELECT " + std::string(kChangeColumns) +
                              " FROM current WHERE case_id = ? AND seq <= ? ORDER BY seq");
    select.bind(1, case_id).bind(2, as_int(up_to));
    return read_changes(select);
  }
  std::vector<ConflictEntry> conflicts_since(std::span<const CaseId> cases, std::uint64_t after,
                                             std::uint64_t up_to) override {
    fill_scope(cases);
    auto select = db_.prepare(
        "SELECT c.record_id, c.field, c.lost_hlc, c.lost_origin, c.case_id, c.resolved_hlc, "
        "c.resolved_origin, c.seq FROM temp.pull_scope s CROSS JOIN conflicts c "
        "ON c.case_id = s.case_id WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq");
    select.bind(1, as_int(after)).bind(2, as_int(up_to));
    return read_conflicts(select);
  }
  std::vector<ConflictEntry> open_conflicts_of_case(const CaseId& case_id,
                                                    std::uint64_t up_to) override {
    auto select = db_.prepare("SELECT " + std::string(kConflictColumns) +
                              " FROM conflicts WHERE case_id = ? AND seq <= ? AND "
                              "resolved_hlc IS NULL ORDER BY seq");
    select.bind(1, case_id).bind(2, as_int(up_to));
    return read_conflicts(select);
  }
  std::optional<StoredChange> change_by_version(const FieldKey& field,
                                                const Version& version) override {
    auto select = db_.prepare("SELECT " + std::string(kChangeColumns) +
                              " FROM history WHERE record_id = ? AND field = ? AND hlc = ? AND "
                              "origin = ? ORDER BY seq LIMIT 1");
    select.bind(1, field.record_id)
        .bind(2, field.field)
        .bind(3, as_int(version.hlc.packed()))
        .bind(4, version.origin);
    if (!select.step()) return std::nullopt;
    return read_change(select);
  }
  std::optional<StoredChange> current_field(const FieldKey& field) override {
    auto select = db_.prepare("SELECT " + std::string(kChangeColumns) +
                              " FROM current WHERE record_id = ? AND field = ?");
    select.bind(1, field.record_id).bind(2, field.field);
    if (!select.step()) return std::nullopt;
    return read_change(select);
  }

  // --- Idempotency and the rejected log ---
  std::vector<Receipt> receipts_overlapping(const OriginId& device, std::uint64_t first,
                                            std::uint64_t last) override {
    // A device's accepted ranges never overlap one another, so the candidates are the ranges
    // starting at or below `last`, walked down until one ends below `first`.
    auto select = db_.prepare(
        "SELECT write_group, first_seq, last_seq, content_hash FROM receipts "
        "WHERE device_id = ? AND first_seq <= ? ORDER BY first_seq DESC");
    select.bind(1, device).bind(2, as_int(last));
    std::vector<Receipt> receipts;
    while (select.step()) {
      Receipt receipt{select.column_uuid(0), as_uint(select.column_int(1)),
                      as_uint(select.column_int(2)), select.column_bytes(3)};
      if (receipt.last_seq < first) break;
      receipts.push_back(std::move(receipt));
    }
    return receipts;
  }
  void put_receipt(const OriginId& device, const Receipt& receipt) override {
    db_.prepare(
           "INSERT INTO receipts(device_id, first_seq, last_seq, write_group, content_hash) "
           "VALUES (?, ?, ?, ?, ?)")
        .bind(1, device)
        .bind(2, as_int(receipt.first_seq))
        .bind(3, as_int(receipt.last_seq))
        .bind(4, receipt.group)
        .bind_blob(5, receipt.content_hash)
        .run();
  }
  std::uint64_t highest_accepted_seq(const OriginId& device) override {
    auto select = db_.prepare("SELECT COALESCE(MAX(last_seq), 0) FROM receipts WHERE device_id = ?");
    select.bind(1, device);
    select.step();
    return as_uint(select.column_int(0));
  }
  std::optional<RejectedGroup> rejected_group(const OriginId& device,
                                              const WriteGroupId& group) override {
    auto select = db_.prepare(
        "SELECT rejection, content_hash, rejected_at, user_id, change_count, record_id, field "
        "FROM rejected_groups WHERE device_id = ? AND write_group = ?");
    select.bind(1, device).bind(2, group);
    if (!select.step()) return std::nullopt;
    return RejectedGroup{device,
                         decode_stored_rejection(select.column_blob(0)),
                         select.column_bytes(1),
                         select.column_int(2),
                         select.column_text(3),
                         as_uint(select.column_int(4)),
                         select.is_null(5) ? RecordId{} : select.column_uuid(5),
                         select.column_text(6)};
  }
  void put_rejected_group(const RejectedGroup& rejected) override {
    auto insert = db_.prepare(
        "INSERT OR REPLACE INTO rejected_groups(device_id, write_group, rejection, content_hash, "
        "rejected_at, user_id, code, message, record_id, field, change_count) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, rejected.device)
        .bind(2, rejected.rejection.write_group)
        .bind_blob(3, encode_stored_rejection(rejected.rejection))
        .bind_blob(4, rejected.content_hash)
        .bind(5, rejected.rejected_at_ms)
        .bind(6, rejected.user_id)
        .bind(7, static_cast<std::int64_t>(rejected.rejection.code))
        .bind(8, rejected.rejection.message)
        .bind(10, rejected.field)
        .bind(11, as_int(rejected.change_count));
    if (rejected.record_id.is_nil()) {
      insert.bind_null(9);
    } else {
      insert.bind(9, rejected.record_id);
    }
    insert.run();
  }
  Page<RejectionMetadata> rejections(const RejectionFilter& filter) override {
    constexpr std::string_view kWhere =
        " FROM rejected_groups WHERE (?1 IS NULL OR device_id = ?1) AND (?2 = '' OR user_id = ?2) "
        "AND (?3 = 0 OR code = ?3) AND rejected_at >= ?4";
    auto bind_filter = [&](Statement& statement) {
      if (filter.device) {
        statement.bind(1, *filter.device);
      } else {
        statement.bind_null(1);
      }
      statement.bind(2, filter.user_id)
          .bind(3, filter.code ? static_cast<std::int64_t>(*filter.code) : 0)
          .bind(4, filter.since_ms);
    };
    Page<RejectionMetadata> page;
    auto count = db_.prepare("SELECT COUNT(*)" + std::string(kWhere));
    bind_filter(count);
    count.step();
    page.total = as_uint(count.column_int(0));
    auto select = db_.prepare(
        "SELECT device_id, user_id, write_group, code, message, record_id, field, change_count, "
        "rejected_at" +
        std::string(kWhere) +
        " ORDER BY rejected_at DESC, device_id, write_group LIMIT ?5 OFFSET ?6");
    bind_filter(select);
    select.bind(5, static_cast<std::int64_t>(filter.limit))
        .bind(6, static_cast<std::int64_t>(filter.offset));
    while (select.step()) {
      RejectionMetadata rejection;
      rejection.device = select.column_uuid(0);
      rejection.user_id = select.column_text(1);
      rejection.write_group = select.column_uuid(2);
      rejection.code = static_cast<RejectionCode>(select.column_int(3));
      rejection.message = select.column_text(4);
      if (!select.is_null(5)) rejection.record_id = select.column_uuid(5);
      rejection.field = select.column_text(6);
      rejection.change_count = as_uint(select.column_int(7));
      rejection.rejected_at_ms = select.column_int(8);
      page.items.push_back(std::move(rejection));
    }
    return page;
  }

  // --- The device registry's history ---
  void add_sync_event(const SyncEvent& event, const SyncHistoryLimits& limits) override {
    db_.prepare(
           "INSERT INTO sync_events(device_id, user_id, at, outcome, duration_ms, changes_pushed, "
           "changes_pulled, groups_rejected, conflicts, bytes_in, bytes_out, error_code, "
           "error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, event.device)
        .bind(2, event.user_id)
        .bind(3, event.at_ms)
        .bind(4, static_cast<std::int64_t>(event.outcome))
        .bind(5, event.duration_ms)
        .bind(6, as_int(event.changes_pushed))
        .bind(7, as_int(event.changes_pulled))
        .bind(8, as_int(event.groups_rejected))
        .bind(9, as_int(event.conflicts))
        .bind(10, as_int(event.bytes_in))
        .bind(11, as_int(event.bytes_out))
        .bind(12, event.error_code)
        .bind(13, event.error_message)
        .run();
    // The device's events beyond the newest `events_per_device` (found through the index).
    db_.prepare(
           "DELETE FROM sync_events WHERE device_id = ?1 AND id <= (SELECT id FROM sync_events "
           "WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)")
        .bind(1, event.device)
        .bind(2, static_cast<std::int64_t>(limits.events_per_device))
        .run();

    const bool failed =
        event.outcome == SyncOutcome::kFailed || event.outcome == SyncOutcome::kUpgradeRequired;
    const std::int64_t start = event.at_ms - event.at_ms % kActivityBucketMs;
    db_.prepare(
           "INSERT INTO sync_activity(start, syncs, failed_syncs, rejections, changes_pushed, "
           "changes_pulled, conflicts, bytes_in, bytes_out) VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, "
           "?8) "
           "ON CONFLICT(start) DO UPDATE SET syncs = syncs + 1, failed_syncs = failed_syncs + ?2, "
           "rejections = rejections + ?3, changes_pushed = changes_pushed + ?4, "
           "changes_pulled = changes_pulled + ?5, conflicts = conflicts + ?6, "
           "bytes_in = bytes_in + ?7, bytes_out = bytes_out + ?8")
        .bind(1, start)
        .bind(2, failed ? 1 : 0)
        .bind(3, as_int(event.groups_rejected))
        .bind(4, as_int(event.changes_pushed))
        .bind(5, as_int(event.changes_pulled))
        .bind(6, as_int(event.conflicts))
        .bind(7, as_int(event.bytes_in))
        .bind(8, as_int(event.bytes_out))
        .run();
    db_.prepare("DELETE FROM sync_activity WHERE start < ?")
        .bind(1, event.at_ms - limits.activity_kept_ms)
        .run();
  }
  std::vector<SyncEvent> sync_events(const OriginId& device, std::size_t limit) override {
    auto select = db_.prepare(
        "SELECT device_id, user_id, at, outcome, duration_ms, changes_pushed, changes_pulled, "
        "groups_rejected, conflicts, bytes_in, bytes_out, error_code, error_message "
        "FROM sync_events WHERE device_id = ? ORDER BY id DESC LIMIT ?");
    select.bind(1, device).bind(2, static_cast<std::int64_t>(limit));
    std::vector<SyncEvent> events;
    while (select.step()) {
      SyncEvent event;
      event.device = select.column_uuid(0);
      event.user_id = select.column_text(1);
      event.at_ms = select.column_int(2);
      event.outcome = static_cast<SyncOutcome>(select.column_int(3));
      event.duration_ms = select.column_int(4);
      event.changes_pushed = as_uint(select.column_int(5));
      event.changes_pulled = as_uint(select.column_int(6));
      event.groups_rejected = as_uint(select.column_int(7));
      event.conflicts = as_uint(select.column_int(8));
      event.bytes_in = as_uint(select.column_int(9));
      event.bytes_out = as_uint(select.column_int(10));
      event.error_code = select.column_text(11);
      event.error_message = select.column_text(12);
      events.push_back(std::move(event));
    }
    return events;
  }
  std::vector<SyncActivity> sync_activity(std::int64_t from_ms) override {
    auto select = db_.prepare(
        "SELECT start, syncs, failed_syncs, rejections, changes_pushed, changes_pulled, conflicts, "
        "bytes_in, bytes_out FROM sync_activity WHERE start >= ? ORDER BY start");
    select.bind(1, from_ms);
    std::vector<SyncActivity> buckets;
    while (select.step()) {
      buckets.push_back({select.column_int(0), as_uint(select.column_int(1)),
                         as_uint(select.column_int(2)), as_uint(select.column_int(3)),
                         as_uint(select.column_int(4)), as_uint(select.column_int(5)),
                         as_uint(select.column_int(6)), as_uint(select.column_int(7)),
                         as_uint(select.column_int(8))});
    }
    return buckets;
  }

  // --- Conflicts for the admins ---
  Page<ConflictMetadata> conflict_log(const ConflictFilter& filter) override {
    // The lost change and the current winner come from history and current by their keys; their
    // values are never selected.
    constexpr std::string_view kFrom =
        " FROM conflicts c "
        "JOIN history l ON l.record_id = c.record_id AND l.field = c.field "
        "  AND l.hlc = c.lost_hlc AND l.origin = c.lost_origin "
        "LEFT JOIN current w ON w.record_id = c.record_id AND w.field = c.field "
        "LEFT JOIN history t ON t.seq = c.seq "
        "WHERE (?1 = 0 OR (?1 = 1) = (c.resolved_hlc IS NULL)) "
        "AND (?2 IS NULL OR c.lost_origin = ?2 OR w.origin = ?2) "
        "AND (?3 = '' OR l.author = ?3 OR w.author = ?3)";
    auto bind_filter = [&](Statement& statement) {
      statement.bind(1, static_cast<std::int64_t>(filter.state == ConflictState::kAny    ? 0
                                                  : filter.state == ConflictState::kOpen ? 1
                                                                                         : 2));
      if (filter.device) {
        statement.bind(2, *filter.device);
      } else {
        statement.bind_null(2);
      }
      statement.bind(3, filter.user_id);
    };
    Page<ConflictMetadata> page;
    auto count = db_.prepare("SELECT COUNT(*)" + std::string(kFrom));
    bind_filter(count);
    count.step();
    page.total = as_uint(count.column_int(0));
    auto select = db_.prepare(
        "SELECT c.record_id, l.collection, c.field, c.case_id, c.lost_hlc, c.lost_origin, "
        "l.author, l.received_at, w.hlc, w.origin, w.author, c.resolved_hlc, c.resolved_origin, "
        "COALESCE(t.received_at, 0), c.seq" +
        std::string(kFrom) +
        " ORDER BY c.seq DESC, c.record_id, c.field, c.lost_hlc LIMIT ?4 OFFSET ?5");
    bind_filter(select);
    select.bind(4, static_cast<std::int64_t>(filter.limit))
        .bind(5, static_cast<std::int64_t>(filter.offset));
    while (select.step()) {
      ConflictMetadata entry;
      entry.record_id = select.column_uuid(0);
      entry.collection = select.column_text(1);
      entry.field = select.column_text(2);
      entry.case_id = select.column_uuid(3);
      entry.lost = {Hlc::from_packed(as_uint(select.column_int(4))), select.column_uuid(5)};
      entry.lost_author = select.column_text(6);
      entry.lost_received_ms = select.column_int(7);
      if (!select.is_null(8)) {
        entry.winner =
            Version{Hlc::from_packed(as_uint(select.column_int(8))), select.column_uuid(9)};
        entry.winner_author = select.column_text(10);
      }
      if (!select.is_null(11)) {
        entry.resolved_by =
            Version{Hlc::from_packed(as_uint(select.column_int(11))), select.column_uuid(12)};
      }
      entry.updated_ms = select.column_int(13);
      entry.seq = as_uint(select.column_int(14));
      page.items.push_back(std::move(entry));
    }
    return page;
  }

  // --- Directives ---
  std::uint64_t add_directive(const OriginId& device, DirectiveKind kind, const CaseId& case_id,
                              const std::string& detail, std::int64_t now_ms) override {
    db_.prepare(
           "INSERT INTO directives(device_id, kind, case_id, detail, created_at) "
           "VALUES (?, ?, ?, ?, ?)")
        .bind(1, device)
        .bind(2, static_cast<std::int64_t>(kind))
        .bind(3, case_id)
        .bind(4, detail)
        .bind(5, now_ms)
        .run();
    return as_uint(db_.last_insert_rowid());
  }
  std::vector<Directive> open_directives(const OriginId& device) override {
    auto select = db_.prepare(
        "SELECT id, kind, case_id, detail FROM directives WHERE device_id = ? AND acked_at IS NULL "
        "ORDER BY id");
    select.bind(1, device);
    std::vector<Directive> directives;
    while (select.step()) directives.push_back(read_directive(select));
    return directives;
  }
  std::vector<Directive> acknowledge_directives(const OriginId& device,
                                                std::span<const std::uint64_t> ids,
                                                std::int64_t now_ms) override {
    std::vector<Directive> acknowledged;
    auto select = db_.prepare(
        "SELECT id, kind, case_id, detail FROM directives WHERE id = ? AND device_id = ? AND "
        "acked_at IS NULL");
    auto update = db_.prepare("UPDATE directives SET acked_at = ? WHERE id = ?");
    for (const std::uint64_t id : ids) {
      select.reset();
      select.bind(1, as_int(id)).bind(2, device);
      if (!select.step()) continue;
      acknowledged.push_back(read_directive(select));
      update.reset();
      update.bind(1, now_ms).bind(2, as_int(id)).run();
    }
    return acknowledged;
  }

  // --- Failed authentication ---
  void add_auth_failure(const std::string& key, std::int64_t at_ms) override {
    db_.prepare("INSERT INTO auth_failures(key, at) VALUES (?, ?)").bind(1, key).bind(2, at_ms).run();
  }
  AuthFailures auth_failures(const std::string& key, std::int64_t since_ms) override {
    auto select = db_.prepare(
        "SELECT COUNT(*), COALESCE(MIN(at), 0) FROM auth_failures WHERE key = ? AND at > ?");
    select.bind(1, key).bind(2, since_ms);
    select.step();
    return {as_uint(select.column_int(0)), select.column_int(1)};
  }
  void forget_auth_failures(std::int64_t before_ms) override {
    db_.prepare("DELETE FROM auth_failures WHERE at <= ?").bind(1, before_ms).run();
  }

  // --- The audit log ---
  // The connection is this transaction's alone (BEGIN IMMEDIATE under the backend's mutex), so
  // the head read here is still the head when the row and the new head are written.
  void append_audit(const AuditEntry& entry) override {
    AuditHead head = audit_head();
    AuditRecord record{head.seq + 1, entry, std::move(head.hash), {}};
    std::sort(record.entry.case_ids.begin(), record.entry.case_ids.end());
    record.entry.case_ids.erase(
        std::unique(record.entry.case_ids.begin(), record.entry.case_ids.end()),
        record.entry.case_ids.end());
    record.hash = audit_row_hash(record.previous_hash, record.seq, record.entry);
    auto insert = db_.prepare("INSERT INTO audit_log(" + std::string(kAuditColumns) +
                              ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    const AuditEntry& row = record.entry;
    insert.bind(1, as_int(record.seq))
        .bind(2, row.at_ms)
        .bind(3, row.node)
        .bind(4, row.actor)
        .bind(5, row.actor_name)
        .bind(6, row.action)
        .bind(7, row.address)
        .bind(9, row.user_id)
        .bind(10, row.detail)
        .bind_blob(11, record.previous_hash)
        .bind_blob(12, record.hash);
    if (row.device) {
      insert.bind(8, *row.device);
    } else {
      insert.bind_null(8);
    }
    insert.run();
    auto insert_case = db_.prepare("INSERT INTO audit_cases(seq, case_id) VALUES (?, ?)");
    for (const CaseId& case_id : row.case_ids) {
      insert_case.reset();
      insert_case.bind(1, as_int(record.seq)).bind(2, case_id).run();
    }
    db_.prepare("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
        .bind(1, as_int(record.seq))
        .bind_blob(2, record.hash)
        .run();
  }
  std::vector<AuditRecord> audit_entries(const AuditQuery& query) override {
    std::string sql = "SELECT " + std::string(kAuditColumns) + " FROM audit_log WHERE 1 = 1";
    if (!query.actor.empty()) sql += " AND actor = ?";
    if (!query.action.empty()) sql += " AND action = ?";
    if (query.device) sql += " AND device_id = ?";
    if (query.case_id) sql += " AND seq IN (SELECT seq FROM audit_cases WHERE case_id = ?)";
    if (query.from_ms) sql += " AND at >= ?";
    if (query.to_ms) sql += " AND at < ?";
    if (query.before_seq > 0) sql += " AND seq < ?";
    sql += " ORDER BY seq DESC LIMIT ?";
    auto select = db_.prepare(sql);
    int index = 0;
    if (!query.actor.empty()) select.bind(++index, query.actor);
    if (!query.action.empty()) select.bind(++index, query.action);
    if (query.device) select.bind(++index, *query.device);
    if (query.case_id) select.bind(++index, *query.case_id);
    if (query.from_ms) select.bind(++index, *query.from_ms);
    if (query.to_ms) select.bind(++index, *query.to_ms);
    if (query.before_seq > 0) select.bind(++index, as_int(query.before_seq));
    select.bind(++index, static_cast<std::int64_t>(query.limit));
    return read_audit_records(select);
  }
  std::vector<AuditRecord> audit_range(std::uint64_t after, std::size_t limit) override {
    auto select = db_.prepare("SELECT " + std::string(kAuditColumns) +
                              " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
    select.bind(1, as_int(after)).bind(2, static_cast<std::int64_t>(limit));
    return read_audit_records(select);
  }
  AuditHead audit_head() override {
    auto select = db_.prepare("SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!select.step()) throw Error(ErrorCode::kIntegrity, "the audit log has no head");
    return AuditHead{as_uint(select.column_int(0)), select.column_bytes(1)};
  }

  // --- Metrics ---
  std::map<std::string, std::uint64_t> node_counters(const std::string& node) override {
    std::map<std::string, std::uint64_t> counters;
    auto select = db_.prepare("SELECT name, value FROM node_counters WHERE node = ?");
    select.bind(1, node);
    while (select.step()) counters[select.column_text(0)] = as_uint(select.column_int(1));
    return counters;
  }
  void put_node_counters(const std::string& node,
                         const std::map<std::string, std::uint64_t>& counters) override {
    db_.prepare("DELETE FROM node_counters WHERE node = ?").bind(1, node).run();
    auto insert = db_.prepare("INSERT INTO node_counters(node, name, value) VALUES (?, ?, ?)");
    for (const auto& [name, value] : counters) {
      insert.reset();
      insert.bind(1, node).bind(2, name).bind(3, as_int(value)).run();
    }
  }

 private:
  static constexpr std::string_view kAuditColumns =
      "seq, at, node, actor, actor_name, action, address, device_id, user_id, detail, "
      "previous_hash, hash";

  std::vector<AuditRecord> read_audit_records(Statement& select) {
    std::vector<AuditRecord> records;
    while (select.step()) {
      AuditRecord record;
      record.seq = as_uint(select.column_int(0));
      AuditEntry& entry = record.entry;
      entry.at_ms = select.column_int(1);
      entry.node = select.column_text(2);
      entry.actor = select.column_text(3);
      entry.actor_name = select.column_text(4);
      entry.action = select.column_text(5);
      entry.address = select.column_text(6);
      if (!select.is_null(7)) entry.device = select.column_uuid(7);
      entry.user_id = select.column_text(8);
      entry.detail = select.column_text(9);
      record.previous_hash = select.column_bytes(10);
      record.hash = select.column_bytes(11);
      records.push_back(std::move(record));
    }
    auto cases = db_.prepare("SELECT case_id FROM audit_cases WHERE seq = ? ORDER BY case_id");
    for (AuditRecord& record : records) {
      cases.reset();
      cases.bind(1, as_int(record.seq));
      while (cases.step()) record.entry.case_ids.push_back(cases.column_uuid(0));
    }
    return records;
  }

  static constexpr std::string_view kDeviceColumns =
      "id, user_id, status, token_hash, enrolled_at, last_seen, last_sync, status_reason, "
      "telemetry, last_attempt, pending_changes, oldest_pending_at, clock_offset, "
      "failed_in_a_row, last_error_code, last_error_message, last_error_at, syncs, failed_syncs, "
      "changes_pushed, changes_pulled, conflicts, rejections, bytes_in, bytes_out";

  static Device read_device(const Statement& row) {
    Device device;
    device.id = row.column_uuid(0);
    device.user_id = row.column_text(1);
    device.status = static_cast<DeviceStatus>(row.column_int(2));
    device.token_hash = row.column_bytes(3);
    device.enrolled_at_ms = row.column_int(4);
    device.last_seen_ms = row.column_int(5);
    device.last_sync_ms = row.column_int(6);
    device.status_reason = row.column_text(7);
    device.telemetry = decode_stored_telemetry(row.column_text(8));
    DeviceActivity& activity = device.activity;
    activity.last_attempt_ms = row.column_int(9);
    activity.pending_changes = as_uint(row.column_int(10));
    activity.oldest_pending_at_ms = row.column_int(11);
    activity.clock_offset_ms = row.column_int(12);
    activity.failed_in_a_row = static_cast<std::uint32_t>(row.column_int(13));
    activity.last_error_code = row.column_text(14);
    activity.last_error_message = row.column_text(15);
    activity.last_error_ms = row.column_int(16);
    activity.syncs = as_uint(row.column_int(17));
    activity.failed_syncs = as_uint(row.column_int(18));
    activity.changes_pushed = as_uint(row.column_int(19));
    activity.changes_pulled = as_uint(row.column_int(20));
    activity.conflicts = as_uint(row.column_int(21));
    activity.rejections = as_uint(row.column_int(22));
    activity.bytes_in = as_uint(row.column_int(23));
    activity.bytes_out = as_uint(row.column_int(24));
    return device;
  }

  static User read_user(const Statement& row) {
    return User{row.column_text(0), row.column_text(1), static_cast<Role>(row.column_int(2)),
                row.column_text(3)};
  }

  static std::vector<StoredChange> read_changes(Statement& select) {
    std::vector<StoredChange> changes;
    while (select.step()) changes.push_back(read_change(select));
    return changes;
  }

  static std::vector<ConflictEntry> read_conflicts(Statement& select) {
    std::vector<ConflictEntry> entries;
    while (select.step()) entries.push_back(read_conflict(select));
    return entries;
  }

  static std::string prefixed_change_columns(std::string_view prefix) {
    std::string columns;
    std::size_t start = 0;
    const std::string_view all = kChangeColumns;
    while (start < all.size()) {
      const std::size_t comma = std::min(all.find(", ", start), all.size());
      columns += (columns.empty() ? "" : ", ") + std::string(prefix) + "." +
                 std::string(all.substr(start, comma - start));
      start = comma + 2;
    }
    return columns;
  }

  // The scope's current rows, one case at a time through current_by_case. CROSS JOIN keeps
  // that order: left to itself SQLite may walk the whole index and look each row's case up.
  static constexpr std::string_view kScopeJoin =
      "temp.pull_scope s CROSS JOIN current c ON c.case_id = s.case_id";

  std::uint64_t scope_rows_between(std::uint64_t after, std::uint64_t up_to) {
    auto count = db_.prepare("SELECT count(*) FROM " + std::string(kScopeJoin) +
                             " WHERE c.seq > ? AND c.seq <= ?");
    count.bind(1, as_int(after)).bind(2, as_int(up_to));
    count.step();
    return as_uint(count.column_int(0));
  }

  // The sequence number of the scope's `n`th row in (after, up_to]; there are at least `n`.
  std::uint64_t nth_scope_seq_between(std::uint64_t after, std::uint64_t up_to, std::size_t n) {
    auto select = db_.prepare("SELECT c.seq FROM " + std::string(kScopeJoin) +
                              " WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq LIMIT 1 OFFSET ?");
    select.bind(1, as_int(after)).bind(2, as_int(up_to)).bind(3, static_cast<std::int64_t>(n - 1));
    if (!select.step()) throw Error(ErrorCode::kInternal, "a pull page lost rows while counted");
    return as_uint(select.column_int(0));
  }

  // The cases of a pull, in a temporary table the pull queries join against.
  void fill_scope(std::span<const CaseId> cases) {
    if (scope_filled_ && std::equal(cases.begin(), cases.end(), scope_.begin(), scope_.end())) return;
    db_.exec("CREATE TEMP TABLE IF NOT EXISTS pull_scope(case_id BLOB PRIMARY KEY) WITHOUT ROWID");
    db_.exec("DELETE FROM temp.pull_scope");
    auto insert = db_.prepare("INSERT OR IGNORE INTO temp.pull_scope(case_id) VALUES (?)");
    for (const CaseId& case_id : cases) {
      insert.reset();
      insert.bind(1, case_id).run();
    }
    scope_.assign(cases.begin(), cases.end());
    scope_filled_ = true;
  }

  Uuid meta_uuid(std::string_view key) {
    auto select = db_.prepare("SELECT value FROM meta WHERE key = ?");
    select.bind(1, key);
    if (!select.step()) throw Error(ErrorCode::kIntegrity, "the server database has no " + std::string(key));
    return select.column_uuid(0);
  }

  template <class Insert>
  void insert_unique(std::string_view what, const std::string& id, Insert insert) {
    try {
      insert();
    } catch (const Error& error) {
      if (!is_constraint_violation(error)) throw;
      throw Error(ErrorCode::kConflict, std::string(what) + " '" + id + "' already exists");
    }
  }

  std::unique_lock<std::mutex> lock_;
  Database& db_;
  WalGroupCommit& durability_;
  sqlite::Transaction transaction_;
  std::vector<CaseId> scope_;
  bool scope_filled_ = false;
};

// An advisory lock on a data directory's lock file: shared while the storage is open, exclusive
// while a restore or a new epoch replaces what it holds. flock() locks go with the process, so a
// server killed any way leaves none behind.
class DataDirLock {
 public:
  enum class Kind { kShared, kExclusive };

  DataDirLock(const std::string& data_dir, Kind kind) {
    const std::string path = (std::filesystem::path(data_dir) / kLockFile).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      throw Error(ErrorDomain::kPosix, errno, "cannot open " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd_, (kind == Kind::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0) return;
    const int error = errno;
    ::close(fd_);
    if (error != EWOULDBLOCK) {
      throw Error(ErrorDomain::kPosix, error, "cannot lock " + path + ": " + std::strerror(error));
    }
    throw Error(ErrorCode::kConflict,
                kind == Kind::kShared
                    ? "the server data in " + data_dir + " is being restored: try again once that is done"
                    : "the server data in " + data_dir +
                          " is in use (is fieldsync-server running on it?): stop the server first");
  }
  ~DataDirLock() { ::close(fd_); }
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

// Creates the data directory if needed; returns the database file's path in it.
std::string database_path(const std::string& data_dir) {
  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    throw Error(ErrorDomain::kPosix, error.value(),
                "cannot create the data directory " + data_dir + ": " + error.message());
  }
  return (std::filesystem::path(data_dir) / kDatabaseFile).string();
}

// The database of an existing data directory; Error(kInvalidArgument) when there is none.
std::string existing_database_path(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / kDatabaseFile).string();
  if (!std::filesystem::is_regular_file(path)) {
    throw Error(ErrorCode::kInvalidArgument, "there is no server database in " + data_dir);
  }
  return path;
}

void remove_database_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix);
  }
}

// Refuses a file that is not a whole server database this build can read: the wrong file given
// to a restore must not become an empty server.
void check_server_database(Database& db, const std::string& name) {
  const int version = db.user_version();
  if (version > static_cast<int>(sqlite_schema::kMigrations.size())) {
    throw Error(ErrorCode::kUnsupportedVersion,
                name + " was written by a newer fieldsync-server (format " +
                    std::to_string(version) + ")");
  }
  bool has_epoch = false;
  if (version >= 1) {
    auto select = db.prepare("SELECT 1 FROM meta WHERE key = 'epoch'");
    has_epoch = select.step();
  }
  if (!has_epoch) throw Error(ErrorCode::kInvalidArgument, name + " is not a fieldsync-server database");
  auto check = db.prepare("PRAGMA quick_check");
  if (!check.step() || check.column_text(0) != "ok") {
    throw Error(ErrorCode::kIntegrity, name + " is damaged (SQLite's quick_check failed)");
  }
}

// Copies `source` into a new single file at `path` (no write-ahead log beside it), written under
// a temporary name first so that a copy cut short is never taken for a whole one.
void copy_database(Database& source, const std::string& path, const std::string& name) {
  const std::string partial = path + ".partial";
  remove_database_files(partial);
  try {
    Database target(partial, Database::Mode::kReadWriteCreate);
    source.copy_to(target);
    check_server_database(target, name);
    target.exec("PRAGMA journal_mode = DELETE");
  } catch (...) {
    remove_database_files(partial);
    throw;
  }
  std::filesystem::rename(partial, path);
}

// Makes a rename in `dir` durable.
void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &parts);
  return text;
}

class SqliteStorage final : public ServerStorage {
 public:
  explicit SqliteStorage(const std::string& data_dir)
      : path_(database_path(data_dir)),
        lock_(data_dir, DataDirLock::Kind::kShared),
        db_(path_, Database::Mode::kReadWriteCreate) {
    migrate();
    durability_.wait_durable(durability_.note_commit());  // the new schema, on disk
  }

  std::unique_ptr<StorageTransaction> begin() override {
    std::unique_lock lock(mutex_);
    return std::make_unique<SqliteTransaction>(std::move(lock), db_, durability_);
  }

  std::uint64_t size_bytes() override {
    std::uint64_t total = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code error;
      const auto size = std::filesystem::file_size(path_ + suffix, error);
      if (!error) total += size;
    }
    return total;
  }

 private:
  void migrate() {
    db_.exec("PRAGMA journal_mode = WAL");
    // Commits are synced by WalGroupCommit, several at once; SQLite still syncs around its
    // checkpoints.
    db_.exec("PRAGMA synchronous = NORMAL");
    db_.exec("PRAGMA busy_timeout = 10000");
    db_.exec("PRAGMA foreign_keys = ON");
    const int version = db_.user_version();
    if (version > static_cast<int>(sqlite_schema::kMigrations.size())) {
      throw Error(ErrorCode::kUnsupportedVersion,
                  "the server database was written by a newer fieldsync-server (format " +
                      std::to_string(version) + ")");
    }
    sqlite::Transaction transaction(db_);
    for (std::size_t i = static_cast<std::size_t>(version); i < sqlite_schema::kMigrations.size(); ++i) {
      db_.exec(sqlite_schema::kMigrations[i]);
    }
    const bool upgraded =
        version > 0 && version < static_cast<int>(sqlite_schema::kMigrations.size());
    if (upgraded) fill_rejection_columns();
    if (version == 0) write_new_epoch(db_);
    db_.set_user_version(static_cast<int>(sqlite_schema::kMigrations.size()));
    transaction.commit();
  }

  // Rejected groups stored before their code and message had columns of their own get them from
  // the stored rejection (SQL cannot decode it). Rows written since always have a code.
  void fill_rejection_columns() {
    auto select =
        db_.prepare("SELECT device_id, write_group, rejection FROM rejected_groups WHERE code = 0");
    auto update = db_.prepare(
        "UPDATE rejected_groups SET code = ?, message = ? WHERE device_id = ? AND write_group = ?");
    while (select.step()) {
      const Rejection rejection = decode_stored_rejection(select.column_blob(2));
      update.reset();
      update.bind(1, static_cast<std::int64_t>(rejection.code))
          .bind(2, rejection.message)
          .bind(3, select.column_uuid(0))
          .bind(4, select.column_uuid(1))
          .run();
    }
  }

  std::string path_;
  DataDirLock lock_;
  std::mutex mutex_;
  Database db_;
  WalGroupCommit durability_{path_ + "-wal"};
};

}  // namespace

std::unique_ptr<ServerStorage> open_sqlite_storage(const std::string& data_dir) {
  return std::make_unique<SqliteStorage>(data_dir);
}

void backup_sqlite_storage(const std::string& data_dir, const std::string& backup_file) {
  const std::string path = existing_database_path(data_dir);
  if (std::filesystem::exists(backup_file)) {
    throw Error(ErrorCode::kInvalidArgument, backup_file + " already exists: give a new file name");
  }
  const DataDirLock lock(data_dir, DataDirLock::Kind::kShared);
  // Read-write only so that it reads the write-ahead log; it writes nothing.
  Database source(path, Database::Mode::kReadWrite);
  copy_database(source, backup_file, "the server database in " + data_dir);
  sync_directory(std::filesystem::absolute(backup_file).parent_path().string());
}

std::string restore_sqlite_storage(const std::string& backup_file, const std::string& data_dir) {
  if (!std::filesystem::is_regular_file(backup_file)) {
    throw Error(ErrorCode::kInvalidArgument, "there is no backup file " + backup_file);
  }
  const std::string path = database_path(data_dir);
  const DataDirLock lock(data_dir, DataDirLock::Kind::kExclusive);
  const std::string restoring = path + ".restoring";
  {
    Database source(backup_file, Database::Mode::kReadOnly);
    copy_database(source, restoring, backup_file);
  }
  {
    Database restored(restoring, Database::Mode::kReadWrite);
    sqlite::Transaction transaction(restored);
    write_new_epoch(restored);
    transaction.commit();
  }
  // The database being replaced is kept, under another name (a hard link, so that the rename
  // below swaps the files in one step). It is first folded into one file: its write-ahead log
  // must not outlive it beside the restored database.
  std::string replaced;
  if (std::filesystem::exists(path)) {
    {
      Database current(path, Database::Mode::kReadWrite);
      current.exec("PRAGMA journal_mode = DELETE");
    }
    replaced = path + ".replaced-" + utc_stamp();
    std::filesystem::create_hard_link(path, replaced);
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
  std::filesystem::rename(restoring, path);
  sync_directory(data_dir);
  return replaced;
}

void start_new_sqlite_epoch(const std::string& data_dir) {
  const std::string path = existing_database_path(data_dir);
  const DataDirLock lock(data_dir, DataDirLock::Kind::kExclusive);
  Database db(path, Database::Mode::kReadWrite);
  check_server_database(db, "the server database in " + data_dir);
  sqlite::Transaction transaction(db);
  write_new_epoch(db);
  transaction.commit();
}

}  // namespace fieldsync::server
