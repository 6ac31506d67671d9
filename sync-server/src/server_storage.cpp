// Names of the storage interface's enumerations, for the admin API and logs; the pause between
// attempts of run_transaction.
#include "fieldsync/server/server_storage.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace fieldsync::server {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kWorker: return "worker";
    case Role::kManager: return "manager";
  }
  return "unknown";
}

std::optional<Role> role_from_string(std::string_view name) {
  for (const Role role : {Role::kWorker, Role::kManager}) {
    if (to_string(role) == name) return role;
  }
  return std::nullopt;
}

std::string_view to_string(DeviceStatus status) {
  switch (status) {
    case DeviceStatus::kActive: return "active";
    case DeviceStatus::kRevoked: return "revoked";
    case DeviceStatus::kRetiring: return "retiring";
    case DeviceStatus::kWiped: return "wiped";
    case DeviceStatus::kRetired: return "retired";
  }
  return "unknown";
}

std::optional<DeviceStatus> device_status_from_string(std::string_view name) {
  for (const DeviceStatus status : {DeviceStatus::kActive, DeviceStatus::kRevoked, DeviceStatus::kRetiring,
                                    DeviceStatus::kWiped, DeviceStatus::kRetired}) {
    if (to_string(status) == name) return status;
  }
  return std::nullopt;
}

void pause_before_retry(int attempt) {
  // Up to 1, 2, 4 ... 64 ms, drawn at random: two transactions that collided once should not
  // collide again at the same moment.
  thread_local std::minstd_rand random(std::random_device{}());
  const int ceiling_ms = 1 << std::min(attempt - 1, 6);
  std::uniform_int_distribution<int> pause_us(0, ceiling_ms * 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
}

std::string_view to_string(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::kOk: return "ok";
    case SyncOutcome::kRejected: return "rejected";
    case SyncOutcome::kFailed: return "failed";
    case SyncOutcome::kUpgradeRequired: return "upgrade_required";
    case SyncOutcome::kRevoked: return "revoked";
  }
  return "unknown";
}

}  // namespace fieldsync::server
