// Reconciliation (DESIGN.md sections 3-5): what one POST /v1/sync does inside one storage
// transaction, and the server's own changes (cases created through the admin API).
//
// For each pushed write group, in order: identity (every version stamped by the authenticated
// device; collection and case of existing records from the store), idempotency on (device,
// sequence numbers) with a content hash, the clock-skew bound, scope, then validation of every
// touched record as merged; then the group is accepted whole (history, current winners, the
// conflict log derived from history) or rejected whole (kept in the rejected log, answered with
// the server's current values). Then the pull: newly allocated cases whole, then current state
// changed since the cursor, paged, with conflicts and resolutions of the user's cases, less the
// device's own changes that it is known to hold (this request's, and those its cursor names:
// Session::pull says when that is sound).
//
// After a restore from a backup (a cursor of another epoch) the device is told to send back what
// it holds (a repush directive), and does so in restored groups: its own changes, with their
// original versions and sequence numbers. Those go through the same checks and the same merge,
// except that changes the history already holds are skipped (the backup had them), and a restored
// part of a group accepted whole before is acknowledged, not refused as a reuse of its numbers.
//
// The caller commits the transaction before it sends the response: an acknowledgement is only
// ever sent for a durable commit. Callers run it through run_transaction, which may run it again
// after a lost race: everything it does goes into the transaction, except the server clock, which
// only ever moves forward (safe to repeat).
//
// Threading: thread-safe; the server clock is guarded by its own mutex. Storage transactions
// belong to the calling thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fieldsync/clock_source.h"
#include "fieldsync/hybrid_clock.h"
#include "fieldsync/schema.h"
#include "credentials.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::server {

struct ReconcilerOptions {
  std::size_t page_changes = 10'000;                 // changes per pull page
  std::int64_t max_clock_ahead_ms = 5 * 60 * 1000;   // stamps further ahead are refused
  std::string min_core_version;                      // empty: no minimum
};

// What one sync did, for the log, the audit log, the metrics and the device registry (never
// content).
struct SyncSummary {
  SyncOutcome outcome = SyncOutcome::kOk;
  std::size_t groups_accepted = 0;
  std::size_t groups_rejected = 0;
  std::size_t changes_received = 0;  // in the write groups the exchange answered
  std::size_t changes_accepted = 0;
  std::size_t changes_sent = 0;
  std::size_t groups_restored = 0;   // restored groups acknowledged
  std::size_t sequence_reuses = 0;   // groups refused as duplicate_mismatch

  // For the audit log and the metrics.
  std::size_t conflicts_detected = 0;  // conflict-log entries this sync's pushes opened
  std::size_t conflicts_resolved = 0;  // and closed
  std::size_t conflicts_sent = 0;      // conflicts and resolutions in the response
  std::map<RejectionCode, std::size_t> rejections;  // rejected groups by code
  std::set<CaseId> cases_pushed;                    // cases of accepted groups
  std::set<CaseId> cases_refused;                   // cases named by rejected groups
  std::set<CaseId> cases_pulled;                    // cases whose changes or conflicts were sent
  std::vector<Directive> directives_issued;
  std::vector<Directive> directives_acknowledged;

  // Whether changes or conflicts went either way (directives are counted apart).
  bool exchanged_data() const {
    return groups_accepted + groups_rejected + changes_sent + conflicts_sent > 0;
  }
  std::string error_code;     // the first rejection's code, or upgrade_required
  std::string error_message;  // never quotes data
};

class Reconciler {
 public:
  Reconciler(ServerStorage& storage, ClockSource& clock, const Schema& schema,
             ReconcilerOptions options);

  // One sync round trip inside `tx` (not committed here). `identity.device` is updated
  // (telemetry, last seen, last sync, status after acknowledged directives) but not saved: the
  // caller saves it in `tx`, with the sync's record (DeviceRegistry::record_sync).
  SyncResponse sync(StorageTransaction& tx, SyncIdentity& identity, const SyncRequest& request,
                    SyncSummary& summary);

  // A record created or edited by the server itself (a case from the admin API): validated like
  // any write group, stamped with the server's clock and origin, authored by `author`.
  // Throws Error(kValidation) naming the field when the merged record would be invalid.
  WriteGroupId write_as_server(StorageTransaction& tx, const std::string& collection,
                               const RecordId& record_id, const CaseId& case_id,
                               const std::map<std::string, Value>& fields,
                               const std::string& author);

  std::int64_t now_ms() { return clock_.wall_ms(); }

 private:
  class Session;  // one sync's working state (reconciler.cpp)
  struct Refusal {
    RejectionCode code;
    std::string message;
    RecordId record_id = {};  // what the refusal is about; nil: the whole group
    std::string field = {};
    std::uint64_t highest_accepted_seq = 0;  // see Rejection
  };

  // Validates every record the group touches as merged with the current state.
  std::optional<Refusal> validate(StorageTransaction& tx, const WriteGroup& group,
                                  const std::map<RecordId, RecordHome>& homes);
  // Conflict-log entries opened and closed by accepted changes.
  struct ConflictTally {
    std::size_t opened = 0;
    std::size_t closed = 0;
  };
  // What accepting a group did: its conflict tally, and the first and last of the change numbers
  // it took (0 when it took none).
  struct Accepted {
    ConflictTally conflicts;
    std::uint64_t first_seq = 0;
    std::uint64_t last_seq = 0;
  };
  // Appends the group to history and updates current winners and the conflict log.
  Accepted accept(StorageTransaction& tx, const WriteGroup& group,
                       const std::map<RecordId, RecordHome>& homes, const std::string& author,
                       std::int64_t now);
  void merge_field(StorageTransaction& tx, const StoredChange& arrived,
                   std::vector<StoredChange>& winners, ConflictTally& tally);
  static Version resolver_of(const std::vector<Change>& history, const Version& lost);
  void persist_clock(StorageTransaction& tx);

  ClockSource& clock_;
  const Schema& schema_;
  const ReconcilerOptions options_;
  HybridClock hlc_;         // thread-safe itself
  UuidV7Generator group_ids_;
};

// "1.10.2" > "1.9": numeric parts compared in order; missing parts are 0, text after a part's
// digits is ignored. An empty or unparsable version counts as 0.
bool version_less(std::string_view a, std::string_view b);

}  // namespace fieldsync::server
