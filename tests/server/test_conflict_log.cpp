// The conflict log (DESIGN.md section 3): two devices that edit the same field from the same
// prior version leave exactly one entry, for the lost value, with both values and authors; it
// reaches the devices of the people who own the case and nobody else; a change whose base names
// the winner and the lost version resolves it, and the resolution reaches the same devices.
#include <catch2/catch.hpp>

#include <tuple>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

// A visit on case A, then concurrent edits of its observations by amira (later stamp: she wins)
// and by her manager mona (earlier stamp: lost), both based on the visit as created.
struct ConcurrentEdits {
  explicit ConcurrentEdits(ServerFixture& fixture) : server(fixture), work(fixture) {
    created = server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
    REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
    for (TestDevice* device : {&work.amira_tablet, &work.mona_phone}) server.sync(*device);
    const Version seen = version_of(created, visit, "observations");
    server.clock.advance(1'000);
    mona_edit = server.write(work.mona_phone, "visit", visit, work.case_a,
                             {{"observations", text("mona's words"), {seen}}});
    server.clock.advance(1'000);
    amira_edit = server.write(work.amira_phone, "visit", visit, work.case_a,
                              {{"observations", text("amira's words"), {seen}}});
    lost = version_of(mona_edit, visit, "observations");
    winner = version_of(amira_edit, visit, "observations");
    REQUIRE(lost < winner);
  }

  std::vector<ConflictEntry> log_entries() {
    return server.inspect([&](StorageTransaction& tx) {
      return tx.field_conflicts({visit, "observations"});
    });
  }

  ServerFixture& server;
  Casework work;
  RecordId visit = Uuid::random_v4();
  WriteGroup created;
  WriteGroup mona_edit;
  WriteGroup amira_edit;
  Version lost;
  Version winner;
};

void check_is_the_conflict(const Conflict& conflict, const ConcurrentEdits& edits,
                           const std::string& winning_value, const Version& winning_version) {
  CHECK(conflict.collection == "visit");
  CHECK(conflict.record_id == edits.visit);
  CHECK(conflict.case_id == edits.work.case_a);
  CHECK(conflict.field == "observations");
  CHECK(conflict.lost.value == text("mona's words"));
  CHECK(conflict.lost.version == edits.lost);
  CHECK(conflict.lost.author == "mona");
  CHECK(conflict.winner.value == text(winning_value));
  CHECK(conflict.winner.version == winning_version);
  CHECK(conflict.winner.author == "amira");
}

}  // namespace

TEST_CASE("Concurrent edits of one field leave one conflict entry, sent to the case's people",
          "[server][reconcile]") {
  ServerFixture server;
  ConcurrentEdits edits(server);
  Casework& work = edits.work;
  std::map<std::string, std::vector<Conflict>> received;  // by device

  SECTION("the winner arrives first") {
    received["amira_phone"] = server.sync(work.amira_phone, {edits.amira_edit}).conflicts;
    received["mona_phone"] = server.sync(work.mona_phone, {edits.mona_edit}).conflicts;
  }
  SECTION("the lost change arrives first") {
    received["mona_phone"] = server.sync(work.mona_phone, {edits.mona_edit}).conflicts;
    received["amira_phone"] = server.sync(work.amira_phone, {edits.amira_edit}).conflicts;
  }
  SECTION("both are resent after they were accepted") {
    received["mona_phone"] = server.sync(work.mona_phone, {edits.mona_edit}).conflicts;
    received["amira_phone"] = server.sync(work.amira_phone, {edits.amira_edit}).conflicts;
    for (auto [name, device, group] :
         {std::tuple{"mona_phone", &work.mona_phone, &edits.mona_edit},
          std::tuple{"amira_phone", &work.amira_phone, &edits.amira_edit}}) {
      const SyncResponse resent = server.sync(*device, {*group});
      REQUIRE(resent.acks == std::vector<WriteGroupId>{group->id});
      received[name].insert(received[name].end(), resent.conflicts.begin(), resent.conflicts.end());
    }
  }

  const std::vector<ConflictEntry> entries = edits.log_entries();
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].lost == edits.lost);
  CHECK(entries[0].case_id == work.case_a);
  CHECK_FALSE(entries[0].resolved_by);
  for (const char* other : {"visit_type", "actual_start", "child_seen", "seen_alone"}) {
    CHECK(server
              .inspect([&](StorageTransaction& tx) {
                return tx.field_conflicts({edits.visit, other});
              })
              .empty());
  }
  const auto current = server.inspect([&](StorageTransaction& tx) {
    return tx.current_field({edits.visit, "observations"});
  });
  REQUIRE(current);
  CHECK(current->change.value == text("amira's words"));

  // Every device of amira's and mona's has the conflict once, whichever round trip brought it.
  for (auto [name, device] :
       {std::pair{"amira_phone", &work.amira_phone}, std::pair{"amira_tablet", &work.amira_tablet},
        std::pair{"mona_phone", &work.mona_phone}}) {
    INFO("device " << name);
    std::vector<Conflict>& conflicts = received[name];
    const SyncResponse later = server.sync(*device);
    conflicts.insert(conflicts.end(), later.conflicts.begin(), later.conflicts.end());
    REQUIRE(conflicts.size() == 1);
    check_is_the_conflict(conflicts[0], edits, "amira's words", edits.winner);
    CHECK(server.sync(*device).conflicts.empty());
  }
  CHECK(server.sync(work.bilal_phone).conflicts.empty());
}

TEST_CASE("A change whose base names the winner and the lost version resolves the conflict",
          "[server][reconcile]") {
  ServerFixture server;
  ConcurrentEdits edits(server);
  Casework& work = edits.work;
  server.sync(work.amira_phone, {edits.amira_edit});
  server.sync(work.mona_phone, {edits.mona_edit});
  REQUIRE(server.sync(work.amira_tablet).conflicts.size() == 1);

  SECTION("a resolution reaches the devices and the conflict is gone") {
    const WriteGroup resolution =
        server.write(work.amira_tablet, "visit", edits.visit, work.case_a,
                     {{"observations", text("both, merged"), {edits.winner, edits.lost}}});
    const Version resolved_by = version_of(resolution, edits.visit, "observations");
    REQUIRE(server.sync(work.amira_tablet, {resolution}).acks.size() == 1);

    const std::vector<ConflictEntry> entries = edits.log_entries();
    REQUIRE(entries.size() == 1);
    REQUIRE(entries[0].resolved_by);
    CHECK(*entries[0].resolved_by == resolved_by);

    for (TestDevice* device : {&work.amira_phone, &work.mona_phone}) {
      const SyncResponse pulled = server.sync(*device);
      CHECK(pulled.conflicts.empty());
      REQUIRE(pulled.resolutions.size() == 1);
      CHECK(pulled.resolutions[0] ==
            Resolution{edits.visit, "observations", edits.lost, resolved_by});
      CHECK(fields_of(pulled, edits.visit).at("observations").value == text("both, merged"));
    }
    CHECK(server.sync(work.bilal_phone).resolutions.empty());

    TestDevice laptop = server.enrol("amira");
    const SyncResponse fresh = server.sync_all(laptop);
    CHECK(fresh.conflicts.empty());
    CHECK(fields_of(fresh, edits.visit).at("observations").value == text("both, merged"));
  }
  SECTION(
      "an edit that saw only the winner leaves it open, and it is sent again with the new "
      "winner") {
    const WriteGroup later = server.write(work.amira_phone, "visit", edits.visit, work.case_a,
                                          {{"observations", text("amira, later"), {edits.winner}}});
    REQUIRE(server.sync(work.amira_phone, {later}).acks.size() == 1);

    const std::vector<ConflictEntry> entries = edits.log_entries();
    REQUIRE(entries.size() == 1);
    CHECK_FALSE(entries[0].resolved_by);
    const SyncResponse pulled = server.sync(work.mona_phone);
    CHECK(pulled.resolutions.empty());
    REQUIRE(pulled.conflicts.size() == 1);
    check_is_the_conflict(pulled.conflicts[0], edits, "amira, later",
                          version_of(later, edits.visit, "observations"));
  }
}
