// The sync server's storage, behind one interface (DESIGN.md section 6). Reconciliation, identity,
// scope and the admin API are written once against it; each backend (SQLite, the embedded
// default; PostgreSQL for several server nodes) keeps all its SQL inside its implementation.
//
// Work happens in transactions: begin() hands out a StorageTransaction, whose reads see one
// consistent state and whose writes become visible and durable together at commit(). A
// transaction that is destroyed without commit() rolls back. Methods take and return batches
// where a sync touches many rows, so a backend can send them in few round trips. Work that writes
// runs through run_transaction() (below): a backend that lets writers run side by side
// (PostgreSQL) may abort one that lost a race with another, and run_transaction runs it again.
//
// Sequence numbers: every accepted change gets the next number of one server-wide sequence; the
// current state of a field and each conflict-log entry carry the number of the change that last
// touched them, and a device's cursor is a position in that sequence. A backend must hand out
// positions to pulls (last_seq) so that nothing at or below a served position can still appear
// later (on SQLite writers are serialised, so commit order is sequence order; PostgreSQL hands
// out numbers before commit, see postgres_storage.cpp).
//
// Threading: a ServerStorage is shared by all request threads; each transaction belongs to one
// thread, and a thread holds at most one transaction at a time (the SQLite backend has one
// connection: a second begin() on the same thread would wait forever).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "fieldsync/change.h"
#include "fieldsync/error.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::server {

enum class Role : std::uint8_t { kWorker = 1, kManager = 2 };
std::string_view to_string(Role role);
std::optional<Role> role_from_string(std::string_view name);

enum class DeviceStatus : std::uint8_t {
  kActive = 1,
  kRevoked = 2,   // lost or stolen: it gets only a wipe directive
  kRetiring = 3,  // handed back: its final push is accepted, then it is told to wipe
  kWiped = 4,     // acknowledged the wipe: its token no longer works
  kRetired = 5,   // acknowledged the retirement: its token no longer works
};
std::string_view to_string(DeviceStatus status);
std::optional<DeviceStatus> device_status_from_string(std::string_view name);

struct Team {
  std::string id;
  std::string name;
};

struct User {
  std::string id;
  std::string team_id;
  Role role = Role::kWorker;
  std::string name;
};

// Which team holds a case, and which worker it is allocated to (empty: nobody yet).
struct CaseAllocation {
  CaseId case_id;
  std::string team_id;
  std::string worker_id;
};

// What the server itself saw of a device's syncs, for the admins' device registry. Updated in
// each sync's own transaction (device_registry.h says how); metadata only, never case content.
struct DeviceActivity {
  std::int64_t last_attempt_ms = 0;       // last sync request, whatever its answer
  std::uint64_t pending_changes = 0;      // its outbox after its last sync, as far as it is known
  std::int64_t oldest_pending_at_ms = 0;  // when the oldest of those was made (0: none)
  std::int64_t clock_offset_ms = 0;       // its wall clock minus the server's, at its last sync
  std::uint32_t failed_in_a_row = 0;      // syncs since its last one that went well
  std::string last_error_code;            // of its last sync that failed or had a group rejected
  std::string last_error_message;         // as answered to the device: never quotes data
  std::int64_t last_error_ms = 0;
  // Totals since enrolment.
  std::uint64_t syncs = 0;
  std::uint64_t failed_syncs = 0;    // failed, rejected a group, or required an upgrade
  std::uint64_t changes_pushed = 0;  // accepted from the device
  std::uint64_t changes_pulled = 0;  // sent to the device
  std::uint64_t conflicts = 0;       // conflict-log entries its pushes created
  std::uint64_t rejections = 0;      // its write groups the server rejected
  std::uint64_t bytes_in = 0;        // request bodies
  std::uint64_t bytes_out = 0;       // response bodies
  friend bool operator==(const DeviceActivity&, const DeviceActivity&) = default;
};

struct Device {
  OriginId id;
  std::string user_id;
  DeviceStatus status = DeviceStatus::kActive;
  Bytes token_hash;  // SHA-256 of the token's secret
  std::int64_t enrolled_at_ms = 0;
  std::int64_t last_seen_ms = 0;       // last authenticated request
  std::int64_t last_sync_ms = 0;       // last sync that committed an exchange (push and pull)
  std::string status_reason;           // why it was revoked or retired
  Telemetry telemetry;                 // as last reported
  DeviceActivity activity;
};

// Which devices an admin asks for. Empty members do not filter.
struct DeviceFilter {
  std::string user_id;   // exactly this user's devices
  std::string team_id;   // devices of this team's users
  std::string platform;  // reported platform starting with this, any case ("android")
  std::string text;      // part of the device id (dashes ignored), or of its user's id or name,
                         // any case
};

// How one sync round trip ended, for the registry and its history.
enum class SyncOutcome : std::uint8_t {
  kOk = 1,               // pushed and pulled, nothing rejected
  kRejected = 2,         // pushed and pulled, at least one write group rejected
  kFailed = 3,           // answered with an error status: nothing of it was committed
  kUpgradeRequired = 4,  // refused until the app is upgraded
  kRevoked = 5,          // a revoked device: only its wipe directive was sent
};
std::string_view to_string(SyncOutcome outcome);

// One sync round trip of one device: the device's recent history, and the fleet's activity.
struct SyncEvent {
  OriginId device;
  std::string user_id;
  std::int64_t at_ms = 0;
  SyncOutcome outcome = SyncOutcome::kOk;
  std::int64_t duration_ms = 0;
  std::uint64_t changes_pushed = 0;
  std::uint64_t changes_pulled = 0;
  std::uint64_t groups_rejected = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string error_code;     // empty when it went well
  std::string error_message;  // as answered to the device: never quotes data
  friend bool operator==(const SyncEvent&, const SyncEvent&) = default;
};

// The fleet's syncs in one interval of kActivityBucketMs, starting at `start_ms`.
inline constexpr std::int64_t kActivityBucketMs = 5 * 60 * 1000;
struct SyncActivity {
  std::int64_t start_ms = 0;
  std::uint64_t syncs = 0;
  std::uint64_t failed_syncs = 0;  // kFailed and kUpgradeRequired
  std::uint64_t rejections = 0;    // write groups rejected
  std::uint64_t changes_pushed = 0;
  std::uint64_t changes_pulled = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  friend bool operator==(const SyncActivity&, const SyncActivity&) = default;
};

// How much sync history is kept: a device's newest events, and the fleet's activity for a time.
struct SyncHistoryLimits {
  std::size_t events_per_device = 100;
  std::int64_t activity_kept_ms = 8LL * 24 * 60 * 60 * 1000;
};

struct EnrolmentCode {
  std::string id;     // the public part, unique
  Bytes secret_hash;  // SHA-256 of the secret part
  std::string user_id;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
};

struct AdminToken {
  std::string id;
  Bytes secret_hash;
  std::string name;                 // who it was made for
  std::vector<std::string> roles;   // "monitor", "manage", "enrol"
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;   // 0: does not expire
};

// A dashboard login: a cookie's secret stands for the admin token it was opened with, until it
// expires or the admin logs out. The server keeps only the secret's SHA-256.
struct AdminSession {
  Bytes secret_hash;
  std::string token_id;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
};

// Where an existing record lives; a device may never claim otherwise.
struct RecordHome {
  std::string collection;
  CaseId case_id;
};

// What a device's accepted write group was: resends with the same content are acknowledged
// again; a sequence number reused with other content is refused.
struct Receipt {
  WriteGroupId group;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  Bytes content_hash;
};

// A rejected write group, kept for audit and so that a resend gets the same answer.
struct RejectedGroup {
  OriginId device;
  Rejection rejection;
  Bytes content_hash;
  std::int64_t rejected_at_ms = 0;
  // For the admins: whose group it was, what it held, and the record and field the refusal is
  // about (nil and empty when it is about the whole group).
  std::string user_id;
  std::uint64_t change_count = 0;
  RecordId record_id;
  std::string field;
};

// What admins see of a rejected group: never its values, nor the server's.
struct RejectionMetadata {
  OriginId device;
  std::string user_id;
  WriteGroupId write_group;
  RejectionCode code = RejectionCode::kValidation;
  std::string message;  // built from schema names, ids and numbers: never quotes data
  RecordId record_id;   // nil when the refusal is about the whole group
  std::string field;
  std::uint64_t change_count = 0;
  std::int64_t rejected_at_ms = 0;
};

struct RejectionFilter {
  std::optional<OriginId> device;
  std::string user_id;
  std::optional<RejectionCode> code;
  std::int64_t since_ms = 0;  // rejected at or after
  std::size_t limit = 50;
  std::size_t offset = 0;
};

// The server's view of which cases a device holds.
enum class DeviceCaseState : std::uint8_t {
  kBackfill = 1,      // newly in scope: the whole case is to be sent, or was sent unconfirmed
  kActive = 2,        // in scope and up to date with the cursor
  kPendingPurge = 3,  // left scope: pushes still accepted; a purge directive is out
};
struct DeviceCase {
  CaseId case_id;
  DeviceCaseState state = DeviceCaseState::kActive;
  // For kBackfill: the delivery mark of the answer that last carried the whole case (0: not sent
  // yet). The case becomes kActive only when the device's cursor echoes that mark, proving the
  // device applied the answer; if the answer was lost, the case is sent again.
  std::uint64_t delivered_in = 0;
};

// A change as stored: with its position in the sequence and when it arrived.
struct StoredChange {
  Change change;
  std::uint64_t seq = 0;
  std::int64_t received_ms = 0;
};

// One entry of the conflict log: `lost` was overwritten by someone who never saw it.
struct ConflictEntry {
  RecordId record_id;
  std::string field;
  CaseId case_id;
  Version lost;
  std::optional<Version> resolved_by;  // set once a later change named `lost` in its base
  std::uint64_t seq = 0;               // the change that last touched the entry
};

// Failed authentication attempts counted under one key (an address, an account).
struct AuthFailures {
  std::uint64_t count = 0;
  std::int64_t oldest_ms = 0;  // when the oldest of them happened (0: none)
};

// What admins see of a conflict-log entry: who and when, never the values.
struct ConflictMetadata {
  RecordId record_id;
  std::string collection;
  std::string field;
  CaseId case_id;
  Version lost;  // the overwritten change: its device is lost.origin
  std::string lost_author;
  std::int64_t lost_received_ms = 0;
  std::optional<Version> winner;  // the field's current winner
  std::string winner_author;
  std::optional<Version> resolved_by;
  std::int64_t updated_ms = 0;  // when the entry was last touched (made, re-won or resolved)
  std::uint64_t seq = 0;
};

enum class ConflictState : std::uint8_t { kAny, kOpen, kResolved };
struct ConflictFilter {
  ConflictState state = ConflictState::kAny;
  std::optional<OriginId> device;  // the lost or the winning side's device
  std::string user_id;             // the lost or the winning side's author
  std::size_t limit = 50;
  std::size_t offset = 0;
};

// One page of a longer list, and how long the whole list is.
template <class Item>
struct Page {
  std::vector<Item> items;
  std::uint64_t total = 0;
};

// A field's place in the sequence, for paging.
struct FieldKey {
  RecordId record_id;
  std::string field;
  friend auto operator<=>(const FieldKey&, const FieldKey&) = default;
};

// --- The audit log ---
// One row of the append-only audit log: who did what, to which device, user and cases, from
// where. Metadata only: ids, counts, reasons an admin typed; never a field value.
struct AuditEntry {
  std::int64_t at_ms = 0;
  std::string node;         // the server node that wrote it
  std::string actor;        // "admin:<token id>", "device:<device id>", "console", "anonymous"
  std::string actor_name;   // the same for a person: the admin token's name, the device's user
  std::string action;       // "team.created", "sync", "auth.failed", ... (docs/http-api.md)
  std::string address;      // the caller's IP address; empty for the console
  std::optional<OriginId> device;
  std::string user_id;
  std::vector<CaseId> case_ids;  // stored sorted, without repeats
  std::string detail;            // a JSON object: counts, ids, reasons
};

// A row as stored: its place in the chain, the hash it chained from and its own hash
// (audit_chain.h says how the hash is made).
struct AuditRecord {
  std::uint64_t seq = 0;  // 1, 2, 3, ... with no gaps
  AuditEntry entry;
  Bytes previous_hash;
  Bytes hash;
};

// Which rows to list: every member set narrows; newest first, paged by seq.
struct AuditQuery {
  std::string actor;
  std::string action;
  std::optional<OriginId> device;
  std::optional<CaseId> case_id;
  std::optional<std::int64_t> from_ms;  // at_ms >= from_ms
  std::optional<std::int64_t> to_ms;    // at_ms < to_ms
  std::uint64_t before_seq = 0;         // 0: from the newest; else only seq < before_seq
  std::size_t limit = 100;
};

// The chain's last row as recorded when it was written (seq 0: the log is empty).
struct AuditHead {
  std::uint64_t seq = 0;
  Bytes hash;
};

// Audit entries committed but not chained yet (StorageTransaction::append_audit).
struct AuditPending {
  std::uint64_t rows = 0;
  std::optional<std::int64_t> oldest_at_ms;  // the oldest one's at_ms
};

class StorageTransaction {
 public:
  virtual ~StorageTransaction() = default;
  virtual void commit() = 0;

  // --- Server identity ---
  // The epoch (changes when a server is restored from backup) and this server's origin id.
  virtual Uuid epoch() = 0;
  virtual OriginId server_origin() = 0;
  // After a restore from a backup: a new epoch, so every device resyncs and sends back what it
  // holds (DESIGN.md section 4), and a new origin, so that no stamp the server makes from now on
  // can equal one it made in the timeline the restore undid (devices may still hold those).
  virtual void start_new_epoch() = 0;
  // The position up to which this transaction may serve pulls: every change numbered at or below
  // it is visible to this transaction, and no other can appear later (0: none). On SQLite the
  // highest number given so far; on PostgreSQL it stops below any writer still running.
  virtual std::uint64_t last_seq() = 0;
  // The highest HLC the server has stamped or seen, so its clock never goes back.
  virtual Hlc clock_floor() = 0;
  virtual void set_clock_floor(Hlc floor) = 0;

  // --- People and cases ---
  virtual void put_team(const Team& team) = 0;  // Error(kConflict) if the id is taken
  virtual std::optional<Team> team(const std::string& id) = 0;
  virtual std::vector<Team> teams() = 0;
  virtual void put_user(const User& user) = 0;  // Error(kConflict) if the id is taken
  virtual std::optional<User> user(const std::string& id) = 0;
  virtual std::vector<User> users() = 0;
  virtual void put_allocation(const CaseAllocation& allocation) = 0;  // insert or replace
  virtual std::optional<CaseAllocation> allocation(const CaseId& case_id) = 0;
  virtual std::vector<CaseAllocation> allocations() = 0;
  // The cases a user sees: a worker their allocated cases, a manager every case of their team.
  virtual std::vector<CaseId> scope_of(const User& user) = 0;

  // --- Devices, enrolment, admin tokens ---
  virtual void put_device(const Device& device) = 0;  // insert or replace
  virtual std::optional<Device> device(const OriginId& id) = 0;
  // Devices matching `filter`, in id order.
  virtual std::vector<Device> devices(const DeviceFilter& filter) = 0;
  virtual void put_enrolment_code(const EnrolmentCode& code) = 0;
  virtual std::optional<EnrolmentCode> enrolment_code(const std::string& id) = 0;
  // Marks the code used by `device`; false if it was already used (single use, across nodes).
  virtual bool use_enrolment_code(const std::string& id, const OriginId& device,
                                  std::int64_t now_ms) = 0;
  virtual void put_admin_token(const AdminToken& token) = 0;
  virtual std::optional<AdminToken> admin_token(const std::string& id) = 0;
  virtual void put_admin_session(const AdminSession& session) = 0;
  virtual std::optional<AdminSession> admin_session(const Bytes& secret_hash) = 0;
  virtual void delete_admin_session(const Bytes& secret_hash) = 0;
  virtual void delete_admin_sessions_expired_by(std::int64_t now_ms) = 0;

  // --- What a device holds ---
  virtual std::vector<DeviceCase> device_cases(const OriginId& device) = 0;
  virtual void put_device_case(const OriginId& device, const DeviceCase& device_case) = 0;
  virtual void remove_device_case(const OriginId& device, const CaseId& case_id) = 0;
  virtual void remove_device_cases(const OriginId& device) = 0;

  // --- Records, history, current state, conflicts ---
  // Homes of the records that exist, among `ids`.
  virtual std::map<RecordId, RecordHome> record_homes(std::span<const RecordId> ids) = 0;
  virtual void put_record_homes(const std::map<RecordId, RecordHome>& homes) = 0;
  // Every change ever accepted to one field, in sequence order.
  virtual std::vector<StoredChange> field_history(const FieldKey& field) = 0;
  // Appends accepted changes to the history, numbering them in order; returns their numbers.
  virtual std::vector<std::uint64_t> append_history(std::span<const Change> changes,
                                                    std::int64_t received_ms) = 0;
  // The current winner of each field of a record.
  virtual std::vector<StoredChange> current_fields(const RecordId& record_id) = 0;
  // Sets fields' current winners (with the sequence number of that change).
  virtual void put_current(std::span<const StoredChange> winners) = 0;
  virtual std::vector<ConflictEntry> field_conflicts(const FieldKey& field) = 0;
  virtual void put_conflicts(std::span<const ConflictEntry> entries) = 0;  // insert or replace

  // --- Pulls ---
  // Current winners in `cases` with after < seq <= up_to, in sequence order, at most `limit`.
  virtual std::vector<StoredChange> current_since(std::span<const CaseId> cases,
                                                  std::uint64_t after, std::uint64_t up_to,
                                                  std::size_t limit) = 0;
  // Every current winner of one case with seq <= up_to (backfill of a newly allocated case).
  virtual std::vector<StoredChange> current_of_case(const CaseId& case_id,
                                                    std::uint64_t up_to) = 0;
  // Conflict-log entries in `cases` with after < seq <= up_to.
  virtual std::vector<ConflictEntry> conflicts_since(std::span<const CaseId> cases,
                                                     std::uint64_t after, std::uint64_t up_to) = 0;
  // Unresolved conflict-log entries of one case with seq <= up_to.
  virtual std::vector<ConflictEntry> open_conflicts_of_case(const CaseId& case_id,
                                                            std::uint64_t up_to) = 0;
  // One change of the history by its version (the lost side of a conflict).
  virtual std::optional<StoredChange> change_by_version(const FieldKey& field,
                                                        const Version& version) = 0;
  // The current winner of one field.
  virtual std::optional<StoredChange> current_field(const FieldKey& field) = 0;

  // --- Idempotency and the rejected log ---
  // Accepted groups of `device` whose sequence range meets [first, last].
  virtual std::vector<Receipt> receipts_overlapping(const OriginId& device, std::uint64_t first,
                                                    std::uint64_t last) = 0;
  virtual void put_receipt(const OriginId& device, const Receipt& receipt) = 0;
  // The highest sequence number of `device` in any receipt (0: none).
  virtual std::uint64_t highest_accepted_seq(const OriginId& device) = 0;
  virtual std::optional<RejectedGroup> rejected_group(const OriginId& device,
                                                      const WriteGroupId& group) = 0;
  virtual void put_rejected_group(const RejectedGroup& rejected) = 0;  // insert or replace
  // Rejected groups matching `filter`, newest first: one page and the total.
  virtual Page<RejectionMetadata> rejections(const RejectionFilter& filter) = 0;

  // --- The device registry's history (the device itself is saved with put_device) ---
  // Appends one sync to its device's history and adds it to the fleet's activity; drops what
  // `limits` no longer keeps (the device's oldest events, activity older than the event by more
  // than activity_kept_ms).
  virtual void add_sync_event(const SyncEvent& event, const SyncHistoryLimits& limits) = 0;
  // A device's newest events, newest first, at most `limit`.
  virtual std::vector<SyncEvent> sync_events(const OriginId& device, std::size_t limit) = 0;
  // The fleet's activity in buckets starting at or after `from_ms`, oldest first; buckets
  // without a sync are left out.
  virtual std::vector<SyncActivity> sync_activity(std::int64_t from_ms) = 0;

  // --- Conflicts for the admins ---
  // Conflict-log entries matching `filter`, most recently touched first: one page and the total.
  virtual Page<ConflictMetadata> conflict_log(const ConflictFilter& filter) = 0;

  // --- Directives ---
  // Adds a directive and returns its id.
  virtual std::uint64_t add_directive(const OriginId& device, DirectiveKind kind,
                                      const CaseId& case_id, const std::string& detail,
                                      std::int64_t now_ms) = 0;
  // Directives of the device not yet acknowledged, oldest first.
  virtual std::vector<fieldsync::Directive> open_directives(const OriginId& device) = 0;
  // Marks the device's directives among `ids` acknowledged; returns those that were open.
  virtual std::vector<fieldsync::Directive> acknowledge_directives(
      const OriginId& device, std::span<const std::uint64_t> ids, std::int64_t now_ms) = 0;

  // --- Failed authentication (kept here so that the limits hold across server nodes) ---
  // Counts one failed attempt under `key`.
  virtual void add_auth_failure(const std::string& key, std::int64_t at_ms) = 0;
  // The failed attempts under `key` made after `since_ms`.
  virtual AuthFailures auth_failures(const std::string& key, std::int64_t since_ms) = 0;
  // Forgets every failed attempt made at or before `before_ms`, under every key.
  virtual void forget_auth_failures(std::int64_t before_ms) = 0;

  // --- The audit log (append-only, hash-chained) ---
  // Records `entry` in this transaction, so that it commits, or not, with the action it records.
  // SQLite chains it at once: the chain's next row, hashed from the previous row's hash
  // (audit_chain.h), and the new head (the one writer reads the head and writes after it).
  // PostgreSQL keeps it pending and chains it after the commit (ServerStorage::seal_audit), so
  // that concurrent writers never contend for the head; its place in the chain is known only then.
  virtual void append_audit(const AuditEntry& entry) = 0;
  // Rows matching `query`, newest first, at most query.limit.
  virtual std::vector<AuditRecord> audit_entries(const AuditQuery& query) = 0;
  // Rows with after < seq in chain order, at most `limit` (to verify the chain in batches).
  virtual std::vector<AuditRecord> audit_range(std::uint64_t after, std::size_t limit) = 0;
  virtual AuditHead audit_head() = 0;
  // Entries committed but not chained yet (see append_audit); none on a backend that chains at
  // once.
  virtual AuditPending audit_pending() { return {}; }

  // --- Metrics ---
  // A server node's saved counters by name, so that they survive its restart.
  virtual std::map<std::string, std::uint64_t> node_counters(const std::string& node) = 0;
  // Replaces the node's saved counters.
  virtual void put_node_counters(const std::string& node,
                                 const std::map<std::string, std::uint64_t>& counters) = 0;
};

class ServerStorage {
 public:
  virtual ~ServerStorage() = default;
  // A read-write transaction. Writers may wait for one another. On a backend that runs writers
  // side by side, any statement or the commit may throw TransactionRaceError: prefer
  // run_transaction(), which runs the work again.
  virtual std::unique_ptr<StorageTransaction> begin() = 0;
  // A transaction that waits its turn: it begins only once no other transaction begun with the
  // same `turn`, on any node, is still running, and holds the turn until it ends. Transactions
  // that would conflict (the syncs of one user's devices, which edit the same cases) then follow
  // one another, each seeing what the previous one committed, instead of racing and running
  // again. Only an optimisation: correctness never rests on it. A backend that runs one writer at
  // a time needs no turns (the default, begin()).
  virtual std::unique_ptr<StorageTransaction> begin_in_turn(const std::string& /*turn*/) {
    return begin();
  }
  // Bytes the storage occupies (for the admins' overview); may be called while the thread holds
  // a transaction.
  virtual std::uint64_t size_bytes() = 0;
  // Chains every committed audit entry still pending, from every node (see
  // StorageTransaction::append_audit); nothing on a backend that chains at once. Called before the
  // log is read for an admin, so that every committed entry is listed and verified. Must not be
  // called while the thread holds a transaction.
  virtual void seal_audit() {}
};

// Thrown by a backend when a transaction lost a race with a concurrent one (PostgreSQL: a
// serialization failure or a deadlock) and nothing of it was kept: the same work, run again in a
// new transaction, may succeed. Should it escape run_transaction, it is a 503 (kUnavailable).
class TransactionRaceError : public Error {
 public:
  explicit TransactionRaceError(std::string message)
      : Error(ErrorCode::kUnavailable, std::move(message)) {}
};

inline constexpr int kTransactionAttempts = 10;

// Waits a little, longer after each lost race, so that racing transactions fall out of step.
void pause_before_retry(int attempt);

// Runs `work()`, and runs it again while it throws TransactionRaceError, up to
// kTransactionAttempts times in all. `work` begins and commits its own transactions (it may
// hand one over to code that rolls it back and records a refusal in another); it must keep its
// effects inside them, or make them safe to repeat: it must not answer, log or count in memory
// anything that an attempt which lost a race did. Prefer run_transaction for one transaction.
template <class Work>
auto retry_lost_races(Work&& work) -> std::invoke_result_t<Work&> {
  for (int attempt = 1;; ++attempt) {
    try {
      return work();
    } catch (const TransactionRaceError&) {
      if (attempt >= kTransactionAttempts) throw;
    }
    pause_before_retry(attempt);
  }
}

// Runs `body(tx)` in a new transaction and commits it; returns what `body` returned. When the
// backend reports a lost race (from any statement or from the commit), the whole of `body` runs
// again in a fresh transaction (retry_lost_races), so the same rules hold for `body`.
template <class Body>
auto run_transaction(ServerStorage& storage, Body&& body)
    -> std::invoke_result_t<Body&, StorageTransaction&> {
  return retry_lost_races([&]() -> std::invoke_result_t<Body&, StorageTransaction&> {
    std::unique_ptr<StorageTransaction> tx = storage.begin();
    if constexpr (std::is_void_v<std::invoke_result_t<Body&, StorageTransaction&>>) {
      body(*tx);
      tx->commit();
    } else {
      auto result = body(*tx);
      tx->commit();
      return result;
    }
  });
}

// The embedded default: one SQLite database (WAL, each commit synced) in `data_dir`, created with
// its schema on first use. Opens `data_dir`/fieldsync-server.db; creates `data_dir` if needed.
// While open it holds a shared lock on `data_dir`/fieldsync-server.lock, so that a restore never
// replaces the database under it; Error(kConflict) while a restore holds that lock.
std::unique_ptr<ServerStorage> open_sqlite_storage(const std::string& data_dir);

// A consistent copy of the database in `data_dir`, made with SQLite's online backup API, so a
// server may keep serving meanwhile. Throws Error(kInvalidArgument) if `backup_file` exists or
// `data_dir` holds no server database.
void backup_sqlite_storage(const std::string& data_dir, const std::string& backup_file);

// Replaces the database in `data_dir` with a copy of `backup_file` and starts a new epoch in it
// (StorageTransaction::start_new_epoch). The database it replaces, if any, is kept beside it as
// fieldsync-server.db.replaced-<UTC time>; returns that path (empty if there was none). Throws
// Error(kConflict) while the storage is open anywhere (a running server), Error(kInvalidArgument)
// if `backup_file` is not a server database.
std::string restore_sqlite_storage(const std::string& backup_file, const std::string& data_dir);

// Starts a new epoch in the database of `data_dir`, for a restore made by other means (a
// file-system snapshot put back). Error(kConflict) while the storage is open anywhere.
void start_new_sqlite_epoch(const std::string& data_dir);

// Several server nodes on one PostgreSQL database: `connection` is a libpq connection string
// (a postgres:// URI, or key=value pairs), passed to libpq as it is, so TLS settings such as
// sslmode=verify-full and sslrootcert go in it. Each node keeps a pool of `connections`
// connections; the schema is created or brought up to date on first use. Audit entries that a
// commit could not seal at once (another node's seal held the lock) are sealed by a background
// look every `seal_interval`; 0 turns it off (tests that inspect pending entries).
std::unique_ptr<ServerStorage> open_postgres_storage(
    const std::string& connection, std::size_t connections,
    std::chrono::milliseconds seal_interval = std::chrono::seconds(1));

}  // namespace fieldsync::server
