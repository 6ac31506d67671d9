// An in-process stand-in for the sync server, for the demo only: it accepts write groups, keeps
// every field's history with the shared merge rule, and answers with acknowledgements, the
// changes a device has not seen, and the conflict log derived from history. Requests and
// responses travel as real binary wire messages. It does none of the server's checks (identity,
// scope, validation, durability): the sync server replaces it.
//
// Not thread-safe: the demo drives it from one thread.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fieldsync/merge_rule.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::demo {

class DemoHub {
 public:
  explicit DemoHub(ClockSource& clock);

  // One round trip: `body` is an encoded SyncRequest from `user`'s device; returns the encoded
  // SyncResponse.
  std::string round_trip(const std::string& body, const std::string& user);
  // A change made through the server (a case created by an admin), stamped by its own clock.
  void create_case(const CaseId& case_id, const std::vector<std::pair<std::string, Value>>& fields);
  std::size_t conflict_count() const;

 private:
  using FieldKey = std::pair<RecordId, std::string>;
  void accept(const Change& change);
  std::vector<Conflict> current_conflicts() const;

  ClockSource& clock_;
  HybridClock hlc_;
  const OriginId origin_;
  std::vector<Change> log_;  // accepted changes; a cursor is a position in it
  std::map<FieldKey, FieldMerge> fields_;
  std::map<std::string, std::set<Version>> reported_;  // conflicts each user has been sent
};

}  // namespace fieldsync::demo
