// Idempotency of pushes on (device, sequence numbers) with a content hash: a resent accepted group
// is acknowledged again and changes nothing; sequence numbers reused with other content are
// refused as duplicate_mismatch; a resent rejected group gets the same rejection; and the
// clock-skew bound, after which the re-stamped group (same id, same sequence numbers, new
// versions) is accepted.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

std::size_t history_size(ServerFixture& server, const RecordId& record, const std::string& field) {
  return server.inspect([&](StorageTransaction& tx) {
    return tx.field_history({record, field}).size();
  });
}

std::optional<Change> current(ServerFixture& server, const RecordId& record,
                              const std::string& field) {
  const auto stored = server.inspect([&](StorageTransaction& tx) {
    return tx.current_field({record, field});
  });
  return stored ? std::optional(stored->change) : std::nullopt;
}

}  // namespace

TEST_CASE("A resent accepted group is acknowledged again and nothing is duplicated",
          "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup group =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  REQUIRE(server.sync(work.amira_phone, {group}).acks == std::vector<WriteGroupId>{group.id});
  const std::uint64_t last_seq =
      server.inspect([](StorageTransaction& tx) { return tx.last_seq(); });

  SECTION("alone") {
    const SyncResponse again = server.sync(work.amira_phone, {group});
    CHECK(again.acks == std::vector<WriteGroupId>{group.id});
    CHECK(again.rejections.empty());
    CHECK(server.inspect([](StorageTransaction& tx) { return tx.last_seq(); }) == last_seq);
  }
  SECTION("with a new group after it, which is accepted too") {
    const WriteGroup next = server.write(work.amira_phone, "visit", visit, work.case_a,
                                         {{"childs_views", text("likes school")}});
    const SyncResponse again = server.sync(work.amira_phone, {group, next});
    CHECK(again.acks == std::vector<WriteGroupId>{group.id, next.id});
    CHECK(server.inspect([](StorageTransaction& tx) { return tx.last_seq(); }) == last_seq + 1);
  }
  SECTION("with the author field filled in differently (the server sets it)") {
    WriteGroup relabelled = group;
    for (Change& change : relabelled.changes) change.author = "someone";
    CHECK(server.sync(work.amira_phone, {relabelled}).acks == std::vector<WriteGroupId>{group.id});
  }

  for (const Change& change : group.changes) {
    CHECK(history_size(server, visit, change.field) == 1);
  }
  const SyncResponse pulled = server.sync(work.amira_tablet);
  std::size_t visit_type_copies = 0;
  for (const Change& change : pulled.changes) visit_type_copies += change.field == "visit_type";
  CHECK(visit_type_copies == 1);
}

TEST_CASE("Sequence numbers reused with other content are refused as duplicate_mismatch",
          "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup group =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  REQUIRE(server.sync(work.amira_phone, {group}).acks.size() == 1);
  WriteGroup reused;

  SECTION("the same group with another value") {
    reused = group;
    reused.changes.back().value = text("rewritten");
  }
  SECTION("another group over the same range") {
    work.amira_phone.next_seq = group.changes.front().device_seq;
    reused = server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("other"));
  }
  SECTION("another group whose range overlaps the end of the accepted one") {
    work.amira_phone.next_seq = group.changes.back().device_seq;
    reused = server.write(work.amira_phone, "visit", visit, work.case_a,
                          {{"childs_views", text("a"), {}}, {"worker_analysis", text("b"), {}}});
  }
  SECTION("another group inside the accepted range") {
    work.amira_phone.next_seq = group.changes.front().device_seq + 1;
    reused = server.write(work.amira_phone, "visit", visit, work.case_a,
                          {{"childs_views", text("a"), {}}});
  }

  const SyncResponse answer = server.sync(work.amira_phone, {reused});
  CHECK(answer.acks.empty());
  REQUIRE(answer.rejections.size() == 1);
  const Rejection& rejection = answer.rejections[0];
  CHECK(rejection.write_group == reused.id);
  CHECK(rejection.code == RejectionCode::kDuplicateMismatch);
  CHECK(rejection.message.find("already accepted") != std::string::npos);
  CHECK(current(server, visit, "observations")->value == text("first"));
  CHECK(history_size(server, visit, "observations") == 1);
  CHECK(history_size(server, visit, "childs_views") == 0);
}

TEST_CASE("A resent rejected group gets the same rejection", "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  // Case B is bilal's: amira's device may not write to it.
  const WriteGroup group =
      server.write(work.amira_phone, "visit", visit, work.case_b, valid_visit("wrong child"));
  const SyncResponse first = server.sync(work.amira_phone, {group});
  REQUIRE(first.rejections.size() == 1);
  CHECK(first.rejections[0].code == RejectionCode::kScope);

  SECTION("right away") {}
  SECTION("even after the case was allocated to her in between") {
    server.allocate(work.case_b, "amira");
  }

  const SyncResponse again = server.sync(work.amira_phone, {group});
  CHECK(again.acks.empty());
  REQUIRE(again.rejections.size() == 1);
  CHECK(again.rejections[0] == first.rejections[0]);
  CHECK_FALSE(current(server, visit, "observations"));
}

TEST_CASE("A group stamped too far ahead is refused as clock_skew, re-stamped, it is accepted",
          "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const std::int64_t limit_ms = ServerOptions{}.reconciler.max_clock_ahead_ms;
  const RecordId visit = Uuid::random_v4();

  SECTION("far ahead, then re-stamped") {
    work.amira_phone.last_stamp =
        Hlc(static_cast<std::uint64_t>(server.clock.wall_ms() + 3'600'000), 0);
    const WriteGroup skewed =
        server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("from the future"));
    const SyncResponse refused = server.sync(work.amira_phone, {skewed});
    CHECK(refused.acks.empty());
    REQUIRE(refused.rejections.size() == 1);
    CHECK(refused.rejections[0].code == RejectionCode::kClockSkew);
    CHECK(refused.rejections[0].message.find("ahead") != std::string::npos);
    CHECK_FALSE(current(server, visit, "observations"));

    // What the client does: same group id and sequence numbers, stamps from the server's time.
    WriteGroup restamped = skewed;
    std::uint16_t counter = 0;
    for (Change& change : restamped.changes) {
      change.version.hlc = Hlc(static_cast<std::uint64_t>(refused.server_time_ms), counter++);
    }
    const SyncResponse accepted = server.sync(work.amira_phone, {restamped});
    CHECK(accepted.rejections.empty());
    CHECK(accepted.acks == std::vector<WriteGroupId>{skewed.id});
    const std::optional<Change> stored = current(server, visit, "observations");
    REQUIRE(stored);
    CHECK(stored->version == version_of(restamped, visit, "observations"));
  }
  SECTION("exactly at the bound it is accepted; a millisecond past, refused") {
    const auto at = [&](std::int64_t ahead_ms) {
      const RecordId record = Uuid::random_v4();
      WriteGroup group =
          server.write(work.amira_phone, "visit", record, work.case_a, valid_visit("edge"));
      std::uint16_t counter = 0;
      for (Change& change : group.changes) {
        change.version.hlc =
            Hlc(static_cast<std::uint64_t>(server.clock.wall_ms() + ahead_ms), counter++);
      }
      return server.sync(work.amira_phone, {group});
    };
    CHECK(at(limit_ms).acks.size() == 1);
    const SyncResponse past = at(limit_ms + 1);
    REQUIRE(past.rejections.size() == 1);
    CHECK(past.rejections[0].code == RejectionCode::kClockSkew);
  }
}
