// Property test of the merge rule: replicas that receive the same changes in any order, with
// duplicates and with changes before the changes their bases name, converge; the incremental
// conflict set always equals the batch definition.
//
// The generator behaves like real devices: each works offline on its own view, stamps with its
// own skewed clock after observing every version it has seen, and now and then receives what
// others made (so edit chains arise), sometimes resolving the conflicts it can see.
// FIELDSYNC_PROPERTY_SEEDS overrides the number of seeds (default 1000).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>

#include "fieldsync/merge_rule.h"

using namespace fieldsync;

namespace {

using FieldKey = std::pair<RecordId, std::string>;

// Ids drawn from the seeded generator, so that a seed reproduces the whole run.
Uuid seeded_uuid(std::mt19937_64& rng) {
  Uuid::Bytes bytes;
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(rng());
  return Uuid(bytes);
}

struct Device {
  OriginId origin;
  std::unique_ptr<FakeClockSource> source;
  std::unique_ptr<HybridClock> clock;
  std::map<FieldKey, FieldMerge> view;  // what this device has seen
  std::size_t received = 0;             // how far into the global log it has synced
};

struct Scenario {
  std::vector<Change> all;  // every change made, in the order made
  std::size_t chains = 0;   // changes whose base names another origin's version
  std::map<FieldKey, FieldMerge> everything;  // all changes merged, to know what is lost so far

  std::size_t lost_so_far() const {
    std::size_t lost = 0;
    for (const auto& [key, merge] : everything) lost += merge.lost().size();
    return lost;
  }
  // Holds the situations the rule exists for: real conflicts and edit chains.
  bool is_interesting() const { return chains >= 2 && lost_so_far() >= 2; }
};

Scenario generate(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> device_count(3, 7);
  const int n_devices = device_count(rng);
  std::vector<Device> devices(n_devices);
  std::uniform_int_distribution<std::int64_t> skew(-120'000, 120'000);
  for (auto& device : devices) {
    device.origin = seeded_uuid(rng);
    device.source = std::make_unique<FakeClockSource>(1'700'000'000'000 + skew(rng));
    device.clock = std::make_unique<HybridClock>(*device.source);
  }
  const std::vector<RecordId> records = {seeded_uuid(rng), seeded_uuid(rng)};
  const std::vector<std::string> fields = {"child_seen", "observations", "childs_views"};

  Scenario scenario;
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  std::uniform_int_distribution<int> pick_device(0, n_devices - 1);
  std::uniform_int_distribution<std::size_t> pick_record(0, records.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_field(0, fields.size() - 1);
  const int steps = std::uniform_int_distribution<int>(60, 120)(rng);

  // Runs on past `steps` until the scenario is interesting (bounded, in case it never is).
  for (int step = 0; step < steps || (step < 10 * steps && !scenario.is_interesting()); ++step) {
    Device& device = devices[pick_device(rng)];
    device.source->advance(std::uniform_int_distribution<int>(0, 3)(rng));
    if (step % 10 == 9 || chance(rng) < 0.15) {  // the device syncs: it sees all made so far
      for (; device.received < scenario.all.size(); ++device.received) {
        const Change& change = scenario.all[device.received];
        device.view[{change.record_id, change.field}].apply(change);
        device.clock->observe(change.version.hlc);
      }
    }
    const FieldKey key{records[pick_record(rng)], fields[pick_field(rng)]};
    FieldMerge& local = device.view[key];
    Change change;
    change.collection = "visit";
    change.record_id = key.first;
    change.case_id = key.first;
    change.field = key.second;
    change.value = Value::integer(static_cast<std::int64_t>(rng() % 1000));
    change.version = {device.clock->now(), device.origin};
    change.author = device.origin.to_string();
    change.write_group = seeded_uuid(rng);
    if (const Change* winner = local.winner()) {
      change.base.insert(winner->version);
      if (!local.lost().empty() && chance(rng) < 0.15) {  // resolve what it can see
        for (const Change* lost : local.lost()) change.base.insert(lost->version);
      }
      if (winner->version.origin != device.origin) ++scenario.chains;
    }
    local.apply(change);
    scenario.everything[key].apply(change);
    scenario.all.push_back(change);
  }
  return scenario;
}

std::vector<Version> versions_of(const std::vector<const Change*>& changes) {
  std::vector<Version> out;
  for (const Change* change : changes) out.push_back(change->version);
  return out;
}

struct Replica {
  std::map<FieldKey, FieldMerge> fields;
  std::map<FieldKey, std::vector<Change>> applied;  // for the batch comparison
};

// Delivers `changes` to a fresh replica in a random order with random duplicates, checking the
// incremental form against the batch form at random moments along the way.
Replica deliver(const std::vector<Change>& changes, std::mt19937_64& rng) {
  std::vector<Change> arrivals = changes;
  std::uniform_int_distribution<std::size_t> pick(0, changes.size() - 1);
  for (std::size_t i = 0; i < changes.size() / 4 + 1; ++i) arrivals.push_back(changes[pick(rng)]);
  std::shuffle(arrivals.begin(), arrivals.end(), rng);

  Replica replica;
  std::uniform_real_distribution<double> chance(0.0, 1.0);
  for (const Change& change : arrivals) {
    const FieldKey key{change.record_id, change.field};
    FieldMerge& merge = replica.fields[key];
    merge.apply(change);
    auto& history = replica.applied[key];
    history.push_back(change);
    if (chance(rng) < 0.1) {
      REQUIRE(merge.winner()->version == merge_winner(history)->version);
      REQUIRE(versions_of(merge.lost()) == versions_of(lost_changes(history)));
    }
  }
  return replica;
}

void check_seed(std::uint64_t seed) {
  INFO("seed " << seed << " (rerun with this seed to reproduce)");
  std::mt19937_64 rng(seed);
  const Scenario scenario = generate(rng);

  std::map<FieldKey, std::vector<Change>> by_field;
  for (const Change& change : scenario.all) by_field[{change.record_id, change.field}].push_back(change);

  std::size_t lost_total = 0;
  for (const auto& [key, history] : by_field) {
    const auto lost = lost_changes(history);
    lost_total += lost.size();
    // A version someone saw is never lost.
    for (const Change& change : history) {
      for (const Version& seen : change.base) {
        for (const Change* gone : lost) REQUIRE(gone->version != seen);
      }
    }
  }
  // The generator must make the situations the rule exists for.
  REQUIRE(lost_total >= 2);
  REQUIRE(scenario.chains >= 2);

  const int replicas = std::uniform_int_distribution<int>(3, 7)(rng);
  std::vector<Replica> results;
  for (int r = 0; r < replicas; ++r) results.push_back(deliver(scenario.all, rng));

  for (const auto& [key, history] : by_field) {
    const Change* batch_winner = merge_winner(history);
    const auto batch_lost = versions_of(lost_changes(history));
    for (const Replica& replica : results) {
      const FieldMerge& merge = replica.fields.at(key);
      REQUIRE(merge.winner()->version == batch_winner->version);
      REQUIRE(merge.winner()->value == batch_winner->value);
      REQUIRE(versions_of(merge.lost()) == batch_lost);
    }
  }
}

std::uint64_t seed_count() {
  if (const char* text = std::getenv("FIELDSYNC_PROPERTY_SEEDS")) return std::strtoull(text, nullptr, 10);
  return 1000;
}

}  // namespace

TEST_CASE("Replicas converge and agree on what was lost, whatever the order", "[merge][property]") {
  const std::uint64_t seeds = seed_count();
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) check_seed(seed);
}
