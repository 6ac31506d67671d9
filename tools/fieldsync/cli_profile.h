// The fieldsync tool's device commands: `init` (a device profile for a server), `enrol` (a
// one-time code turned into this device's identity, token and encrypted store) and `unlock` (the
// passcode checked, the store's state reported).
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::cli {

int run_init(const Invocation& invocation);
int run_enrol(const Invocation& invocation);
int run_unlock(const Invocation& invocation);

}  // namespace fieldsync::cli
