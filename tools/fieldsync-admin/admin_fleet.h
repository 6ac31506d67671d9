// fieldsync-admin's commands that watch the fleet and act on devices: overview, activity,
// devices, device, revoke, retire, conflicts, rejections. Each prints a table (or the API's JSON
// with --json) and returns an exit code (admin_connection.h).
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::admin {

int run_overview(const cli::Invocation& invocation);
int run_activity(const cli::Invocation& invocation);
int run_devices(const cli::Invocation& invocation);
int run_device(const cli::Invocation& invocation);
int run_revoke(const cli::Invocation& invocation);
int run_retire(const cli::Invocation& invocation);
int run_conflicts(const cli::Invocation& invocation);
int run_rejections(const cli::Invocation& invocation);

}  // namespace fieldsync::admin
