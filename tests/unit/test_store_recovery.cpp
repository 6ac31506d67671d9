// The store's part in recovering from restores (store_recovery.cpp), with the server's answers
// played by hand: a repush directive queues, once, this device's own changes that it still shows
// and that have left the outbox, as restored groups with their original versions and numbers,
// which a later re-stamp leaves alone; a group refused for reused sequence numbers is numbered
// after the server's highest and kept in the outbox, not in the worker's rejection queue.
#include <catch2/catch.hpp>

#include <algorithm>

#include "fieldsync/client/casework.h"
#include "store_fixture.h"

using namespace fieldsync;
using namespace fieldsync::testing;

namespace {

const OriginId kColleague = *Uuid::parse("00000000-0000-4000-8000-0000000000cc");

std::vector<WriteGroup> outbox_groups(client::Store& store) {
  std::vector<WriteGroup> groups;
  for (client::OutboxEntry& entry : store.outbox()) groups.push_back(std::move(entry.group));
  return groups;
}

// A device that recorded a visit and an edit of it, both acknowledged; a colleague then
// overwrote the visit's observations, having seen them; one more edit waits in the outbox.
struct SyncedDevice : StoreFixture {
  CaseId case_id = receive_case("Sam");
  RecordId visit;
  WriteGroup recorded;
  WriteGroup edited;
  WriteGroupId pending;

  SyncedDevice() {
    visit = client::Casework(*store).record_visit(case_id, seen_alone_visit("first"));
    recorded = outbox_groups(*store).front();
    acknowledge(recorded.id);
    store->write_record({"visit", visit, case_id, {{"childs_views", Value::text("likes school")}}});
    edited = outbox_groups(*store).front();
    acknowledge(edited.id);

    SyncResponse pulled;
    Change colleague =
        server_change("visit", visit, case_id, "observations", Value::text("first, checked"),
                      Hlc(1'709'290'000'000, 0), {store->field_versions(visit).at("observations")});
    colleague.version.origin = kColleague;
    pulled.changes = {colleague};
    store->apply_sync(pulled);
    pending = store->write_record(
        {"visit", visit, case_id, {{"worker_analysis", Value::text("no concerns")}}});
  }

  void acknowledge(const WriteGroupId& group) {
    SyncResponse response;
    response.acks = {group};
    store->apply_sync(response);
  }

  client::SyncApplied repush(std::uint64_t directive_id) {
    SyncResponse response;
    response.directives = {Directive{directive_id, DirectiveKind::kRepush, CaseId(), "restored"}};
    return store->apply_sync(response);
  }
};

}  // namespace

TEST_CASE("A repush directive queues the device's own changes it still shows, once",
          "[store][restore]") {
  SyncedDevice device;
  const client::SyncApplied applied = device.repush(7);
  CHECK(applied.restored_groups == 2);

  const std::vector<WriteGroup> outbox = outbox_groups(*device.store);
  REQUIRE(outbox.size() == 3);
  // Oldest first, by their original numbers: the restored groups before the pending edit.
  CHECK(outbox[0].id == device.recorded.id);
  CHECK(outbox[1].id == device.edited.id);
  CHECK(outbox[2].id == device.pending);
  CHECK(outbox[0].restored);
  CHECK(outbox[1].restored);
  CHECK_FALSE(outbox[2].restored);
  // The visit as first recorded, but for the observations the colleague overwrote since (theirs
  // to send back): the same changes, versions and numbers.
  std::vector<Change> expected = device.recorded.changes;
  std::erase_if(expected, [](const Change& change) { return change.field == "observations"; });
  std::vector<Change> restored = outbox[0].changes;
  for (Change& change : restored) change.author.clear();
  for (Change& change : expected) change.author.clear();
  CHECK(restored == expected);
  CHECK(outbox[1].changes.size() == 1);
  CHECK(outbox[1].changes.front().version == device.edited.changes.front().version);
  CHECK(outbox[1].changes.front().device_seq == device.edited.changes.front().device_seq);

  // The directive is repeated until the server has the acknowledgement: nothing more is queued.
  CHECK(device.repush(7).restored_groups == 0);
  CHECK(outbox_groups(*device.store) == outbox);
  const SyncRequest request = device.store->prepare_sync(1000, {});
  CHECK(request.directive_acks == std::vector<std::uint64_t>{7});
  REQUIRE(request.write_groups.size() == 3);
  CHECK(request.write_groups[0].restored);

  SECTION("a re-stamp after a clock-skew refusal leaves the restored groups' versions") {
    SyncResponse refused;
    refused.server_time_ms = device.clock.wall_ms();
    refused.rejections = {{device.pending, RejectionCode::kClockSkew, "ahead", {}}};
    CHECK(device.store->apply_sync(refused).restamped_changes == 1);  // the pending edit only
    const std::vector<WriteGroup> after = outbox_groups(*device.store);
    REQUIRE(after.size() == 3);
    CHECK(after[0] == outbox[0]);
    CHECK(after[1] == outbox[1]);
    CHECK(after[2].id == device.pending);
  }
  SECTION("acknowledged, they leave the outbox; a later repush queues them again") {
    device.acknowledge(device.recorded.id);
    device.acknowledge(device.edited.id);
    CHECK(outbox_groups(*device.store).size() == 1);
    CHECK(device.repush(8).restored_groups == 2);
  }
}

TEST_CASE("A group refused for reused sequence numbers is numbered after the server's",
          "[store][restore]") {
  StoreFixture device;
  const CaseId case_id = device.receive_case("Sam");
  client::Casework casework(*device.store);
  casework.record_visit(case_id, seen_alone_visit("acknowledged"));
  SyncResponse acknowledged;
  acknowledged.acks = {outbox_groups(*device.store).front().id};
  device.store->apply_sync(acknowledged);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("refused"));
  const WriteGroup refused = outbox_groups(*device.store).front();
  REQUIRE(refused.changes.front().device_seq > 1);
  const std::map<std::string, Version> versions = device.store->field_versions(visit);

  SECTION("when the server says its highest number") {
    SyncResponse response;
    response.rejections = {
        {refused.id, RejectionCode::kDuplicateMismatch, "reused", {}, /*highest=*/40}};
    const client::SyncApplied applied = device.store->apply_sync(response);
    CHECK(applied.renumbered_groups == 1);
    CHECK(applied.rejected_groups == 0);
    CHECK(device.store->rejections().empty());
    const std::vector<WriteGroup> outbox = outbox_groups(*device.store);
    REQUIRE(outbox.size() == 1);
    CHECK(outbox[0].id == refused.id);
    REQUIRE(outbox[0].changes.size() == refused.changes.size());
    for (std::size_t i = 0; i < refused.changes.size(); ++i) {
      CHECK(outbox[0].changes[i].device_seq == 41 + i);
      CHECK(outbox[0].changes[i].version == refused.changes[i].version);
      CHECK(outbox[0].changes[i].value == refused.changes[i].value);
    }
    CHECK(device.store->field_versions(visit) == versions);
    // New work is numbered after it.
    device.store->write_record({"visit", visit, case_id, {{"childs_views", Value::text("x")}}});
    CHECK(outbox_groups(*device.store).back().changes.front().device_seq ==
          41 + refused.changes.size());
  }
  SECTION("when it does not (an older server), the rejection is the worker's to see") {
    SyncResponse response;
    response.rejections = {{refused.id, RejectionCode::kDuplicateMismatch, "reused", {}}};
    const client::SyncApplied applied = device.store->apply_sync(response);
    CHECK(applied.renumbered_groups == 0);
    CHECK(applied.rejected_groups == 1);
    CHECK(device.store->rejections().size() == 1);
    CHECK(device.store->outbox().empty());
  }
  SECTION("when the group's numbers are after it already, new numbers would not help") {
    SyncResponse response;
    response.rejections = {{refused.id,
                            RejectionCode::kDuplicateMismatch,
                            "reused",
                            {},
                            refused.changes.front().device_seq - 1}};
    CHECK(device.store->apply_sync(response).rejected_groups == 1);
    CHECK(device.store->rejections().size() == 1);
  }
}
