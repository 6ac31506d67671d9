// Names of the storage interface's enumerations, for the admin API and logs.
#include "fieldsync/server/server_storage.h"

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
