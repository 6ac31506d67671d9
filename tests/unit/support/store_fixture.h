// Test support for the client store: a temporary directory, a store on a fake clock with an
// in-memory platform key wrapper, and helpers that play the server's part (a case arriving by
// sync, a visit's fields).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/dev/make_change.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/platform/key_wrapper.h"

namespace fieldsync::testing {

using dev::read_file;
using TempDir = dev::ScratchDir;

inline const OriginId kServerOrigin = *Uuid::parse("00000000-0000-4000-8000-0000000000aa");

// A change stamped by the server (as cases created through the admin API are).
inline Change server_change(const std::string& collection, const RecordId& record,
                            const CaseId& case_id, const std::string& field, Value value, Hlc hlc,
                            VersionSet base = {}) {
  return dev::make_change(collection, record, case_id, field, std::move(value),
                          {hlc, kServerOrigin}, Uuid::random_v4(), "admin", std::move(base));
}

// A store on a fake clock, as a device right after enrolment.
struct StoreFixture {
  static constexpr const char* kPasscode = "4827";

  TempDir dir;
  FakeClockSource clock{1'709'280'000'000, 1'000};  // 2024-03-01 08:00 UTC
  platform::MemoryKeyWrapper wrapper;
  OriginId device = Uuid::random_v4();
  std::unique_ptr<client::Store> store;

  client::StoreOptions options() {
    client::StoreOptions options;
    options.path = dir.file("device.db");
    options.key_wrapper = &wrapper;
    options.clock = &clock;
    options.kdf_iterations = 1000;  // fast tests; the default is checked elsewhere
    options.max_failed_unlocks = 5;
    return options;
  }

  StoreFixture() { store = client::Store::create(options(), kPasscode, {device, "amira"}); }

  void reopen() {
    store.reset();
    store = client::Store::open(options());
  }

  // The server allocates a case to this worker: its record arrives by sync.
  CaseId receive_case(const std::string& child_name, Hlc hlc = Hlc(1'709'000'000'000, 0)) {
    const CaseId case_id = Uuid::random_v4();
    SyncResponse response;
    response.server_time_ms = clock.wall_ms();
    response.changes = {
        server_change("case", case_id, case_id, "child_name", Value::text(child_name), hlc),
        server_change("case", case_id, case_id, "status", Value::text("open"), hlc.successor()),
    };
    store->apply_sync(response);
    return case_id;
  }
};

inline client::Fields seen_alone_visit(const std::string& observations) {
  return {{"visit_type", Value::text("statutory_child_protection")},
          {"actual_start", Value::timestamp(Timestamp{1'709'285'400'000})},
          {"child_seen", Value::boolean(true)},
          {"seen_alone", Value::boolean(true)},
          {"observations", Value::text(observations)}};
}

}  // namespace fieldsync::testing
