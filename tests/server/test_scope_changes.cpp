// Scope changes (DESIGN.md sections 4 and 5): a case re-allocated to another worker leaves the old
// worker's devices through a purge directive (pushes for it still accepted until the device
// acknowledges; the directive repeated until then; nothing of the case afterwards), and reaches
// the new worker's devices whole even when they had synced before; a transfer to another team
// moves it from the old manager's devices to the new manager's.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

std::vector<Directive> purges_of(const SyncResponse& response, const CaseId& case_id) {
  std::vector<Directive> found;
  for (const Directive& directive : directives_of_kind(response, DirectiveKind::kPurgeCase)) {
    if (directive.case_id == case_id) found.push_back(directive);
  }
  return found;
}

std::uint64_t position_of(const TestDevice& device) {
  const std::optional<SyncCursor> cursor = decode_cursor(device.cursor);
  return cursor ? cursor->position : 0;
}

// Case A with a visit of amira's and an open conflict on its observations (mona's lost edit).
struct CaseWithHistory {
  explicit CaseWithHistory(ServerFixture& fixture) : server(fixture), work(fixture) {
    server.create_user("carla", "north");
    case_c = server.create_case("carla", "Cleo");
    carla_phone = server.enrol("carla");
    server.sync_all(carla_phone);
    created = server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
    REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
    server.sync(work.mona_phone);
    const Version seen = version_of(created, visit, "observations");
    const WriteGroup mona_edit = server.write(work.mona_phone, "visit", visit, work.case_a,
                                              {{"observations", text("mona's"), {seen}}});
    server.clock.advance(1'000);
    const WriteGroup amira_edit = server.write(work.amira_phone, "visit", visit, work.case_a,
                                               {{"observations", text("amira's"), {seen}}});
    REQUIRE(server.sync(work.amira_phone, {amira_edit}).acks.size() == 1);
    REQUIRE(server.sync(work.mona_phone, {mona_edit}).conflicts.size() == 1);
    server.sync(work.amira_phone);
    server.sync(work.amira_tablet);
  }

  ServerFixture& server;
  Casework work;
  CaseId case_c;
  TestDevice carla_phone;
  RecordId visit = Uuid::random_v4();
  WriteGroup created;
};

}  // namespace

TEST_CASE("A case re-allocated to another worker is purged from the old worker's devices",
          "[server][scope]") {
  ServerFixture server;
  CaseWithHistory history(server);
  Casework& work = history.work;
  server.allocate(work.case_a, "carla");

  // The phone still had an edit of the case in its outbox: accepted, and the purge is out.
  const WriteGroup last_edit = server.write(work.amira_phone, "visit", history.visit, work.case_a,
                                            {{"childs_views", text("wants to stay at school")}});
  const SyncResponse first = server.sync(work.amira_phone, {last_edit});
  CHECK(first.acks == std::vector<WriteGroupId>{last_edit.id});
  const std::vector<Directive> purge = purges_of(first, work.case_a);
  REQUIRE(purge.size() == 1);
  CHECK_FALSE(mentions_case(first, work.case_a));

  SECTION("the directive is repeated until acknowledged; pushes meanwhile are still accepted") {
    const WriteGroup another = server.write(work.amira_phone, "visit", history.visit, work.case_a,
                                            {{"worker_analysis", text("handover note")}});
    const SyncResponse second = server.sync(work.amira_phone, {another});
    CHECK(second.acks == std::vector<WriteGroupId>{another.id});
    CHECK(purges_of(second, work.case_a) == purge);
    CHECK(purges_of(server.sync(work.amira_phone), work.case_a) == purge);
  }
  SECTION("once acknowledged: no directive, no pushes, no changes of the case") {
    const SyncResponse acked = server.sync(work.amira_phone, {}, {purge[0].id});
    CHECK(acked.directives.empty());

    const WriteGroup too_late = server.write(work.amira_phone, "visit", history.visit, work.case_a,
                                             {{"worker_analysis", text("too late")}});
    const SyncResponse refused = server.sync(work.amira_phone, {too_late});
    CHECK(refused.acks.empty());
    REQUIRE(refused.rejections.size() == 1);
    CHECK(refused.rejections[0].code == RejectionCode::kScope);

    server.sync_all(history.carla_phone);
    const WriteGroup carla_edit =
        server.write(history.carla_phone, "visit", history.visit, work.case_a,
                     {{"worker_analysis", text("carla's analysis")}});
    REQUIRE(server.sync(history.carla_phone, {carla_edit}).acks.size() == 1);
    const SyncResponse after = server.sync(work.amira_phone);
    CHECK_FALSE(mentions_case(after, work.case_a));
    CHECK(after.directives.empty());
  }
  SECTION("her other device gets its own purge directive, and cannot acknowledge the phone's") {
    const SyncResponse tablet = server.sync(work.amira_tablet, {}, {purge[0].id});
    const std::vector<Directive> tablet_purge = purges_of(tablet, work.case_a);
    REQUIRE(tablet_purge.size() == 1);
    CHECK(tablet_purge[0].id != purge[0].id);
    CHECK(purges_of(server.sync(work.amira_phone), work.case_a) == purge);
  }
  SECTION("her manager keeps the case: same team") {
    CHECK(purges_of(server.sync(work.mona_phone), work.case_a).empty());
    const SyncResponse pulled = server.sync(work.mona_phone);
    CHECK(pulled.directives.empty());
  }
}

TEST_CASE("A case newly allocated to a device that synced before arrives whole",
          "[server][scope]") {
  ServerFixture server;
  CaseWithHistory history(server);
  Casework& work = history.work;
  REQUIRE(position_of(history.carla_phone) > 0);
  server.allocate(work.case_a, "carla");

  const SyncResponse pulled = server.sync_all(history.carla_phone);
  const auto case_record = fields_of(pulled, work.case_a);
  CHECK(case_record.at("child_name").value == text("Ava"));
  CHECK(case_record.at("status").value == text("open"));
  const auto visit = fields_of(pulled, history.visit);
  CHECK(visit.size() == history.created.changes.size());
  CHECK(visit.at("observations").value == text("amira's"));
  CHECK(visit.at("visit_type").value == text("statutory_child_in_need"));
  // The case's open conflict comes with it.
  REQUIRE(pulled.conflicts.size() == 1);
  CHECK(pulled.conflicts[0].lost.value == text("mona's"));
  CHECK(pulled.conflicts[0].winner.value == text("amira's"));
  CHECK_FALSE(mentions_case(pulled, work.case_b));

  // Whole once: the next syncs bring only what changes.
  CHECK(server.sync(history.carla_phone).changes.empty());
  const WriteGroup edit = server.write(work.mona_phone, "visit", history.visit, work.case_a,
                                       {{"childs_views", text("misses her friends")}});
  REQUIRE(server.sync(work.mona_phone, {edit}).acks.size() == 1);
  const SyncResponse next = server.sync(history.carla_phone);
  REQUIRE(next.changes.size() == 1);
  CHECK(next.changes[0].value == text("misses her friends"));
}

TEST_CASE("A case moved to another team leaves the old manager's devices and reaches the new one's",
          "[server][scope]") {
  ServerFixture server;
  CaseWithHistory history(server);
  Casework& work = history.work;
  TestDevice sara_phone = server.enrol("sara");
  TestDevice dan_phone = server.enrol("dan");
  server.create_case("dan", "Dora");
  for (TestDevice* device : {&sara_phone, &dan_phone}) {
    server.sync_all(*device);
    REQUIRE(position_of(*device) > 0);
  }

  server.allocate(work.case_a, "dan");

  const SyncResponse mona = server.sync(work.mona_phone);
  REQUIRE(purges_of(mona, work.case_a).size() == 1);
  CHECK(purges_of(mona, work.case_b).empty());
  CHECK(purges_of(server.sync(work.amira_phone), work.case_a).size() == 1);

  for (TestDevice* device : {&sara_phone, &dan_phone}) {
    INFO("device of " << device->user_id);
    const SyncResponse pulled = server.sync_all(*device);
    CHECK(fields_of(pulled, work.case_a).at("child_name").value == text("Ava"));
    CHECK(fields_of(pulled, history.visit).size() == history.created.changes.size());
    CHECK(pulled.directives.empty());
  }
  const auto allocation =
      server.inspect([&](StorageTransaction& tx) { return tx.allocation(work.case_a); });
  REQUIRE(allocation);
  CHECK(allocation->team_id == "south");
  CHECK(allocation->worker_id == "dan");
}

TEST_CASE("Several cases allocated at once are backfilled a case at a time within the page size",
          "[server][scope]") {
  ServerOptions options;
  options.reconciler.page_changes = 3;
  ServerFixture server(options);
  server.create_team("north");
  server.create_user("amira", "north");
  server.create_user("carla", "north");
  // Ids in a known order, because backfill goes by case id: A (7 fields) before B (2).
  const CaseId case_a = *Uuid::parse("00000000-0000-4000-8000-00000000000a");
  const CaseId case_b = *Uuid::parse("00000000-0000-4000-8000-00000000000b");
  for (const auto& [case_id, child] : {std::pair{case_a, "Ava"}, std::pair{case_b, "Ben"}}) {
    server.admin("POST", "/v1/admin/cases",
                 {{"case_id", case_id.to_string()},
                  {"user_id", "amira"},
                  {"fields", {{"child_name", child}}}});
  }
  server.create_case("carla", "Cleo");
  TestDevice amira_phone = server.enrol("amira");
  server.sync_all(amira_phone);
  const RecordId visit = Uuid::random_v4();
  REQUIRE(
      server
          .sync(amira_phone, {server.write(amira_phone, "visit", visit, case_a, valid_visit("x"))})
          .acks.size() == 1);
  TestDevice carla_phone = server.enrol("carla");
  server.sync_all(carla_phone);
  REQUIRE(position_of(carla_phone) > 0);

  server.allocate(case_a, "carla");
  server.allocate(case_b, "carla");
  std::map<std::pair<RecordId, std::string>, int> received;
  const auto pull = [&] {
    const SyncResponse page = server.sync(carla_phone);
    for (const Change& change : page.changes) ++received[{change.record_id, change.field}];
    return page.more;
  };

  // The first round fills the page with case A whole (a case is never split), so B waits.
  CHECK(pull());
  CHECK(received.size() == 2 + valid_visit("").size());
  // Meanwhile amira, still holding case A until she acknowledges the purge, edits it.
  REQUIRE(server
              .sync(amira_phone, {server.write(amira_phone, "visit", visit, case_a,
                                               {{"childs_views", text("likes football")}})})
              .acks.size() == 1);
  while (pull()) REQUIRE(received.size() < 100);

  CHECK(received.size() == 2 + valid_visit("").size() + 1 + 2);
  for (const auto& [field, copies] : received) {
    INFO(field.second);
    CHECK(copies == 1);
  }
  CHECK(received.contains({case_b, "child_name"}));
  CHECK(received.contains({visit, "childs_views"}));
}
