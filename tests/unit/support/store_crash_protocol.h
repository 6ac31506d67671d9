// What the crash-safety test (test_store_crash.cpp) and its writer process (store_crash_writer.cpp)
// agree on: how the writer opens the store, the tag each write group leaves on every record it
// writes so that the group's shape can be checked after a crash, and the lines the writer reports
// on its standard output.
//
// A tag is "<serial>|<records in the group>|<fields written to this record, sorted>": the writer
// writes it inside the group it describes, so a group cut short by a crash would contradict its
// own tag. Serials increase across writer runs, so a later group's tag has a greater serial.
//
// Report lines, each written with one write(2) so that a SIGKILL never leaves half a line:
//   ready                          the store is open and unlocked; writing starts
//   committed <serial> <id>...     write() returned: the group, with these records, is durable
//   ack-intent <hlc>               about to acknowledge the whole outbox, whose newest stamp is
//   <hlc> acked <hlc>                    apply_sync() returned: everything up to <hlc> is
//   acknowledged
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fieldsync/client/store.h"

namespace fieldsync::testing::crash {

inline constexpr const char* kPasscode = "crash-test-passcode";
inline constexpr const char* kTagField = "crash_group";

// Parent and writer open the store alike: the system clock, a cheap KDF (unlock speed is not
// what is tested) and no auto-lock during a run.
inline client::StoreOptions store_options(const std::string& path, platform::KeyWrapper& wrapper) {
  client::StoreOptions options;
  options.path = path;
  options.key_wrapper = &wrapper;
  options.kdf_iterations = 1000;
  options.auto_lock_ms = 24LL * 60 * 60 * 1000;
  return options;
}

struct GroupTag {
  std::uint64_t serial = 0;
  std::size_t records = 0;
  std::vector<std::string> fields;  // sorted; includes kTagField itself

  std::string encode() const {
    std::string text = std::to_string(serial) + "|" + std::to_string(records) + "|";
    for (std::size_t i = 0; i < fields.size(); ++i) text += (i ? "," : "") + fields[i];
    return text;
  }

  static std::optional<GroupTag> parse(const std::string& text) {
    std::istringstream in(text);
    GroupTag tag;
    char bar1 = 0, bar2 = 0;
    if (!(in >> tag.serial >> bar1 >> tag.records >> bar2) || bar1 != '|' || bar2 != '|') {
      return std::nullopt;
    }
    std::string field;
    while (std::getline(in, field, ',')) tag.fields.push_back(field);
    if (!std::is_sorted(tag.fields.begin(), tag.fields.end())) return std::nullopt;
    return tag;
  }
};

// The tag of a group of `records` records that writes `fields` (plus the tag) to one of them.
inline Value tag_value(std::uint64_t serial, std::size_t records,
                       const std::vector<std::string>& fields) {
  GroupTag tag{serial, records, fields};
  tag.fields.push_back(kTagField);
  std::sort(tag.fields.begin(), tag.fields.end());
  return Value::text(tag.encode());
}

}  // namespace fieldsync::testing::crash
