// Store::Impl: the state behind the Store facade, shared by store.cpp (lifecycle and keys),
// store_records.cpp (the write path and reads) and store_sync.cpp (preparing and applying sync
// round trips). Private to client-core.
//
// Locking: write_mutex_ serialises every write on the writer connection; read_mutex_ guards the
// reader connection; keys_mutex_ guards the keys and the lock state. Order: write_mutex_ or
// read_mutex_ first, then keys_mutex_; never the reverse. Check access (require_access,
// require_not_wiped) after taking the connection's mutex, not before: wipe() closes both
// connections while holding both mutexes, so a check made before may be stale by then.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fieldsync/client/store.h"
#include "fieldsync/crypto.h"
#include "fieldsync/hybrid_clock.h"
#include "fieldsync/sqlite_db.h"
#include "fieldsync/uuid.h"
#include "key_vault.h"

namespace fieldsync::client {

// The fields of one record as merged on this device: per field the winning change.
struct RecordState {
  std::string collection;
  CaseId case_id;
  std::map<std::string, Change> fields;

  Record to_record(const RecordId& id) const;
};

// Meta keys shared by the store's source files.
inline constexpr std::string_view kLastSyncKey = "last_sync_ms";
inline constexpr std::string_view kHlcFloorKey = "hlc_floor";
inline constexpr std::string_view kNextSeqKey = "next_seq";
inline constexpr std::string_view kCursorKey = "cursor";
// The highest stamp known outside this device: pulled from the server, or in a group the server
// acknowledged. A re-stamp after a clock-skew rejection starts above it (DESIGN.md section 3).
inline constexpr std::string_view kHlcExternalKey = "hlc_external";
// Why the last sync failed, sealed; sent as telemetry until a response is applied.
inline constexpr std::string_view kLastSyncErrorKey = "last_sync_error";
// The clock's server anchor (HybridClock::ServerAnchor) and the wall clock when it was taken.
inline constexpr std::string_view kAnchorServerKey = "clock_anchor_server_ms";
inline constexpr std::string_view kAnchorMonotonicKey = "clock_anchor_monotonic_ms";
inline constexpr std::string_view kAnchorWallKey = "clock_anchor_wall_ms";

// Decrypted units are binary wire messages; the decoders take text views.
inline std::string_view text_of(const Bytes& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// What a sealed unit is: part of the additional data, so a blob moved to another purpose fails.
enum class SealPurpose { kRecord, kOutbox, kConflict, kRejection, kStoreSecret };

// One row of the outbox: the changes of one write group for one case, oldest first.
struct OutboxRow {
  std::int64_t first_seq = 0;
  WriteGroupId group;
  CaseId case_id;
  std::int64_t queued_at_ms = 0;
  std::vector<Change> changes;
  bool restored = false;  // sent again for a server restored from a backup (WriteGroup::restored)
};

class Store::Impl {
 public:
  Impl(const StoreOptions& options, bool create);

  // --- lifecycle (store.cpp) ---
  void initialise_new(std::string_view passcode, const DeviceIdentity& identity);
  void load_identity();
  UnlockResult unlock(std::string_view passcode);
  UnlockResult accept_unlock(crypto::SecretKey key);  // write_mutex_ held
  void lock();
  StoreState state();
  void change_passcode(std::string_view old_passcode, std::string_view new_passcode);
  void wipe();

  // Throws Error(kLocked) unless unlocked (or, when `sync_allowed`, waiting for a check-in);
  // applies the auto-lock, and records the worker's activity (sync is not activity).
  void require_access(bool sync_allowed = false);
  // For counts that reveal nothing and need no keys: only a wiped store refuses them.
  void require_not_wiped();

  // A transaction on the writer connection (write_mutex_ held) that, should it roll back, also
  // drops from the key cache the case keys it created: a cached key whose row was rolled back
  // would seal data that nobody could open after the next lock.
  class WriteTransaction {
   public:
    explicit WriteTransaction(Impl& impl);
    ~WriteTransaction();
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    void commit();

   private:
    Impl& impl_;
    sqlite::Transaction transaction_;
    bool committed_ = false;
  };

  // --- keys (store.cpp) ---
  // The data key of a case: from the cache, or unwrapped from `db`. nullopt when the case has
  // no key on this device.
  std::optional<crypto::SecretKey> case_key(sqlite::Database& db, const CaseId& case_id);
  // As case_key, creating and storing a key for a case new to this device (writer only).
  crypto::SecretKey case_key_or_create(const CaseId& case_id);
  const crypto::SecretKey& store_key_locked() const;  // keys_mutex_ held

  // --- sealing (store.cpp) ---
  Bytes seal(const crypto::SecretKey& key, SealPurpose purpose, std::string_view collection,
             const Uuid& id, std::string_view field, std::span<const std::uint8_t> plaintext);
  Bytes open(const crypto::SecretKey& key, SealPurpose purpose, std::string_view collection,
             const Uuid& id, std::string_view field, std::span<const std::uint8_t> sealed);

  // --- meta values (store.cpp) ---
  std::optional<Bytes> meta(sqlite::Database& db, std::string_view key);
  void set_meta(std::string_view key, std::span<const std::uint8_t> value);  // writer
  std::int64_t meta_int(sqlite::Database& db, std::string_view key, std::int64_t fallback);
  void set_meta_int(std::string_view key, std::int64_t value);  // writer
  void remove_meta(std::string_view key);                       // writer
  Hlc meta_hlc(sqlite::Database& db, std::string_view key);     // zero when absent

  // --- records (store_records.cpp) ---
  std::optional<RecordState> load_record(sqlite::Database& db, const RecordId& id);
  void save_record(const RecordId& id, const RecordState& state);  // writer
  struct FieldKey {
    RecordId record_id;
    std::string field;
    friend auto operator<=>(const FieldKey&, const FieldKey&) = default;
  };
  // The write path. `extra_bases` adds versions to the base of a field's change (a resolution
  // names the lost version); `resolves` is the conflict removed in the same transaction.
  WriteGroupId write(const std::vector<RecordWrite>& writes,
                     const std::map<FieldKey, VersionSet>& extra_bases = {},
                     std::optional<Version> resolves = std::nullopt);
  std::optional<Record> record(const RecordId& id);
  std::vector<Record> records(const CaseId& case_id, std::string_view collection);
  std::vector<CaseId> cases();
  std::vector<OutboxEntry> outbox(sqlite::Database& db, std::size_t max_changes);
  void queue_outbox(const WriteGroupId& group, const CaseId& case_id,
                    const std::vector<Change>& changes, bool restored = false);  // writer
  void insert_outbox_row(const OutboxRow& row);  // writer; also marks the group pending
  // The rows of one write group, or of the whole outbox when `group` is null, by sequence: whole
  // groups, up to `max_changes` changes (at least one group).
  std::vector<OutboxRow> outbox_rows(sqlite::Database& db, const WriteGroupId* group,
                                     std::size_t max_changes = SIZE_MAX);
  // Seals a row's changes as one unit bound to its group and first sequence number.
  Bytes seal_outbox_row(const OutboxRow& row);
  std::vector<LocalConflict> conflicts();
  void save_conflict(const Conflict& conflict, bool local_edit);  // writer
  std::vector<RejectedGroup> rejections();
  WriteGroupId resolve_conflict(const Version& lost, Store::Resolve choice);
  void persist_clock();  // writer
  // The server anchor survives a restart of the app, not a reboot (store.cpp).
  void persist_clock_anchor();  // writer
  void restore_clock_anchor(sqlite::Database& db);

  // --- sync (store_sync.cpp) ---
  SyncRequest prepare_sync(std::size_t max_changes, const Telemetry& app_telemetry);
  SyncApplied apply_sync(const SyncResponse& response);
  // Removes an acknowledged group from the outbox; returns its highest stamp (zero when the
  // group had already left it). Writer.
  Hlc acknowledge_group(const WriteGroupId& group, SyncApplied& applied);
  void apply_rejection(const Rejection& rejection);
  void apply_change(const Change& change, SyncApplied& applied,
                    std::map<RecordId, RecordState>& touched);
  bool purge_case_if_settled(const CaseId& case_id);  // writer
  void set_last_sync_error(std::string_view code, std::string_view message);
  void read_last_sync_error(Telemetry& telemetry);  // reader_, read_mutex_ held

  // --- recovery from restores (store_recovery.cpp) ---
  // On a repush directive (the server was restored from a backup), inside apply_sync's
  // transaction: queues as restored groups every change of this device still current here whose
  // group is no longer in the outbox. Returns the number of groups queued. Writer.
  std::size_t queue_restored_groups();
  // On a duplicate_mismatch that says the server's highest sequence number of this device (this
  // store was restored from an old backup): gives the refused group new sequence numbers after
  // it, keeping its content and versions, so that it is sent again. False when that cannot help
  // (the rejection is then handled as any other). Writer.
  bool renumber_after_sequence_reuse(const Rejection& rejection);

  // --- clock skew (store_restamp.cpp) ---
  // After a clock-skew rejection, inside apply_sync's transaction: re-stamps the unacknowledged
  // outbox from max(server-anchored now, highest stamp known outside) + 1 and rewrites the
  // records and queued conflicts that showed the old stamps. Writer.
  void restamp_after_clock_skew(SyncApplied& applied);

  const StoreOptions options_;
  const Schema& schema_;
  ClockSource& clock_source_;
  platform::KeyWrapper& wrapper_;

  std::mutex write_mutex_;
  std::unique_ptr<sqlite::Database> writer_;  // guarded by write_mutex_
  std::vector<CaseId> keys_created_;          // in the open write transaction; write_mutex_
  std::mutex read_mutex_;
  std::unique_ptr<sqlite::Database> reader_;  // guarded by read_mutex_

  // Set once at create/open, then read-only:
  Uuid store_id_;
  DeviceIdentity identity_;

  HybridClock hlc_;  // thread-safe on its own
  UuidV7Generator ids_;

  std::mutex keys_mutex_;
  // Guarded by keys_mutex_:
  StoreState state_ = StoreState::kLocked;
  std::optional<crypto::SecretKey> store_key_;
  std::map<CaseId, crypto::SecretKey> case_keys_;
  std::int64_t last_activity_ms_ = 0;
};

}  // namespace fieldsync::client
