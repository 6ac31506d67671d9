// The fieldsync tool's commands about the server: `sync` (the sync engine over the curl
// transport, with progress on stderr and a summary on stdout) and `status` (pending changes and
// the oldest's age, the last sync, open conflicts, rejections, the store's state).
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::cli {

int run_sync(const Invocation& invocation);
int run_status(const Invocation& invocation);

}  // namespace fieldsync::cli
