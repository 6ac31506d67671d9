// fieldsync-admin's `audit` command: the audit log with its filters, newest first and paged, and
// `audit --verify`, the check of its hash chain (exit code 5 when it is broken).
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::admin {

int run_audit(const cli::Invocation& invocation);

}  // namespace fieldsync::admin
