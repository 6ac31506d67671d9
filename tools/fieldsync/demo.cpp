// The demo's story, told step by step on stdout, against a real fieldsync-server process. It
// checks what it claims (scope, the clock correction, the conflict, the wipe, the transfer,
// agreement of every device with the server, no plaintext at rest) and fails loudly if any claim
// does not hold.
#include "demo.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/council.h"
#include "fieldsync/dev/field_device.h"
#include "fieldsync/dev/make_change.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/schema.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::demo {
namespace {

using client::Fields;

constexpr std::int64_t kThreeHoursMs = 3LL * 60 * 60 * 1000;

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

// One enrolled phone (dev::FieldDevice): its encrypted store, its key file, its own HTTP
// connection, and whose it is, for the story.
class Phone {
 public:
  Phone(const std::filesystem::path& dir, std::string person, const std::string& label,
        std::int64_t clock_offset_ms, const std::string& passcode)
      : person_(std::move(person)),
        device_({.dir = dir,
                 .label = label,
                 .passcode = passcode,
                 .clock_offset_ms = clock_offset_ms,
                 .key_file = true,
                 .client = {"demo phone", "demo"}},
                platform::make_curl_transport()) {}

  void enrol(const std::string& server_url, const std::string& code) {
    device_.enrol(server_url, code);
  }
  void reboot() { device_.reboot(); }

  client::SyncReport sync(Narrator& n) {
    const client::SyncReport report = device_.sync(device_.settings(), std::chrono::seconds(30));
    n.say("  %-5s syncs: %s; pushed %zu change(s), pulled %zu%s%s", person_.c_str(),
          std::string(client::to_string(report.outcome)).c_str(), report.changes_pushed,
          report.changes_pulled,
          report.conflicts_queued
              ? (", " + std::to_string(report.conflicts_queued) + " conflict(s)").c_str()
              : "",
          report.restamped_changes
              ? (", " + std::to_string(report.restamped_changes) + " change(s) re-stamped").c_str()
              : "");
    return report;
  }

  client::Store& store() { return device_.store(); }
  client::Casework casework() { return device_.casework(); }
  const std::string& person() const { return person_; }
  const std::string& path() const { return device_.path(); }
  std::string token() { return store().token().value_or(""); }
  dev::PhoneClock& clock() { return device_.clock(); }

 private:
  std::string person_;
  dev::FieldDevice device_;
};

std::string text_of(client::Store& store, const RecordId& id, const std::string& field) {
  const auto record = store.record(id);
  const Value* value = record ? record->get(field) : nullptr;
  return value ? value->as_text() : "(none)";
}

std::set<CaseId> cases_of(client::Store& store) {
  const std::vector<CaseId> cases = store.cases();
  return {cases.begin(), cases.end()};
}

Fields visit_fields(client::Store& store, bool seen_alone, const std::string& observations) {
  Fields fields = {{"visit_type", Value::text("statutory_child_protection")},
                   {"location_type", Value::text("home")},
                   {"actual_start", Value::timestamp(store.now())},
                   {"child_seen", Value::boolean(true)},
                   {"seen_alone", Value::boolean(seen_alone)},
                   {"people_present", Value::text("Ms Ellis (mother)")},
                   {"observations", Value::text(observations)}};
  if (!seen_alone) fields["reason_not_seen_alone"] = Value::text("child_too_young");
  return fields;
}

// The device holds, for each of its cases, exactly the server's current state: the same records,
// the same fields, the same versions and values.
bool agrees_with_server(client::Store& store, server::StorageTransaction& server_state,
                        std::size_t& fields_compared) {
  for (const CaseId& case_id : store.cases()) {
    std::map<std::pair<RecordId, std::string>, Change> on_server;
    for (const server::StoredChange& stored :
         server_state.current_of_case(case_id, server_state.last_seq())) {
      on_server[{stored.change.record_id, stored.change.field}] = stored.change;
    }
    std::size_t on_device = 0;
    for (const CollectionSpec& collection : Schema::domain().collections()) {
      for (const Record& record : store.records(case_id, collection.name)) {
        for (const auto& [field, version] : store.field_versions(record.id)) {
          const auto found = on_server.find({record.id, field});
          const auto value = record.fields.find(field);
          const Value device_value = value == record.fields.end() ? Value::null() : value->second;
          if (found == on_server.end() || found->second.version != version ||
              found->second.value != device_value) {
            return false;
          }
          ++on_device;
        }
      }
    }
    if (on_device != on_server.size()) return false;
    fields_compared += on_device;
  }
  return true;
}

// What a copy of a lost phone's token can still do: push a note on Sam's case and pull. True if
// the server accepted anything or sent anything back but the wipe directive.
bool sends_anything(platform::HttpTransport& transport, const std::string& server_url,
                    const std::string& token, const OriginId& device, const CaseId& case_id) {
  SyncRequest request;
  const WriteGroupId group = Uuid::random_v4();
  const Version version{Hlc(static_cast<std::uint64_t>(SystemClockSource::instance().wall_ms()), 0),
                        device};
  request.write_groups.push_back(
      {group,
       {dev::make_change("note", Uuid::random_v4(), case_id, "status", Value::text("draft"),
                         version, group, "", {}, 1000)}});
  platform::HttpRequest post{
      "POST",
      server_url + "/v1/sync",
      {{"Authorization", "Bearer " + token}, {"Content-Type", std::string(kBinaryContentType)}},
      encode_request(request, WireFormat::kBinary),
      std::chrono::milliseconds(10'000)};
  const platform::HttpResponse answer = transport.send(post);
  if (answer.status != 200) return answer.status < 400;
  const SyncResponse response = decode_response(answer.body, WireFormat::kBinary);
  const bool only_wipe =
      response.directives.size() == 1 && response.directives.front().kind == DirectiveKind::kWipe;
  return !response.acks.empty() || !response.changes.empty() || !only_wipe;
}

int tell_story(const std::filesystem::path& dir, Narrator& n) {
  n.step("The council's sync server starts");
  dev::ServerProcess server(
      {dev::locate_server_binary(FIELDSYNC_SERVER_BINARY), (dir / "server").string()});
  n.say("  fieldsync-server on %s, data in %s", server.url().c_str(),
        (dir / "server").string().c_str());
  auto admin_transport = platform::make_curl_transport();
  admin::AdminClient admin(*admin_transport, server.url(), server.create_admin_token("demo admin"));

  n.step("An admin sets up two teams, four people and three children's cases");
  const dev::CouncilCases council = dev::set_up_council(admin);
  const CaseId jordan = council.jordan, riley = council.riley, sam = council.sam;
  n.say("  North: Maya (manager), Amira and Ben (social workers). South: Chen (social worker).");
  n.say("  Jordan and Riley Ellis (siblings) are Amira's; Sam Patel is Ben's.");

  n.step("Each phone is enrolled with a one-time code and creates its encrypted store");
  Phone amira(dir, "Amira", "amira-phone", kThreeHoursMs, "2580");  // its clock is 3 hours fast
  Phone ben(dir, "Ben", "ben-phone", 0, "1379");
  Phone maya(dir, "Maya", "maya-tablet", 0, "4682");
  Phone chen(dir, "Chen", "chen-phone", 0, "9153");
  amira.enrol(server.url(), admin.enrolment_code("amira"));
  ben.enrol(server.url(), admin.enrolment_code("ben"));
  maya.enrol(server.url(), admin.enrolment_code("maya"));
  chen.enrol(server.url(), admin.enrolment_code("chen"));
  for (Phone* phone : {&amira, &ben, &maya, &chen}) phone->sync(n);
  n.check(cases_of(amira.store()) == std::set<CaseId>{jordan, riley},
          "Amira's phone holds Jordan's and Riley's cases");
  n.check(cases_of(ben.store()) == std::set<CaseId>{sam}, "Ben's phone holds Sam's case only");
  n.check(cases_of(maya.store()) == std::set<CaseId>{jordan, riley, sam},
          "Maya, their manager, holds all three");
  n.check(cases_of(chen.store()).empty(), "Chen, in another team, holds none of them");

  n.step(
      "Offline: Amira visits the Ellis household; her phone restarted with its clock 3 hours fast");
  amira.reboot();
  const std::vector<RecordId> household = amira.casework().record_household_visit(
      {},
      {{jordan, visit_fields(amira.store(), true, "Jordan showed me his room; calm and chatty.")},
       {riley,
        visit_fields(amira.store(), false, "Riley (2) asleep in the cot; well cared for.")}});
  const RecordId jordan_visit = household.at(0);
  n.say(
      "  One household visit, one record per child: Jordan seen alone, Riley seen (too young to be "
      "alone).");
  n.say("  Her phone reads %s, so the visit is stamped 3 hours ahead.",
        format_timestamp(Timestamp{amira.clock().wall_ms()}).c_str());
  try {
    Fields contradictory = visit_fields(amira.store(), true, "");
    contradictory["child_seen"] = Value::boolean(false);
    contradictory["reason_not_seen"] = Value::text("child_not_home");
    amira.casework().record_visit(jordan, contradictory);
    n.check(false, "a visit saying 'seen alone' but 'not seen' is refused");
  } catch (const Error& error) {
    n.check(error.is(ErrorCode::kValidation),
            std::string("a visit saying 'seen alone' but 'not seen' is refused: ") + error.what());
  }
  const RecordId ben_note = ben.casework().write_note(
      sam, {{"content", Value::text("Sam's school reports good attendance this term.")},
            {"note_type", Value::text("case_note")}});
  ben.casework().submit_note(ben_note);
  n.say("  Ben, also offline, submits a case note on Sam.");

  n.step("Back in signal: the server refuses stamps from the future; Amira's phone corrects them");
  const client::SyncReport amira_first = amira.sync(n);
  n.check(amira_first.restamped_changes > 0 && amira_first.outbox_remaining == 0,
          "Amira's visits were re-stamped from the server's time and accepted");
  const Version stamped = amira.store().field_versions(jordan_visit).at("observations");
  const std::int64_t ahead_ms =
      static_cast<std::int64_t>(stamped.hlc.ms()) - SystemClockSource::instance().wall_ms();
  n.check(ahead_ms < 60'000, "the visit's stamp is now within a minute of real time (" +
                                 std::to_string(ahead_ms / 1000) + " s), not 3 hours ahead");
  ben.sync(n);
  maya.sync(n);
  n.check(
      maya.store().record(jordan_visit).has_value() && maya.store().record(ben_note).has_value(),
      "Maya's tablet holds both children's visits and Ben's note");

  n.step("Offline again, Amira and Maya (covering Amira's afternoon) add to Jordan's visit");
  amira.store().write_record(
      {"visit",
       jordan_visit,
       jordan,
       {{"observations", Value::text(text_of(amira.store(), jordan_visit, "observations") +
                                     " Mother mentioned a new partner.")}}});
  maya.store().write_record(
      {"visit",
       jordan_visit,
       jordan,
       {{"observations", Value::text(text_of(maya.store(), jordan_visit, "observations") +
                                     " School nurse (phone): no concerns.")}}});
  n.say("  Each edits the text she has; neither has seen the other's edit.");
  maya.sync(n);
  amira.sync(n);
  maya.sync(n);
  const auto conflicts = maya.store().conflicts();
  n.check(conflicts.size() == 1,
          "the server reports exactly one conflict: Amira's line was overwritten unseen");
  n.check(amira.store().conflicts().size() == 1, "Amira's phone holds the same conflict");
  if (!conflicts.empty()) {
    const Conflict& c = conflicts.front().conflict;
    n.say("    lost   (%s): \"%s\"", c.lost.author.c_str(), c.lost.value.as_text().c_str());
    n.say("    winner (%s): \"%s\"", c.winner.author.c_str(), c.winner.value.as_text().c_str());
    n.say("  Maya reads both, resolves the conflict, and adds Amira's line to the text.");
    maya.store().resolve_conflict(c.lost.version, client::Store::Resolve::kKeepCurrent);
    maya.store().write_record(
        {"visit",
         jordan_visit,
         jordan,
         {{"observations",
           Value::text(c.winner.value.as_text() + " Mother mentioned a new partner.")}}});
    maya.sync(n);
    amira.sync(n);
  }
  n.check(maya.store().conflicts().empty() && amira.store().conflicts().empty(),
          "the conflict is resolved on every device");
  n.check(text_of(amira.store(), jordan_visit, "observations") ==
              text_of(maya.store(), jordan_visit, "observations"),
          "Amira and Maya hold the same observations");

  n.step("Ben's phone is lost; the admin revokes it");
  const OriginId lost_phone = ben.store().identity().device_id;
  const std::string lost_token = ben.token();
  admin.revoke(lost_phone, "reported lost on the bus");
  const client::SyncReport finder = ben.sync(n);
  n.check(finder.outcome == client::SyncOutcome::kWiped && !std::filesystem::exists(ben.path()),
          "when the phone next connects, the server tells it to wipe, and its store is gone");
  n.check(!sends_anything(*admin_transport, server.url(), lost_token, lost_phone, sam),
          "a copy of the phone's token gets nothing in and nothing out: the server answers only "
          "'wipe'");
  Phone ben_new(dir, "Ben", "ben-new-phone", 0, "8642");
  ben_new.enrol(server.url(), admin.enrolment_code("ben"));
  ben_new.sync(n);
  n.check(ben_new.store().record(ben_note).has_value(),
          "Ben's replacement phone gets Sam's case back, note included");

  n.step("Riley's case moves to the South team, to Chen");
  admin.allocate(riley, "chen");
  for (Phone* phone : {&chen, &amira, &maya, &amira, &maya}) phone->sync(n);
  n.check(cases_of(chen.store()) == std::set<CaseId>{riley} &&
              chen.store().record(household.at(1)).has_value(),
          "Chen's phone holds Riley's whole case, Amira's visit included");
  n.check(!cases_of(amira.store()).contains(riley) &&
              !amira.store().record(household.at(1)).has_value(),
          "Amira's phone no longer holds Riley's case");
  n.check(!cases_of(maya.store()).contains(riley),
          "nor does Maya's: Riley is no longer her team's");

  n.step("At rest, the stores hold ciphertext only");
  for (Phone* phone : {&amira, &maya, &chen, &ben_new}) {
    const std::string raw = dev::read_file(phone->path()) + dev::read_file(phone->path() + "-wal");
    n.check(raw.find("Ellis") == std::string::npos && raw.find("Patel") == std::string::npos,
            phone->person() + "'s store (" + std::to_string(raw.size()) +
                " bytes) never shows a child's name");
  }

  n.step("Final check: every device agrees with the server on every field");
  const int exit_status = server.stop();
  n.check(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0,
          "the server stopped cleanly on SIGTERM");
  auto storage = server::open_sqlite_storage((dir / "server").string());
  auto state = storage->begin();
  for (Phone* phone : {&amira, &maya, &chen, &ben_new}) {
    std::size_t fields = 0;
    const bool agrees = agrees_with_server(phone->store(), *state, fields);
    n.check(agrees, phone->person() + "'s device: " + std::to_string(fields) +
                        " fields, same values and versions as the server");
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
  std::printf("fieldsync demo: four people, three children, patchy signal, one lost phone\n");
  Narrator narrator(options.quiet);
  int failures = 0;
  try {
    failures = tell_story(dir, narrator);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "demo failed: %s\n", error.what());
    failures = 1;
  }
  if (!scratch) std::printf("\nServer and device data kept in %s\n", dir.string().c_str());
  std::printf("\n%s\n", failures == 0 ? "demo: every check held" : "demo: some checks FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace fieldsync::demo
