// Version text form and the sorted VersionSet.
#include "fieldsync/change.h"

#include <algorithm>

namespace fieldsync {

std::string Version::to_string() const { return hlc.to_string() + "@" + origin.to_string(); }

VersionSet::VersionSet(std::initializer_list<Version> versions)
    : VersionSet(std::vector<Version>(versions)) {}

VersionSet::VersionSet(std::vector<Version> versions) : versions_(std::move(versions)) {
  std::sort(versions_.begin(), versions_.end());
  versions_.erase(std::unique(versions_.begin(), versions_.end()), versions_.end());
}

void VersionSet::insert(const Version& version) {
  auto it = std::lower_bound(versions_.begin(), versions_.end(), version);
  if (it == versions_.end() || *it != version) versions_.insert(it, version);
}

bool VersionSet::contains(const Version& version) const {
  return std::binary_search(versions_.begin(), versions_.end(), version);
}

bool VersionSet::replace(const Version& from, const Version& to) {
  auto it = std::lower_bound(versions_.begin(), versions_.end(), from);
  if (it == versions_.end() || *it != from) return false;
  versions_.erase(it);
  insert(to);
  return true;
}

}  // namespace fieldsync
