// Chaos across real processes: six devices of four people (two of them one worker's, two a
// manager's, one of which syncs in JSON) against a real fieldsync-server, each seed 2,000 random
// steps (new visits, edits of shared fields from stale views, "seen" answers that may merge into
// invalid records, notes drafted, edited and submitted while others edit them, conflicts resolved,
// a phone rebooting with its clock two hours fast, work recorded while a sync is under way, another
// device syncing between a request being made and its arrival) in random sync order, with a quarter
// of the server's committed answers dropped on the way back, so devices send again and the server
// must acknowledge the resends without applying them twice.
//
// After every device has synced until nothing moves, checked against the server's storage:
// every device holds exactly the server's current state and open conflicts of its cases; the
// conflict log is the batch definition over each field's whole history (lost_changes equals the
// unresolved entries; a resolved entry names a change whose base names it); no version or
// (device, sequence number) is in the history twice; every change whose acknowledgement reached
// a device is in the history; every group sent was answered (acknowledged or rejected). Each seed
// must have made real conflicts and dropped real acknowledgements.
//
// Then the bugs the chaos found, replayed step by step.
//
// On PostgreSQL (FIELDSYNC_TEST_STORAGE=postgres, as ctest's `e2e.postgres.` run sets) the server is
// three nodes sharing one database, and each request of each device goes to a node picked at
// random, so one device's pushes and pulls interleave across nodes (support/sync_harness.h).
//
// FIELDSYNC_PROPERTY_SEEDS overrides the number of seeds (default 20), FIELDSYNC_CHAOS_STEPS the
// steps per seed, FIELDSYNC_CHAOS_SEED runs that one seed only, FIELDSYNC_CHAOS_TRANSFERS=0 leaves
// out cases moving between workers and teams (see with_transfers). A failure names its seed; the seed
// reproduces the operations, though not the clocks' readings.
#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include "sync_harness.h"

namespace fieldsync::integration {
namespace {

using client::Fields;

constexpr double kSyncProbability = 0.15;  // per step; otherwise casework
constexpr double kDropProbability = 0.25;
constexpr double kRebootProbability = 0.01;  // per step of the phone with the fast clock
constexpr double kRecordDuringSync = 0.2;
constexpr double kOtherSyncsMeanwhile = 0.2;
constexpr double kTransferProbability = 0.005;
constexpr std::int64_t kSkewMs = 2LL * 60 * 60 * 1000;
constexpr std::size_t kHotRecords = 6;      // edits pick among the newest records: they collide
constexpr std::size_t kMinConflicts = 10;   // per seed
constexpr std::size_t kMinAcksDropped = 5;  // per seed

std::size_t steps_per_seed() {
  if (const char* text = std::getenv("FIELDSYNC_CHAOS_STEPS"))
    return std::strtoull(text, nullptr, 10);
  return 2'000;
}

// Cases moving between workers and teams: on unless FIELDSYNC_CHAOS_TRANSFERS=0.
bool with_transfers() {
  const char* text = std::getenv("FIELDSYNC_CHAOS_TRANSFERS");
  return !text || std::string(text) != "0";
}

std::uint64_t one_seed() {
  if (const char* text = std::getenv("FIELDSYNC_CHAOS_SEED"))
    return std::strtoull(text, nullptr, 10);
  return 0;
}

// What the runs did, summed over seeds: for the report and for the checks that the generator
// reached every path.
struct Tally {
  std::size_t operations = 0;
  std::size_t refused_locally = 0;  // the store refused the edit (frozen, invalid merged record)
  std::size_t syncs = 0;
  std::size_t reboots = 0;
  std::size_t transfers = 0;
  std::size_t restamped = 0;
  std::size_t resolutions = 0;
  std::size_t conflicts = 0;   // conflict-log entries made
  std::size_t rejections = 0;  // groups the server rejected
  std::size_t acks_dropped = 0;
  std::size_t changes = 0;  // in the server's history
};

// A record some device made: the generator's index, so edits need not list a case's records.
struct Made {
  RecordId id;
  CaseId case_id;
};

class Chaos {
 public:
  Chaos(std::uint64_t seed, Tally& tally) : random_(seed), tally_(tally) {}

  void run(std::size_t steps) {
    admin::AdminClient& admin = server_.admin();
    dev::create_council_people(admin);
    for (const char* user : {"amira", "amira", "ben", "chen"}) {
      cases_.push_back(admin.create_case(user, {{"child_name", std::string("Child of ") + user}}));
    }
    const std::pair<const char*, const char*> people[] = {
        {"maya-tablet", "maya"},   {"maya-phone", "maya"}, {"amira-phone", "amira"},
        {"amira-tablet", "amira"}, {"ben-phone", "ben"},   {"chen-phone", "chen"}};
    for (const auto& [label, user] : people) {
      // Ben's phone runs two hours fast: each reboot makes it stamp from its own clock again.
      const std::int64_t offset = std::string(label) == "ben-phone" ? kSkewMs : 0;
      devices_.push_back(server_.enrol(label, user, offset, random_()));
      Device& device = *devices_.back();
      device.transport().set_drop_probability(kDropProbability);
      if (std::string(label) == "maya-phone") device.set_wire_format(WireFormat::kJson);
      device.transport().set_during_sync(
          [this, &device](LedgerTransport::SyncPhase phase) { meanwhile(device, phase); });
    }
    for (auto& device : devices_) sync(*device);
    recording_ = true;
    for (std::size_t i = 0; i < steps; ++i) step();
    recording_ = false;
  }

  // Syncs until quiet, stops the server, and checks everything against its storage.
  void check() {
    std::vector<Device*> all;
    for (auto& device : devices_) all.push_back(device.get());
    std::string why;
    const bool quiet = sync_until_quiet(all, why, 20);
    INFO(why);
    REQUIRE(quiet);
    const auto state = server_.stop_and_open();
    REQUIRE(state);
    server::StorageTransaction& tx = state->tx();

    std::size_t acks_dropped = 0;
    for (Device* device : all) {
      INFO(device->label());
      CHECK(device->store().outbox_change_count() == 0);
      const std::vector<std::string> differences = differences_from_server(device->store(), tx);
      INFO("differences from the server:" << lines(differences));
      CHECK(differences.empty());
      const std::vector<std::string> missing = acked_changes_missing(device->ledger(), tx);
      INFO("acknowledged, then missing:" << lines(missing));
      CHECK(missing.empty());
      const SyncLedger& ledger = device->ledger();
      std::vector<std::string> unanswered;
      for (const auto& [id, group] : ledger.sent) {
        if (!ledger.acked.contains(id) && !ledger.rejected.contains(id))
          unanswered.push_back(id.to_string());
      }
      INFO("groups sent and never answered:" << lines(unanswered));
      CHECK(unanswered.empty());
      for (const auto& [id, rejection] : ledger.rejected) {
        INFO(rejection.message);
        CHECK(rejection.code != RejectionCode::kDuplicateMismatch);
        CHECK(rejection.code != RejectionCode::kMalformed);
        CHECK(rejection.code != RejectionCode::kScope);
      }
      acks_dropped += ledger.acks_dropped;
      tally_.rejections += ledger.rejected.size();
      // With several nodes (PostgreSQL), the device's requests went to each of them.
      if (server_.node_count() > 1)
        CHECK(device->transport().requests_per_node().size() == server_.node_count());
    }
    const HistoryAudit audit = audit_history(tx);
    INFO("history:" << lines(audit.problems));
    CHECK(audit.problems.empty());
    CHECK(audit.conflict_entries >= kMinConflicts);
    CHECK(acks_dropped >= kMinAcksDropped);
    tally_.conflicts += audit.conflict_entries;
    tally_.acks_dropped += acks_dropped;
    tally_.changes += audit.changes;
  }

 private:
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(random_)];
  }
  bool chance(double probability) { return std::bernoulli_distribution(probability)(random_); }
  std::string words(const std::string& who) { return who + " note " + std::to_string(++words_); }

  void step() {
    Device& device =
        *devices_[std::uniform_int_distribution<std::size_t>(0, devices_.size() - 1)(random_)];
    if (chance(kSyncProbability)) return sync(device);
    if (transfers_ && chance(kTransferProbability)) return transfer();
    if (device.label() == "ben-phone" && chance(kRebootProbability)) {
      ++tally_.reboots;
      return device.reboot();
    }
    work(device);
  }

  // While `device` syncs, its worker records something now and then; and sometimes, before its
  // request reaches the server, its worker and another device's edit the same field, and the
  // other device syncs first: what `device` pulls then overrides its own edit, which no request
  // has carried yet (a local conflict, queued at once; should the server then reject the rest of
  // that edit's group, the conflict must go with it).
  void meanwhile(Device& device, LedgerTransport::SyncPhase phase) {
    if (!recording_ || in_meanwhile_) return;
    in_meanwhile_ = true;
    if (chance(kRecordDuringSync)) work(device);
    if (phase == LedgerTransport::SyncPhase::kSending && chance(kOtherSyncsMeanwhile)) {
      Device& other =
          *devices_[std::uniform_int_distribution<std::size_t>(0, devices_.size() - 1)(random_)];
      if (&other != &device) crossing_edits(device, other);
    }
    in_meanwhile_ = false;
  }

  void crossing_edits(Device& device, Device& other) {
    const std::vector<CaseId> cases = device.store().cases();
    if (cases.empty()) return;
    const CaseId case_id = pick(cases);
    const int kind = std::uniform_int_distribution<int>(0, 2)(random_);  // text, "seen", note
    const auto mine = hot(device, kind == 2 ? notes_ : visits_, case_id);
    const auto theirs = mine ? other.store().record(mine->id) : std::nullopt;
    if (!theirs) return;
    try {
      if (kind == 1) {
        write_seen(device, *mine);
        write_seen(other, *theirs);
      } else if (kind == 0 || (is_draft(*mine) && is_draft(*theirs))) {
        const std::string field = kind == 0 ? "observations" : "content";
        device.store().write_record(
            {mine->collection, mine->id, case_id, {{field, Value::text(words(device.label()))}}});
        other.store().write_record(
            {mine->collection, mine->id, case_id, {{field, Value::text(words(other.label()))}}});
        if (kind == 2 && chance(0.5)) other.casework().submit_note(mine->id);
      }
    } catch (const Error& error) {
      if (!error.is(ErrorCode::kFrozen) && !error.is(ErrorCode::kValidation)) throw;
      ++tally_.refused_locally;
    }
    sync(other);
  }

  // A case moves to another worker (perhaps in the other team): its old holders purge it once
  // their last edits are in, its new ones get it whole.
  void transfer() {
    ++tally_.transfers;
    server_.admin().allocate(pick(cases_), pick(std::vector<std::string>{"amira", "ben", "chen"}));
  }

  // One piece of casework on a case the device holds.
  void work(Device& device) {
    ++tally_.operations;
    const std::vector<CaseId> cases = device.store().cases();
    if (cases.empty()) return;
    const CaseId case_id = pick(cases);
    try {
      switch (std::discrete_distribution<int>({3, 8, 5, 2, 2, 4, 2, 2})(random_)) {
        case 0:
          return new_visit(device, case_id);
        case 1:
          return edit_visit_text(device, case_id);
        case 2:
          return edit_visit_seen(device, case_id);
        case 3:
          return edit_case(device, case_id);
        case 4:
          return new_note(device, case_id);
        case 5:
          return edit_note(device, case_id);
        case 6:
          return submit_note(device, case_id);
        default:
          return resolve(device);
      }
    } catch (const Error& error) {
      // The device's own checks: a field frozen meanwhile, a record that a merge made invalid.
      if (!error.is(ErrorCode::kFrozen) && !error.is(ErrorCode::kValidation)) throw;
      ++tally_.refused_locally;
    }
  }

  void sync(Device& device) {
    ++tally_.syncs;
    const client::SyncReport report = device.sync();
    INFO(device.label() << ": " << client::to_string(report.outcome)
                        << (report.error ? std::string(": ") + report.error->what() : ""));
    REQUIRE(report.outcome == client::SyncOutcome::kCompleted);
    tally_.restamped += report.restamped_changes;
  }

  // "Seen" answers that are valid alone; two of them merged field by field may not be.
  Fields seen_state() {
    switch (std::uniform_int_distribution<int>(0, 2)(random_)) {
      case 0:
        return {{"child_seen", Value::boolean(true)},
                {"seen_alone", Value::boolean(true)},
                {"reason_not_seen", Value::null()},
                {"reason_not_seen_alone", Value::null()}};
      case 1:
        return {{"child_seen", Value::boolean(true)},
                {"seen_alone", Value::boolean(false)},
                {"reason_not_seen", Value::null()},
                {"reason_not_seen_alone",
                 Value::text(chance(0.5) ? "child_declined" : "no_private_space")}};
      default:
        return {{"child_seen", Value::boolean(false)},
                {"seen_alone", Value::null()},
                {"reason_not_seen", Value::text(chance(0.5) ? "no_answer" : "child_not_home")},
                {"reason_not_seen_alone", Value::null()}};
    }
  }

  void new_visit(Device& device, const CaseId& case_id) {
    Fields fields = seen_state();
    std::erase_if(fields, [](const auto& field) { return field.second.is_null(); });
    fields["visit_type"] = Value::text("statutory_child_in_need");
    fields["actual_start"] = Value::timestamp(device.store().now());
    fields["observations"] = Value::text(words(device.label()));
    visits_.push_back({device.casework().record_visit(case_id, fields), case_id});
  }

  // One of the newest records of `case_id` in `records`, if the device holds it.
  std::optional<Record> hot(Device& device, const std::vector<Made>& records,
                            const CaseId& case_id) {
    std::vector<RecordId> candidates;
    for (auto it = records.rbegin(); it != records.rend() && candidates.size() < kHotRecords;
         ++it) {
      if (it->case_id == case_id) candidates.push_back(it->id);
    }
    if (candidates.empty()) return std::nullopt;
    return device.store().record(pick(candidates));
  }

  void edit_visit_text(Device& device, const CaseId& case_id) {
    const auto visit = hot(device, visits_, case_id);
    if (!visit) return;
    const std::string field =
        pick(std::vector<std::string>{"observations", "childs_views", "worker_analysis"});
    device.store().write_record(
        {"visit", visit->id, case_id, {{field, Value::text(words(device.label()))}}});
  }

  void edit_visit_seen(Device& device, const CaseId& case_id) {
    if (const auto visit = hot(device, visits_, case_id)) write_seen(device, *visit);
  }

  // Another "seen" answer for `visit`, as the device shows it: only the fields that change.
  void write_seen(Device& device, const Record& visit) {
    Fields changes;
    for (auto& [field, value] : seen_state()) {
      const Value* now = visit.get(field);
      if (now ? *now != value : !value.is_null()) changes.emplace(field, value);
    }
    if (changes.empty()) return;
    device.store().write_record({"visit", visit.id, visit.case_id, changes});
  }

  void edit_case(Device& device, const CaseId& case_id) {
    const Fields edit =
        chance(0.5) ? Fields{{"referrer", Value::text(words(device.label()))}}
                    : Fields{{"plan_type", Value::text(pick(std::vector<std::string>{
                                               "none", "child_in_need", "child_protection"}))}};
    const auto record = device.store().record(case_id);
    const Value* now = record ? record->get(edit.begin()->first) : nullptr;
    if (now && *now == edit.begin()->second) return;
    device.store().write_record({"case", case_id, case_id, edit});
  }

  void new_note(Device& device, const CaseId& case_id) {
    notes_.push_back(
        {device.casework().write_note(case_id, {{"content", Value::text(words(device.label()))},
                                                {"note_type", Value::text("case_note")}}),
         case_id});
  }

  static bool is_draft(const Record& note) {
    const Value* status = note.get("status");
    return status && *status == Value::text("draft");
  }

  void edit_note(Device& device, const CaseId& case_id) {
    const auto note = hot(device, notes_, case_id);
    if (!note || !is_draft(*note)) return;
    device.casework().edit_note(note->id, {{"content", Value::text(words(device.label()))}});
  }

  void submit_note(Device& device, const CaseId& case_id) {
    const auto note = hot(device, notes_, case_id);
    if (!note || !is_draft(*note)) return;
    device.casework().submit_note(note->id);
  }

  void resolve(Device& device) {
    const std::vector<client::LocalConflict> conflicts = device.store().conflicts();
    if (conflicts.empty()) return;
    const client::LocalConflict& conflict = pick(conflicts);
    device.store().resolve_conflict(
        conflict.conflict.lost.version,
        chance(0.5) ? client::Store::Resolve::kKeepCurrent : client::Store::Resolve::kRestoreLost);
    ++tally_.resolutions;
  }

  std::mt19937_64 random_;
  Tally& tally_;
  TestServer server_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<CaseId> cases_;
  std::vector<Made> visits_;  // every visit any device made, oldest first
  std::vector<Made> notes_;
  std::size_t words_ = 0;
  bool recording_ = false;  // casework happens (also during syncs) only in the random phase
  bool in_meanwhile_ = false;
  const bool transfers_ = with_transfers();
};

}  // namespace

TEST_CASE(
    "Devices doing random work in random sync order, with answers lost after commit, converge on "
    "the server's state",
    "[chaos][property]") {
  const std::uint64_t seeds = property_seeds(20);
  const std::size_t steps = steps_per_seed();
  const std::uint64_t only = one_seed();
  Tally tally;
  std::size_t seeds_run = 0;
  for (std::uint64_t seed = only ? only : 1; seed <= (only ? only : seeds); ++seed, ++seeds_run) {
    INFO("seed " << seed << " of the chaos test (FIELDSYNC_PROPERTY_SEEDS=" << seeds << ")");
    Chaos chaos(seed, tally);
    chaos.run(steps);
    chaos.check();
  }
  WARN("chaos: " << seeds_run << " seeds, " << tally.operations << " operations ("
                 << tally.refused_locally << " refused by the device), " << tally.syncs
                 << " syncs, " << tally.reboots << " reboots, " << tally.transfers << " transfers, "
                 << tally.restamped << " changes re-stamped, " << tally.resolutions
                 << " resolutions; " << tally.changes << " changes in the histories, "
                 << tally.conflicts << " conflict entries, " << tally.rejections
                 << " groups rejected, " << tally.acks_dropped << " acknowledgements dropped");
  // The generator reached every path it exists for.
  if (seeds_run >= 5) {
    CHECK(tally.resolutions > 0);
    CHECK(tally.rejections > 0);
    CHECK(tally.restamped > 0);
    if (with_transfers()) CHECK(tally.transfers > 0);
  }
}

// --- What the chaos test found, replayed step by step ---

namespace {

// A worker and her manager holding one case, both synced.
struct Pair {
  TestServer server;
  CaseId case_id;
  std::unique_ptr<Device> amira;
  std::unique_ptr<Device> maya;

  Pair() {
    dev::create_council_people(server.admin(), {"maya", "amira"});
    case_id = server.admin().create_case("amira", {{"child_name", "Jordan Ellis"}});
    amira = server.enrol("amira-phone", "amira");
    maya = server.enrol("maya-tablet", "maya");
    sync(*amira);
    sync(*maya);
  }

  void sync(Device& device) {
    const client::SyncReport report = device.sync();
    INFO(device.label() << ": " << (report.error ? report.error->what() : ""));
    REQUIRE(report.outcome == client::SyncOutcome::kCompleted);
  }

  // After a last sync of both: each agrees with the server, whose history passes the audit.
  void check_agreement() {
    sync(*amira);
    sync(*maya);
    const auto state = server.stop_and_open();
    REQUIRE(state);
    for (Device* device : {amira.get(), maya.get()}) {
      const std::vector<std::string> differences =
          differences_from_server(device->store(), state->tx());
      INFO(device->label() << lines(differences));
      CHECK(differences.empty());
    }
    const HistoryAudit audit = audit_history(state->tx());
    INFO(lines(audit.problems));
    CHECK(audit.problems.empty());
  }
};

}  // namespace

TEST_CASE("A resolution the server rejects leaves its conflict open on the device", "[chaos]") {
  Pair pair;
  const RecordId note = pair.amira->casework().write_note(
      pair.case_id, {{"content", Value::text("Draft.")}, {"note_type", Value::text("case_note")}});
  pair.sync(*pair.amira);
  pair.sync(*pair.maya);
  pair.amira->casework().edit_note(note, {{"content", Value::text("Draft, by Amira.")}});
  pair.maya->casework().edit_note(note, {{"content", Value::text("Draft, by Maya.")}});
  pair.sync(*pair.amira);
  pair.sync(*pair.maya);
  pair.sync(*pair.amira);
  REQUIRE(pair.maya->store().conflicts().size() == 1);
  const Version lost = pair.maya->store().conflicts()[0].conflict.lost.version;

  // Amira submits the note; Maya, not yet told, resolves the conflict: an edit of frozen content.
  pair.amira->casework().submit_note(note);
  pair.sync(*pair.amira);
  const WriteGroupId resolution =
      pair.maya->store().resolve_conflict(lost, client::Store::Resolve::kRestoreLost);
  CHECK(pair.maya->store().conflicts().empty());
  pair.sync(*pair.maya);

  const std::vector<client::RejectedGroup> rejections = pair.maya->store().rejections();
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].rejection.write_group == resolution);
  CHECK(rejections[0].rejection.code == RejectionCode::kFrozen);
  // The conflict is still open on the server, so the device shows it again.
  REQUIRE(pair.maya->store().conflicts().size() == 1);
  CHECK(pair.maya->store().conflicts()[0].conflict.lost.version == lost);
  CHECK(value_of(pair.maya->store(), note, "status") == Value::text("submitted"));
  pair.check_agreement();
}

TEST_CASE("A local conflict about an edit the server then rejects goes with the rejection",
          "[chaos]") {
  Pair pair;
  const RecordId visit = pair.amira->casework().record_visit(
      pair.case_id, {{"visit_type", Value::text("statutory_child_in_need")},
                     {"actual_start", Value::timestamp(pair.amira->store().now())},
                     {"child_seen", Value::boolean(true)},
                     {"seen_alone", Value::boolean(false)},
                     {"reason_not_seen_alone", Value::text("child_declined")}});
  pair.sync(*pair.amira);
  pair.sync(*pair.maya);

  // While Amira's phone syncs (its request made, not yet sent), she records that the child was
  // seen alone after all; Maya meanwhile gives another reason for "not alone", and syncs first.
  Version amira_edit, maya_edit;
  bool done = false;
  pair.amira->transport().set_during_sync([&](LedgerTransport::SyncPhase phase) {
    if (done || phase != LedgerTransport::SyncPhase::kSending) return;
    done = true;
    pair.amira->store().write_record(
        {"visit",
         visit,
         pair.case_id,
         {{"seen_alone", Value::boolean(true)}, {"reason_not_seen_alone", Value::null()}}});
    amira_edit = pair.amira->store().field_versions(visit).at("reason_not_seen_alone");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // Maya's stamp is the later one
    pair.maya->store().write_record({"visit",
                                     visit,
                                     pair.case_id,
                                     {{"reason_not_seen_alone", Value::text("no_private_space")}}});
    maya_edit = pair.maya->store().field_versions(visit).at("reason_not_seen_alone");
    pair.sync(*pair.maya);
  });
  const client::SyncReport report = pair.amira->sync();
  REQUIRE(done);
  REQUIRE(maya_edit > amira_edit);
  CHECK(report.outcome == client::SyncOutcome::kCompleted);

  // The pulled reason overrode Amira's unsent edit (a local conflict); her group, merged with it,
  // said "seen alone" with a reason for "not alone": rejected, and the conflict went with it.
  CHECK(report.groups_rejected == 1);
  const std::vector<client::RejectedGroup> rejections = pair.amira->store().rejections();
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].rejection.code == RejectionCode::kValidation);
  CHECK(pair.amira->store().conflicts().empty());
  CHECK(value_of(pair.amira->store(), visit, "seen_alone") == Value::boolean(false));
  CHECK(value_of(pair.amira->store(), visit, "reason_not_seen_alone") ==
        Value::text("no_private_space"));
  pair.check_agreement();
}

// The chaos found it with transfers on: the server marked a backfilled case as held in the
// transaction that made the answer, so when that answer was lost the device resent its old cursor
// and was sent only what changed after it: the case's earlier state never arrived. Now the case is
// held only once the device's cursor echoes the answer that carried it.
TEST_CASE("A case newly in scope comes whole even when the answer that carried it was lost",
          "[chaos]") {
  Pair pair;
  dev::create_council_person(pair.server.admin(), "ben");
  const CaseId bens = pair.server.admin().create_case("ben", {{"child_name", "Sam Patel"}});
  auto ben = pair.server.enrol("ben-phone", "ben");
  pair.sync(*ben);
  const RecordId visit = pair.amira->casework().record_visit(
      pair.case_id, {{"visit_type", Value::text("statutory_child_in_need")},
                     {"actual_start", Value::timestamp(pair.amira->store().now())},
                     {"child_seen", Value::boolean(true)},
                     {"seen_alone", Value::boolean(true)}});
  pair.sync(*pair.amira);
  pair.sync(*ben);  // his cursor moves past Amira's visit, which is not his to see

  pair.server.admin().allocate(pair.case_id, "ben");
  ben->transport().drop_next(1);  // the answer that backfills the case never arrives
  pair.sync(*ben);
  CHECK(ben->ledger().answers_dropped == 1);
  const std::vector<CaseId> held = ben->store().cases();
  CHECK(std::set<CaseId>(held.begin(), held.end()) == std::set<CaseId>{bens, pair.case_id});
  CHECK(value_of(ben->store(), visit, "seen_alone") == Value::boolean(true));
  CHECK(value_of(ben->store(), pair.case_id, "child_name") == Value::text("Jordan Ellis"));
}

}  // namespace fieldsync::integration
