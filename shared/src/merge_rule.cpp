// The merge rule: greatest version wins; a non-winner named in no base is lost.
#include "fieldsync/merge_rule.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace fieldsync {
namespace {

// Orders two changes that share a version by their content, so that even corrupt input (a reused
// stamp) converges. The fields that locate the change (record, field) are equal by construction.
bool content_greater(const Change& a, const Change& b) {
  return std::tie(a.value, a.base.items(), a.author, a.device_seq, a.write_group) >
         std::tie(b.value, b.base.items(), b.author, b.device_seq, b.write_group);
}

}  // namespace

bool wins_over(const Change& a, const Change& b) {
  if (a.version != b.version) return a.version > b.version;
  return content_greater(a, b);
}

const Change* merge_winner(std::span<const Change> history) {
  const Change* winner = nullptr;
  for (const Change& change : history) {
    if (!winner || wins_over(change, *winner)) winner = &change;
  }
  return winner;
}

std::vector<const Change*> lost_changes(std::span<const Change> history) {
  const Change* winner = merge_winner(history);
  std::set<Version> named;
  std::map<Version, const Change*> distinct;
  for (const Change& change : history) {
    named.insert(change.base.begin(), change.base.end());
    auto [it, inserted] = distinct.emplace(change.version, &change);
    if (!inserted && content_greater(change, *it->second)) it->second = &change;
  }
  std::vector<const Change*> lost;
  for (const auto& [version, change] : distinct) {
    if (version != winner->version && !named.contains(version)) lost.push_back(change);
  }
  return lost;
}

std::vector<FieldConflict> field_conflicts(std::span<const Change> history) {
  std::vector<FieldConflict> conflicts;
  const Change* winner = merge_winner(history);
  for (const Change* lost : lost_changes(history)) conflicts.push_back({lost, winner});
  return conflicts;
}

FieldMerge::Applied FieldMerge::apply(const Change& change) {
  Applied applied;
  for (const Version& seen : change.base) {
    named_.insert(seen);
    if (lost_.erase(seen) > 0) applied.newly_resolved.push_back(seen);
  }

  auto [it, inserted] = changes_.try_emplace(change.version, change);
  if (!inserted) {
    if (content_greater(change, it->second)) it->second = change;
    return applied;
  }
  applied.was_new = true;
  const Change& held = it->second;
  const bool is_named = named_.contains(held.version);
  if (!winner_ || held.version > winner_->first) {
    if (winner_ && !named_.contains(winner_->first)) {
      lost_.emplace(winner_->first, &winner_->second);
      applied.newly_lost.push_back(winner_->first);
    }
    winner_ = &*it;
    applied.became_winner = true;
  } else if (!is_named) {
    lost_.emplace(held.version, &held);
    applied.newly_lost.push_back(held.version);
  }
  return applied;
}

std::vector<const Change*> FieldMerge::lost() const {
  std::vector<const Change*> lost;
  lost.reserve(lost_.size());
  for (const auto& [version, change] : lost_) lost.push_back(change);
  return lost;
}

}  // namespace fieldsync
