// The device registry: what admins see of each device's sync health (DESIGN.md section 5:
// metadata, never case content). Every sync round trip is recorded in the sync's own storage
// transaction, so the registry never counts a push that did not commit and never misses one that
// did; a sync that fails is recorded in a transaction of its own after the sync's rolled back.
//
// A device's state is computed, never stored, by device_state() alone, from the device, the time
// and the health rules:
//   revoked   revoked by an admin (wiped, or to be wiped at its next sync);
//   retired   retired by an admin (handed back; wiped once its final push is in);
//   at_risk   stale and holding changes that have not reached the server (lost if the phone
//             dies), or its last `failing_after` syncs in a row failed or had a group rejected;
//   stale     no successful sync for `stale_after_ms` (since enrolment, if it never synced);
//   healthy   anything else.
//
// Threading: thread-safe (no mutable state); transactions belong to the calling thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <string_view>

#include "fieldsync/server/server_storage.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::server {

enum class DeviceState : std::uint8_t { kHealthy, kStale, kAtRisk, kRevoked, kRetired };
inline constexpr DeviceState kDeviceStates[] = {DeviceState::kHealthy, DeviceState::kStale,
                                                DeviceState::kAtRisk, DeviceState::kRevoked,
                                                DeviceState::kRetired};
std::string_view to_string(DeviceState state);
std::optional<DeviceState> device_state_from_string(std::string_view name);

struct DeviceHealthRules {
  std::int64_t stale_after_ms = 24LL * 60 * 60 * 1000;
  std::uint32_t failing_after = 3;  // syncs in a row that failed or had a group rejected
};

DeviceState device_state(const Device& device, std::int64_t now_ms, const DeviceHealthRules& rules);

// Whether a sync with this outcome counts against the device (and toward at_risk).
bool counts_as_failure(SyncOutcome outcome);

// Adds `part` to `totals`: the counters a device keeps since its enrolment (DeviceActivity) and a
// bucket of the fleet's activity (SyncActivity) both keep, so one sync, or one bucket of them,
// adds up the same way to either.
template <class Totals>
void add_sync_counts(Totals& totals, const SyncActivity& part) {
  totals.syncs += part.syncs;
  totals.failed_syncs += part.failed_syncs;
  totals.rejections += part.rejections;
  totals.changes_pushed += part.changes_pushed;
  totals.changes_pulled += part.changes_pulled;
  totals.conflicts += part.conflicts;
  totals.bytes_in += part.bytes_in;
  totals.bytes_out += part.bytes_out;
}

// What one answered sync did, as the reconciler and the HTTP layer saw it: the event that the
// device's history and the fleet's activity keep (its device and user_id are filled in here; its
// error_code is the first rejection's code, or the error the device was answered), and what the
// device's outbox no longer holds.
struct SyncRecord {
  SyncEvent event;
  std::uint64_t changes_sent_by_device = 0;  // every change of the request's write groups
};

class DeviceRegistry {
 public:
  DeviceRegistry(DeviceHealthRules rules, SyncHistoryLimits limits);

  // An answered sync, in the sync's own transaction: updates `device` (whose telemetry the
  // reconciler has set from the request) and saves it with the sync's event.
  void record_sync(StorageTransaction& tx, Device& device, SyncRecord record) const;
  // A sync answered with an error (`event`): nothing of it committed, so this runs in a
  // transaction of its own. The device's telemetry is left as it was (the request may not have
  // decoded).
  void record_failed_sync(StorageTransaction& tx, const OriginId& device_id, SyncEvent event) const;

  DeviceState state_of(const Device& device, std::int64_t now_ms) const {
    return device_state(device, now_ms, rules_);
  }
  // How many devices are in each state (every state listed, 0 when none is in it): for the
  // overview and the metrics alike.
  std::vector<std::pair<DeviceState, std::uint64_t>> count_by_state(StorageTransaction& tx,
                                                                    std::int64_t now_ms) const;
  const DeviceHealthRules& rules() const { return rules_; }
  const SyncHistoryLimits& limits() const { return limits_; }

 private:
  void apply(StorageTransaction& tx, Device& device, SyncEvent event) const;

  const DeviceHealthRules rules_;
  const SyncHistoryLimits limits_;
};

}  // namespace fieldsync::server
