// The device registry: states and the record of each sync. See device_registry.h.
#include "device_registry.h"

#include <algorithm>
#include <utility>

namespace fieldsync::server {

std::string_view to_string(DeviceState state) {
  switch (state) {
    case DeviceState::kHealthy:
      return "healthy";
    case DeviceState::kStale:
      return "stale";
    case DeviceState::kAtRisk:
      return "at_risk";
    case DeviceState::kRevoked:
      return "revoked";
    case DeviceState::kRetired:
      return "retired";
  }
  return "unknown";
}

std::optional<DeviceState> device_state_from_string(std::string_view name) {
  for (const DeviceState state : kDeviceStates) {
    if (to_string(state) == name) return state;
  }
  return std::nullopt;
}

DeviceState device_state(const Device& device, std::int64_t now_ms,
                         const DeviceHealthRules& rules) {
  switch (device.status) {
    case DeviceStatus::kRevoked:
    case DeviceStatus::kWiped:
      return DeviceState::kRevoked;
    case DeviceStatus::kRetiring:
    case DeviceStatus::kRetired:
      return DeviceState::kRetired;
    case DeviceStatus::kActive:
      break;
  }
  const std::int64_t synced_at =
      device.last_sync_ms != 0 ? device.last_sync_ms : device.enrolled_at_ms;
  const bool stale = now_ms - synced_at >= rules.stale_after_ms;
  const bool failing = device.activity.failed_in_a_row >= rules.failing_after;
  if ((stale && device.activity.pending_changes > 0) || failing) return DeviceState::kAtRisk;
  return stale ? DeviceState::kStale : DeviceState::kHealthy;
}

bool counts_as_failure(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::kRejected:
    case SyncOutcome::kFailed:
    case SyncOutcome::kUpgradeRequired:
      return true;
    case SyncOutcome::kOk:
    case SyncOutcome::kRevoked:
      return false;
  }
  return false;
}

DeviceRegistry::DeviceRegistry(DeviceHealthRules rules, SyncHistoryLimits limits)
    : rules_(rules), limits_(limits) {}

void DeviceRegistry::record_sync(StorageTransaction& tx, Device& device, SyncRecord record) const {
  // What the device still holds: its outbox as it reported it, less what this round trip
  // answered (every write group of an exchange is acknowledged or rejected; either way it leaves
  // the outbox). The oldest pending change is known only as the oldest before the push.
  const Telemetry& telemetry = device.telemetry;
  const SyncEvent& event = record.event;
  const bool exchanged =
      event.outcome == SyncOutcome::kOk || event.outcome == SyncOutcome::kRejected;
  const std::uint64_t answered = exchanged ? record.changes_sent_by_device : 0;
  DeviceActivity& activity = device.activity;
  activity.pending_changes =
      telemetry.pending_count > answered ? telemetry.pending_count - answered : 0;
  activity.oldest_pending_at_ms =
      activity.pending_changes == 0
          ? 0
          : event.at_ms - std::max<std::int64_t>(telemetry.oldest_pending_age_ms, 0);
  if (telemetry.device_clock_ms != 0)
    activity.clock_offset_ms = telemetry.device_clock_ms - event.at_ms;
  apply(tx, device, std::move(record.event));
}

void DeviceRegistry::record_failed_sync(StorageTransaction& tx, const OriginId& device_id,
                                        SyncEvent event) const {
  std::optional<Device> device = tx.device(device_id);
  if (!device) return;
  device->last_seen_ms = event.at_ms;  // it did authenticate
  apply(tx, *device, std::move(event));
}

void DeviceRegistry::apply(StorageTransaction& tx, Device& device, SyncEvent event) const {
  DeviceActivity& activity = device.activity;
  activity.last_attempt_ms = event.at_ms;
  const bool failed = counts_as_failure(event.outcome);
  add_sync_counts(activity, SyncActivity{.syncs = 1,
                                         .failed_syncs = failed ? 1u : 0u,
                                         .rejections = event.groups_rejected,
                                         .changes_pushed = event.changes_pushed,
                                         .changes_pulled = event.changes_pulled,
                                         .conflicts = event.conflicts,
                                         .bytes_in = event.bytes_in,
                                         .bytes_out = event.bytes_out});
  if (failed) {
    ++activity.failed_in_a_row;
    activity.last_error_code = event.error_code;
    activity.last_error_message = event.error_message;
    activity.last_error_ms = event.at_ms;
  } else if (event.outcome == SyncOutcome::kOk) {
    activity.failed_in_a_row = 0;
  }
  tx.put_device(device);

  event.device = device.id;
  event.user_id = device.user_id;
  tx.add_sync_event(event, limits_);
}

std::vector<std::pair<DeviceState, std::uint64_t>> DeviceRegistry::count_by_state(
    StorageTransaction& tx, std::int64_t now_ms) const {
  std::vector<std::pair<DeviceState, std::uint64_t>> counts;
  for (const DeviceState state : kDeviceStates) counts.emplace_back(state, 0);
  for (const Device& device : tx.devices({})) {
    const DeviceState state = state_of(device, now_ms);
    for (auto& [counted, count] : counts) count += counted == state ? 1 : 0;
  }
  return counts;
}

}  // namespace fieldsync::server
