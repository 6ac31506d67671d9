// The change model (DESIGN.md section 3): a Change sets one field of one record; a Version
// (hlc, origin) orders changes; a WriteGroup holds all the changes of one user action, accepted
// or rejected together.
//
// Plain values; safe to share between threads when not mutated.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "fieldsync/hybrid_clock.h"
#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

namespace fieldsync {

// Who made a change and when, in the order the merge rule uses: the greater version wins.
struct Version {
  Hlc hlc;
  OriginId origin;  // the device (or server node) that stamped it
  friend constexpr auto operator<=>(const Version&, const Version&) = default;
  std::string to_string() const;  // "ms.counter@origin"
};

// A set of versions, kept sorted and without duplicates.
class VersionSet {
 public:
  VersionSet() = default;
  VersionSet(std::initializer_list<Version> versions);
  explicit VersionSet(std::vector<Version> versions);

  void insert(const Version& version);
  bool contains(const Version& version) const;
  bool empty() const { return versions_.empty(); }
  std::size_t size() const { return versions_.size(); }
  auto begin() const { return versions_.begin(); }
  auto end() const { return versions_.end(); }
  const std::vector<Version>& items() const { return versions_; }
  // Replaces `from` with `to` if present (used when an outbox is re-stamped).
  bool replace(const Version& from, const Version& to);

  friend bool operator==(const VersionSet&, const VersionSet&) = default;

 private:
  std::vector<Version> versions_;
};

struct Change {
  std::string collection;    // "case", "visit", "assessment", "note", or one a newer schema has
  RecordId record_id;
  CaseId case_id;            // immutable scope key; a case record's id is its own case id
  std::string field;
  Value value;
  Version version;
  VersionSet base;           // versions of this field the editor saw: empty for a new field
  std::uint64_t device_seq = 0;  // the origin device's sequence number for this change
  WriteGroupId write_group;
  std::string author;        // user id; set by the server from the authenticated token

  friend bool operator==(const Change&, const Change&) = default;
};

struct WriteGroup {
  WriteGroupId id;
  std::vector<Change> changes;  // every change carries `id` as its write_group
  // Sent again after the server was restored from a backup (a repush directive): changes this
  // device made and the server acknowledged once, with their original versions, bases and
  // sequence numbers; only those still current on the device, so possibly a subset of the
  // original group. The server skips what its history already holds and merges the rest.
  bool restored = false;
  friend bool operator==(const WriteGroup&, const WriteGroup&) = default;
};

}  // namespace fieldsync
