// The merge rule (DESIGN.md section 3) as pure functions, identical on device and server.
//
// Per field, the greatest version wins. A change that is not the winner and that no change names
// in its base was overwritten by someone who never saw it: it is lost, and appears as a conflict
// entry (the lost side and the current winner). Both the winner and the lost set depend only on
// the set of changes, never on their arrival order; duplicates change nothing.
//
// Two changes with the same version are the same change by construction (an origin never reuses a
// stamp); should corrupt input break that, the greater content is kept, so replicas still agree.
//
// FieldMerge is the incremental form: apply changes one at a time, in any order; its winner and
// conflicts always equal those of the batch functions over the same set. Not thread-safe: one
// owner at a time.
#pragma once

#include <map>
#include <set>
#include <span>
#include <vector>

#include "fieldsync/change.h"

namespace fieldsync {

// Which of two changes to the same field wins (a total order; see above for equal versions).
bool wins_over(const Change& a, const Change& b);

// The winning change of a field's history; nullptr when `history` is empty.
const Change* merge_winner(std::span<const Change> history);

// The lost changes of a field's history, in version order: not the winner, named in no change's
// base. Duplicates (same version) count once.
std::vector<const Change*> lost_changes(std::span<const Change> history);

// The conflict entries of one field's history: each lost change against the winner.
struct FieldConflict {
  const Change* lost;
  const Change* winner;
};
std::vector<FieldConflict> field_conflicts(std::span<const Change> history);

class FieldMerge {
 public:
  // The outcome of applying one change.
  struct Applied {
    bool was_new = false;         // false for a duplicate of a version already held
    bool became_winner = false;   // the change is now the field's winner
    std::vector<Version> newly_lost;      // versions that joined the lost set
    std::vector<Version> newly_resolved;  // versions that left it (a base named them)
  };

  Applied apply(const Change& change);

  const Change* winner() const { return winner_ ? &winner_->second : nullptr; }
  // Lost changes in version order.
  std::vector<const Change*> lost() const;
  bool is_lost(const Version& version) const { return lost_.contains(version); }
  bool holds(const Version& version) const { return changes_.contains(version); }
  std::size_t size() const { return changes_.size(); }

 private:
  using ChangeMap = std::map<Version, Change>;
  ChangeMap changes_;                 // every distinct version received
  std::set<Version> named_;           // every version named by some base
  std::map<Version, const Change*> lost_;
  const ChangeMap::value_type* winner_ = nullptr;
};

}  // namespace fieldsync
