// Push and pull through POST /v1/sync, in-process: who receives a pushed visit (the worker's other
// devices and her manager's, never another worker's), that a device never gets its own changes
// back, paging of pulls (every change exactly once, `more` set right), and cursors the server
// cannot use (empty, garbage, another epoch) that start the pull from scratch.
#include <catch2/catch.hpp>

#include <set>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

using FieldId = std::pair<RecordId, std::string>;

std::set<FieldId> fields_in(const WriteGroup& group) {
  std::set<FieldId> fields;
  for (const Change& change : group.changes) fields.insert({change.record_id, change.field});
  return fields;
}

}  // namespace

TEST_CASE(
    "A visit pushed by a worker's device reaches her other device and her manager's, not "
    "another worker's",
    "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  WriteGroup group =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("kitchen clean"));
  for (Change& change : group.changes) change.author = "mallory";  // the token decides, not this

  const SyncResponse pushed = server.sync(work.amira_phone, {group});
  REQUIRE(pushed.acks == std::vector<WriteGroupId>{group.id});
  CHECK(pushed.rejections.empty());
  CHECK_FALSE(mentions_record(pushed, visit));

  SECTION("her other device gets every field as pushed, authored by her") {
    const SyncResponse pulled = server.sync(work.amira_tablet);
    const auto fields = fields_of(pulled, visit);
    REQUIRE(fields.size() == group.changes.size());
    for (const Change& sent : group.changes) {
      const Change& got = fields.at(sent.field);
      CHECK(got.collection == "visit");
      CHECK(got.case_id == work.case_a);
      CHECK(got.value == sent.value);
      CHECK(got.version == sent.version);
      CHECK(got.author == "amira");
    }
    CHECK(pulled.changes.size() == group.changes.size());  // nothing else changed
  }
  SECTION("her manager's device gets it") {
    const SyncResponse pulled = server.sync(work.mona_phone);
    CHECK(fields_of(pulled, visit).size() == group.changes.size());
  }
  SECTION("another worker's device gets nothing of her case") {
    const SyncResponse pulled = server.sync(work.bilal_phone);
    CHECK_FALSE(mentions_record(pulled, visit));
    CHECK_FALSE(mentions_case(pulled, work.case_a));
  }
  SECTION("the device that pushed it does not get it back in a later sync either") {
    const SyncResponse later = server.sync(work.amira_phone);
    CHECK_FALSE(mentions_record(later, visit));
  }
  SECTION("a later edit from her other device reaches the phone") {
    server.sync(work.amira_tablet);
    const WriteGroup edit = server.write(work.amira_tablet, "visit", visit, work.case_a,
                                         {{"observations",
                                           text("kitchen clean, fridge empty"),
                                           {version_of(group, visit, "observations")}}});
    REQUIRE(server.sync(work.amira_tablet, {edit}).acks.size() == 1);
    const auto fields = fields_of(server.sync(work.amira_phone), visit);
    REQUIRE(fields.size() == 1);
    CHECK(fields.at("observations").value == text("kitchen clean, fridge empty"));
  }
}

TEST_CASE("A first sync downloads the current state of the user's cases and no others",
          "[server][reconcile][scope]") {
  ServerFixture server;
  Casework work(server);

  SECTION("a worker: her own cases") {
    TestDevice laptop = server.enrol("amira");
    const SyncResponse pulled = server.sync_all(laptop);
    const auto case_record = fields_of(pulled, work.case_a);
    CHECK(case_record.at("child_name").value == text("Ava"));
    CHECK(case_record.at("status").value == text("open"));
    CHECK(case_record.at("child_name").collection == "case");
    CHECK_FALSE(mentions_case(pulled, work.case_b));
  }
  SECTION("a manager: every case of her team") {
    TestDevice laptop = server.enrol("mona");
    const SyncResponse pulled = server.sync_all(laptop);
    CHECK(fields_of(pulled, work.case_a).at("child_name").value == text("Ava"));
    CHECK(fields_of(pulled, work.case_b).at("child_name").value == text("Ben"));
  }
  SECTION("another team's manager: none of them") {
    TestDevice laptop = server.enrol("sara");
    const SyncResponse pulled = server.sync_all(laptop);
    CHECK(pulled.changes.empty());
    CHECK_FALSE(pulled.next_cursor.empty());
  }
}

TEST_CASE("Pulls are paged: every change arrives exactly once and `more` says a page follows",
          "[server][reconcile]") {
  ServerOptions options;
  options.reconciler.page_changes = 3;
  ServerFixture server(options);
  server.create_team("north");
  server.create_user("amira", "north");
  const CaseId case_a = server.create_case("amira", "Ava");
  TestDevice phone = server.enrol("amira");
  server.sync_all(phone);

  std::set<FieldId> expected = {{case_a, "child_name"}, {case_a, "status"}};
  std::vector<WriteGroup> groups;
  std::vector<RecordId> visits;
  for (int i = 0; i < 4; ++i) {
    visits.push_back(Uuid::random_v4());
    groups.push_back(server.write(phone, "visit", visits.back(), case_a,
                                  valid_visit("visit " + std::to_string(i))));
    expected.merge(fields_in(groups.back()));
  }
  REQUIRE(server.sync(phone, groups).acks.size() == groups.size());
  REQUIRE(expected.size() == 22);

  TestDevice tablet = server.enrol("amira");
  std::map<FieldId, std::vector<Value>> received;
  std::vector<std::size_t> page_sizes;
  auto pull_page = [&] {
    const SyncResponse page = server.sync(tablet);
    page_sizes.push_back(page.changes.size());
    for (const Change& change : page.changes) {
      received[{change.record_id, change.field}].push_back(change.value);
    }
    return page.more;
  };

  SECTION("a quiet caseload: full pages while `more`, then the rest") {
    while (pull_page()) REQUIRE(page_sizes.size() < 50);
    CHECK(page_sizes == std::vector<std::size_t>{3, 3, 3, 3, 3, 3, 3, 1});
    std::set<FieldId> keys;
    for (const auto& [key, values] : received) {
      keys.insert(key);
      CHECK(values.size() == 1);
    }
    CHECK(keys == expected);
  }
  SECTION("edits made between pages arrive in a later page, once, with the new value") {
    REQUIRE(pull_page());
    REQUIRE(pull_page());
    // Visit 0's visit_type went out in the first two pages; its observations had not yet.
    REQUIRE(received.contains({visits[0], "visit_type"}));
    const WriteGroup edit = server.write(phone, "visit", visits[0], case_a,
                                         {{"visit_type",
                                           text("statutory_child_protection"),
                                           {version_of(groups[0], visits[0], "visit_type")}},
                                          {"observations",
                                           text("visit 0, revised"),
                                           {version_of(groups[0], visits[0], "observations")}}});
    REQUIRE(server.sync(phone, {edit}).acks.size() == 1);
    while (pull_page()) REQUIRE(page_sizes.size() < 50);

    CHECK(received.at({visits[0], "visit_type"}) ==
          std::vector<Value>{text("statutory_child_in_need"), text("statutory_child_protection")});
    CHECK(received.at({visits[0], "observations"}) == std::vector<Value>{text("visit 0, revised")});
    std::size_t total = 0;
    for (const auto& [key, values] : received) total += values.size();
    CHECK(total == expected.size() + 1);
  }

  const SyncResponse after = server.sync(tablet);
  CHECK(after.changes.empty());
  CHECK_FALSE(after.more);
}

TEST_CASE("A cursor the server cannot use starts the pull from scratch", "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  REQUIRE(server
              .sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                                    valid_visit("garden"))})
              .acks.size() == 1);
  server.sync_all(work.amira_tablet);
  REQUIRE(server.sync(work.amira_tablet).changes.empty());  // up to date

  SECTION("empty") {
    work.amira_tablet.cursor.clear();
  }
  SECTION("garbage") {
    work.amira_tablet.cursor = "not a cursor at all";
  }
  SECTION("truncated") {
    work.amira_tablet.cursor.resize(work.amira_tablet.cursor.size() / 2);
  }
  SECTION("from another epoch (a restored server)") {
    const std::optional<SyncCursor> cursor = decode_cursor(work.amira_tablet.cursor);
    REQUIRE(cursor);
    work.amira_tablet.cursor = encode_cursor({Uuid::random_v4(), cursor->position});
  }

  const SyncResponse again = server.sync_all(work.amira_tablet);
  CHECK(fields_of(again, work.case_a).at("child_name").value == text("Ava"));
  CHECK(fields_of(again, visit).size() == valid_visit("").size());
  CHECK_FALSE(mentions_case(again, work.case_b));
  const std::optional<SyncCursor> next = decode_cursor(again.next_cursor);
  REQUIRE(next);
  CHECK(next->epoch == server.inspect([](StorageTransaction& tx) { return tx.epoch(); }));
  CHECK(next->position == server.inspect([](StorageTransaction& tx) { return tx.last_seq(); }));
}
