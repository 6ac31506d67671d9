// The demo's story, told step by step on stdout. It checks what it claims (convergence, the
// conflict, no plaintext at rest) and fails loudly if any claim does not hold.
#include "demo.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>

#include "demo_hub.h"
#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::demo {
namespace {

// The system clock, as a phone whose clock is set wrong sees it.
class OffsetClock final : public ClockSource {
 public:
  explicit OffsetClock(std::int64_t offset_ms) : offset_ms_(offset_ms) {}
  std::int64_t wall_ms() override { return SystemClockSource::instance().wall_ms() + offset_ms_; }
  std::int64_t monotonic_ms() override { return SystemClockSource::instance().monotonic_ms(); }

 private:
  const std::int64_t offset_ms_;
};

class Narrator {
 public:
  explicit Narrator(bool quiet) : quiet_(quiet) {}
  template <typename... Args>
  void say(const char* format, Args... args) {
    if (quiet_) return;
    std::printf(format, args...);
    std::printf("\n");
  }
  void step(const char* title) {
    if (!quiet_) std::printf("\n== %s\n", title);
  }
  void check(bool ok, const std::string& claim) {
    std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
    if (!ok) ++failures_;
  }
  int failures() const { return failures_; }

 private:
  bool quiet_;
  int failures_ = 0;
};

struct Device {
  std::string person;
  std::string user_id;
  OffsetClock clock;
  platform::FileKeyWrapper wrapper;
  std::unique_ptr<client::Store> store;

  Device(const std::filesystem::path& dir, std::string name, std::string user,
         std::int64_t clock_offset_ms, const std::string& passcode)
      : person(std::move(name)),
        user_id(std::move(user)),
        clock(clock_offset_ms),
        wrapper(dir / (user_id + ".key")) {
    client::StoreOptions options;
    options.path = (dir / (user_id + ".db")).string();
    options.key_wrapper = &wrapper;
    options.clock = &clock;
    store = client::Store::create(options, passcode, {Uuid::random_v4(), user_id});
  }

  client::Casework casework() { return client::Casework(*store); }
  std::string path() const { return (wrapper.key_file().parent_path() / (user_id + ".db")).string(); }

  // One round trip through the hub, in the binary wire form.
  client::SyncApplied sync(DemoHub& hub, Narrator& narrator) {
    Telemetry telemetry;
    telemetry.app_version = "demo";
    telemetry.core_version = "0.1.0";
    telemetry.platform = "desktop";
    const SyncRequest request = store->prepare_sync(5000, telemetry);
    const std::string up = encode_request(request, WireFormat::kBinary);
    const std::string down = hub.round_trip(up, user_id);
    const client::SyncApplied applied =
        store->apply_sync(decode_response(down, WireFormat::kBinary));
    std::size_t pushed = 0;
    for (const WriteGroup& group : request.write_groups) pushed += group.changes.size();
    narrator.say("  %-6s sync: pushed %zu change(s) in %zu group(s), %zu bytes up; "
                 "%zu bytes down, %zu change(s) applied, %zu acked",
                 person.c_str(), pushed, request.write_groups.size(), up.size(), down.size(),
                 applied.changes_applied, applied.acked_groups);
    return applied;
  }
};

std::string observations_of(Device& device, const RecordId& visit) {
  const auto record = device.store->record(visit);
  const Value* value = record ? record->get("observations") : nullptr;
  return value ? value->as_text() : "(none)";
}

int tell_story(const std::filesystem::path& dir, Narrator& n) {
  const std::int64_t three_hours = 3LL * 60 * 60 * 1000;
  n.step("Three phones, each with its own encrypted store");
  DemoHub hub(SystemClockSource::instance());
  Device amira(dir, "Amira", "amira", 0, "2580");
  Device ben(dir, "Ben", "ben", three_hours, "1379");  // his phone's clock is 3 hours fast
  Device carol(dir, "Carol", "carol", 0, "4682");
  n.say("  Amira (social worker), Ben (covering colleague, phone clock 3 h fast), Carol (manager).");

  n.step("The council allocates Jordan's case; everyone checks in");
  const CaseId jordan = Uuid::random_v4();
  hub.create_case(jordan, {{"child_name", Value::text("Jordan Ellis")},
                           {"status", Value::text("open")},
                           {"plan_type", Value::text("child_protection")}});
  for (Device* device : {&amira, &ben, &carol}) device->sync(hub, n);

  n.step("Amira visits the family home, with no signal");
  client::Fields visit_fields = {
      {"visit_type", Value::text("statutory_child_protection")},
      {"location_type", Value::text("home")},
      {"actual_start", Value::timestamp(amira.store->now())},
      {"child_seen", Value::boolean(true)},
      {"seen_alone", Value::boolean(true)},
      {"people_present", Value::text("Jordan (child)\nMs Ellis (mother)")},
      {"observations", Value::text("Jordan was calm and showed me his room. Kitchen stocked.")},
      {"childs_views", Value::text("Jordan says he likes his new teacher.")}};
  const RecordId visit = amira.casework().record_visit(jordan, visit_fields);
  n.say("  Recorded on the device: %zu change(s) waiting in the outbox.",
        amira.store->outbox_change_count());
  try {
    client::Fields contradictory = visit_fields;
    contradictory["child_seen"] = Value::boolean(false);
    contradictory["reason_not_seen"] = Value::text("child_not_home");
    amira.casework().record_visit(jordan, contradictory);
    n.check(false, "a contradictory visit is refused");
  } catch (const Error& error) {
    n.check(error.is(ErrorCode::kValidation), std::string("a contradictory visit is refused: ") +
                                                  error.what());
  }

  n.step("Back in signal, Amira syncs; Ben and Carol pull the visit");
  amira.sync(hub, n);
  ben.sync(hub, n);
  carol.sync(hub, n);
  n.check(observations_of(ben, visit) == observations_of(amira, visit),
          "Ben's phone holds Amira's visit");

  n.step("Offline, Ben and Carol both add to the observations");
  ben.store->write_record(
      {"visit", visit, jordan,
       {{"observations", Value::text(observations_of(ben, visit) +
                                     " School (phone, Ben): attendance 96%.")}}});
  n.say("  Ben edits, having seen Amira's text. His phone says %s, but his stamp follows the "
        "server's clock: %s.",
        format_timestamp(Timestamp{ben.clock.wall_ms()}).c_str(),
        format_timestamp(Timestamp{static_cast<std::int64_t>(
                             ben.store->field_versions(visit).at("observations").hlc.ms())})
            .c_str());
  carol.store->write_record(
      {"visit", visit, jordan,
       {{"observations", Value::text(observations_of(carol, visit) +
                                     " Manager (Carol): discuss at supervision Friday.")}}});
  n.say("  Carol edits the same field from Amira's text: she has not seen Ben's.");

  n.step("Both sync: nothing is lost silently");
  ben.sync(hub, n);
  carol.sync(hub, n);
  amira.sync(hub, n);
  ben.sync(hub, n);
  const auto conflicts = carol.store->conflicts();
  n.check(conflicts.size() == 1, "the server reports exactly one conflict");
  if (!conflicts.empty()) {
    const Conflict& c = conflicts[0].conflict;
    n.say("  visit.%s: %s's value was overwritten by %s, who never saw it.", c.field.c_str(),
          c.lost.author.c_str(), c.winner.author.c_str());
    n.say("    lost:   \"%s\"", c.lost.value.as_text().c_str());
    n.say("    winner: \"%s\"", c.winner.value.as_text().c_str());
    n.check(ben.store->conflicts().size() == 1 && amira.store->conflicts().size() == 1,
            "every device of the case's workers holds the conflict");

    n.step("Carol reads both and restores Ben's text (which names both versions)");
    carol.store->resolve_conflict(c.lost.version, client::Store::Resolve::kRestoreLost);
    for (int round = 0; round < 2; ++round) {
      for (Device* device : {&carol, &amira, &ben}) device->sync(hub, n);
    }
  }
  n.check(hub.conflict_count() == 0, "the conflict log is empty after the resolution");
  n.check(carol.store->conflicts().empty() && ben.store->conflicts().empty() &&
              amira.store->conflicts().empty(),
          "every device dropped the conflict");
  const std::string final_text = observations_of(amira, visit);
  n.check(final_text == observations_of(ben, visit) && final_text == observations_of(carol, visit),
          "all three phones agree on the visit");
  n.say("  observations: \"%s\"", final_text.c_str());

  n.step("Amira writes a case note, submits it, and corrects it by amendment");
  client::Casework casework = amira.casework();
  const RecordId note = casework.write_note(
      jordan, {{"content", Value::text("Ms Ellis agreed to the school meeting on Tuesday.")},
               {"note_type", Value::text("case_note")}});
  casework.submit_note(note);
  try {
    casework.edit_note(note, {{"content", Value::text("rewritten")}});
    n.check(false, "a submitted note cannot be edited");
  } catch (const Error& error) {
    n.check(error.is(ErrorCode::kFrozen), std::string("a submitted note cannot be edited: ") +
                                              error.what());
  }
  casework.amend_note(note, "Ms Ellis agreed to the school meeting on Wednesday.",
                      "wrong day typed at the visit");
  amira.sync(hub, n);
  carol.sync(hub, n);
  n.check(carol.casework().notes(jordan).size() == 2,
          "Carol sees the original note and its amendment");

  n.step("At rest, the stores hold ciphertext only");
  for (Device* device : {&amira, &ben, &carol}) {
    const std::string raw = dev::read_file(device->path()) + dev::read_file(device->path() + "-wal");
    n.check(raw.find("Jordan") == std::string::npos && raw.find("Ellis") == std::string::npos,
            device->person + "'s store file (" + std::to_string(raw.size()) +
                " bytes) never contains the child's name");
  }
  return n.failures();
}

}  // namespace

int run_demo(const DemoOptions& options) {
  std::optional<dev::ScratchDir> scratch;
  std::filesystem::path dir;
  if (!options.keep_dir.empty()) {
    dir = options.keep_dir;
    std::filesystem::create_directories(dir);
  } else {
    scratch.emplace(std::filesystem::temp_directory_path(), "fieldsync-demo");
    dir = scratch->path();
  }
  std::printf("fieldsync demo: one child's visit, three people, patchy signal\n");
  std::printf("(the sync server is not built yet: an in-process stand-in plays its part)\n");
  Narrator narrator(options.quiet);
  int failures = 0;
  try {
    failures = tell_story(dir, narrator);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "demo failed: %s\n", error.what());
    failures = 1;
  }
  if (!scratch) std::printf("\nStores kept in %s\n", dir.string().c_str());
  std::printf("\n%s\n", failures == 0 ? "demo: every check held" : "demo: some checks FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace fieldsync::demo
