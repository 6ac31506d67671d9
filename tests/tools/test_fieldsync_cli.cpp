// The field-device tool end to end: the real `fieldsync` binary, run as a script would run it
// (passcode in FIELDSYNC_PASSCODE, profile in FIELDSYNC_DEVICE), against a real fieldsync-server
// on 127.0.0.1 set up through the admin API. Checks what a worker sees and what a script reads:
// output, --json that parses, and the documented exit codes (0 done, 1 error, 2 usage).
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_process.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/uuid.h"

namespace {

namespace tooltest = fieldsync::tooltest;
using fieldsync::CaseId;
using fieldsync::Uuid;
using nlohmann::json;
namespace dev = fieldsync::dev;

constexpr const char* kPasscode = "4711-river";

using tooltest::CliResult;
using tooltest::Environment;

CliResult run_cli(const dev::ScratchDir& scratch, const std::vector<std::string>& args,
                  const Environment& environment, const std::string& input = "") {
  return tooltest::run_tool(FIELDSYNC_CLI_BINARY, scratch, args, environment, input);
}

// One device profile, driven the way a script drives the tool.
class CliDevice {
 public:
  CliDevice(const dev::ScratchDir& scratch, const std::string& name)
      : scratch_(scratch), dir_(scratch.file(name)) {}

  CliResult run(const std::vector<std::string>& args, const Environment& extra = {},
                const std::string& input = "") const {
    Environment environment = {{"FIELDSYNC_DEVICE", dir_}, {"FIELDSYNC_PASSCODE", kPasscode}};
    for (const auto& [name, value] : extra) environment[name] = value;
    const CliResult result = run_cli(scratch_, args, environment, input);
    UNSCOPED_INFO("fieldsync " << tooltest::joined(args) << " -> " << result.exit_code
                               << "\nstdout: " << result.out << "\nstderr: " << result.err);
    return result;
  }

  // init, enrol and a first sync: the device holds its caseload.
  void set_up(const std::string& server_url, const std::string& code) const {
    REQUIRE(run({"init", "--server", server_url}).exit_code == 0);
    REQUIRE(run({"enrol", "--code", code}).exit_code == 0);
    REQUIRE(run({"sync"}).exit_code == 0);
  }

  const std::string& dir() const { return dir_; }

 private:
  const dev::ScratchDir& scratch_;
  std::string dir_;
};

bool is_uuid_line(const std::string& out) {
  return out.size() > 1 && out.back() == '\n' && Uuid::parse(out.substr(0, out.size() - 1));
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// A server with one team, one worker (alice) and Amy's case allocated to her.
struct ServerWithCaseload {
  dev::ScratchDir scratch;
  dev::ServerProcess server{
      {.binary = FIELDSYNC_SERVER_BINARY, .data_dir = scratch.file("server")}};
  std::unique_ptr<fieldsync::platform::HttpTransport> transport =
      fieldsync::platform::make_curl_transport();
  fieldsync::admin::AdminClient admin{*transport, server.url(), server.create_admin_token()};
  CaseId amy_case;

  ServerWithCaseload() {
    admin.create_team("north", "North team");
    admin.create_user("alice", "north", "worker", "Alice");
    amy_case = admin.create_case("alice", {{"child_name", "Amy Smith"}, {"status", "open"}});
  }
};

std::vector<std::string> visit_of(const CaseId& case_id, std::vector<std::string> fields) {
  std::vector<std::string> args = {"visit", "record", "--case", case_id.to_string()};
  args.insert(args.end(), fields.begin(), fields.end());
  return args;
}

const std::vector<std::string> kGoodVisit = {"visit_type=statutory_child_in_need",
                                             "actual_start=now", "child_seen=yes", "seen_alone=yes",
                                             "observations=Amy showed me her drawings"};

}  // namespace

TEST_CASE("a worker's device records offline, syncs, and a second device sees it", "[cli]") {
  ServerWithCaseload setup;
  const std::string amy = setup.amy_case.to_string();
  const CliDevice phone(setup.scratch, "phone");

  REQUIRE(phone.run({"init", "--server", setup.server.url()}).exit_code == 0);
  const CliResult before_enrolment = phone.run({"status"});
  CHECK(before_enrolment.exit_code == 0);
  CHECK(before_enrolment.out.find("not enrolled") != std::string::npos);

  const CliResult enrolled = phone.run({"enrol", "--code", setup.admin.enrolment_code("alice")});
  REQUIRE(enrolled.exit_code == 0);
  CHECK(enrolled.out.find("user alice") != std::string::npos);
  // The token lives only inside the encrypted store: the plain settings file does not hold it.
  CHECK(dev::read_file(phone.dir() + "/settings.json").find("token") == std::string::npos);

  REQUIRE(phone.run({"sync"}).exit_code == 0);
  const CliResult cases = phone.run({"cases"});
  CHECK(cases.exit_code == 0);
  CHECK(cases.out.find("Amy Smith") != std::string::npos);
  CHECK(cases.out.find(amy) != std::string::npos);
  const json cases_json = phone.run({"cases", "--json"}).out_json();
  REQUIRE(cases_json.size() == 1);
  CHECK(cases_json[0]["id"] == amy);
  CHECK(cases_json[0]["fields"]["child_name"] == "Amy Smith");

  const CliResult visit = phone.run(visit_of(setup.amy_case, kGoodVisit));
  REQUIRE(visit.exit_code == 0);
  REQUIRE(is_uuid_line(visit.out));
  const std::string visit_id = first_line(visit.out);

  const CliResult pending = phone.run({"status"});
  CHECK(pending.exit_code == 0);
  CHECK(pending.out.find("in 1 group") != std::string::npos);
  const json pending_json = phone.run({"status", "--json"}).out_json();
  CHECK(pending_json["pending_groups"] == 1);
  CHECK(pending_json["pending_changes"] == kGoodVisit.size());
  CHECK(pending_json["state"] == "unlocked");
  CHECK(pending_json["oldest_pending_at"].is_string());

  const CliResult synced = phone.run({"sync", "--json"});
  REQUIRE(synced.exit_code == 0);
  CHECK(synced.out_json()["outcome"] == "completed");
  CHECK(synced.out_json()["changes_pushed"] == kGoodVisit.size());
  CHECK(synced.err.find("round 1") != std::string::npos);  // progress on stderr

  const json after_sync = phone.run({"status", "--json"}).out_json();
  CHECK(after_sync["pending_changes"] == 0);
  CHECK(after_sync["oldest_pending_at"].is_null());
  CHECK(after_sync["last_sync_at"].is_string());
  CHECK(after_sync["conflicts"] == 0);
  CHECK(after_sync["rejections"] == 0);

  SECTION("a second device of the same worker gets the visit") {
    const CliDevice tablet(setup.scratch, "tablet");
    tablet.set_up(setup.server.url(), setup.admin.enrolment_code("alice"));
    CHECK(tablet.run({"cases"}).out.find("Amy Smith") != std::string::npos);
    const json visits = tablet.run({"visit", "list", "--case", amy, "--json"}).out_json();
    REQUIRE(visits.size() == 1);
    CHECK(visits[0]["id"] == visit_id);
    CHECK(visits[0]["fields"]["observations"] == "Amy showed me her drawings");
    CHECK(visits[0]["fields"]["child_seen"] == true);
    const CliResult listed = tablet.run({"visit", "list", "--case", amy});
    CHECK(listed.out.find("Amy showed me her drawings") != std::string::npos);
  }

  SECTION("notes: draft, submit, amend; a submitted note does not change") {
    const CliResult draft =
        phone.run({"note", "draft", "--case", amy, "--content", "Spoke to the school nurse",
                   "--type", "case_note", "--event-time", "now"});
    REQUIRE(draft.exit_code == 0);
    REQUIRE(is_uuid_line(draft.out));
    const std::string note_id = first_line(draft.out);
    CHECK(phone.run({"note", "edit", note_id, "--content", "Spoke to the school nurse today"})
              .exit_code == 0);
    CHECK(phone.run({"note", "submit", note_id}).exit_code == 0);

    const CliResult frozen = phone.run({"note", "edit", note_id, "--content", "rewritten"});
    CHECK(frozen.exit_code == 1);
    CHECK(frozen.err.find("content") != std::string::npos);
    CHECK(frozen.err_is_one_line());

    const CliResult amended =
        phone.run({"note", "amend", note_id, "--content", "Spoke to the school nurse on Monday",
                   "--reason", "the day was missing"});
    REQUIRE(amended.exit_code == 0);
    REQUIRE(is_uuid_line(amended.out));
    const json notes = phone.run({"note", "list", "--case", amy, "--json"}).out_json();
    REQUIRE(notes.size() == 2);
    CHECK(notes[0]["fields"]["content"] == "Spoke to the school nurse today");
    CHECK(notes[1]["fields"]["amends"] == note_id);
    CHECK(notes[1]["fields"]["amendment_reason"] == "the day was missing");
  }

  SECTION("a draft edited on two devices: the conflict is shown and resolved") {
    const CliDevice tablet(setup.scratch, "tablet");
    tablet.set_up(setup.server.url(), setup.admin.enrolment_code("alice"));
    const std::string note_id =
        first_line(phone.run({"note", "draft", "--case", amy, "--content", "first words"}).out);
    REQUIRE(phone.run({"sync"}).exit_code == 0);
    REQUIRE(tablet.run({"sync"}).exit_code == 0);

    // Both edit the draft without seeing the other's edit; the tablet's, later, wins.
    REQUIRE(phone.run({"note", "edit", note_id, "--content", "the phone's words"}).exit_code == 0);
    REQUIRE(phone.run({"sync"}).exit_code == 0);
    REQUIRE(tablet.run({"note", "edit", note_id, "--content", "the tablet's words"}).exit_code ==
            0);
    REQUIRE(tablet.run({"sync"}).exit_code == 0);
    REQUIRE(phone.run({"sync"}).exit_code == 0);

    const CliResult conflicts = phone.run({"conflicts"});
    REQUIRE(conflicts.exit_code == 0);
    CHECK(conflicts.out.find("the phone's words") != std::string::npos);
    CHECK(conflicts.out.find("the tablet's words") != std::string::npos);
    CHECK(conflicts.out.find("Amy Smith") != std::string::npos);
    const json conflicts_json = phone.run({"conflicts", "--json"}).out_json();
    REQUIRE(conflicts_json.size() == 1);
    CHECK(conflicts_json[0]["field"] == "content");
    CHECK(conflicts_json[0]["lost"]["value"] == "the phone's words");
    CHECK(phone.run({"status", "--json"}).out_json()["conflicts"] == 1);

    // The resolve line is copied from the text output, as a person would.
    const std::size_t at = conflicts.out.find("--lost ");
    REQUIRE(at != std::string::npos);
    const std::string lost = conflicts.out.substr(at + 7, conflicts.out.find(' ', at + 7) - at - 7);
    const CliResult resolved = phone.run({"resolve", "--lost", lost, "--restore-lost"});
    REQUIRE(resolved.exit_code == 0);
    CHECK(phone.run({"conflicts", "--json"}).out_json().empty());
    REQUIRE(phone.run({"sync"}).exit_code == 0);
    REQUIRE(tablet.run({"sync"}).exit_code == 0);
    CHECK(tablet.run({"conflicts", "--json"}).out_json().empty());
    const json notes = tablet.run({"note", "list", "--case", amy, "--json"}).out_json();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0]["fields"]["content"] == "the phone's words");
  }
}

TEST_CASE("the tool refuses bad input with a clear line and the documented exit code", "[cli]") {
  ServerWithCaseload setup;
  const std::string amy = setup.amy_case.to_string();
  const CliDevice phone(setup.scratch, "phone");

  SECTION("usage mistakes exit with 2") {
    const CliResult unknown = phone.run({"frobnicate"});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err.find("unknown command: frobnicate") != std::string::npos);
    CHECK(unknown.err_is_one_line());
    CHECK(phone.run({}).exit_code == 2);
    CHECK(phone.run({"note"}).exit_code == 2);
    const CliResult bad_option = phone.run({"cases", "--colour"});
    CHECK(bad_option.exit_code == 2);
    CHECK(bad_option.err.find("unknown option") != std::string::npos);
    CHECK(phone.run({"note", "submit"}).exit_code == 2);
    CHECK(phone.run({"visit", "record"}).err.find("--case") != std::string::npos);
    CHECK(phone.run({"init"}).exit_code == 2);
    CHECK(phone.run({"init", "--server", "ftp://example.org"}).exit_code == 2);
    CHECK(phone.run({"sync", "--timeout-s", "soon"}).exit_code == 2);
    CHECK(phone.run({"resolve", "--lost", "yesterday", "--keep-current"}).exit_code == 2);
    CHECK(phone.run({"resolve", "--lost", "1.0@" + amy, "--keep-current", "--restore-lost"})
              .exit_code == 2);
  }

  SECTION("every command has --help, and `fieldsync help` lists them all") {
    const CliResult overview = phone.run({"help"});
    REQUIRE(overview.exit_code == 0);
    for (const char* words : {"init",
                              "enrol",
                              "unlock",
                              "cases",
                              "visit record",
                              "visit list",
                              "note draft",
                              "note edit",
                              "note submit",
                              "note amend",
                              "note list",
                              "sync",
                              "status",
                              "conflicts",
                              "resolve",
                              "rejections",
                              "rejections dismiss",
                              "demo",
                              "version",
                              "help"}) {
      CHECK(overview.out.find(std::string("fieldsync ") + words) != std::string::npos);
      std::vector<std::string> args;
      for (std::string rest = words; !rest.empty();) {
        const std::size_t space = rest.find(' ');
        args.push_back(rest.substr(0, space));
        rest = space == std::string::npos ? "" : rest.substr(space + 1);
      }
      args.push_back("--help");
      const CliResult help = phone.run(args);
      CHECK(help.exit_code == 0);
      CHECK(help.out.starts_with(std::string("usage: fieldsync ") + words));
    }
    CHECK(phone.run({"visit", "record", "--help"}).out.find("child_seen*") != std::string::npos);
    CHECK(phone.run({"help", "note", "amend"}).out.starts_with("usage: fieldsync note amend"));
    CHECK(phone.run({"note", "--help"}).exit_code == 0);
  }

  SECTION("a device used before it is set up says what to run") {
    const CliResult no_profile = phone.run({"cases"});
    CHECK(no_profile.exit_code == 1);
    CHECK(no_profile.err.find("fieldsync init") != std::string::npos);
    REQUIRE(phone.run({"init", "--server", setup.server.url()}).exit_code == 0);
    const CliResult not_enrolled = phone.run({"cases"});
    CHECK(not_enrolled.exit_code == 1);
    CHECK(not_enrolled.err.find("fieldsync enrol") != std::string::npos);
    const CliResult bad_code = phone.run({"enrol", "--code", "NOT-A-REAL-CODE"});
    CHECK(bad_code.exit_code == 1);
    CHECK(bad_code.err.find("enrolment failed") != std::string::npos);
    CHECK(bad_code.err.find("unauthorized") != std::string::npos);
    CHECK(bad_code.err_is_one_line());
    const CliResult short_passcode =
        phone.run({"enrol", "--code", "X"}, {{"FIELDSYNC_PASSCODE", "12"}});
    CHECK(short_passcode.exit_code == 1);
    CHECK(short_passcode.err.find("too short") != std::string::npos);
  }

  SECTION("an enrolled device") {
    phone.set_up(setup.server.url(), setup.admin.enrolment_code("alice"));

    SECTION("a visit with a missing or wrong field is refused, naming the field") {
      const CliResult missing =
          phone.run(visit_of(setup.amy_case, {"visit_type=statutory_child_in_need",
                                              "child_seen=yes", "seen_alone=yes"}));
      CHECK(missing.exit_code == 1);
      CHECK(missing.err.find("actual_start") != std::string::npos);
      CHECK(missing.err.find("required") != std::string::npos);
      CHECK(missing.err_is_one_line());

      const CliResult wrong_type =
          phone.run(visit_of(setup.amy_case, {"visit_type=statutory_child_in_need",
                                              "actual_start=now", "child_seen=maybe"}));
      CHECK(wrong_type.exit_code == 1);
      CHECK(wrong_type.err.find("child_seen must be true or false") != std::string::npos);

      const CliResult wrong_code =
          phone.run(visit_of(setup.amy_case, {"visit_type=social_call", "actual_start=now",
                                              "child_seen=yes", "seen_alone=yes"}));
      CHECK(wrong_code.exit_code == 1);
      CHECK(wrong_code.err.find("visit_type") != std::string::npos);

      const CliResult rule = phone.run(visit_of(
          setup.amy_case, {"visit_type=statutory_child_in_need", "actual_start=now",
                           "child_seen=no", "seen_alone=yes", "reason_not_seen=no_answer"}));
      CHECK(rule.exit_code == 1);
      CHECK(rule.err.find("seen_alone") != std::string::npos);

      const CliResult typo = phone.run(visit_of(setup.amy_case, {"child_sen=yes"}));
      CHECK(typo.exit_code == 2);
      CHECK(typo.err.find("unknown visit field: child_sen") != std::string::npos);

      const CliResult bad_json =
          phone.run({"visit", "record", "--case", amy, "--fields", R"({"child_seen": "yes")"});
      CHECK(bad_json.exit_code == 1);
      CHECK(bad_json.err.find("--fields") != std::string::npos);

      const CliResult elsewhere = phone.run(visit_of(Uuid::random_v4(), kGoodVisit));
      CHECK(elsewhere.exit_code == 1);
      CHECK(elsewhere.err.find("no case") != std::string::npos);

      const CliResult from_json =
          phone.run({"visit", "record", "--case", amy, "--fields",
                     R"({"visit_type": "assessment", "actual_start": "2024-03-01T09:30:00Z",
               "child_seen": false, "reason_not_seen": "no_answer"})"});
      CHECK(from_json.exit_code == 0);
      CHECK(phone.run({"status", "--json"}).out_json()["pending_groups"] == 1);
    }

    SECTION("wrong passcodes count down; the passcode also comes from stdin or a file") {
      const CliResult wrong = phone.run({"cases"}, {{"FIELDSYNC_PASSCODE", "not-it"}});
      CHECK(wrong.exit_code == 1);
      CHECK(wrong.err.find("wrong passcode: 9 attempts left") != std::string::npos);
      CHECK(wrong.err_is_one_line());
      const CliResult wrong_again = phone.run({"unlock", "--json"}, {{"FIELDSYNC_PASSCODE", "x"}});
      CHECK(wrong_again.exit_code == 1);
      CHECK(wrong_again.out_json()["outcome"] == "wrong_passcode");
      CHECK(wrong_again.out_json()["attempts_left"] == 8);

      const CliResult from_stdin = phone.run({"unlock"}, {{"FIELDSYNC_PASSCODE", std::nullopt}},
                                             std::string(kPasscode) + "\n");
      CHECK(from_stdin.exit_code == 0);
      CHECK(from_stdin.out.find("unlocked") != std::string::npos);

      std::ofstream(setup.scratch.file("passcode")) << kPasscode << "\n";
      const CliResult from_file =
          phone.run({"unlock", "--json", "--passcode-file", setup.scratch.file("passcode")},
                    {{"FIELDSYNC_PASSCODE", std::nullopt}});
      CHECK(from_file.exit_code == 0);
      CHECK(from_file.out_json()["outcome"] == "unlocked");
      CHECK(from_file.out_json()["attempts_left"] == 10);  // a right passcode resets the count

      const CliResult none = phone.run({"cases"}, {{"FIELDSYNC_PASSCODE", std::nullopt}});
      CHECK(none.exit_code == 1);
      CHECK(none.err.find("no passcode") != std::string::npos);
    }

    SECTION("a second enrolment of the same profile is refused") {
      const CliResult again = phone.run({"enrol", "--code", setup.admin.enrolment_code("alice")});
      CHECK(again.exit_code == 1);
      CHECK(again.err.find("already enrolled") != std::string::npos);
      CHECK(phone.run({"init", "--server", setup.server.url()}).exit_code == 1);
    }

    SECTION("a sync that cannot reach the server fails at its time limit, keeping the outbox") {
      REQUIRE(phone.run(visit_of(setup.amy_case, kGoodVisit)).exit_code == 0);
      setup.server.stop();
      const CliResult unreachable = phone.run({"sync", "--timeout-s", "2"});
      CHECK(unreachable.exit_code == 1);
      CHECK(unreachable.err.find("retrying") != std::string::npos);
      CHECK(unreachable.err.find("time limit") != std::string::npos);
      CHECK(phone.run({"status", "--json"}).out_json()["pending_groups"] == 1);
    }

    SECTION("a revoked device is wiped at its next sync") {
      const auto device_id =
          phone.run({"status", "--json"}).out_json()["device_id"].get<std::string>();
      setup.admin.revoke(Uuid::parse_or_throw(device_id, "device_id"), "lost on the bus");
      const CliResult wiped = phone.run({"sync", "--json"});
      CHECK(wiped.exit_code == 1);
      CHECK(wiped.out_json()["outcome"] == "wiped");
      CHECK(wiped.err.find("wiped") != std::string::npos);
      CHECK(phone.run({"status"}).out.find("not enrolled") != std::string::npos);
    }
  }
}
