// The embedded storage backend: one SQLite file in WAL mode whose commits return only once the
// WAL is synced (group commit), so a commit is durable before the server acknowledges anything. All of the server's SQL for SQLite is here and
// in sqlite_storage_schema.h.
//
// Threading: SQLite has one writer at a time, and nearly every request writes (a sync records the
// device's visit), so the backend keeps one connection and hands it to one transaction at a time
// under a mutex; other requests wait for it (never fail for it). A commit releases the connection
// before it waits for its fsync, which it shares with the commits made meanwhile
// (wal_group_commit.h).
#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "fieldsync/error.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/sqlite_db.h"
#include "fieldsync/wire_codec.h"
#include "sqlite_storage_schema.h"
#include "stored_value_codec.h"
#include "wal_group_commit.h"

namespace fieldsync::server {
namespace {

using sqlite::Database;
using sqlite::Statement;

constexpr std::string_view kDatabaseFile = "fieldsync-server.db";
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

nlohmann::json telemetry_to_json(const Telemetry& telemetry) {
  return {{"app_version", telemetry.app_version},
          {"core_version", telemetry.core_version},
          {"platform", telemetry.platform},
          {"pending_count", telemetry.pending_count},
          {"oldest_pending_age_ms", telemetry.oldest_pending_age_ms},
          {"last_error_code", telemetry.last_error_code},
          {"last_error_message", telemetry.last_error_message},
          {"device_clock_ms", telemetry.device_clock_ms}};
}

Telemetry telemetry_from_json(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Telemetry telemetry;
  if (!json.is_object()) return telemetry;
  telemetry.app_version = json.value("app_version", "");
  telemetry.core_version = json.value("core_version", "");
  telemetry.platform = json.value("platform", "");
  telemetry.pending_count = json.value("pending_count", std::uint64_t{0});
  telemetry.oldest_pending_age_ms = json.value("oldest_pending_age_ms", std::int64_t{0});
  telemetry.last_error_code = json.value("last_error_code", "");
  telemetry.last_error_message = json.value("last_error_message", "");
  telemetry.device_clock_ms = json.value("device_clock_ms", std::int64_t{0});
  return telemetry;
}

std::string join_roles(const std::vector<std::string>& roles) {
  std::string joined;
  for (const std::string& role : roles) joined += (joined.empty() ? "" : ",") + role;
  return joined;
}

std::vector<std::string> split_roles(const std::string& joined) {
  std::vector<std::string> roles;
  std::size_t start = 0;
  while (start < joined.size()) {
    const std::size_t comma = std::min(joined.find(',', start), joined.size());
    roles.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return roles;
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
    db_.prepare(
           "INSERT OR REPLACE INTO devices(id, user_id, status, token_hash, enrolled_at, last_seen, "
           "last_sync, status_reason, telemetry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, device.id)
        .bind(2, device.user_id)
        .bind(3, static_cast<std::int64_t>(device.status))
        .bind_blob(4, device.token_hash)
        .bind(5, device.enrolled_at_ms)
        .bind(6, device.last_seen_ms)
        .bind(7, device.last_sync_ms)
        .bind(8, device.status_reason)
        .bind(9, telemetry_to_json(device.telemetry).dump())
        .run();
  }
  std::optional<Device> device(const OriginId& id) override {
    auto select = db_.prepare(std::string(kDeviceSelect) + " WHERE id = ?");
    select.bind(1, id);
    if (!select.step()) return std::nullopt;
    return read_device(select);
  }
  std::vector<Device> devices() override {
    std::vector<Device> devices;
    auto select = db_.prepare(std::string(kDeviceSelect) + " ORDER BY user_id, enrolled_at");
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
          .bind(4, join_roles(token.roles))
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
                      split_roles(select.column_text(3)), select.column_int(4),
                      select.column_int(5)};
  }

  // --- What a device holds ---
  std::vector<DeviceCase> device_cases(const OriginId& device) override {
    std::vector<DeviceCase> cases;
    auto select = db_.prepare("SELECT case_id, state FROM device_cases WHERE device_id = ?");
    select.bind(1, device);
    while (select.step()) {
      cases.push_back({select.column_uuid(0), static_cast<DeviceCaseState>(select.column_int(1))});
    }
    return cases;
  }
  void put_device_case(const OriginId& device, const DeviceCase& device_case) override {
    db_.prepare("INSERT OR REPLACE INTO device_cases(device_id, case_id, state) VALUES (?, ?, ?)")
        .bind(1, device)
        .bind(2, device_case.case_id)
        .bind(3, static_cast<std::int64_t>(device_case.state))
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
                                          std::size_t limit) override {
    if (limit == 0) return {};
    fill_scope(cases);
    const std::uint64_t last = last_seq();
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
  std::optional<RejectedGroup> rejected_group(const OriginId& device,
                                              const WriteGroupId& group) override {
    auto select = db_.prepare(
        "SELECT rejection, content_hash, rejected_at FROM rejected_groups "
        "WHERE device_id = ? AND write_group = ?");
    select.bind(1, device).bind(2, group);
    if (!select.step()) return std::nullopt;
    const auto blob = select.column_blob(0);
    SyncResponse holder = decode_response(
        std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()),
        WireFormat::kBinary);
    if (holder.rejections.size() != 1) throw Error(ErrorCode::kIntegrity, "a stored rejection is corrupt");
    return RejectedGroup{device, std::move(holder.rejections.front()), select.column_bytes(1),
                         select.column_int(2)};
  }
  void put_rejected_group(const RejectedGroup& rejected) override {
    SyncResponse holder;
    holder.rejections.push_back(rejected.rejection);
    const std::string blob = encode_response(holder, WireFormat::kBinary);
    db_.prepare(
           "INSERT OR REPLACE INTO rejected_groups(device_id, write_group, rejection, "
           "content_hash, rejected_at) VALUES (?, ?, ?, ?, ?)")
        .bind(1, rejected.device)
        .bind(2, rejected.rejection.write_group)
        .bind_blob(3, std::span(reinterpret_cast<const std::uint8_t*>(blob.data()), blob.size()))
        .bind_blob(4, rejected.content_hash)
        .bind(5, rejected.rejected_at_ms)
        .run();
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

 private:
  static constexpr std::string_view kDeviceSelect =
      "SELECT id, user_id, status, token_hash, enrolled_at, last_seen, last_sync, status_reason, "
      "telemetry FROM devices";

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
    device.telemetry = telemetry_from_json(row.column_text(8));
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

class SqliteStorage final : public ServerStorage {
 public:
  explicit SqliteStorage(const std::string& data_dir)
      : path_(database_path(data_dir)), db_(path_, Database::Mode::kReadWriteCreate) {
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
  // Creates the data directory if needed; returns the database file's path in it.
  static std::string database_path(const std::string& data_dir) {
    std::error_code error;
    std::filesystem::create_directories(data_dir, error);
    if (error) {
      throw Error(ErrorDomain::kPosix, error.value(),
                  "cannot create the data directory " + data_dir + ": " + error.message());
    }
    return (std::filesystem::path(data_dir) / kDatabaseFile).string();
  }

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
    if (version == 0) {
      for (const char* key : {"epoch", "origin"}) {
        db_.prepare("INSERT INTO meta(key, value) VALUES (?, ?)").bind(1, key).bind(2, Uuid::random_v4()).run();
      }
    }
    db_.set_user_version(static_cast<int>(sqlite_schema::kMigrations.size()));
    transaction.commit();
  }

  std::string path_;
  std::mutex mutex_;
  Database db_;
  WalGroupCommit durability_{path_ + "-wal"};
};

}  // namespace

std::unique_ptr<ServerStorage> open_sqlite_storage(const std::string& data_dir) {
  return std::make_unique<SqliteStorage>(data_dir);
}

}  // namespace fieldsync::server
