// The domain API and the device's half of sync: visits, household visits, notes and amendments,
// recorded in error, validation, the outbox, acknowledgements, rejections, conflicts and purge.
#include <catch2/catch.hpp>

#include "fieldsync/error.h"
#include "fieldsync/sqlite_db.h"
#include "store_fixture.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using client::Casework;
using client::Store;

namespace {

auto error_is(ErrorCode code, std::string field) {
  return Catch::Predicate<Error>(
      [code, field](const Error& e) {
        return e.is(code) && std::string(e.what()).find(field) != std::string::npos;
      },
      "an error with the right code naming " + field);
}

// What the server would answer after accepting every queued group.
SyncResponse ack_everything(Store& store, std::int64_t server_time) {
  SyncResponse response;
  response.server_time_ms = server_time;
  for (const auto& entry : store.outbox()) response.acks.push_back(entry.group.id);
  return response;
}

}  // namespace

TEST_CASE("A visit is one write group, in the outbox with the same changes as the record",
          "[casework]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Jordan");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("garden"));

  const auto outbox = fixture.store->outbox();
  REQUIRE(outbox.size() == 1);
  const WriteGroup& group = outbox[0].group;
  CHECK(group.changes.size() == 5);
  const auto versions = fixture.store->field_versions(visit);
  for (const Change& change : group.changes) {
    CHECK(change.record_id == visit);
    CHECK(change.case_id == case_id);
    CHECK(change.write_group == group.id);
    CHECK(change.author == "amira");
    CHECK(change.version.origin == fixture.device);
    CHECK(change.base.empty());
    CHECK(versions.at(change.field) == change.version);
  }
  for (std::size_t i = 1; i < group.changes.size(); ++i) {
    CHECK(group.changes[i].device_seq == group.changes[i - 1].device_seq + 1);
  }
  CHECK(fixture.store->outbox_change_count() == 5);
}

TEST_CASE("Visit rules are checked before anything is written", "[casework][schema]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Jordan");
  Casework casework(*fixture.store);

  client::Fields contradictory = seen_alone_visit("x");
  contradictory["child_seen"] = Value::boolean(false);
  contradictory["reason_not_seen"] = Value::text("child_not_home");
  CHECK_THROWS_MATCHES(casework.record_visit(case_id, contradictory), Error,
                       error_is(ErrorCode::kValidation, "seen_alone"));

  client::Fields no_reason = seen_alone_visit("x");
  no_reason["seen_alone"] = Value::boolean(false);
  CHECK_THROWS_MATCHES(casework.record_visit(case_id, no_reason), Error,
                       error_is(ErrorCode::kValidation, "reason_not_seen_alone"));

  CHECK(fixture.store->outbox().empty());
  CHECK(casework.visits(case_id).empty());
}

TEST_CASE("A household visit links one visit per child in one write group", "[casework]") {
  StoreFixture fixture;
  const CaseId older = fixture.receive_case("Ava");
  const CaseId younger = fixture.receive_case("Ben");
  Casework casework(*fixture.store);
  client::Fields shared = {{"visit_type", Value::text("statutory_child_in_need")},
                           {"actual_start", Value::timestamp(Timestamp{1'709'285'400'000})},
                           {"people_present", Value::text("Mother (parent)")}};
  const auto ids = casework.record_household_visit(
      shared, {{older,
                {{"child_seen", Value::boolean(true)}, {"seen_alone", Value::boolean(true)}}},
               {younger,
                {{"child_seen", Value::boolean(true)},
                 {"seen_alone", Value::boolean(false)},
                 {"reason_not_seen_alone", Value::text("child_too_young")}}}});
  REQUIRE(ids.size() == 2);
  const Record first = casework.visits(older).at(0);
  const Record second = casework.visits(younger).at(0);
  CHECK(*first.get("household_visit_id") == *second.get("household_visit_id"));
  CHECK(first.get("seen_alone")->as_bool());
  CHECK_FALSE(second.get("seen_alone")->as_bool());
  const auto outbox = fixture.store->outbox();
  REQUIRE(outbox.size() == 1);  // one group, even though it spans two cases
  CHECK(outbox[0].group.changes.size() == 13);  // 6 + 7 fields, household id included
}

TEST_CASE("Notes are drafted, submitted, frozen and amended", "[casework]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Cara");
  Casework casework(*fixture.store);
  const RecordId note = casework.write_note(
      case_id, {{"content", Value::text("Mother says school is going well")},
                {"note_type", Value::text("case_note")}});
  casework.edit_note(note, {{"content", Value::text("Mother says school is going well; Cara agrees")}});
  casework.submit_note(note);
  CHECK_THROWS_MATCHES(casework.edit_note(note, {{"content", Value::text("rewritten")}}), Error,
                       error_is(ErrorCode::kFrozen, "content"));
  CHECK_THROWS_MATCHES(casework.edit_note(note, {{"status", Value::text("draft")}}), Error,
                       error_is(ErrorCode::kFrozen, "status"));

  const RecordId amendment = casework.amend_note(note, "Cara did not agree", "misheard at visit");
  const auto notes = casework.notes(case_id);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].id == note);  // the original stays readable
  CHECK(notes[0].get("content")->as_text() == "Mother says school is going well; Cara agrees");
  CHECK(notes[1].id == amendment);
  CHECK(notes[1].get("amends")->as_text() == note.to_string());
  CHECK(notes[1].get("amendment_reason")->as_text() == "misheard at visit");
  CHECK(notes[1].get("status")->as_text() == "submitted");
  CHECK(notes[1].get("note_type")->as_text() == "case_note");

  const RecordId draft = casework.write_note(case_id, {{"content", Value::text("draft")}});
  CHECK_THROWS_AS(casework.amend_note(draft, "x", "y"), Error);
}

TEST_CASE("A record recorded in error is hidden but kept", "[casework]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Dev");
  Casework casework(*fixture.store);
  const RecordId wrong = casework.record_visit(case_id, seen_alone_visit("wrong child"));
  casework.record_visit(case_id, seen_alone_visit("right child"));
  CHECK_THROWS_MATCHES(
      fixture.store->write_record(
          {"visit", wrong, case_id, {{"recorded_in_error", Value::boolean(true)}}}),
      Error, error_is(ErrorCode::kValidation, "recorded_in_error_reason"));
  casework.mark_recorded_in_error(wrong, "filed on sibling's case");
  CHECK(casework.visits(case_id).size() == 1);
  const auto all = casework.visits(case_id, /*include_in_error=*/true);
  REQUIRE(all.size() == 2);
  CHECK(fixture.store->record(wrong)->get("recorded_in_error_reason")->as_text() ==
        "filed on sibling's case");
}

TEST_CASE("A record's case and collection never change", "[casework]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Eli");
  const CaseId other = fixture.receive_case("Fay");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("x"));
  CHECK_THROWS_AS(fixture.store->write_record({"visit", visit, other, {{"observations", Value::text("y")}}}),
                  Error);
  CHECK_THROWS_AS(fixture.store->write_record({"note", visit, case_id, {{"content", Value::text("y")}}}),
                  Error);
}

TEST_CASE("Visits are listed in event-time order", "[casework]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Gus");
  Casework casework(*fixture.store);
  client::Fields later = seen_alone_visit("later");
  later["actual_start"] = Value::timestamp(Timestamp{1'709'400'000'000});
  client::Fields earlier = seen_alone_visit("earlier");
  earlier["actual_start"] = Value::timestamp(Timestamp{1'709'100'000'000});
  casework.record_visit(case_id, later);  // typed up first
  casework.record_visit(case_id, earlier);
  const auto visits = casework.visits(case_id);
  REQUIRE(visits.size() == 2);
  CHECK(visits[0].get("observations")->as_text() == "earlier");
}

TEST_CASE("Acknowledged groups leave the outbox, the cursor and check-in are kept", "[sync]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Hal");
  Casework casework(*fixture.store);
  casework.record_visit(case_id, seen_alone_visit("one"));
  casework.record_visit(case_id, seen_alone_visit("two"));
  const SyncRequest request = fixture.store->prepare_sync(7, {});
  CHECK(request.write_groups.size() == 1);  // whole groups, up to the cap
  CHECK(request.telemetry.pending_count == 10);

  SyncResponse response;
  response.acks = {request.write_groups[0].id};
  response.next_cursor = "cursor-1";
  response.server_time_ms = fixture.clock.wall_ms();
  const auto applied = fixture.store->apply_sync(response);
  CHECK(applied.acked_groups == 1);
  CHECK(fixture.store->outbox().size() == 1);
  CHECK(fixture.store->prepare_sync(100, {}).cursor == "cursor-1");
}

TEST_CASE("A pulled change that overrides an unsynced local edit queues a conflict at once",
          "[sync][conflict]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Ivy");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("mine"));
  const Version mine = fixture.store->field_versions(visit).at("observations");

  SyncResponse response;
  response.server_time_ms = fixture.clock.wall_ms();
  Change theirs = server_change("visit", visit, case_id, "observations",
                                Value::text("theirs"), mine.hlc.successor());
  theirs.version.origin = Uuid::random_v4();
  theirs.author = "ben";
  response.changes = {theirs};
  const auto applied = fixture.store->apply_sync(response);
  CHECK(applied.conflicts_queued == 1);
  CHECK(fixture.store->record(visit)->get("observations")->as_text() == "theirs");
  const auto conflicts = fixture.store->conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].local_edit);
  CHECK(conflicts[0].conflict.lost.value == Value::text("mine"));
  CHECK(conflicts[0].conflict.lost.author == "amira");
  CHECK(conflicts[0].conflict.winner.value == Value::text("theirs"));
  CHECK(conflicts[0].conflict.winner.author == "ben");

  SECTION("restoring the lost value names both versions in its base") {
    fixture.store->resolve_conflict(mine, Store::Resolve::kRestoreLost);
    CHECK(fixture.store->conflicts().empty());
    CHECK(fixture.store->record(visit)->get("observations")->as_text() == "mine");
    const auto outbox = fixture.store->outbox();
    const Change& resolution = outbox.back().group.changes.at(0);
    CHECK(resolution.field == "observations");
    CHECK(resolution.base == VersionSet{mine, theirs.version});
  }
  SECTION("keeping the current value also clears it") {
    fixture.store->resolve_conflict(mine, Store::Resolve::kKeepCurrent);
    CHECK(fixture.store->conflicts().empty());
    CHECK(fixture.store->record(visit)->get("observations")->as_text() == "theirs");
    CHECK(fixture.store->outbox().back().group.changes.at(0).base ==
          VersionSet{mine, theirs.version});
  }
  SECTION("an acknowledged edit is not queued again: the server's log reports it") {
    fixture.store->apply_sync(ack_everything(*fixture.store, fixture.clock.wall_ms()));
    Change later = theirs;
    later.version.hlc = theirs.version.hlc.successor().successor();
    later.value = Value::text("later");
    later.base = VersionSet{theirs.version};
    response.changes = {later};
    CHECK(fixture.store->apply_sync(response).conflicts_queued == 0);
  }
  SECTION("a resolution from the server removes the conflict") {
    response.changes.clear();
    response.resolutions = {{visit, "observations", mine, Version{Hlc(1, 0), kServerOrigin}}};
    fixture.store->apply_sync(response);
    CHECK(fixture.store->conflicts().empty());
  }
}

TEST_CASE("A pulled change that saw the local edit is no conflict, a losing one changes nothing",
          "[sync][conflict]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Jay");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("mine"));
  const Version mine = fixture.store->field_versions(visit).at("observations");

  SyncResponse response;
  Change edit = server_change("visit", visit, case_id, "observations", Value::text("edited"),
                              mine.hlc.successor(), VersionSet{mine});
  Change stale = server_change("visit", visit, case_id, "childs_views", Value::text("old"),
                               Hlc(1, 0));
  response.changes = {edit, stale};
  const auto applied = fixture.store->apply_sync(response);
  CHECK(applied.conflicts_queued == 0);
  CHECK(fixture.store->record(visit)->get("observations")->as_text() == "edited");
  CHECK(fixture.store->record(visit)->get("childs_views")->as_text() == "old");

  Change older = server_change("visit", visit, case_id, "observations", Value::text("older"),
                               Hlc(2, 0));
  response.changes = {older};
  fixture.store->apply_sync(response);
  CHECK(fixture.store->record(visit)->get("observations")->as_text() == "edited");
}

TEST_CASE("A rejection restores the server's values and keeps the group visible", "[sync]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Kai");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("accepted text"));
  fixture.store->apply_sync(ack_everything(*fixture.store, fixture.clock.wall_ms()));
  const Version accepted = fixture.store->field_versions(visit).at("observations");

  const WriteGroupId group = fixture.store->write_record(
      {"visit", visit, case_id,
       {{"observations", Value::text("rejected text")}, {"childs_views", Value::text("new")}}});
  SyncResponse response;
  Rejection rejection;
  rejection.write_group = group;
  rejection.code = RejectionCode::kScope;
  rejection.message = "case no longer allocated";
  Change server_value = server_change("visit", visit, case_id, "observations",
                                      Value::text("accepted text"), accepted.hlc);
  server_value.version = accepted;
  rejection.server_values = {server_value};
  response.rejections = {rejection};
  CHECK(fixture.store->apply_sync(response).rejected_groups == 1);

  const Record restored = *fixture.store->record(visit);
  CHECK(restored.get("observations")->as_text() == "accepted text");
  CHECK(restored.get("childs_views") == nullptr);  // the server never had it
  CHECK(fixture.store->outbox().empty());
  const auto rejected = fixture.store->rejections();
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].rejection.code == RejectionCode::kScope);
  CHECK(rejected[0].rejection.message == "case no longer allocated");
  CHECK(rejected[0].group.changes.size() == 2);
  fixture.store->dismiss_rejection(group);
  CHECK(fixture.store->rejections().empty());
}

TEST_CASE("A purge waits for the case's outbox, then shreds its key", "[sync][security]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  const CaseId leaving = fixture.receive_case("PURGED-CHILD");
  const CaseId staying = fixture.receive_case("Kept Child");
  Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(leaving, seen_alone_visit("PURGE-SENTINEL"));
  casework.record_visit(staying, seen_alone_visit("stays"));

  // The wrapped key of the leaving case and its visit's ciphertext, as stored.
  auto stored = [&](const char* sql, const Uuid& id) {
    sqlite::Database db(path, sqlite::Database::Mode::kReadOnly);
    auto select = db.prepare(sql);
    select.bind(1, id);
    REQUIRE(select.step());
    return select.column_bytes(0);
  };
  const Bytes wrapped_before = stored("SELECT wrapped_key FROM case_keys WHERE case_id = ?", leaving);
  const Bytes sealed_before = stored("SELECT sealed FROM records WHERE record_id = ?", visit);

  SyncResponse purge;
  purge.server_time_ms = fixture.clock.wall_ms();
  purge.directives = {{7, DirectiveKind::kPurgeCase, leaving, "transferred"}};
  fixture.store->apply_sync(purge);
  CHECK(fixture.store->record(visit).has_value());  // unsynced work is not thrown away
  CHECK(fixture.store->prepare_sync(100, {}).directive_acks.empty());

  SyncResponse acked = ack_everything(*fixture.store, fixture.clock.wall_ms());
  acked.directives = purge.directives;
  fixture.store->apply_sync(acked);
  CHECK_FALSE(fixture.store->record(visit).has_value());
  CHECK(fixture.store->prepare_sync(100, {}).directive_acks == std::vector<std::uint64_t>{7});
  CHECK(client::Casework(*fixture.store).visits(staying).size() == 1);

  const std::string raw = read_file(path) + read_file(path + "-wal");
  CHECK(raw.find(std::string(wrapped_before.begin(), wrapped_before.end())) == std::string::npos);
  CHECK(raw.find(std::string(sealed_before.begin(), sealed_before.end())) == std::string::npos);

  // A copy of the purged visit's ciphertext opens under no key the store still holds: planted
  // back under its own record id but in the remaining case, it fails authentication.
  const RecordId planted = visit;
  {
    sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
    auto insert = db.prepare(
        "INSERT INTO records(record_id, case_id, collection, sealed) VALUES (?, ?, 'visit', ?)");
    insert.bind(1, planted).bind(2, staying).bind_blob(3, sealed_before).run();
  }
  CHECK_THROWS_MATCHES(fixture.store->record(planted), Error,
                       Catch::Predicate<Error>([](const Error& e) { return e.is(ErrorCode::kIntegrity); }));
  {
    sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
    auto remove = db.prepare("DELETE FROM records WHERE record_id = ?");
    remove.bind(1, planted).run();
  }

  // The server stops repeating the directive once acknowledged: the ack is dropped.
  SyncResponse quiet;
  fixture.store->apply_sync(quiet);
  CHECK(fixture.store->prepare_sync(100, {}).directive_acks.empty());
}

TEST_CASE("A wipe directive destroys the store", "[sync][security]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  SyncResponse wipe;
  wipe.directives = {{1, DirectiveKind::kWipe, {}, "device reported lost"}};
  CHECK(fixture.store->apply_sync(wipe).wiped);
  CHECK(fixture.store->state() == client::StoreState::kWiped);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("A failed write leaves no phantom case key behind", "[casework][keys]") {
  StoreFixture fixture;
  const CaseId fresh_case = Uuid::random_v4();  // new to this device: its key is made on write
  const RecordId visit = fixture.store->new_record_id();
  const Store::RecordWrite write{"visit", visit, fresh_case, seen_alone_visit("kept")};
  CHECK_THROWS_AS(fixture.store->write_records({write, write}), Error);  // rolled back
  fixture.store->write_record(write);
  fixture.store->lock();  // the in-memory keys go; only what was stored remains
  REQUIRE(fixture.store->unlock(StoreFixture::kPasscode).outcome ==
          client::UnlockOutcome::kUnlocked);
  CHECK(fixture.store->record(visit)->get("observations")->as_text() == "kept");
  CHECK(fixture.store->outbox().size() == 1);
}

TEST_CASE("Retire wipes only once every queued group has reached the server", "[sync]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  const CaseId case_id = fixture.receive_case("Lou");
  Casework(*fixture.store).record_visit(case_id, seen_alone_visit("final work"));

  SyncResponse retire;
  retire.directives = {{3, DirectiveKind::kRetire, {}, "device retired"}};
  CHECK_FALSE(fixture.store->apply_sync(retire).wiped);  // the visit has not been pushed
  CHECK(fixture.store->record(fixture.store->outbox().at(0).group.changes.at(0).record_id));

  SyncResponse final_push = ack_everything(*fixture.store, fixture.clock.wall_ms());
  final_push.directives = retire.directives;
  CHECK(fixture.store->apply_sync(final_push).wiped);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("The caseload lists cases whose name has not arrived yet after the named ones",
          "[casework]") {
  StoreFixture fixture;
  std::vector<CaseId> unnamed;
  SyncResponse page;
  for (int i = 0; i < 40; ++i) {
    const CaseId case_id = Uuid::random_v4();
    const Hlc stamp(1'709'000'000'000 + static_cast<std::uint64_t>(i), 0);
    page.changes.push_back(
        server_change("case", case_id, case_id, "status", Value::text("open"), stamp));
    if (i % 3 == 0) {
      unnamed.push_back(case_id);
    } else {
      page.changes.push_back(server_change("case", case_id, case_id, "child_name",
                                           Value::text("Child " + std::to_string(40 - i)),
                                           stamp.successor()));
    }
  }
  fixture.store->apply_sync(page);
  const auto caseload = Casework(*fixture.store).caseload();
  REQUIRE(caseload.size() == 40);
  for (std::size_t i = 1; i < caseload.size(); ++i) {
    const Value* before = caseload[i - 1].get("child_name");
    const Value* after = caseload[i].get("child_name");
    if (before && after) CHECK(*before <= *after);
    CHECK_FALSE((!before && after));  // unnamed ones come last
  }
}
