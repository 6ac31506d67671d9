// A server restored from a backup (DESIGN.md section 4): a device whose cursor carries the old
// epoch is told to send back what it holds (a repush directive, repeated until acknowledged), and
// the restored groups it then sends go through the usual checks and the usual merge: what the
// backup lacked is accepted with its original versions and sequence numbers, what it held is
// skipped, a resend is acknowledged, and a group that is no restoration (another device's stamps,
// a known version with other content, numbers of another group) is refused. Also backups and
// restores themselves: the data they hold, the new epoch, and the refusal to restore under a
// running server.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "fieldsync/error.h"
#include "fieldsync/merge_rule.h"
#include "fieldsync/sqlite_db.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

std::uint64_t last_seq(ServerFixture& server) {
  return server.inspect([](StorageTransaction& tx) { return tx.last_seq(); });
}

std::vector<StoredChange> history_of(ServerFixture& server, const RecordId& record,
                                     const std::string& field) {
  return server.inspect([&](StorageTransaction& tx) { return tx.field_history({record, field}); });
}

WriteGroup as_restored(WriteGroup group) {
  group.restored = true;
  return group;
}

// The device's first syncs after the restore, as the client makes them: a full resync, and the
// repush directive acknowledged.
void resync(ServerFixture& server, TestDevice& device) {
  const SyncResponse first = server.sync_all(device);
  const std::vector<Directive> repush = directives_of_kind(first, DirectiveKind::kRepush);
  REQUIRE(repush.size() == 1);
  server.sync(device, {}, {repush.front().id});
}

const Rejection& only_rejection(const SyncResponse& answer, const WriteGroup& group) {
  CHECK(answer.acks.empty());
  REQUIRE(answer.rejections.size() == 1);
  CHECK(answer.rejections.front().write_group == group.id);
  return answer.rejections.front();
}

}  // namespace

TEST_CASE("A server restored from a backup asks each device to send back what it holds",
          "[server][restore]") {
  ServerFixture server;
  Casework work(server);
  const std::string backup = server.backup("before.db");
  const Uuid old_epoch = server.inspect([](StorageTransaction& tx) { return tx.epoch(); });
  const OriginId old_origin =
      server.inspect([](StorageTransaction& tx) { return tx.server_origin(); });
  const RecordId visit = Uuid::random_v4();
  const WriteGroup lost =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("after the backup"));
  REQUIRE(server.sync(work.amira_phone, {lost}).acks == std::vector<WriteGroupId>{lost.id});

  server.restore(backup);
  CHECK(history_of(server, visit, "observations").empty());
  CHECK(server.inspect([](StorageTransaction& tx) { return tx.epoch(); }) != old_epoch);
  // The server's own stamps from now on cannot equal one of the timeline the restore undid.
  CHECK(server.inspect([](StorageTransaction& tx) { return tx.server_origin(); }) != old_origin);

  SECTION("a cursor of the old epoch gets a repush directive, repeated until acknowledged") {
    // What that request pushes waits (neither acknowledged nor refused): it may build on a group
    // the restore undid, which comes back first.
    const WriteGroup waiting = server.write(work.amira_phone, "visit", visit, work.case_a,
                                            {{"childs_views", text("likes school")}});
    const SyncResponse first = server.sync(work.amira_phone, {waiting});
    CHECK(first.acks.empty());
    CHECK(first.rejections.empty());
    const std::vector<Directive> repush = directives_of_kind(first, DirectiveKind::kRepush);
    REQUIRE(repush.size() == 1);
    CHECK(mentions_case(first, work.case_a));  // and a full resync
    CHECK(directive_ids(server.sync(work.amira_phone)) == directive_ids(first));
    CHECK(directives_of_kind(server.sync(work.amira_phone, {}, {repush[0].id}),
                             DirectiveKind::kRepush)
              .empty());
    CHECK(directives_of_kind(server.sync(work.amira_phone), DirectiveKind::kRepush).empty());
  }
  SECTION("a device syncing for the first time gets none") {
    TestDevice fresh = server.enrol("amira");
    CHECK(directives_of_kind(server.sync(fresh), DirectiveKind::kRepush).empty());
  }
  SECTION("a restored group is merged as first accepted, and a resend is acknowledged") {
    resync(server, work.amira_phone);
    const WriteGroup restored = as_restored(lost);
    const SyncResponse answer = server.sync(work.amira_phone, {restored});
    CHECK(answer.acks == std::vector<WriteGroupId>{lost.id});
    CHECK(answer.rejections.empty());
    for (const Change& sent : lost.changes) {
      const std::vector<StoredChange> history = history_of(server, visit, sent.field);
      REQUIRE(history.size() == 1);
      const Change& held = history.front().change;
      CHECK(held.version == sent.version);
      CHECK(held.value == sent.value);
      CHECK(held.device_seq == sent.device_seq);
      CHECK(held.write_group == lost.id);
      CHECK(held.author == "amira");
    }
    const std::uint64_t after = last_seq(server);
    CHECK(server.sync(work.amira_phone, {restored}).acks == std::vector<WriteGroupId>{lost.id});
    CHECK(last_seq(server) == after);
    // The others get it with their full resync.
    const auto pulled = fields_of(server.sync_all(work.mona_phone), visit);
    REQUIRE(pulled.contains("observations"));
    CHECK(pulled.at("observations").value == text("after the backup"));
  }
}

TEST_CASE("A restored group is checked like any other, and merged without duplicates",
          "[server][restore]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup kept =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("before the backup"));
  REQUIRE(server.sync(work.amira_phone, {kept}).acks.size() == 1);
  const std::string backup = server.backup("after-kept.db");
  const Version kept_observations = version_of(kept, visit, "observations");
  const WriteGroup edit =
      server.write(work.amira_phone, "visit", visit, work.case_a,
                   {{"observations", text("after the backup"), {kept_observations}}});
  REQUIRE(server.sync(work.amira_phone, {edit}).acks.size() == 1);
  server.restore(backup);
  resync(server, work.amira_phone);
  resync(server, work.amira_tablet);
  const std::uint64_t restored_last = last_seq(server);

  SECTION("a group the backup holds, whole or in part, is acknowledged and adds nothing") {
    WriteGroup part = as_restored(kept);
    part.changes.erase(part.changes.begin());  // a field the device has overwritten since
    CHECK(server.sync(work.amira_phone, {part}).acks == std::vector<WriteGroupId>{kept.id});
    CHECK(server.sync(work.amira_phone, {as_restored(kept)}).acks ==
          std::vector<WriteGroupId>{kept.id});
    CHECK(last_seq(server) == restored_last);
    CHECK(history_of(server, visit, "observations").size() == 1);
  }
  SECTION("a group stamped by another device is refused: a device vouches only for its own") {
    const SyncResponse answer = server.sync(work.amira_tablet, {as_restored(edit)});
    CHECK(only_rejection(answer, edit).code == RejectionCode::kScope);
    CHECK(last_seq(server) == restored_last);
  }
  SECTION("a group giving a known version other content is refused") {
    WriteGroup altered = as_restored(kept);
    altered.changes.back().value = text("rewritten");
    const Rejection& refusal = only_rejection(server.sync(work.amira_phone, {altered}), kept);
    CHECK(refusal.code == RejectionCode::kDuplicateMismatch);
    CHECK(refusal.highest_accepted_seq == 0);  // not a reuse of numbers: renumbering won't help
    CHECK(last_seq(server) == restored_last);
  }
  SECTION("a group accepted whole before cannot come back with a change it did not have") {
    WriteGroup grown = as_restored(kept);
    Change& extra = grown.changes.back();
    extra.field = "childs_views";
    extra.version = {server.stamp(work.amira_phone), work.amira_phone.id};
    const Rejection& refusal = only_rejection(server.sync(work.amira_phone, {grown}), kept);
    CHECK(refusal.code == RejectionCode::kDuplicateMismatch);
    CHECK(refusal.highest_accepted_seq == kept.changes.back().device_seq);
    CHECK(history_of(server, visit, "childs_views").empty());
  }
  SECTION("a group numbered within another group's numbers is refused as a reuse") {
    WriteGroup other = as_restored(edit);
    other.changes.front().device_seq = kept.changes.front().device_seq;
    const Rejection& refusal = only_rejection(server.sync(work.amira_phone, {other}), edit);
    CHECK(refusal.code == RejectionCode::kDuplicateMismatch);
    CHECK(refusal.highest_accepted_seq == kept.changes.back().device_seq);
  }
  SECTION("a group stamped ahead of the server's clock is refused like any other") {
    WriteGroup ahead = as_restored(edit);
    ahead.changes.front().version.hlc = Hlc(static_cast<std::uint64_t>(kStartMs) + 86'400'000, 0);
    CHECK(only_rejection(server.sync(work.amira_phone, {ahead}), edit).code ==
          RejectionCode::kClockSkew);
  }
  SECTION("a restored change overwritten meanwhile by someone who never saw it is a conflict") {
    // After the restore the tablet, which saw only the backup's value, edits the same field.
    server.clock.advance(60'000);
    const WriteGroup tablet =
        server.write(work.amira_tablet, "visit", visit, work.case_a,
                     {{"observations", text("from the tablet"), {kept_observations}}});
    REQUIRE(server.sync(work.amira_tablet, {tablet}).acks.size() == 1);
    REQUIRE(server.sync(work.amira_phone, {as_restored(edit)}).acks.size() == 1);

    std::vector<Change> history;
    for (StoredChange& stored : history_of(server, visit, "observations"))
      history.push_back(std::move(stored.change));
    REQUIRE(history.size() == 3);
    REQUIRE(lost_changes(history).size() == 1);
    CHECK(lost_changes(history).front()->version == version_of(edit, visit, "observations"));
    const std::vector<ConflictEntry> entries = server.inspect([&](StorageTransaction& tx) {
      return tx.field_conflicts({visit, "observations"});
    });
    REQUIRE(entries.size() == 1);
    CHECK(entries.front().lost == version_of(edit, visit, "observations"));
    CHECK_FALSE(entries.front().resolved_by);
    const SyncResponse mona = server.sync_all(work.mona_phone);
    REQUIRE(mona.conflicts.size() == 1);
    CHECK(mona.conflicts.front().lost.value == text("after the backup"));
    CHECK(mona.conflicts.front().winner.value == text("from the tablet"));
  }
}

TEST_CASE("A refusal for reused sequence numbers says the highest number accepted",
          "[server][restore]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup first =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  const WriteGroup second = server.write(work.amira_phone, "visit", visit, work.case_a,
                                         {{"childs_views", text("likes school")}});
  REQUIRE(server.sync(work.amira_phone, {first, second}).acks.size() == 2);
  // The phone is restored from a backup taken before `second`: its next group reuses its numbers.
  work.amira_phone.next_seq = second.changes.front().device_seq;
  const WriteGroup reuse = server.write(work.amira_phone, "visit", visit, work.case_a,
                                        {{"worker_analysis", text("after the restore")}});
  const Rejection& refusal = only_rejection(server.sync(work.amira_phone, {reuse}), reuse);
  CHECK(refusal.code == RejectionCode::kDuplicateMismatch);
  CHECK(refusal.highest_accepted_seq == second.changes.back().device_seq);
  CHECK(server.log_text.str().find("sequence_reused") != std::string::npos);

  // Numbered after it, the same content is accepted.
  WriteGroup renumbered = reuse;
  renumbered.changes.front().device_seq = refusal.highest_accepted_seq + 1;
  CHECK(server.sync(work.amira_phone, {renumbered}).acks == std::vector<WriteGroupId>{reuse.id});
}

// SQLite only: the backup file, its restore and the data directory's lock are the SQLite
// backend's (PostgreSQL is backed up and restored with its own tools, then `admin new-epoch`).
TEST_CASE("Backups hold the data as it was, a restore refuses to run under an open server",
          "[server][restore][sqlite]") {
  ServerFixture server;
  Casework work(server);

  SECTION("a backup to an existing file is refused, and so is a backup of nothing") {
    const std::string file = server.backup("one.db");
    CHECK_THROWS_AS(backup_sqlite_storage(server.options.data_dir, file), Error);
    CHECK_THROWS_AS(backup_sqlite_storage(server.dir.file("nowhere"), server.dir.file("two.db")),
                    Error);
  }
  SECTION("a restore or a new epoch under an open storage is refused, and changes nothing") {
    const std::string file = server.backup("one.db");
    const Uuid epoch = server.inspect([](StorageTransaction& tx) { return tx.epoch(); });
    try {
      restore_sqlite_storage(file, server.options.data_dir);
      FAIL("the restore ran under an open storage");
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kConflict));
      CHECK_THAT(error.what(), Catch::Contains("stop the server"));
    }
    CHECK_THROWS_AS(start_new_sqlite_epoch(server.options.data_dir), Error);
    CHECK(server.inspect([](StorageTransaction& tx) { return tx.epoch(); }) == epoch);
  }
  SECTION("a file that is not a server database is not restored") {
    const std::string bogus = server.dir.file("bogus.db");
    std::ofstream(bogus) << "not a database";
    const std::string empty = server.dir.file("empty.db");
    sqlite::Database(empty, sqlite::Database::Mode::kReadWriteCreate).exec("CREATE TABLE t(x)");
    server.stop();
    CHECK_THROWS_AS(restore_sqlite_storage(bogus, server.options.data_dir), Error);
    try {
      restore_sqlite_storage(empty, server.options.data_dir);
      FAIL("a database of another program was restored");
    } catch (const Error& error) {
      CHECK_THAT(error.what(), Catch::Contains("not a fieldsync-server database"));
    }
    server.start();
    CHECK(server.inspect([](StorageTransaction& tx) { return tx.users().size(); }) == 5);
  }
  SECTION("a restore keeps the data it replaces beside it") {
    const std::string file = server.backup("one.db");
    server.create_user("late", "north");
    server.stop();
    const std::string replaced = restore_sqlite_storage(file, server.options.data_dir);
    REQUIRE_FALSE(replaced.empty());
    server.start();
    CHECK_FALSE(server.inspect([](StorageTransaction& tx) { return tx.user("late").has_value(); }));
    CHECK(server.inspect([](StorageTransaction& tx) { return tx.users().size(); }) == 5);
    // The replaced data, with the late user, opens as a server database of its own.
    const dev::ScratchDir elsewhere;
    std::filesystem::copy_file(replaced, elsewhere.file("fieldsync-server.db"));
    auto kept = open_sqlite_storage(elsewhere.path().string());
    CHECK(kept->begin()->user("late").has_value());
  }
}
