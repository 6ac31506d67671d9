// The sync server's storage, behind one interface (DESIGN.md section 6). Reconciliation, identity,
// scope and the admin API are written once against it; each backend (SQLite, the embedded
// default; PostgreSQL for several server nodes) keeps all its SQL inside its implementation.
//
// Work happens in transactions: begin() hands out a StorageTransaction, whose reads see one
// consistent state and whose writes become visible and durable together at commit(). A
// transaction that is destroyed without commit() rolls back. Methods take and return batches
// where a sync touches many rows, so a backend can send them in few round trips.
//
// Sequence numbers: every accepted change gets the next number of one server-wide sequence; the
// current state of a field and each conflict-log entry carry the number of the change that last
// touched them, and a device's cursor is a position in that sequence. A backend must hand out
// positions to pulls so that nothing below a served position can still appear later (on SQLite
// writers are serialised, so commit order is sequence order).
//
// Threading: a ServerStorage is shared by all request threads; each transaction belongs to one
// thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fieldsync/change.h"
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

struct Device {
  OriginId id;
  std::string user_id;
  DeviceStatus status = DeviceStatus::kActive;
  Bytes token_hash;  // SHA-256 of the token's secret
  std::int64_t enrolled_at_ms = 0;
  std::int64_t last_seen_ms = 0;       // last authenticated request
  std::int64_t last_sync_ms = 0;       // last sync that committed
  std::string status_reason;           // why it was revoked or retired
  Telemetry telemetry;                 // as last reported
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
};

// The server's view of which cases a device holds.
enum class DeviceCaseState : std::uint8_t {
  kBackfill = 1,      // newly in scope: the whole case is still to be sent
  kActive = 2,        // in scope and up to date with the cursor
  kPendingPurge = 3,  // left scope: pushes still accepted; a purge directive is out
};
struct DeviceCase {
  CaseId case_id;
  DeviceCaseState state = DeviceCaseState::kActive;
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

// A field's place in the sequence, for paging.
struct FieldKey {
  RecordId record_id;
  std::string field;
  friend auto operator<=>(const FieldKey&, const FieldKey&) = default;
};

class StorageTransaction {
 public:
  virtual ~StorageTransaction() = default;
  virtual void commit() = 0;

  // --- Server identity ---
  // The epoch (changes when a server is restored from backup) and this server's origin id.
  virtual Uuid epoch() = 0;
  virtual OriginId server_origin() = 0;
  // The highest sequence number given to a change so far (0: none).
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
  virtual std::vector<Device> devices() = 0;
  virtual void put_enrolment_code(const EnrolmentCode& code) = 0;
  virtual std::optional<EnrolmentCode> enrolment_code(const std::string& id) = 0;
  // Marks the code used by `device`; false if it was already used (single use, across nodes).
  virtual bool use_enrolment_code(const std::string& id, const OriginId& device,
                                  std::int64_t now_ms) = 0;
  virtual void put_admin_token(const AdminToken& token) = 0;
  virtual std::optional<AdminToken> admin_token(const std::string& id) = 0;

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
  // Current winners in `cases` with after < seq, in sequence order, at most `limit`.
  virtual std::vector<StoredChange> current_since(std::span<const CaseId> cases,
                                                  std::uint64_t after, std::size_t limit) = 0;
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
  virtual std::optional<RejectedGroup> rejected_group(const OriginId& device,
                                                      const WriteGroupId& group) = 0;
  virtual void put_rejected_group(const RejectedGroup& rejected) = 0;  // insert or replace

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
};

class ServerStorage {
 public:
  virtual ~ServerStorage() = default;
  // A read-write transaction. Writers may wait for one another; they never fail for it.
  virtual std::unique_ptr<StorageTransaction> begin() = 0;
  // Bytes the storage occupies (for the admins' overview).
  virtual std::uint64_t size_bytes() = 0;
};

// The embedded default: one SQLite database (WAL, each commit synced) in `data_dir`, created with
// its schema on first use. Opens `data_dir`/fieldsync-server.db; creates `data_dir` if needed.
std::unique_ptr<ServerStorage> open_sqlite_storage(const std::string& data_dir);

}  // namespace fieldsync::server
