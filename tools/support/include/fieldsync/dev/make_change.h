// A change with every member given, as the tests, the demo's stand-in server and the benchmarks
// make them: a case an admin created, a colleague's edit, a page of a caseload, a sample message.
// Development support only; thread-safe (no state).
#pragma once

#include <cstdint>
#include <string>

#include "fieldsync/change.h"

namespace fieldsync::dev {

inline Change make_change(std::string collection, const RecordId& record, const CaseId& case_id,
                          std::string field, Value value, const Version& version,
                          const WriteGroupId& group, std::string author, VersionSet base = {},
                          std::uint64_t device_seq = 0) {
  Change change;
  change.collection = std::move(collection);
  change.record_id = record;
  change.case_id = case_id;
  change.field = std::move(field);
  change.value = std::move(value);
  change.version = version;
  change.base = std::move(base);
  change.device_seq = device_seq;
  change.write_group = group;
  change.author = std::move(author);
  return change;
}

}  // namespace fieldsync::dev
