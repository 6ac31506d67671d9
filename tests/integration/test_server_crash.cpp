// The server killed (SIGKILL) again and again while devices push, each time restarted on the same
// data directory and port: four devices of three people keep recording and syncing on their own
// threads through every crash. Afterwards, checked against the server's storage: every write
// group whose acknowledgement reached a device is in the history as sent (acknowledged means
// durable), no version and no (device, sequence number) is in it twice (a resend after a crash is
// recognised, not applied again), the conflict log still equals the batch definition over the
// history, every group sent was answered, and every device converges on the server's state.
//
// On PostgreSQL with several nodes (see support/sync_harness.h) each kill takes down one node picked
// at random, mid-push, while the devices' requests go to every node: a device whose push died with
// its node sends it again to another, which must recognise what the dead node committed.
//
// FIELDSYNC_CRASH_KILLS overrides the number of kills (default 40, at least 20 to pass).
#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include "sync_harness.h"

namespace fieldsync::integration {
namespace {

using client::Fields;

constexpr int kMinKills = 20;

int kills() {
  if (const char* text = std::getenv("FIELDSYNC_CRASH_KILLS")) return std::atoi(text);
  return 40;
}

// One device's work until told to stop: new visits and edits of the newest ones (which other
// devices edit too), each followed now and then by a sync that must ride out the crashes.
struct Worker {
  Device* device;
  std::mt19937_64 random;
  std::size_t writes = 0;
  std::size_t syncs = 0;
  std::vector<std::string> problems;

  void run(const std::atomic<bool>& stop) {
    while (!stop.load()) {
      try {
        write();
      } catch (const Error& error) {
        // A merge that left the record invalid refuses an edit; anything else is a failure.
        if (!error.is(ErrorCode::kValidation))
          problems.push_back(device->label() + ": " + error.what());
      }
      if (std::bernoulli_distribution(0.5)(random)) sync();
    }
  }

  void write() {
    const std::vector<CaseId> cases = device->store().cases();
    if (cases.empty()) return;
    const CaseId case_id =
        cases[std::uniform_int_distribution<std::size_t>(0, cases.size() - 1)(random)];
    const std::string text = device->label() + " wrote " + std::to_string(++writes);
    const std::vector<Record> visits = device->store().records(case_id, "visit");
    if (visits.empty() || std::bernoulli_distribution(0.3)(random)) {
      device->casework().record_visit(case_id,
                                      {{"visit_type", Value::text("statutory_child_in_need")},
                                       {"actual_start", Value::timestamp(device->store().now())},
                                       {"child_seen", Value::boolean(true)},
                                       {"seen_alone", Value::boolean(true)},
                                       {"observations", Value::text(text)}});
      return;
    }
    const std::size_t newest = std::min<std::size_t>(visits.size(), 3);
    const Record& visit = visits[visits.size() - 1 -
                                 std::uniform_int_distribution<std::size_t>(0, newest - 1)(random)];
    const char* field =
        std::bernoulli_distribution(0.5)(random) ? "observations" : "worker_analysis";
    device->store().write_record({"visit", visit.id, case_id, {{field, Value::text(text)}}});
  }

  void sync() {
    ++syncs;
    const client::SyncReport report = device->sync(std::chrono::seconds(60));
    if (report.outcome != client::SyncOutcome::kCompleted) {
      problems.push_back(device->label() + ": sync " +
                         std::string(client::to_string(report.outcome)) +
                         (report.error ? std::string(": ") + report.error->what() : ""));
    }
  }
};

}  // namespace

TEST_CASE(
    "Devices push through repeated server crashes: nothing acknowledged is lost, nothing applied "
    "twice",
    "[crash]") {
  TestServer server;
  admin::AdminClient& admin = server.admin();
  dev::create_council_people(admin, {"maya", "amira", "ben"});
  for (const char* user : {"amira", "amira", "ben"}) {
    admin.create_case(user, {{"child_name", std::string("Child of ") + user}});
  }
  std::vector<std::unique_ptr<Device>> devices;
  devices.push_back(server.enrol("maya-tablet", "maya"));
  devices.push_back(server.enrol("amira-phone", "amira"));
  devices.push_back(server.enrol("amira-tablet", "amira"));
  devices.push_back(server.enrol("ben-phone", "ben"));
  std::vector<Device*> all;
  for (auto& device : devices) {
    all.push_back(device.get());
    REQUIRE(device->sync().outcome == client::SyncOutcome::kCompleted);
  }

  std::vector<Worker> workers;
  for (std::size_t i = 0; i < all.size(); ++i)
    workers.push_back({all[i], std::mt19937_64(i + 1), 0, 0, {}});
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (Worker& worker : workers) threads.emplace_back([&worker, &stop] { worker.run(stop); });

  // Kill while a sync request is out, at a random point of it (before or after the server's
  // commit); come back on the same data and port.
  std::mt19937_64 random(20240301);
  const int planned = kills();
  int killed = 0;
  const auto any_in_flight = [&all] {
    return std::any_of(all.begin(), all.end(),
                       [](Device* device) { return device->transport().in_flight(); });
  };
  try {
    for (; killed < planned; ++killed) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 100)(random)));
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (!any_in_flight() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::yield();
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(random)));
      dev::ServerProcess& victim = server.node(
          std::uniform_int_distribution<std::size_t>(0, server.node_count() - 1)(random));
      victim.kill();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(random)));
      victim.restart();
    }
  } catch (...) {
    stop = true;
    for (std::thread& thread : threads) thread.join();
    throw;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  CHECK(killed >= kMinKills);

  std::size_t writes = 0, syncs = 0, failures = 0, cut_off = 0;
  for (const Worker& worker : workers) {
    INFO(lines(worker.problems));
    CHECK(worker.problems.empty());
    writes += worker.writes;
    syncs += worker.syncs;
    failures += worker.device->ledger().network_failures;
    cut_off += worker.device->ledger().cut_off;
  }
  // The kills met requests in flight, not only a server that was down.
  CHECK(cut_off >= static_cast<std::size_t>(killed) / 4);

  std::string why;
  const bool quiet = sync_until_quiet(all, why);
  INFO(why);
  REQUIRE(quiet);
  const auto state = server.stop_and_open();
  REQUIRE(state);
  server::StorageTransaction& tx = state->tx();

  std::size_t acked = 0;
  for (Device* device : all) {
    INFO(device->label());
    const std::vector<std::string> missing = acked_changes_missing(device->ledger(), tx);
    INFO("acknowledged, then missing:" << lines(missing));
    CHECK(missing.empty());
    const std::vector<std::string> differences = differences_from_server(device->store(), tx);
    INFO("differences from the server:" << lines(differences));
    CHECK(differences.empty());
    const SyncLedger& ledger = device->ledger();
    std::size_t unanswered = 0;
    for (const auto& [id, group] : ledger.sent)
      unanswered += !ledger.acked.contains(id) && !ledger.rejected.contains(id);
    CHECK(unanswered == 0);
    CHECK(ledger.rejected.empty());
    acked += ledger.acked.size();
    // With several nodes, each of them served this device.
    if (server.node_count() > 1) CHECK(device->transport().requests_per_node().size() == server.node_count());
  }
  const HistoryAudit audit = audit_history(tx);
  INFO("history:" << lines(audit.problems));
  CHECK(audit.problems.empty());
  CHECK(acked > 0);
  WARN("crash: " << killed << " kills, " << writes << " writes, " << syncs << " syncs, " << failures
                 << " sync requests unanswered (" << cut_off << " cut off mid-exchange), " << acked
                 << " groups acknowledged, " << audit.changes << " changes in the history, "
                 << audit.conflict_entries << " conflict entries");
}

}  // namespace fieldsync::integration
