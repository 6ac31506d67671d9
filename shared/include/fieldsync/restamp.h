// Re-stamping an unacknowledged outbox after the server refused its stamps as too far ahead
// (DESIGN.md section 3): the changes get fresh versions in their original order, and every base in
// the outbox that named an old version names the new one, so edit chains stay chains.
//
// The caller first corrects the clock (HybridClock::anchor_to_server with the server's time, then
// HybridClock::rewind_to the highest version known outside the device), and applies the returned
// mapping to its local state in the same transaction as the rewritten outbox.
#pragma once

#include <span>
#include <vector>

#include "fieldsync/change.h"

namespace fieldsync {

struct RestampedVersion {
  Version from;
  Version to;
};

// Gives each change of `outbox` (oldest first, all stamped by `origin`) a new version from
// `clock`, and rewrites bases that named a re-stamped version. Returns old -> new, in order.
// Throws Error(kInvalidArgument) if a change was stamped by another origin.
std::vector<RestampedVersion> restamp_outbox(std::span<Change> outbox, HybridClock& clock,
                                             const OriginId& origin);

}  // namespace fieldsync
