// Property test of the server's conflict log (DESIGN.md section 3: "for a given set of accepted
// changes, it does not depend on the order they arrived in"). A seeded generator plays devices of
// a worker and her manager editing two visits offline, syncing now and then, sometimes resolving
// the conflicts they see. The same history is pushed to fresh servers in different random orders
// and batchings, with resends; every server must end with the winners and the open conflict
// entries of the batch definition (merge_winner and lost_changes of the shared merge rule over the
// whole history as read back from storage), so all servers agree with one another, and a device
// that pulls everything afterwards is told exactly those conflicts.
// FIELDSYNC_PROPERTY_SEEDS overrides the number of seeds (default 200).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>

#include "fieldsync/crypto.h"
#include "fieldsync/merge_rule.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr int kServersPerSeed = 2;
const std::vector<std::string> kEditedFields = {"observations", "childs_views", "worker_analysis"};
const std::vector<std::string> kUsers = {"amira", "mona"};  // a worker and her manager

Uuid seeded_uuid(std::mt19937_64& rng) {
  Uuid::Bytes bytes;
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(rng());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // a well-formed v4 id
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  return Uuid(bytes);
}

// A device of the generated history: its identity, its clock and what it has seen.
struct SimDevice {
  OriginId origin;
  std::string user_id;
  std::unique_ptr<FakeClockSource> source;
  std::unique_ptr<HybridClock> clock;
  std::map<FieldKey, FieldMerge> view;
  std::size_t received = 0;  // how far into the history's changes it has synced
  std::uint64_t next_seq = 1;
};

struct History {
  CaseId case_id;
  std::vector<RecordId> visits;
  std::vector<SimDevice> devices;
  WriteGroup creation;                                    // by device 0, pushed first everywhere
  std::vector<std::pair<std::size_t, WriteGroup>> edits;  // (device, group), in the order made
  std::vector<Change> all;                                // every change, in the order made
  std::size_t resolutions = 0;                            // changes whose base named a lost version
};

Change stamped(SimDevice& device, const WriteGroupId& group, const std::string& collection,
               const RecordId& record, const CaseId& case_id, const std::string& field, Value value,
               VersionSet base) {
  Change change;
  change.collection = collection;
  change.record_id = record;
  change.case_id = case_id;
  change.field = field;
  change.value = std::move(value);
  change.version = {device.clock->now(), device.origin};
  change.base = std::move(base);
  change.device_seq = device.next_seq++;
  change.write_group = group;
  device.view[{record, field}].apply(change);
  return change;
}

History generate(std::mt19937_64& rng, const CaseId& case_id) {
  History history;
  history.case_id = case_id;
  const int n_devices = std::uniform_int_distribution<int>(2, 4)(rng);
  std::uniform_int_distribution<std::int64_t> skew(-60'000, 60'000);
  for (int i = 0; i < n_devices; ++i) {
    SimDevice device;
    device.origin = seeded_uuid(rng);
    device.user_id = kUsers[static_cast<std::size_t>(i) % kUsers.size()];
    device.source = std::make_unique<FakeClockSource>(kStartMs + skew(rng));
    device.clock = std::make_unique<HybridClock>(*device.source);
    history.devices.push_back(std::move(device));
  }
  history.visits = {seeded_uuid(rng), seeded_uuid(rng)};

  // Device 0 records both visits; every device has seen them before the offline edits begin.
  SimDevice& first = history.devices[0];
  history.creation.id = seeded_uuid(rng);
  for (const RecordId& visit : history.visits) {
    for (const FieldEdit& edit : valid_visit("as first written")) {
      history.creation.changes.push_back(
          stamped(first, history.creation.id, "visit", visit, case_id, edit.field, edit.value, {}));
    }
  }
  for (SimDevice& device : history.devices) {
    for (const Change& change : history.creation.changes) {
      device.clock->observe(change.version.hlc);
      if (&device != &first) device.view[{change.record_id, change.field}].apply(change);
    }
  }

  std::uniform_real_distribution<double> chance(0.0, 1.0);
  const int steps = std::uniform_int_distribution<int>(25, 50)(rng);
  for (int step = 0; step < steps; ++step) {
    const std::size_t index =
        std::uniform_int_distribution<std::size_t>(0, history.devices.size() - 1)(rng);
    SimDevice& device = history.devices[index];
    device.source->advance(std::uniform_int_distribution<int>(0, 3)(rng));
    if (chance(rng) < 0.25) {  // the device syncs: it sees everything made so far
      for (; device.received < history.all.size(); ++device.received) {
        const Change& change = history.all[device.received];
        device.clock->observe(change.version.hlc);
        device.view[{change.record_id, change.field}].apply(change);
      }
      continue;
    }
    WriteGroup group{seeded_uuid(rng), {}};
    const int n_changes = std::uniform_int_distribution<int>(1, 3)(rng);
    for (int i = 0; i < n_changes; ++i) {
      const RecordId& visit = history.visits[std::uniform_int_distribution<std::size_t>(0, 1)(rng)];
      const std::string& field = kEditedFields[std::uniform_int_distribution<std::size_t>(
          0, kEditedFields.size() - 1)(rng)];
      VersionSet base;
      if (auto seen = device.view.find({visit, field}); seen != device.view.end()) {
        base.insert(seen->second.winner()->version);
        if (chance(rng) < 0.4) {  // resolves the conflicts it can see
          for (const Change* lost : seen->second.lost()) {
            base.insert(lost->version);
            ++history.resolutions;
          }
        }
      }
      group.changes.push_back(stamped(
          device, group.id, "visit", visit, case_id, field,
          text("d" + std::to_string(index) + " s" + std::to_string(step)), std::move(base)));
    }
    history.all.insert(history.all.end(), group.changes.begin(), group.changes.end());
    history.edits.emplace_back(index, std::move(group));
  }
  return history;
}

// The device's token, as enrolment would have given it (the server keeps the secret's SHA-256):
// installed directly so that the same history, with the same origins, fits every server.
TestDevice install_device(ServerFixture& server, const SimDevice& simulated) {
  const std::string secret(64, 'c');
  Device device;
  device.id = simulated.origin;
  device.user_id = simulated.user_id;
  device.token_hash = crypto::sha256(crypto::as_bytes(secret));
  device.enrolled_at_ms = server.clock.wall_ms();
  server.inspect([&](StorageTransaction& tx) {
    tx.put_device(device);
    tx.commit();
    return 0;
  });
  std::string id_hex;
  for (const char c : simulated.origin.to_string()) {
    if (c != '-') id_hex.push_back(c);
  }
  TestDevice test_device;
  test_device.id = simulated.origin;
  test_device.user_id = simulated.user_id;
  test_device.token = id_hex + "." + secret;
  return test_device;
}

// What a server ended with, per field: the winner's version and the open conflict entries.
struct FieldOutcome {
  Version winner;
  std::set<Version> open_conflicts;
  friend bool operator==(const FieldOutcome&, const FieldOutcome&) = default;
};
using Outcome = std::map<FieldKey, FieldOutcome>;

// Pushes the history to a fresh server in an order and batching drawn from `rng`; returns what
// the server holds, after checking it against the batch definition over its stored history.
Outcome push_and_check(std::mt19937_64& rng, const History& generated,
                       std::size_t& conflicts_seen) {
  ServerFixture server;
  server.create_team("north");
  server.create_user("amira", "north");
  server.create_user("mona", "north", "manager");
  server.admin("POST", "/v1/admin/cases",
               {{"case_id", generated.case_id.to_string()},
                {"user_id", "amira"},
                {"fields", {{"child_name", "Ava"}}}});
  std::vector<TestDevice> devices;
  for (const SimDevice& simulated : generated.devices)
    devices.push_back(install_device(server, simulated));
  REQUIRE(server.sync(devices[0], {generated.creation}).acks.size() == 1);

  std::vector<std::size_t> order(generated.edits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_int_distribution<std::size_t> batch_size(1, 5);
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  for (std::size_t at = 0; at < order.size();) {
    const std::size_t device = generated.edits[order[at]].first;
    const std::size_t limit = batch_size(rng);
    std::vector<WriteGroup> batch;
    std::vector<WriteGroupId> ids;
    for (; at < order.size() && batch.size() < limit && generated.edits[order[at]].first == device;
         ++at) {
      batch.push_back(generated.edits[order[at]].second);
      ids.push_back(batch.back().id);
    }
    const int sends = chance(rng) < 0.15 ? 2 : 1;  // now and then a resend (a lost answer)
    for (int send = 0; send < sends; ++send) {
      const SyncResponse answer = server.sync(devices[device], batch);
      REQUIRE(answer.rejections.empty());
      REQUIRE(answer.acks == ids);
    }
  }

  // The batch definition over the history as stored.
  std::set<FieldKey> keys;
  for (const Change& change : generated.creation.changes)
    keys.insert({change.record_id, change.field});
  for (const Change& change : generated.all) keys.insert({change.record_id, change.field});
  Outcome outcome;
  std::map<std::pair<FieldKey, Version>, Version> expected_conflicts;  // lost -> winner
  for (const FieldKey& key : keys) {
    INFO("field " << key.field << " of " << key.record_id.to_string());
    std::vector<Change> history;
    std::optional<StoredChange> current;
    std::vector<ConflictEntry> entries;
    server.inspect([&](StorageTransaction& tx) {
      for (StoredChange& stored : tx.field_history(key))
        history.push_back(std::move(stored.change));
      current = tx.current_field(key);
      entries = tx.field_conflicts(key);
      return 0;
    });
    std::size_t generated_count = 0;
    for (const Change& change : generated.all)
      generated_count += change.record_id == key.record_id && change.field == key.field;
    for (const Change& change : generated.creation.changes)
      generated_count += change.record_id == key.record_id && change.field == key.field;
    CHECK(history.size() == generated_count);  // resends added nothing

    const Change* winner = merge_winner(history);
    REQUIRE(winner);
    REQUIRE(current);
    CHECK(current->change.version == winner->version);
    CHECK(current->change.value == winner->value);

    std::set<Version> lost;
    for (const Change* change : lost_changes(history)) {
      lost.insert(change->version);
      expected_conflicts[{key, change->version}] = winner->version;
    }
    std::set<Version> open;
    for (const ConflictEntry& entry : entries) {
      if (!entry.resolved_by) open.insert(entry.lost);
    }
    CHECK(open == lost);
    outcome[key] = {winner->version, open};
  }

  // A device that pulls everything now is told exactly those conflicts, each with its winner.
  TestDevice reader = server.enrol("mona");
  const SyncResponse pulled = server.sync_all(reader);
  std::map<std::pair<FieldKey, Version>, Version> told;
  for (const Conflict& conflict : pulled.conflicts) {
    const bool fresh = told.insert({{{conflict.record_id, conflict.field}, conflict.lost.version},
                                    conflict.winner.version})
                           .second;
    CHECK(fresh);
  }
  CHECK(told == expected_conflicts);
  conflicts_seen += told.size();
  return outcome;
}

void check_seed(std::uint64_t seed, std::size_t& conflicts_seen, std::size_t& resolutions_made) {
  INFO("seed " << seed << " (rerun with this seed to reproduce)");
  std::mt19937_64 rng(seed);
  const History history = generate(rng, seeded_uuid(rng));
  resolutions_made += history.resolutions;
  std::vector<Outcome> outcomes;
  for (int i = 0; i < kServersPerSeed; ++i) {
    INFO("server " << i);
    outcomes.push_back(push_and_check(rng, history, conflicts_seen));
  }
  for (int i = 1; i < kServersPerSeed; ++i)
    CHECK(outcomes[static_cast<std::size_t>(i)] == outcomes[0]);
}

std::uint64_t seed_count() {
  if (const char* text = std::getenv("FIELDSYNC_PROPERTY_SEEDS"))
    return std::strtoull(text, nullptr, 10);
  return 200;
}

}  // namespace

TEST_CASE("Servers fed one history in any order and batching agree on winners and conflicts",
          "[server][reconcile][property]") {
  const std::uint64_t seeds = seed_count();
  std::size_t conflicts_seen = 0;
  std::size_t resolutions_made = 0;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    check_seed(seed, conflicts_seen, resolutions_made);
  }
  // The histories held what the rule exists for: conflicts, and resolutions of them.
  if (seeds >= 10) {
    CHECK(conflicts_seen >= seeds);
    CHECK(resolutions_made > 0);
  }
}
