// Clocks across real processes (DESIGN.md section 3): a phone whose wall clock is 3 hours fast
// stamps correctly once anchored to the server's time, also after the app restarts; after a
// reboot (no anchor) it records
// offline with stamps 3 hours ahead, which the real server refuses; the client re-stamps them
// from the server's time and they are accepted, in the order they were made, and lose to a later
// edit by a device with a right clock (the overwritten value is reported, not lost silently).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "device_fixture.h"

using namespace fieldsync;
using namespace fieldsync::itest;

namespace {

constexpr std::int64_t kThreeHoursMs = 3LL * 60 * 60 * 1000;

// How far `version` is ahead of this machine's real time (the server's), in milliseconds.
std::int64_t ahead_of_real_time(const Version& version) {
  return static_cast<std::int64_t>(version.hlc.ms()) - SystemClockSource::instance().wall_ms();
}

}  // namespace

TEST_CASE("A phone 3 hours fast has its offline edits re-stamped from the server's time",
          "[security][clock]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira", kThreeHoursMs);
  TestDevice maya(server, "maya");      // the manager, with a right clock, editing too
  TestDevice observer(server, "maya");  // Maya's other device, which only reads
  for (TestDevice* device : {&amira, &maya, &observer}) {
    REQUIRE(device->sync().outcome == client::SyncOutcome::kCompleted);
  }

  // Anchored by its first sync, the fast phone stamps by the server's time.
  const RecordId visit = amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "Jordan was calm."));
  CHECK(std::abs(ahead_of_real_time(amira.store().field_versions(visit).at("observations"))) <
        60'000);
  const client::SyncReport anchored = amira.sync();
  CHECK(anchored.outcome == client::SyncOutcome::kCompleted);
  CHECK(anchored.restamped_changes == 0);
  REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(text_of(maya.store(), visit, "observations") == "Jordan was calm.");

  // The app restarts without a reboot: the store keeps the server's time it was anchored to.
  amira.close();
  amira.open();
  amira.store().write_record(
      {"visit", visit, council.jordan, {{"people_present", Value::text("Ms Ellis (mother)")}}});
  CHECK(std::abs(ahead_of_real_time(amira.store().field_versions(visit).at("people_present"))) <
        60'000);
  CHECK(amira.sync().restamped_changes == 0);

  // After a reboot the phone has only its own clock: offline, two edits of the same field.
  amira.reboot();
  amira.store().write_record(
      {"visit", visit, council.jordan, {{"observations", Value::text("First thoughts.")}}});
  amira.store().write_record(
      {"visit", visit, council.jordan, {{"observations", Value::text("Second thoughts.")}}});
  REQUIRE(ahead_of_real_time(amira.store().field_versions(visit).at("observations")) >
          kThreeHoursMs - 60'000);

  const client::SyncReport corrected = amira.sync();
  CHECK(corrected.outcome == client::SyncOutcome::kCompleted);
  CHECK(corrected.restamped_changes == 2);
  CHECK(corrected.changes_pushed == 2);
  CHECK(corrected.groups_rejected == 0);
  CHECK(amira.store().rejections().empty());
  CHECK(amira.store().outbox_change_count() == 0);
  const Version restamped = amira.store().field_versions(visit).at("observations");
  CHECK(std::abs(ahead_of_real_time(restamped)) < 60'000);

  // Its edits kept their order: the later one is the field's value, on the server too.
  CHECK(text_of(amira.store(), visit, "observations") == "Second thoughts.");
  REQUIRE(observer.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(text_of(observer.store(), visit, "observations") == "Second thoughts.");
  CHECK(observer.store().field_versions(visit).at("observations") == restamped);

  // Maya, who has not seen those edits, writes later with a right clock: hers wins everywhere.
  std::this_thread::sleep_for(50ms);  // "later" by more than the clocks' rounding
  maya.store().write_record(
      {"visit", visit, council.jordan, {{"observations", Value::text("Maya's later account.")}}});
  REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
  for (TestDevice* device : {&amira, &observer, &maya}) {
    REQUIRE(device->sync().outcome == client::SyncOutcome::kCompleted);
    CHECK(text_of(device->store(), visit, "observations") == "Maya's later account.");
  }

  // Amira's second thoughts were overwritten unseen: reported once, not lost silently. Her first
  // thoughts are not: her second edit saw them (re-stamping renamed its base along).
  const std::vector<client::LocalConflict> conflicts = maya.store().conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts.front().conflict.lost.value == Value::text("Second thoughts."));
  CHECK(conflicts.front().conflict.lost.version == restamped);
  CHECK(conflicts.front().conflict.winner.value == Value::text("Maya's later account."));
}
