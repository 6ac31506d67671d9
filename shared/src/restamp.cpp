// restamp_outbox: fresh versions in order, bases rewritten to match.
#include "fieldsync/restamp.h"

#include <map>

#include "fieldsync/error.h"

namespace fieldsync {

std::vector<RestampedVersion> restamp_outbox(std::span<Change> outbox, HybridClock& clock,
                                             const OriginId& origin) {
  std::map<Version, Version> renamed;
  std::vector<RestampedVersion> mapping;
  mapping.reserve(outbox.size());
  for (Change& change : outbox) {
    if (change.version.origin != origin) {
      throw Error(ErrorCode::kInvalidArgument,
                  "outbox holds a change stamped by another origin: " + change.version.to_string());
    }
    // Bases name only earlier versions, so earlier renames are all known by now.
    for (const auto& [from, to] : renamed) change.base.replace(from, to);
    const Version fresh{clock.now(), origin};
    renamed.emplace(change.version, fresh);
    mapping.push_back({change.version, fresh});
    change.version = fresh;
  }
  return mapping;
}

}  // namespace fieldsync
