// The store used from several threads at once (DESIGN.md section 7): the UI records while a
// background thread is in the middle of a sync round trip; a mixed load of writers, a reader and a
// syncing thread leaves a consistent store; and a wipe carried out by a sync leaves a thread that
// is reading with an error rather than a closed connection. A hang (a deadlock) aborts the run
// with a message instead of blocking the test suite forever.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "fieldsync/sqlite_db.h"
#include "store_fixture.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using namespace std::chrono_literals;

namespace {

// Generous: each step takes milliseconds; a slow shared machine gets a hundredfold margin.
constexpr auto kHangLimit = 60s;

// The result of `work`, or, if it is not done within kHangLimit, an abort naming `what`: a thread
// stuck in a deadlock cannot be unwound, so failing any other way would hang the suite.
template <typename Result>
Result finish_or_abort(std::future<Result>& work, const char* what) {
  if (work.wait_for(kHangLimit) != std::future_status::ready) {
    std::cerr << what << " did not finish within " << kHangLimit.count()
              << " s: a deadlock in the store?" << std::endl;
    std::abort();
  }
  return work.get();
}

// The record of each group in `groups` (every group here is one visit). Throws rather than
// asserting, as it also runs off the test's main thread.
std::set<RecordId> records_of(const std::vector<WriteGroup>& groups) {
  std::set<RecordId> ids;
  for (const WriteGroup& group : groups) {
    std::set<RecordId> in_group;
    for (const Change& change : group.changes) in_group.insert(change.record_id);
    if (in_group.size() != 1) throw std::runtime_error("a visit's group holds other records");
    ids.insert(*in_group.begin());
  }
  return ids;
}

std::vector<WriteGroup> outbox_groups(client::Store& store) {
  std::vector<WriteGroup> groups;
  for (client::OutboxEntry& entry : store.outbox()) groups.push_back(std::move(entry.group));
  return groups;
}

SyncResponse acknowledging(const SyncRequest& request) {
  SyncResponse response;
  for (const WriteGroup& group : request.write_groups) response.acks.push_back(group.id);
  return response;
}

// Runs `action` when the scope ends, however it ends: a failed check must not leave a thread
// waiting while a std::future's destructor waits for that thread. Declare it after the future.
template <typename Action>
class OnExit {
 public:
  explicit OnExit(Action action) : action_(std::move(action)) {}
  ~OnExit() { action_(); }
  OnExit(const OnExit&) = delete;
  OnExit& operator=(const OnExit&) = delete;

 private:
  Action action_;
};

std::int64_t outbox_rows(sqlite::Database& db) {
  auto count = db.prepare("SELECT COUNT(*) FROM outbox");
  count.step();
  return count.column_int(0);
}

}  // namespace

TEST_CASE("The UI records visits while a sync round trip waits on the network",
          "[store][threads]") {
  StoreFixture fixture;
  client::Store& store = *fixture.store;
  const CaseId case_id = fixture.receive_case("Jo");
  client::Casework casework(store);
  std::set<RecordId> sent_visits;
  for (int i = 0; i < 3; ++i) {
    sent_visits.insert(
        casework.record_visit(case_id, seen_alone_visit("before sync " + std::to_string(i))));
  }

  std::promise<SyncRequest> request_sent;
  std::promise<void> network_answers;
  std::once_flag answered;
  auto answer = [&] { std::call_once(answered, [&] { network_answers.set_value(); }); };
  struct SyncOutcome {
    std::int64_t outbox_rows_seen_at_the_end = 0;  // through the snapshot held since the start
    client::SyncApplied applied;
  };
  // The background sync: prepares its request, then holds a read transaction on a second
  // connection for the whole round trip while the transport blocks.
  auto sync = std::async(std::launch::async, [&] {
    SyncRequest request;
    try {
      request = store.prepare_sync(1000, Telemetry{});
    } catch (...) {
      request_sent.set_exception(std::current_exception());
      throw;
    }
    sqlite::Database connection(fixture.options().path, sqlite::Database::Mode::kReadOnly);
    sqlite::Transaction snapshot(connection, sqlite::Transaction::Kind::kRead);
    outbox_rows(connection);  // a deferred transaction takes its snapshot at the first read
    request_sent.set_value(request);
    network_answers.get_future().wait();
    SyncOutcome outcome;
    outcome.outbox_rows_seen_at_the_end = outbox_rows(connection);
    snapshot.commit();
    outcome.applied = store.apply_sync(acknowledging(request));
    return outcome;
  });
  const OnExit answer_on_exit(answer);
  auto sent = request_sent.get_future();
  const SyncRequest request = finish_or_abort(sent, "prepare_sync");
  REQUIRE(records_of(request.write_groups) == sent_visits);

  // The UI thread, meanwhile.
  auto recording = std::async(std::launch::async, [&] {
    std::vector<RecordId> ids;
    for (int i = 0; i < 20; ++i) {
      ids.push_back(
          casework.record_visit(case_id, seen_alone_visit("during sync " + std::to_string(i))));
    }
    return ids;
  });
  const std::vector<RecordId> recorded = finish_or_abort(recording, "recording 20 visits");
  REQUIRE(recorded.size() == 20);
  CHECK(casework.visits(case_id).size() == 23);
  for (const RecordId& id : recorded) {
    const auto visit = store.record(id);
    REQUIRE(visit);
    CHECK(visit->get("observations")->as_text().starts_with("during sync"));
  }

  answer();
  const SyncOutcome outcome = finish_or_abort(sync, "the sync round trip");
  CHECK(outcome.outbox_rows_seen_at_the_end == 3);  // the transaction really stayed open
  CHECK(outcome.applied.acked_groups == 3);
  const std::vector<WriteGroup> left = outbox_groups(store);
  CHECK(left.size() == 20);
  CHECK(records_of(left) == std::set<RecordId>(recorded.begin(), recorded.end()));
  CHECK(store.outbox_change_count() == 20 * seen_alone_visit("").size());
}

TEST_CASE("Two writers, a reader and a syncing thread leave a consistent store",
          "[store][threads]") {
  StoreFixture fixture;
  client::Store& store = *fixture.store;
  const std::vector<CaseId> cases = {fixture.receive_case("Ann"), fixture.receive_case("Ben"),
                                     fixture.receive_case("Cal")};
  client::Casework casework(store);
  std::atomic<bool> stop{false};

  auto writer = [&](int which) {
    std::vector<RecordId> ids;
    for (int i = 0; !stop; ++i) {
      const CaseId& case_id = cases[static_cast<std::size_t>(i + which) % cases.size()];
      ids.push_back(casework.record_visit(
          case_id,
          seen_alone_visit("writer " + std::to_string(which) + " visit " + std::to_string(i))));
    }
    return ids;
  };
  auto reader = [&] {
    std::size_t reads = 0;
    while (!stop) {
      for (const CaseId& case_id : cases) {
        for (const Record& visit : store.records(case_id, "visit")) {
          if (!visit.get("observations")) throw std::runtime_error("a visit read back incomplete");
        }
      }
      for (const client::OutboxEntry& entry : store.outbox()) {
        if (entry.group.changes.empty()) throw std::runtime_error("an empty outbox group");
      }
      ++reads;
    }
    return reads;
  };
  // Acknowledges what it sent, and pulls a server edit of a case now and then.
  auto syncer = [&] {
    std::set<RecordId> acked;
    for (std::uint16_t round = 0; !stop; ++round) {
      const SyncRequest request = store.prepare_sync(50, Telemetry{});
      SyncResponse response = acknowledging(request);
      const CaseId& case_id = cases[round % cases.size()];
      response.changes.push_back(server_change("case", case_id, case_id, "referrer",
                                               Value::text("school " + std::to_string(round)),
                                               Hlc(1'709'100'000'000, round)));
      store.apply_sync(response);
      for (const RecordId& id : records_of(request.write_groups)) acked.insert(id);
    }
    return acked;
  };

  auto first = std::async(std::launch::async, writer, 0);
  auto second = std::async(std::launch::async, writer, 1);
  auto reading = std::async(std::launch::async, reader);
  auto syncing = std::async(std::launch::async, syncer);
  std::this_thread::sleep_for(1s);
  stop = true;
  const std::vector<RecordId> by_first = finish_or_abort(first, "the first writer");
  const std::vector<RecordId> by_second = finish_or_abort(second, "the second writer");
  const std::size_t reads = finish_or_abort(reading, "the reader");
  const std::set<RecordId> acked = finish_or_abort(syncing, "the syncing thread");

  CHECK(!by_first.empty());
  CHECK(!by_second.empty());
  CHECK(reads > 0);
  CHECK(!acked.empty());

  std::set<RecordId> written(by_first.begin(), by_first.end());
  written.insert(by_second.begin(), by_second.end());
  REQUIRE(written.size() == by_first.size() + by_second.size());
  for (const RecordId& id : written) {
    const auto visit = store.record(id);
    REQUIRE(visit);
    CHECK(visit->get("observations")->as_text().find(" visit ") != std::string::npos);
  }
  // Every visit is either acknowledged or still queued, never both, never neither.
  const std::vector<WriteGroup> queued_groups = outbox_groups(store);
  const std::set<RecordId> queued = records_of(queued_groups);
  std::set<RecordId> accounted = acked;
  for (const RecordId& id : queued) {
    CHECK_FALSE(acked.contains(id));
    accounted.insert(id);
  }
  CHECK(accounted == written);
  // What is queued is what the records hold.
  std::size_t queued_changes = 0;
  for (const WriteGroup& group : queued_groups) {
    for (const Change& change : group.changes) {
      CHECK(store.field_versions(change.record_id).at(change.field) == change.version);
      ++queued_changes;
    }
  }
  CHECK(store.outbox_change_count() == queued_changes);
}

TEST_CASE("A wipe directive during reads on another thread gives that thread errors, not a crash",
          "[store][threads]") {
  // The worker's screen keeps reading while a background sync carries out a wipe directive. A
  // read that passed its access check just before the wipe must not then use the connection the
  // wipe closed; many attempts, as the moment of the wipe is left to the scheduler.
  for (int attempt = 0; attempt < 20; ++attempt) {
    StoreFixture fixture;
    client::Store& store = *fixture.store;
    const CaseId case_id = fixture.receive_case("Kim");
    client::Casework(store).record_visit(case_id, seen_alone_visit("before the wipe"));
    std::atomic<bool> reading{false};
    std::atomic<bool> give_up{false};
    auto reader = std::async(std::launch::async, [&] {
      reading = true;
      while (!give_up) {
        try {
          store.outbox_change_count();
          store.records(case_id, "visit");
        } catch (const Error& error) {
          return error.is(ErrorCode::kLocked);
        }
      }
      return false;
    });
    const OnExit stop_reading([&] { give_up = true; });
    while (!reading) std::this_thread::yield();
    SyncResponse revoked;
    revoked.directives.push_back({1, DirectiveKind::kWipe, {}, "device revoked"});
    CHECK(store.apply_sync(revoked).wiped);
    CHECK(finish_or_abort(reader, "the reading thread"));  // refused as wiped
  }
}
