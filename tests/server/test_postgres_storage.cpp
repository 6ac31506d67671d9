// What only the PostgreSQL backend has to get right, with the interleavings forced step by step on
// several connections (each a transaction of the storage's pool, or a thread blocked on one):
// - a pull never moves past a change numbered before another but committed after it;
// - of two transactions using one enrolment code, or writing one receipt, the second waits, loses
//   the race (serialization failure) and, run again by run_transaction, sees the first one's work;
// - of two transactions in one turn, the second waits for the first before its snapshot and so
//   does not race it; a turn is given back when its transaction ends;
// - two transactions appending to the audit log commit side by side, and sealing chains both; an
//   entry left pending by a node is sealed by another; a commit whose seal finds the audit lock
//   taken does not wait, and its entry is sealed in the background; nodes appending at once
//   leave one chain;
// - the audit log refuses UPDATE, DELETE and TRUNCATE, a pending entry refuses UPDATE, and a row
//   altered behind its triggers' back is found by the chain's check;
// - nodes starting together on an empty database migrate it once;
// - a connection lost mid-transaction fails that request only.
// A blocked transaction is recognised by asking the server (pg_stat_activity), never by waiting a
// while. Tagged [postgres]: they run only in the PostgreSQL pass of the suite.
#include <catch2/catch.hpp>

#include <future>
#include <set>
#include <thread>

#include "audit_chain.h"
#include "fieldsync/dev/make_change.h"
#include "fieldsync/dev/scratch_database.h"
#include "postgres_storage_schema.h"
#include "fieldsync/server/server_storage.h"
#include "postgres_observer.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

Change change_of(const CaseId& case_id, const std::string& value) {
  static std::uint64_t counter = 0;
  const OriginId device = Uuid::random_v4();
  return dev::make_change("note", Uuid::random_v4(), case_id, "content", Value::text(value),
                          {Hlc(1'709'280'000'000, 0), device}, Uuid::random_v4(), "amira", {},
                          ++counter);
}

// Appends one change and sets it as its field's winner; returns its sequence number.
std::uint64_t write_change(StorageTransaction& tx, const Change& change) {
  const std::uint64_t seq = tx.append_history(std::span(&change, 1), 1'000).front();
  const StoredChange stored{change, seq, 1'000};
  tx.put_current(std::span(&stored, 1));
  return seq;
}

AuditEntry audit_entry(const std::string& actor) {
  AuditEntry entry;
  entry.at_ms = 1'709'280'000'000;
  entry.node = "n1";
  entry.actor = actor;
  entry.action = "test.event";
  entry.detail = "{}";
  entry.case_ids = {Uuid::random_v4()};
  return entry;
}

std::vector<std::uint64_t> seqs_of(const std::vector<StoredChange>& changes) {
  std::vector<std::uint64_t> seqs;
  for (const StoredChange& stored : changes) seqs.push_back(stored.seq);
  return seqs;
}

}  // namespace

TEST_CASE("A pull never passes a change that commits after a later-numbered one",
          "[postgres][order]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 4);
  const CaseId case_id = Uuid::random_v4();
  const std::vector<CaseId> scope = {case_id};

  auto early = storage->begin();  // takes number n, then stays open
  const std::uint64_t n = write_change(*early, change_of(case_id, "early"));
  std::uint64_t late_seq = 0;
  {
    auto late = storage->begin();  // takes n + 1 and commits first
    late_seq = write_change(*late, change_of(case_id, "late"));
    late->commit();
  }
  REQUIRE(late_seq == n + 1);

  {
    auto pull = storage->begin();
    // n + 1 is committed and visible: a cursor at the highest visible number would skip n.
    CHECK(seqs_of(pull->current_since(scope, 0, INT64_MAX, 100)) == std::vector<std::uint64_t>{n + 1});
    CHECK(pull->last_seq() == n - 1);
    CHECK(pull->current_since(scope, 0, pull->last_seq(), 100).empty());

    early->commit();
    // This transaction's position was fixed when it began: still below n.
    CHECK(pull->last_seq() == n - 1);
  }
  auto after = storage->begin();
  CHECK(after->last_seq() == n + 1);
  CHECK(seqs_of(after->current_since(scope, n - 1, after->last_seq(), 100)) ==
        std::vector<std::uint64_t>{n, n + 1});
}

TEST_CASE("A transaction's position covers its own changes but no one else's",
          "[postgres][order]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 4);
  const CaseId case_id = Uuid::random_v4();

  auto writer = storage->begin();
  const std::uint64_t first = write_change(*writer, change_of(case_id, "one"));
  const std::uint64_t second = write_change(*writer, change_of(case_id, "two"));
  CHECK(writer->last_seq() == second);  // its own, one after the other

  auto other = storage->begin();
  const std::uint64_t others = write_change(*other, change_of(case_id, "other"));
  const std::uint64_t third = write_change(*writer, change_of(case_id, "three"));
  REQUIRE(third == others + 1);
  CHECK(writer->last_seq() == second);  // `others` is not its own, and not yet committed
  CHECK(other->last_seq() == first - 1);  // `writer` is still running
  writer->commit();
  other->commit();
}

TEST_CASE("Of two transactions using one enrolment code, one wins", "[postgres][enrolment]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 4);
  Observer observer(database.connection());
  run_transaction(*storage, [](StorageTransaction& tx) {
    tx.put_team({"north", "North"});
    tx.put_user({"amira", "north", Role::kWorker, "Amira"});
    tx.put_enrolment_code({"CODE0001", Bytes(32, 1), "amira", 0, 1'000'000});
  });

  auto first = storage->begin();
  REQUIRE(first->use_enrolment_code("CODE0001", Uuid::random_v4(), 10));
  int attempts = 0;
  auto second = std::async(std::launch::async, [&] {
    return run_transaction(*storage, [&](StorageTransaction& tx) {
      ++attempts;
      return tx.use_enrolment_code("CODE0001", Uuid::random_v4(), 20);
    });
  });
  observer.wait_until_one_blocks();  // the second waits for the first's row
  first->commit();
  CHECK_FALSE(second.get());  // lost the race, ran again, found the code used
  CHECK(attempts == 2);
  CHECK(observer.value("SELECT used_at FROM enrolment_codes") == "10");
}

TEST_CASE("Of two transactions writing one receipt, the second runs again and sees the first's",
          "[postgres][idempotency]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 4);
  Observer observer(database.connection());
  const OriginId device = Uuid::random_v4();
  const Receipt receipt{Uuid::random_v4(), 1, 3, Bytes(32, 7)};

  auto first = storage->begin();
  REQUIRE(first->receipts_overlapping(device, 1, 3).empty());
  first->put_receipt(device, receipt);
  int attempts = 0;
  auto second = std::async(std::launch::async, [&] {
    return run_transaction(*storage, [&](StorageTransaction& tx) {
      ++attempts;
      const auto found = tx.receipts_overlapping(device, 1, 3);
      if (found.empty()) tx.put_receipt(device, receipt);  // as a push does: check, then write
      return found.size();
    });
  });
  observer.wait_until_one_blocks();  // the second's insert waits on the first's key
  first->commit();
  CHECK(second.get() == 1);
  CHECK(attempts == 2);
  CHECK(observer.value("SELECT count(*) FROM receipts") == "1");
}

TEST_CASE("Of two transactions in one turn, the second waits for the first and runs once",
          "[postgres][turn]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 4);
  Observer observer(database.connection());
  const CaseId case_id = Uuid::random_v4();
  const Change first_edit = change_of(case_id, "first");
  Change second_edit = first_edit;  // the same field, edited on another device
  second_edit.value = Value::text("second");
  second_edit.version = {Hlc(1'709'280'000'001, 0), Uuid::random_v4()};
  second_edit.write_group = Uuid::random_v4();
  const FieldKey field{first_edit.record_id, first_edit.field};
  const std::string turn_locks =
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = " +
      std::to_string(postgres_schema::kTurnLockClass);

  // As two syncs of one user's devices do: read the field's history, then write the field.
  auto first = storage->begin_in_turn("sync amira");
  REQUIRE(first->field_history(field).empty());
  write_change(*first, first_edit);
  int attempts = 0;
  auto second = std::async(std::launch::async, [&] {
    return retry_lost_races([&] {
      ++attempts;
      auto tx = storage->begin_in_turn("sync amira");
      const std::size_t seen = tx->field_history(field).size();
      write_change(*tx, second_edit);
      tx->commit();
      return seen;
    });
  });
  observer.wait_until_one_blocks();  // the second waits for the turn, before its snapshot
  {
    // Another turn does not wait: it ends at once.
    auto other = storage->begin_in_turn("sync bashir");
    other->commit();
  }
  first->commit();
  CHECK(second.get() == 1);  // began after the first's commit, and saw its change
  CHECK(attempts == 1);      // without a turn: it races the first, loses and runs again
  CHECK(observer.value("SELECT count(*) FROM history") == "2");
  CHECK(observer.value(turn_locks) == "0");  // given back after each commit

  // And after a rollback.
  storage->begin_in_turn("sync amira")->teams();
  CHECK(observer.value(turn_locks) == "0");
}

TEST_CASE("Two transactions appending to the audit log commit side by side, sealing chains both",
          "[postgres][audit]") {
  dev::ScratchDatabase database;
  // No background sealer: what is checked is the seal each commit makes.
  auto storage = open_postgres_storage(database.connection(), 4, std::chrono::milliseconds(0));
  Observer observer(database.connection());

  // Both snapshots exist before either commits, as two long syncs' would: neither waits for the
  // other (this thread runs both, so a wait would never end) and neither loses a race.
  auto first = storage->begin();
  first->teams();
  first->append_audit(audit_entry("first"));
  auto second = storage->begin();
  second->teams();
  second->append_audit(audit_entry("second"));
  second->commit();
  first->commit();

  // Each commit sealed its own entry: the chain's order is the order of the seals.
  CHECK(observer.value("SELECT count(*) FROM audit_pending") == "0");
  CHECK(observer.value("SELECT actor FROM audit_log WHERE seq = 1") == "second");
  CHECK(observer.value("SELECT actor FROM audit_log WHERE seq = 2") == "first");
  const AuditVerification chain = verify_audit_chain(*storage);
  CHECK(chain.intact);
  CHECK(chain.rows_checked == 2);
  CHECK(chain.head.seq == 2);
}

TEST_CASE("An entry left pending by a node that stopped before sealing is sealed by another",
          "[postgres][audit]") {
  dev::ScratchDatabase database;
  auto node_a = open_postgres_storage(database.connection(), 2, std::chrono::milliseconds(0));
  run_transaction(*node_a, [](StorageTransaction& tx) { tx.append_audit(audit_entry("one")); });
  // What a node killed between its commit and its seal leaves: a committed, unchained entry.
  Observer observer(database.connection());
  REQUIRE(observer.error_of("INSERT INTO audit_pending(at, node, actor, actor_name, action, "
                            "address, user_id, detail, case_ids) VALUES (1709280000005, 'n2', "
                            "'orphan', '', 'test.event', '', '', '{}', "
                            "ARRAY[gen_random_uuid(), gen_random_uuid()])") == "");
  const AuditPending waiting =
      run_transaction(*node_a, [](StorageTransaction& tx) { return tx.audit_pending(); });
  CHECK(waiting.rows == 1);
  CHECK(waiting.oldest_at_ms == std::optional<std::int64_t>(1'709'280'000'005));

  auto node_b = open_postgres_storage(database.connection(), 2);  // seals at open
  CHECK(observer.value("SELECT count(*) FROM audit_pending") == "0");
  CHECK(observer.value("SELECT actor FROM audit_log WHERE seq = 2") == "orphan");
  CHECK(observer.value("SELECT count(*) FROM audit_cases WHERE seq = 2") == "2");
  run_transaction(*node_b, [](StorageTransaction& tx) { tx.append_audit(audit_entry("three")); });
  const AuditVerification chain = verify_audit_chain(*node_a);
  CHECK(chain.intact);
  CHECK(chain.rows_checked == 3);
  CHECK(chain.pending.rows == 0);
}

TEST_CASE("A commit does not wait for another node's seal, its entry is sealed in the background",
          "[postgres][audit]") {
  dev::ScratchDatabase database;
  auto node = open_postgres_storage(database.connection(), 2, std::chrono::milliseconds(20));
  Observer sealer(database.connection());  // another node's seal, holding the audit lock
  const std::string key = std::to_string(postgres_schema::kMigrationLockClass) + ", " +
                          std::to_string(postgres_schema::kAuditLockKey);
  REQUIRE(sealer.value("SELECT pg_advisory_lock(" + key + ")") == "");

  // Returns although the lock is taken (waiting for it would never end: the lock is held until
  // this thread releases it below), with its entry committed and pending.
  run_transaction(*node, [](StorageTransaction& tx) { tx.append_audit(audit_entry("left")); });
  Observer observer(database.connection());
  CHECK(observer.value("SELECT actor FROM audit_pending") == "left");

  REQUIRE(sealer.value("SELECT pg_advisory_unlock(" + key + ")::text") == "true");
  while (observer.value("SELECT count(*) FROM audit_pending") != "0") {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(observer.value("SELECT actor FROM audit_log WHERE seq = 1") == "left");
  CHECK(verify_audit_chain(*node).intact);
}

TEST_CASE("Nodes appending to the audit log at once leave one whole chain", "[postgres][audit]") {
  dev::ScratchDatabase database;
  constexpr int kNodes = 4;
  constexpr int kEach = 25;
  std::vector<std::unique_ptr<ServerStorage>> nodes;
  for (int n = 0; n < kNodes; ++n) nodes.push_back(open_postgres_storage(database.connection(), 2));
  std::vector<std::thread> writers;
  for (int n = 0; n < kNodes; ++n) {
    writers.emplace_back([&nodes, n] {
      for (int i = 0; i < kEach; ++i) {
        run_transaction(*nodes[static_cast<std::size_t>(n)], [&](StorageTransaction& tx) {
          tx.append_audit(audit_entry("node" + std::to_string(n)));
        });
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  const AuditVerification chain = verify_audit_chain(*nodes.front(), 17);
  CHECK(chain.intact);
  CHECK(chain.rows_checked == kNodes * kEach);
  CHECK(chain.head.seq == kNodes * kEach);
  CHECK(chain.pending.rows == 0);
  Observer observer(database.connection());
  CHECK(observer.value("SELECT count(DISTINCT seq) FROM audit_log") == std::to_string(kNodes * kEach));
  CHECK(observer.value("SELECT max(seq) FROM audit_log") == std::to_string(kNodes * kEach));
}

TEST_CASE("The audit log refuses changes, and one made behind its triggers' back is found",
          "[postgres][audit]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 2);
  for (const char* actor : {"one", "two", "three"}) {
    run_transaction(*storage, [&](StorageTransaction& tx) { tx.append_audit(audit_entry(actor)); });
  }
  Observer observer(database.connection());
  CHECK(observer.error_of("UPDATE audit_log SET actor = 'x' WHERE seq = 2").find("append-only") !=
        std::string::npos);
  CHECK(observer.error_of("DELETE FROM audit_log WHERE seq = 2").find("append-only") !=
        std::string::npos);
  CHECK(observer.error_of("DELETE FROM audit_cases").find("append-only") != std::string::npos);
  CHECK(observer.error_of("TRUNCATE audit_log, audit_cases").find("append-only") !=
        std::string::npos);
  run_transaction(*storage, [&](StorageTransaction& tx) { tx.append_audit(audit_entry("four")); });
  REQUIRE(observer.error_of("INSERT INTO audit_pending(at, node, actor, actor_name, action, "
                            "address, user_id, detail, case_ids) VALUES (1, 'n', 'waiting', '', "
                            "'test.event', '', '', '{}', '{}')") == "");
  CHECK(observer.error_of("UPDATE audit_pending SET actor = 'x'").find("cannot be changed") !=
        std::string::npos);
  REQUIRE(verify_audit_chain(*storage).intact);

  REQUIRE(observer.error_of("ALTER TABLE audit_log DISABLE TRIGGER USER") == "");
  REQUIRE(observer.error_of("UPDATE audit_log SET actor = 'x' WHERE seq = 2") == "");
  const AuditVerification chain = verify_audit_chain(*storage);
  CHECK_FALSE(chain.intact);
  CHECK(chain.first_bad_seq == std::optional<std::uint64_t>(2));
}

TEST_CASE("Nodes starting together on an empty database create its schema once",
          "[postgres][schema]") {
  dev::ScratchDatabase database;
  constexpr int kNodes = 4;
  std::vector<std::future<std::unique_ptr<ServerStorage>>> opening;
  for (int i = 0; i < kNodes; ++i) {
    opening.push_back(std::async(std::launch::async, [&] { return open_postgres_storage(database.connection(), 1); }));
  }
  std::set<Uuid> epochs;
  for (auto& node : opening) {
    auto storage = node.get();
    epochs.insert(run_transaction(*storage, [](StorageTransaction& tx) { return tx.epoch(); }));
  }
  CHECK(epochs.size() == 1);
  Observer observer(database.connection());
  CHECK(observer.value("SELECT count(*) FROM schema_version") == "1");
}

TEST_CASE("A connection lost mid-transaction fails that transaction only", "[postgres][pool]") {
  dev::ScratchDatabase database;
  auto storage = open_postgres_storage(database.connection(), 1);
  Observer observer(database.connection());
  run_transaction(*storage, [](StorageTransaction& tx) { tx.put_team({"north", "North"}); });

  {
    auto tx = storage->begin();
    observer.value("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    try {
      tx->teams();
      FAIL("a query on a terminated connection succeeded");
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kUnavailable));
    }
  }
  // The pool's only connection is opened again for the next transaction.
  CHECK(run_transaction(*storage, [](StorageTransaction& tx) { return tx.teams(); }).size() == 1);
}
