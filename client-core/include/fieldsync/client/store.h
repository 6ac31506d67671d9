// The device's encrypted offline store: one SQLite database per device user (DESIGN.md sections
// 2, 3 and 5). It holds the worker's caseload, the outbox of unsynchronised write groups, the
// conflict and rejection queues and the sync state, and is the only code that touches the file.
//
// At rest, everything but random ids, case ids, collection names, versions and sequence numbers is
// AES-256-GCM ciphertext: a record's fields are sealed as one padded unit with its case's data key,
// so neither the presence nor the length of a field shows. Each case has its own data key, wrapped
// by the store key; purging a case destroys its key. The store key is wrapped by a key derived
// from the passcode and from a secret that the platform's KeyWrapper unwraps.
//
// Threading: a Store may be used from several threads at once (the UI records while a background
// thread syncs). Writes are serialised on one connection; reads and sync snapshots use another, so
// a long sync never blocks the UI. The store starts no threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/change.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/schema.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::platform {
class KeyWrapper;
}

namespace fieldsync::client {

struct StoreOptions {
  std::string path;                              // the database file; -wal and -shm sit beside it
  platform::KeyWrapper* key_wrapper = nullptr;   // required; not owned; must outlive the store
  ClockSource* clock = nullptr;                  // nullptr: the system clock
  std::int64_t auto_lock_ms = 5 * 60 * 1000;     // idle time before the store locks itself
  int max_failed_unlocks = 10;                   // wrong passcodes in a row before a wipe
  std::int64_t offline_grace_ms = 14LL * 24 * 60 * 60 * 1000;  // without a sync: check in first
  std::uint32_t kdf_iterations = 600'000;        // PBKDF2-HMAC-SHA256, for new stores
  const Schema* schema = nullptr;                // nullptr: Schema::domain()
};

// Who this device is, as the server enrolled it.
struct DeviceIdentity {
  OriginId device_id;
  std::string user_id;
};

enum class StoreState {
  kLocked,           // keys are not in memory: unlock first
  kUnlocked,         // everything works
  kCheckInRequired,  // the passcode was right, but the offline grace period is over: only sync
  kWiped,            // the store was destroyed; the object can only be discarded
};
std::string_view to_string(StoreState state);

enum class UnlockOutcome { kUnlocked, kWrongPasscode, kCheckInRequired, kWiped };
struct UnlockResult {
  UnlockOutcome outcome = UnlockOutcome::kWrongPasscode;
  int attempts_left = 0;  // before the store wipes itself
};

using Fields = std::map<std::string, Value>;

// A group of changes waiting in the outbox.
struct OutboxEntry {
  WriteGroup group;
  std::int64_t queued_at_ms = 0;
};

// A value of this case that was overwritten by someone who never saw it: pulled from the server's
// conflict log, or queued at once when a pulled change overrode an unsynced local edit.
struct LocalConflict {
  Conflict conflict;
  bool local_edit = false;  // true: the lost value is this device's own unsynced edit
};

struct RejectedGroup {
  Rejection rejection;
  WriteGroup group;  // what the device had sent
  std::int64_t rejected_at_ms = 0;
};

// What one sync round trip did to the store.
struct SyncApplied {
  std::size_t acked_groups = 0;
  std::size_t acked_changes = 0;
  std::size_t rejected_groups = 0;  // queued for the worker; clock-skew refusals are not
  std::size_t changes_applied = 0;
  std::size_t conflicts_queued = 0;
  std::vector<RecordId> conflicted_records;  // the records of the conflicts queued, once each
  // The server refused stamps as too far ahead of its time: the whole unacknowledged outbox was
  // re-stamped from the server's time, in the same transaction, and is to be sent again.
  std::size_t restamped_changes = 0;
  // The server was restored from a backup (a repush directive): groups of this device's own
  // changes it may have lost, queued to be sent again.
  std::size_t restored_groups = 0;
  // The server had accepted their sequence numbers with other content (this store was restored
  // from an old backup): numbered after the server's highest and queued to be sent again. The
  // server keeps the refusal in its rejected log; the worker's rejection queue does not get it,
  // as nothing was lost.
  std::size_t renumbered_groups = 0;
  std::vector<Directive> directives;  // for the caller to carry out (purge and wipe are done here)
  bool wiped = false;
};

class Store {
 public:
  // Creates a new store file (failing if one exists) and leaves it unlocked.
  static std::unique_ptr<Store> create(const StoreOptions& options, std::string_view passcode,
                                       const DeviceIdentity& identity);
  // Opens an existing store, locked. Migrates an older format forward in one transaction; a store
  // written by a newer version gives Error(kUnsupportedVersion).
  static std::unique_ptr<Store> open(const StoreOptions& options);
  static bool exists(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- Keys and lifecycle ---
  UnlockResult unlock(std::string_view passcode);
  void lock();  // wipes every key from memory
  StoreState state();
  // Throws Error(kInvalidArgument) when `old_passcode` is wrong (counted like a failed unlock).
  void change_passcode(std::string_view old_passcode, std::string_view new_passcode);
  // Destroys the platform secret and the wrapped keys, then deletes the files. A copy of the file
  // taken earlier can no longer be opened, even with the right passcode.
  void wipe();

  DeviceIdentity identity() const;
  std::string store_id() const;  // random id, bound into every ciphertext
  void set_token(std::string_view token);  // the device token, kept encrypted
  std::optional<std::string> token();

  // --- Records ---
  // The single write path: sets `fields` of one record (creating it when `record_id` is new) as
  // one write group, after validating the merged record with the schema; stamps each change, and
  // writes the new state and the outbox entry in one transaction. Several records (a household
  // visit) form one group through write_records.
  struct RecordWrite {
    std::string collection;
    RecordId record_id;
    CaseId case_id;
    Fields fields;
  };
  WriteGroupId write_record(const RecordWrite& write);
  // A new record id (UUIDv7 from this store's clock: sorts by creation time).
  RecordId new_record_id();
  // Now, as the store's clock says (server-anchored once the device has synced).
  Timestamp now();
  WriteGroupId write_records(const std::vector<RecordWrite>& writes);

  std::optional<Record> record(const RecordId& id);
  // The records of one collection of one case, oldest first by record id (creation time).
  std::vector<Record> records(const CaseId& case_id, std::string_view collection);
  std::vector<CaseId> cases();

  // The version of each field of a record (for conflict resolution and tests).
  std::map<std::string, Version> field_versions(const RecordId& id);

  // --- Queues ---
  std::vector<OutboxEntry> outbox();
  std::size_t outbox_change_count();
  std::vector<LocalConflict> conflicts();
  std::vector<RejectedGroup> rejections();
  void dismiss_rejection(const WriteGroupId& group);

  enum class Resolve { kKeepCurrent, kRestoreLost };
  // Resolves a conflict as a change whose base names both the winner and the lost version.
  WriteGroupId resolve_conflict(const Version& lost, Resolve choice);

  // --- Sync (used by the sync engine) ---
  // The request for the next round trip: the oldest outbox groups (up to `max_changes` changes),
  // the cursor, pending directive acknowledgements and telemetry.
  SyncRequest prepare_sync(std::size_t max_changes, const Telemetry& app_telemetry);
  // Applies a response in one transaction: acks, rejections, changes, conflicts, resolutions, the
  // cursor, the server time; purge and wipe directives are carried out (purge only once the
  // case's outbox entries are acknowledged). A clock-skew rejection re-stamps the outbox instead
  // of queueing a rejection (DESIGN.md section 3). A response applied also clears the last sync
  // error: the request it answered carried it to the server.
  SyncApplied apply_sync(const SyncResponse& response);
  std::int64_t last_sync_ms();
  // Keeps (encrypted) why the last sync failed, for the next request's telemetry. `code` is
  // short and stable ("network:7", "http:400", "unauthorized"); neither may hold case data.
  void set_last_sync_error(std::string_view code, std::string_view message);

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync::client
