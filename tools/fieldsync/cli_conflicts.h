// The fieldsync tool's queues for the worker to settle: `conflicts` (values overwritten by someone
// who never saw them, both sides shown), `resolve` (keep the current value or restore the lost
// one), and `rejections` (write groups the server refused, and `rejections dismiss`).
//
// A conflict is named on the command line by its lost version, in the text form `conflicts`
// prints (MS.COUNTER@ORIGIN, as Version::to_string writes it) or the JSON form of --json output.
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::cli {

int run_conflicts(const Invocation& invocation);
int run_resolve(const Invocation& invocation);
int run_rejections(const Invocation& invocation);
int run_rejections_dismiss(const Invocation& invocation);

}  // namespace fieldsync::cli
