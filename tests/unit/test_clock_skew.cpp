// Clock skew (DESIGN.md section 3): a device whose clock runs an hour fast stamps its edits an
// hour ahead; the server refuses them; the store re-stamps its whole unacknowledged outbox from
// the server's time (above everything seen from outside) in the same transaction, keeping group
// ids, sequence numbers, order and edit chains; no rejection is queued; the engine resends.
#include <catch2/catch.hpp>

#include "fieldsync/client/casework.h"
#include "store_fixture.h"
#include "sync_fakes.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using namespace std::chrono_literals;
using client::SyncOutcome;
using platform::HttpRequest;

namespace {

constexpr std::int64_t kHour = 60 * 60 * 1000;
constexpr std::int64_t kServerTolerance = 5 * 60 * 1000;
const OriginId kColleague = *Uuid::parse("00000000-0000-4000-8000-0000000000cc");

// A device that synced once (so it holds a case), then restarted with its clock an hour fast:
// with no server anchor in the new process, it stamps from the wrong wall clock.
struct SkewedDevice : StoreFixture {
  CaseId case_id;
  RecordId visit;

  SkewedDevice() {
    store->set_token("device.secret");
    case_id = receive_case("Sam");
    clock.set_wall(clock.wall_ms() + kHour);
    reopen();
    store->unlock(kPasscode);
    visit = client::Casework(*store).record_visit(case_id, seen_alone_visit("first"));
  }

  // The true time, as the server knows it.
  std::int64_t server_time() { return clock.wall_ms() - kHour; }

  Version version_of(const RecordId& record, const std::string& field) {
    return store->field_versions(record).at(field);
  }

  // The server's answer refusing every group of `http` for clock skew.
  SyncResponse refuse_all(const HttpRequest& http) {
    SyncResponse response;
    response.server_time_ms = server_time();
    for (const WriteGroup& group : request_of(http).write_groups) {
      response.rejections.push_back(
          {group.id, RejectionCode::kClockSkew, "stamped 60 min ahead", {}});
    }
    return response;
  }

  Change colleague_change(const RecordId& record, const std::string& collection,
                          const std::string& field, std::string text, Hlc hlc) {
    Change change =
        server_change(collection, record, case_id, field, Value::text(std::move(text)), hlc);
    change.version.origin = kColleague;
    change.author = "ben";
    return change;
  }
};

std::vector<Change> all_changes(const std::vector<WriteGroup>& groups) {
  std::vector<Change> changes;
  for (const WriteGroup& group : groups) {
    changes.insert(changes.end(), group.changes.begin(), group.changes.end());
  }
  return changes;
}

}  // namespace

TEST_CASE("A clock-skew refusal re-stamps the outbox from the server's time and resends it",
          "[sync][restamp]") {
  SkewedDevice device;
  // A second group edits the first one's observations: an edit chain within the outbox.
  const Version first_observations = device.version_of(device.visit, "observations");
  device.store->write_record(
      {"visit", device.visit, device.case_id, {{"observations", Value::text("second thoughts")}}});
  CHECK(first_observations.hlc.ms() > static_cast<std::uint64_t>(device.server_time() + kHour / 2));
  const std::vector<WriteGroup> before = [&] {
    std::vector<WriteGroup> groups;
    for (auto& entry : device.store->outbox()) groups.push_back(entry.group);
    return groups;
  }();
  REQUIRE(before.size() == 2);

  // The server refuses both, and in the same answer sends a colleague's change stamped two
  // minutes ahead of its own time (within its tolerance): the fresh stamps must pass it too.
  const Hlc colleague_stamp(static_cast<std::uint64_t>(device.server_time() + 120'000), 4);
  platform::FakeHttpTransport server;
  FakeSyncTimer timer;
  server
      .then([&](const HttpRequest& http) {
        SyncResponse response = device.refuse_all(http);
        response.changes = {
            device.colleague_change(device.case_id, "case", "status", "review", colleague_stamp)};
        return sync_answer(response);
      })
      .then(accept_all(device.server_time()));
  client::SyncSettings settings;
  settings.server_url = "https://sync.example.org";
  settings.timer = &timer;

  const client::SyncReport report =
      client::sync_with_server(*device.store, server, settings, timer.now() + 30s);

  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK(report.restamped_changes == 6);
  CHECK(report.groups_rejected == 0);
  CHECK(device.store->rejections().empty());  // not the worker's problem
  CHECK(device.store->outbox().empty());      // the resend was accepted

  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  const std::vector<WriteGroup> first_sent = request_of(requests[0]).write_groups;
  const std::vector<WriteGroup> resent = request_of(requests[1]).write_groups;
  CHECK(first_sent == before);
  REQUIRE(resent.size() == before.size());
  for (std::size_t g = 0; g < resent.size(); ++g) {
    CHECK(resent[g].id == before[g].id);  // same groups, same order
    REQUIRE(resent[g].changes.size() == before[g].changes.size());
  }
  const std::vector<Change> old_changes = all_changes(before);
  const std::vector<Change> new_changes = all_changes(resent);
  for (std::size_t i = 0; i < new_changes.size(); ++i) {
    CAPTURE(i);
    const Change& fresh = new_changes[i];
    CHECK(fresh.device_seq == old_changes[i].device_seq);  // numbers kept (see store_restamp.cpp)
    CHECK(fresh.record_id == old_changes[i].record_id);
    CHECK(fresh.field == old_changes[i].field);
    CHECK(fresh.value == old_changes[i].value);
    CHECK(fresh.version.origin == device.device);
    CHECK(static_cast<std::int64_t>(fresh.version.hlc.ms()) >= device.server_time());
    CHECK(fresh.version.hlc > colleague_stamp);  // above everything seen from outside
    CHECK(static_cast<std::int64_t>(fresh.version.hlc.ms()) <=
          device.server_time() + kServerTolerance);
    if (i > 0) CHECK(new_changes[i - 1].version < fresh.version);  // order kept
  }
  // The chain survives: the second edit names the first edit's new stamp.
  const Change& second_edit = new_changes.back();
  REQUIRE(second_edit.field == "observations");
  const Change& first_edit =
      *std::find_if(new_changes.begin(), new_changes.end(),
                    [](const Change& change) { return change.field == "observations"; });
  CHECK(second_edit.base == VersionSet{first_edit.version});
  // The record shows the new stamps (the latest per field), and the same values.
  std::map<std::string, Version> latest;
  for (const Change& change : new_changes) latest[change.field] = change.version;
  CHECK(device.store->field_versions(device.visit) == latest);
  CHECK(device.store->record(device.visit)->get("observations")->as_text() == "second thoughts");
}

TEST_CASE("A re-stamped edit wins over the pulled change that had overridden it",
          "[sync][restamp][conflict]") {
  SkewedDevice device;
  const Version mine = device.version_of(device.visit, "observations");
  // A colleague's edit stamped above this device's skewed one arrives first: the device queues
  // its own unsynced edit as lost.
  SyncResponse pulled;
  pulled.server_time_ms = device.server_time();
  pulled.changes = {device.colleague_change(device.visit, "visit", "observations", "theirs",
                                            mine.hlc.successor())};
  device.store->apply_sync(pulled);
  REQUIRE(device.store->conflicts().size() == 1);
  CHECK(device.store->record(device.visit)->get("observations")->as_text() == "theirs");

  // Then the server refuses the device's stamps. Re-stamped above everything seen, the edit now
  // wins; the local conflict is void (the server's log reports what is lost now).
  SyncResponse refusal;
  refusal.server_time_ms = device.server_time();
  refusal.rejections = {{device.store->outbox().at(0).group.id, RejectionCode::kClockSkew, "", {}}};
  const client::SyncApplied applied = device.store->apply_sync(refusal);
  CHECK(applied.restamped_changes == 5);
  CHECK(applied.rejected_groups == 0);
  CHECK(device.store->conflicts().empty());
  CHECK(device.store->record(device.visit)->get("observations")->as_text() == "first");
  const Version fresh = device.version_of(device.visit, "observations");
  CHECK(fresh.hlc > mine.hlc.successor());
  CHECK(device.store->outbox().at(0).group.changes.size() == 5);
}

TEST_CASE("A re-stamp starts above this device's own acknowledged stamps", "[sync][restamp]") {
  SkewedDevice device;
  // The first visit was accepted (stamped ahead, but the server took it): its stamps are known
  // outside now, so a later edit of the same field must never be stamped below them.
  SyncResponse accepted;
  accepted.server_time_ms = device.server_time();
  accepted.acks = {device.store->outbox().at(0).group.id};
  const Version acknowledged = device.version_of(device.visit, "observations");
  device.store->apply_sync(accepted);

  device.store->write_record(
      {"visit", device.visit, device.case_id, {{"observations", Value::text("edited")}}});
  SyncResponse refusal;
  refusal.server_time_ms = device.server_time();
  refusal.rejections = {{device.store->outbox().at(0).group.id, RejectionCode::kClockSkew, "", {}}};
  device.store->apply_sync(refusal);

  const Change edit = device.store->outbox().at(0).group.changes.at(0);
  CHECK(edit.version > acknowledged);
  CHECK(edit.base == VersionSet{acknowledged});
  CHECK(device.store->record(device.visit)->get("observations")->as_text() == "edited");
}

TEST_CASE("After a re-stamp, a restart keeps the clock above the fresh stamps",
          "[sync][restamp][hlc]") {
  SkewedDevice device;
  SyncResponse refusal;
  refusal.server_time_ms = device.server_time();
  refusal.rejections = {{device.store->outbox().at(0).group.id, RejectionCode::kClockSkew, "", {}}};
  device.store->apply_sync(refusal);
  const Version restamped = device.version_of(device.visit, "observations");

  // The worker then sets the phone's clock two hours back, and the app restarts.
  device.clock.set_wall(device.clock.wall_ms() - 2 * kHour);
  device.reopen();
  device.store->unlock(StoreFixture::kPasscode);
  device.store->write_record(
      {"visit", device.visit, device.case_id, {{"observations", Value::text("later")}}});
  const Version later = device.version_of(device.visit, "observations");
  CHECK(later > restamped);
}

TEST_CASE(
    "After a restart the clock goes on from the server's time, after a reboot from the device's",
    "[sync][hlc]") {
  StoreFixture device;  // its clock runs an hour fast from the start
  const std::int64_t server_time = device.clock.wall_ms() - kHour;
  SyncResponse answer;
  answer.server_time_ms = server_time;
  device.store->apply_sync(answer);
  const CaseId case_id = Uuid::random_v4();
  auto stamp_now = [&] {
    const RecordId visit = device.store->new_record_id();
    device.store->write_record({"visit", visit, case_id, seen_alone_visit("x")});
    return device.store->field_versions(visit).at("observations").hlc;
  };
  const Hlc before_restart = stamp_now();
  CHECK(static_cast<std::int64_t>(before_restart.ms()) < server_time + 1000);

  device.clock.advance(10'000);
  device.reopen();
  device.store->unlock(StoreFixture::kPasscode);
  const Hlc after_restart = stamp_now();
  CHECK(after_restart > before_restart);
  CHECK(static_cast<std::int64_t>(after_restart.ms()) < server_time + 11'000);  // not an hour on

  device.clock.advance(10'000);
  device.clock.reboot(/*monotonic_ms=*/500);
  device.reopen();
  device.store->unlock(StoreFixture::kPasscode);
  const Hlc after_reboot = stamp_now();
  CHECK(static_cast<std::int64_t>(after_reboot.ms()) >= device.clock.wall_ms());  // the device's
}
