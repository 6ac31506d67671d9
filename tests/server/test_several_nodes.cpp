// Several server nodes on one storage (DESIGN.md sections 5 and 6), as behind a load balancer:
// what one node did, the others know (changes, failed attempts); an enrolment code raced on by
// two nodes enrols one device; a write group sent to two nodes at once is accepted once, and both
// answers acknowledge it; a device is not sent back its own acknowledged push when another
// node's writer held its cursor below that push, yet it still gets every other device's change
// and the winners over its own; two devices of one user syncing one case through two nodes at once
// are both answered. The races run on threads released together; what they check
// holds whichever thread wins, so nothing depends on timing. Runs on both backends (SQLite: two
// connections to one file).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <thread>

#include "fieldsync/dev/make_change.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

// Runs `work(i)` for i in [0, count) on threads released at the same moment; the results in order.
template <class Work>
auto all_at_once(int count, Work work) {
  std::latch start(count);
  std::vector<std::future<std::invoke_result_t<Work&, int>>> results;
  for (int i = 0; i < count; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      start.arrive_and_wait();
      return work(i);
    }));
  }
  std::vector<std::invoke_result_t<Work&, int>> answers;
  for (auto& result : results) answers.push_back(result.get());
  return answers;
}

}  // namespace

TEST_CASE("A change pushed through one node is pulled through another", "[server][nodes]") {
  ServerFixture server;
  Casework work(server);
  auto second = server.another_node();
  const RecordId visit = Uuid::random_v4();
  server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                              valid_visit("seen at home"))});

  const http::Response answer = server.sync_call(work.amira_tablet, server.sync_request(work.amira_tablet),
                                                 kDefaultAddress, second.get());
  REQUIRE(answer.status == 200);
  const SyncResponse pulled = decode_response(answer.body, WireFormat::kBinary);
  CHECK(fields_of(pulled, visit).at("observations").value == text("seen at home"));
}

TEST_CASE("Failed attempts counted by one node limit every node", "[server][nodes][auth]") {
  ServerOptions options;
  options.credentials.max_failures = 3;
  options.credentials.failure_window_ms = 60'000;
  ServerFixture server(options);
  auto second = server.another_node();
  const std::string wrong = "0123456789abcdef0123456789abcdef." + std::string(64, 'f');

  for (ServerApp* node : {server.app.get(), second.get(), server.app.get()}) {
    CHECK(ServerFixture::call_node(*node, "POST", "/v1/sync", "", "application/x-fieldsync", wrong)
              .status == 401);
  }
  // The fourth attempt, on the node that saw one of the three, is over the limit.
  const http::Response limited =
      ServerFixture::call_node(*second, "POST", "/v1/sync", "", "application/x-fieldsync", wrong);
  CHECK(limited.status == 429);
  CHECK(error_name(limited) == "rate_limited");

  // The window moves on for every node.
  server.clock.advance(60'001);
  CHECK(ServerFixture::call_node(*second, "POST", "/v1/sync", "", "application/x-fieldsync", wrong)
            .status == 401);
}

TEST_CASE("Two nodes racing on one enrolment code enrol one device", "[server][nodes][enrolment]") {
  ServerFixture server;
  server.create_team("north");
  server.create_user("amira", "north");
  auto second = server.another_node();
  constexpr int kRacers = 6;

  for (int round = 0; round < 3; ++round) {
    const std::string code = server.enrolment_code("amira");
    const nlohmann::json body = {{"code", code}, {"platform", "android 14"}};
    const auto statuses = all_at_once(kRacers, [&](int i) {
      ServerApp& node = i % 2 == 0 ? *server.app : *second;
      // Each from its own address, so that no racer is refused for the others' failures.
      const std::string address = "192.0.2." + std::to_string(100 + i);
      return ServerFixture::call_node(node, "POST", "/v1/enrol", body.dump(), "application/json", {},
                                      address)
          .status;
    });
    INFO("round " << round);
    CHECK(std::count(statuses.begin(), statuses.end(), 200) == 1);
    CHECK(std::count(statuses.begin(), statuses.end(), 401) == kRacers - 1);
  }
  CHECK(server.admin("GET", "/v1/admin/devices").at("devices").size() == 3);
}

TEST_CASE("A write group sent to two nodes at once is accepted once", "[server][nodes][idempotency]") {
  ServerFixture server;
  Casework work(server);
  auto second = server.another_node();
  TestDevice& phone = work.amira_phone;

  for (int round = 0; round < 5; ++round) {
    const RecordId visit = Uuid::random_v4();
    const WriteGroup group = server.write(phone, "visit", visit, work.case_a,
                                          valid_visit("round " + std::to_string(round)));
    const SyncRequest request = server.sync_request(phone, {group});
    const auto answers = all_at_once(2, [&](int i) {
      return server.sync_call(phone, request, kDefaultAddress, i == 0 ? server.app.get() : second.get());
    });
    INFO("round " << round);
    for (const http::Response& answer : answers) {
      REQUIRE(answer.status == 200);
      const SyncResponse response = decode_response(answer.body, WireFormat::kBinary);
      CHECK(response.acks == std::vector<WriteGroupId>{group.id});
      CHECK(response.rejections.empty());
    }
    for (const Change& change : group.changes) {
      const auto history = server.inspect([&](StorageTransaction& tx) {
        return tx.field_history({change.record_id, change.field});
      });
      CHECK(history.size() == 1);
    }
  }
}

TEST_CASE("A device's own push is not sent back when another node's writer held its cursor below it",
          "[server][nodes][pull]") {
  ServerFixture server;
  Casework work(server);
  auto second = server.another_node();
  TestDevice& phone = work.amira_phone;
  const TestDevice phone_as_backed_up = phone;  // its store as a backup holds it, before the push

  // A change of another device, written on the second node. On PostgreSQL its transaction stays
  // open while the devices sync, as a slow writer on another node does: it took its number first,
  // so every pull's horizon stays below it (postgres_storage.cpp) and the phone's cursor stays
  // below the phone's own push. SQLite has one writer at a time: there it is written afterwards.
  const bool postgres = storage_under_test() == StorageKind::kPostgres;
  const RecordId others_note = Uuid::random_v4();
  std::unique_ptr<StorageTransaction> writer;
  auto write_others_change = [&] {
    writer = second->storage().begin();
    const Change change = dev::make_change("visit", others_note, work.case_a, "observations",
                                           text("written meanwhile"), {server.stamp(work.mona_phone), work.mona_phone.id},
                                           Uuid::random_v4(), "mona", {}, work.mona_phone.next_seq++);
    const StoredChange stored{change, writer->append_history(std::span(&change, 1), kStartMs).front(), kStartMs};
    writer->put_current(std::span(&stored, 1));
  };
  if (postgres) write_others_change();

  const RecordId visit = Uuid::random_v4();
  const WriteGroup pushed = server.write(phone, "visit", visit, work.case_a, valid_visit("the phone's"));
  REQUIRE(server.sync(phone, {pushed}).acks == std::vector<WriteGroupId>{pushed.id});
  // The tablet overwrites one of the fields without having seen the phone's, stamped later: its
  // version wins, and the phone's is logged as lost.
  work.amira_tablet.last_stamp = std::max(work.amira_tablet.last_stamp, phone.last_stamp);
  const WriteGroup overwrite = server.write(work.amira_tablet, "visit", visit, work.case_a,
                                            {{"observations", text("the tablet's")}});
  REQUIRE(version_of(pushed, visit, "observations") < version_of(overwrite, visit, "observations"));
  REQUIRE(server.sync(work.amira_tablet, {overwrite}).acks == std::vector<WriteGroupId>{overwrite.id});

  if (!postgres) write_others_change();
  writer->commit();

  const SyncResponse next = server.sync_all(phone);
  // The winner over its own change, and the conflict, reach it; nothing else of its own push.
  const auto visit_fields = fields_of(next, visit);
  REQUIRE(visit_fields.size() == 1);
  CHECK(visit_fields.at("observations").value == text("the tablet's"));
  CHECK(std::ranges::any_of(next.conflicts, [&](const Conflict& conflict) {
    return conflict.record_id == visit && conflict.field == "observations";
  }));
  // Another device's change is never skipped, whatever its number.
  CHECK(fields_of(next, others_note).at("observations").value == text("written meanwhile"));

  // A phone restored from a backup taken before its push sends the backup's cursor, and gets its
  // own changes back.
  TestDevice restored = phone_as_backed_up;
  const SyncResponse after_restore = server.sync_all(restored);
  const auto restored_fields = fields_of(after_restore, visit);
  CHECK(restored_fields.size() == pushed.changes.size());
  CHECK(restored_fields.at("visit_type").value == text("statutory_child_in_need"));
  CHECK(restored_fields.at("observations").value == text("the tablet's"));
}

TEST_CASE("Two devices of one user syncing one case through two nodes at once are both answered",
          "[server][nodes][turn]") {
  ServerFixture server;
  Casework work(server);
  auto second = server.another_node();
  const RecordId visit = Uuid::random_v4();
  server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                              valid_visit("first"))});
  server.sync(work.amira_tablet);

  // The phone and the tablet edit the same field of the same visit and sync at once, each
  // through its own node: on PostgreSQL the two syncs take the user's turn one after the other.
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<SyncRequest> requests;
    std::vector<WriteGroupId> groups;
    for (TestDevice* device : {&work.amira_phone, &work.amira_tablet}) {
      const WriteGroup group = server.write(*device, "visit", visit, work.case_a,
                                            {{"observations", text("round " + std::to_string(round))}});
      groups.push_back(group.id);
      requests.push_back(server.sync_request(*device, {group}));
    }
    const auto answers = all_at_once(2, [&](int i) {
      return server.sync_call(i == 0 ? work.amira_phone : work.amira_tablet, requests[i],
                              kDefaultAddress, i == 0 ? server.app.get() : second.get());
    });
    INFO("round " << round);
    for (int i = 0; i < 2; ++i) {
      REQUIRE(answers[i].status == 200);
      const SyncResponse response = decode_response(answers[i].body, WireFormat::kBinary);
      CHECK(response.acks == std::vector<WriteGroupId>{groups[i]});
      CHECK(response.rejections.empty());
    }
  }
  // Every edit is kept in the field's history, none overwritten unseen.
  const auto history = server.inspect([&](StorageTransaction& tx) {
    return tx.field_history({visit, "observations"});
  });
  CHECK(history.size() == 1 + 2 * kRounds);
}
