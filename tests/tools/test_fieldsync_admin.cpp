// fieldsync-admin end to end: the real binary, run as an admin's script would run it (token in
// FIELDSYNC_ADMIN_TOKEN or a token file), against a real fieldsync-server on 127.0.0.1 that real
// device stores synced with. Every command's --json is parsed back and compared with what the
// server's admin API answers; the tables must carry the key facts; refusals must say what went
// wrong with the documented exit code (0 done, 1 refused, 2 usage, 3 unreachable, 4 token or role
// refused, 5 audit chain broken).
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_process.h"
#include "device_fixture.h"
#include "fieldsync/sqlite_db.h"

using namespace fieldsync;
using namespace fieldsync::itest;
using nlohmann::json;
using tooltest::CliResult;
using tooltest::Environment;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A server with the council of device_fixture.h, failing devices marked at risk after one failed
// sync, and an admin token for the tool.
class AdminCliFixture {
 public:
  AdminCliFixture()
      : server_({.extra_args = {"--failing-syncs", "1"}}),
        token_(server_.process().create_admin_token("Jo Admin", "monitor,manage,enrol")) {}

  // `fieldsync-admin args... --server URL`, with the token in the environment.
  CliResult run(std::vector<std::string> args, Environment environment = {}) const {
    environment.try_emplace("FIELDSYNC_ADMIN_TOKEN", token_);
    environment.try_emplace("FIELDSYNC_ADMIN_SERVER", std::nullopt);
    args.push_back("--server");
    args.push_back(server_.url());
    const CliResult result =
        tooltest::run_tool(FIELDSYNC_ADMIN_BINARY, scratch_, args, environment);
    UNSCOPED_INFO("fieldsync-admin " << tooltest::joined(args) << " -> " << result.exit_code
                                     << "\nstdout: " << result.out << "\nstderr: " << result.err);
    return result;
  }
  // The command with --json, which must succeed; its output parsed.
  json run_json(std::vector<std::string> args) const {
    args.push_back("--json");
    const CliResult result = run(args);
    REQUIRE(result.exit_code == 0);
    return result.out_json();
  }
  // The same question put to the API directly.
  json api(const std::string& path) { return server_.admin().call("GET", path); }

  TestServer& server() { return server_; }
  const dev::ScratchDir& scratch() const { return scratch_; }
  const std::string& token() const { return token_; }

 private:
  TestServer server_;
  dev::ScratchDir scratch_;
  std::string token_;
};

// A draft note on Jordan's case by Amira, then its content overwritten by Maya, who never saw
// it: one open conflict. Chen, who does not hold Jordan's case, tries to write to it: one
// rejection (scope); his device also sends a body that does not decode: it is at risk.
struct Fleet {
  Council council;
  TestDevice amira;
  TestDevice ben;
  RawDevice amira_raw;
  RawDevice maya_raw;
  RawDevice chen_raw;

  explicit Fleet(TestServer& server)
      : council(set_up_council(server.admin())),
        amira(server, "amira"),
        ben(server, "ben"),
        amira_raw(server, "amira"),
        maya_raw(server, "maya"),
        chen_raw(server, "chen") {
    amira.casework().record_visit(council.jordan, visit_fields(amira.store(), "Jordan was calm."));
    REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
    REQUIRE(ben.sync().outcome == client::SyncOutcome::kCompleted);

    const WriteGroup note = amira_raw.new_note(council.jordan, "first words");
    REQUIRE(push(amira_raw, note).acks.size() == 1);
    const RecordId note_id = note.changes.front().record_id;
    const WriteGroupId edit_id = Uuid::random_v4();
    const WriteGroup edit{edit_id,
                          {maya_raw.change("note", note_id, council.jordan, "content",
                                           Value::text("other words"), edit_id, maya_raw.id())}};
    REQUIRE(push(maya_raw, edit).acks.size() == 1);

    REQUIRE(chen_raw.post("not a sync request").status == 400);
    REQUIRE(push(chen_raw, chen_raw.new_note(council.jordan, "not mine")).rejections.size() == 1);
  }

  static SyncResponse push(RawDevice& device, const WriteGroup& group) {
    SyncRequest request;
    request.write_groups.push_back(group);
    return device.sync(request);
  }
};

std::set<std::string> device_ids(const json& list) {
  std::set<std::string> ids;
  for (const json& device : list.at("devices")) ids.insert(device.at("device_id"));
  return ids;
}

}  // namespace

TEST_CASE("fieldsync-admin shows what the server holds, command by command", "[admin-cli]") {
  AdminCliFixture admin;
  Fleet fleet(admin.server());
  const std::string amira = fleet.amira.id().to_string();
  const std::string ben = fleet.ben.id().to_string();
  const std::string chen = fleet.chen_raw.id().to_string();

  SECTION("overview") {
    const json overview = admin.run_json({"overview"});
    const json expected = admin.api("/v1/admin/overview");
    CHECK(overview.at("devices") == expected.at("devices"));
    CHECK(overview.at("devices").at("total") == 5);
    CHECK(overview.at("devices").at("at_risk") == 1);
    CHECK(overview.at("open_conflicts") == 1);
    CHECK(overview.at("last_day") == expected.at("last_day"));
    CHECK(overview.at("rules") == expected.at("rules"));
    const CliResult table = admin.run({"overview"});
    CHECK(table.exit_code == 0);
    CHECK(has(table.out, "5 in all: 4 healthy, 0 stale, 1 at risk, 0 revoked, 0 retired"));
    CHECK(has(table.out, "1 open"));
    CHECK(has(table.out, "last day"));
  }
  SECTION("activity") {
    const json activity = admin.run_json({"activity", "--hours", "1", "--bucket-minutes", "5"});
    CHECK(activity.at("bucket_minutes") == 5);
    CHECK(activity.at("buckets").size() == 12);
    const json day = admin.run_json({"activity"});
    CHECK(day.at("buckets").size() == 24);
    const auto syncs = std::accumulate(day.at("buckets").begin(), day.at("buckets").end(),
                                       std::int64_t{0}, [](std::int64_t sum, const json& bucket) {
                                         return sum + bucket.at("syncs").get<std::int64_t>();
                                       });
    CHECK(syncs == admin.api("/v1/admin/overview").at("last_day").at("syncs"));
    CHECK(has(admin.run({"activity"}).out, "SYNCS"));
  }
  SECTION("devices, with filters, sorting and paging") {
    const json all = admin.run_json({"devices"});
    CHECK(all == admin.api("/v1/admin/devices"));
    CHECK(all.at("total") == 5);
    CHECK(all.at("devices").at(0).at("device_id") == chen);  // at risk comes first
    CHECK(admin.run_json({"devices", "--state", "at_risk"}).at("devices").size() == 1);
    CHECK(device_ids(admin.run_json({"devices", "--state", "healthy,at_risk", "--user", "chen"})) ==
          std::set<std::string>{chen});
    CHECK(admin.run_json({"devices", "--user", "amira"}).at("total") == 2);
    CHECK(admin.run_json({"devices", "--team", "south"}).at("total") == 1);
    CHECK(admin.run_json({"devices", "--search", "Amira Sh"}).at("total") == 2);
    CHECK(admin.run_json({"devices", "--platform", "linux"}).at("total") == 2);
    const json page =
        admin.run_json({"devices", "--sort", "-device_id", "--limit", "2", "--offset", "1"});
    CHECK(page == admin.api("/v1/admin/devices?sort=-device_id&limit=2&offset=1"));
    CHECK(page.at("devices").size() == 2);

    const CliResult table = admin.run({"devices"});
    CHECK(table.exit_code == 0);
    for (const std::string& id : {amira, ben, chen}) CHECK(has(table.out, id));
    CHECK(has(table.out, "at risk"));
    CHECK(has(table.out, "healthy"));
    CHECK(has(table.out, "1-5 of 5 devices"));
    CHECK(has(admin.run({"devices", "--limit", "2"}).out, "--offset 2 for the next page"));
  }
  SECTION("one device") {
    const json device = admin.run_json({"device", amira});
    CHECK(device == admin.api("/v1/admin/devices/" + amira));
    CHECK(device.at("user_id") == "amira");
    CHECK(device.at("recent_syncs").at(0).at("outcome") == "ok");
    CHECK(admin.run_json({"device", amira, "--history", "1"}).at("recent_syncs").size() == 1);
    const CliResult table = admin.run({"device", amira});
    CHECK(has(table.out, "amira (Amira Shah), team north"));
    CHECK(has(table.out, "healthy"));
    CHECK(has(table.out, "recent syncs"));
    const CliResult failing = admin.run({"device", chen});
    CHECK(has(failing.out, "at risk"));
    CHECK(has(failing.out, "scope"));  // the last error the server answered
    CHECK(has(failing.out, "failed"));
  }
  SECTION("revoke and retire") {
    const CliResult revoked = admin.run({"revoke", ben, "--reason", "phone lost"});
    REQUIRE(revoked.exit_code == 0);
    CHECK(has(revoked.out, "revoked"));
    const json ben_now = admin.api("/v1/admin/devices/" + ben);
    CHECK(ben_now.at("state") == "revoked");
    CHECK(ben_now.at("status_reason") == "phone lost");
    // Asked twice: said plainly, and the first reason stays.
    const CliResult again = admin.run({"revoke", ben, "--reason", "found it?"});
    CHECK(again.exit_code == 1);
    CHECK(again.err ==
          "fieldsync-admin: the device is already revoked: it is wiped at its next "
          "sync; nothing was changed\n");
    CHECK(admin.api("/v1/admin/devices/" + ben).at("status_reason") == "phone lost");
    const json retired = admin.run_json({"retire", amira, "--reason", "left the team"});
    CHECK(retired.at("state") == "retired");
    CHECK(admin.api("/v1/admin/devices/" + amira).at("state") == "retired");
    // The device learns it at its next sync.
    CHECK(fleet.ben.sync().outcome == client::SyncOutcome::kWiped);
    const CliResult contradiction = admin.run({"retire", ben});
    CHECK(contradiction.exit_code == 1);
    CHECK(has(contradiction.err, "a revoked device cannot be retired"));
    CHECK(contradiction.err_is_one_line());
  }
  SECTION("conflicts and rejections") {
    const json conflicts = admin.run_json({"conflicts"});
    CHECK(conflicts == admin.api("/v1/admin/conflicts"));
    REQUIRE(conflicts.at("total") == 1);
    CHECK(conflicts.at("conflicts").at(0).at("field") == "content");
    CHECK(conflicts.at("conflicts").at(0).at("lost").at("user_id") == "amira");
    CHECK(admin.run_json({"conflicts", "--state", "resolved"}).at("total") == 0);
    CHECK(admin.run_json({"conflicts", "--user", "maya"}).at("total") == 1);
    const CliResult conflict_table = admin.run({"conflicts", "--state", "open"});
    CHECK(has(conflict_table.out, fleet.council.jordan.to_string()));
    CHECK(has(conflict_table.out, "content"));
    CHECK(has(conflict_table.out, "open"));

    const json rejections = admin.run_json({"rejections"});
    CHECK(rejections == admin.api("/v1/admin/rejections"));
    REQUIRE(rejections.at("total") == 1);
    CHECK(rejections.at("rejections").at(0).at("code") == "scope");
    CHECK(rejections.at("rejections").at(0).at("device_id") == chen);
    CHECK(admin.run_json({"rejections", "--code", "validation"}).at("total") == 0);
    CHECK(admin.run_json({"rejections", "--since", "1h", "--user", "chen"}).at("total") == 1);
    CHECK(admin.run_json({"rejections", "--since", "2999-01-01"}).at("total") == 0);
    const CliResult rejection_table = admin.run({"rejections"});
    CHECK(has(rejection_table.out, chen));
    CHECK(has(rejection_table.out, "scope"));
  }
  SECTION("teams, users, cases, allocate, enrol") {
    CHECK(admin.run_json({"teams"}) == admin.api("/v1/admin/teams"));
    CHECK(admin.run_json({"users"}) == admin.api("/v1/admin/users"));
    CHECK(admin.run_json({"cases"}) == admin.api("/v1/admin/cases"));
    CHECK(has(admin.run({"teams"}).out, "North Family Support"));
    CHECK(has(admin.run({"users"}).out, "Maya Okafor"));
    CHECK(has(admin.run({"cases"}).out, fleet.council.sam.to_string()));

    REQUIRE(admin.run({"teams", "add", "east", "--name", "East Early Help"}).exit_code == 0);
    REQUIRE(admin
                .run({"users", "add", "dana", "--team", "east", "--role", "manager", "--name",
                      "Dana Reid"})
                .exit_code == 0);
    CHECK(has(admin.api("/v1/admin/teams").dump(), "East Early Help"));
    const json users = admin.api("/v1/admin/users");
    CHECK(std::ranges::any_of(users.at("users"), [](const json& user) {
      return user.at("user_id") == "dana" && user.at("role") == "manager" &&
             user.at("team_id") == "east";
    }));

    const std::string riley = fleet.council.riley.to_string();
    const CliResult allocated = admin.run({"allocate", riley, "--to", "chen"});
    REQUIRE(allocated.exit_code == 0);
    CHECK(has(allocated.out, "worker chen"));
    const json cases = admin.api("/v1/admin/cases");
    CHECK(std::ranges::any_of(cases.at("cases"), [&](const json& item) {
      return item.at("case_id") == riley && item.at("worker_id") == "chen" &&
             item.at("team_id") == "south";
    }));
    CHECK(admin.run_json({"allocate", riley, "--team", "north"}).at("worker_id") == "");

    // A new case, to a worker, from FIELD=VALUE operands; its id printed, not its content.
    const CliResult added = admin.run(
        {"cases", "add", "--to", "amira", "child_name=Casey Test", "referral_date=2026-11-02"});
    REQUIRE(added.exit_code == 0);
    CHECK(has(added.out, "added, with team north, worker amira"));
    CHECK_FALSE(has(added.out, "Casey"));
    const std::string new_case = added.out.substr(5, 36);
    CHECK(std::ranges::any_of(admin.api("/v1/admin/cases").at("cases"), [&](const json& item) {
      return item.at("case_id") == new_case && item.at("worker_id") == "amira";
    }));
    // Amira's device receives it at its next sync.
    REQUIRE(fleet.amira.sync().outcome == client::SyncOutcome::kCompleted);
    CHECK(std::ranges::any_of(fleet.amira.casework().caseload(), [&](const Record& record) {
      return record.id.to_string() == new_case;
    }));
    // To a team, from a file, with the id chosen by the admin and --json.
    const std::string fields_file = admin.scratch().file("case.json");
    std::ofstream(fields_file) << R"({"child_name": "Robin Test", "plan_type": "child_in_need"})";
    const std::string chosen = Uuid::random_v4().to_string();
    const json team_case = admin.run_json(
        {"cases", "add", "--team", "south", "--case-id", chosen, "--fields-file", fields_file});
    CHECK(team_case == json{{"case_id", chosen}, {"team_id", "south"}, {"worker_id", ""}});
    const CliResult again =
        admin.run({"cases", "add", "--team", "south", "--case-id", chosen, "child_name=X"});
    CHECK(again.exit_code == 1);
    CHECK(has(again.err, "already exists"));

    // The code printed is a real one: a device enrols with it as Ben.
    const CliResult code = admin.run({"enrol", "ben", "--valid-hours", "2"});
    REQUIRE(code.exit_code == 0);
    CHECK(has(code.err, "works once"));
    const std::string typed = code.out.substr(0, code.out.find('\n'));
    const auto transport = platform::make_curl_transport();
    CHECK(client::enrol(*transport, admin.server().url(), typed, {"linux", "itest"}).user_id ==
          "ben");
    CHECK(admin.run_json({"enrol", "amira"}).at("user_id") == "amira");
  }
  SECTION("the audit log, its filters and its check") {
    REQUIRE(admin.run({"revoke", ben, "--reason", "phone lost"}).exit_code == 0);
    const json revocations = admin.run_json({"audit", "--action", "device.revoked"});
    CHECK(revocations == admin.api("/v1/admin/audit?action=device.revoked"));
    REQUIRE(revocations.at("entries").size() == 1);
    CHECK(revocations.at("entries").at(0).at("actor_name") == "Jo Admin");
    CHECK(revocations.at("entries").at(0).at("detail").at("status_reason") == "phone lost");
    const json about_amira = admin.run_json({"audit", "--device", amira});
    REQUIRE_FALSE(about_amira.at("entries").empty());
    for (const json& entry : about_amira.at("entries")) CHECK(entry.at("device_id") == amira);
    const json jordan =
        admin.run_json({"audit", "--case", fleet.council.jordan.to_string(), "--limit", "2"});
    CHECK(jordan.at("entries").size() == 2);
    CHECK_FALSE(jordan.at("next_before").is_null());
    const std::string actor = revocations.at("entries").at(0).at("actor");
    CHECK(admin.run_json({"audit", "--actor", actor}) ==
          admin.api("/v1/admin/audit?actor=" + actor));
    CHECK(admin.run_json({"audit", "--since", "1d"}).at("entries").size() ==
          admin.api("/v1/admin/audit").at("entries").size());
    CHECK(admin.run_json({"audit", "--until", "2001-01-01"}).at("entries").empty());
    const CliResult table = admin.run({"audit", "--limit", "5"});
    CHECK(has(table.out, "device.revoked"));
    CHECK(has(table.out, "phone lost"));
    CHECK(has(table.out, "--before"));

    const json verified = admin.run_json({"audit", "--verify"});
    CHECK(verified.at("intact") == true);
    CHECK(verified.at("head") == admin.api("/v1/admin/audit/verify").at("head"));
    CHECK(has(admin.run({"audit", "--verify"}).out, "intact"));
  }
}

TEST_CASE("fieldsync-admin says clearly what went wrong, with the documented exit code",
          "[admin-cli]") {
  AdminCliFixture admin;
  Fleet fleet(admin.server());
  const std::string ben = fleet.ben.id().to_string();

  SECTION("no token, a wrong one, one without the role") {
    const CliResult none = admin.run({"devices"}, {{"FIELDSYNC_ADMIN_TOKEN", std::nullopt}});
    CHECK(none.exit_code == 2);
    CHECK(has(none.err, "FIELDSYNC_ADMIN_TOKEN"));
    CHECK(none.err_is_one_line());

    const std::string wrong = admin.token().substr(0, admin.token().size() - 4) + "0000";
    const CliResult refused = admin.run({"devices"}, {{"FIELDSYNC_ADMIN_TOKEN", wrong}});
    CHECK(refused.exit_code == 4);
    CHECK(has(refused.err, "refused the admin token"));
    CHECK(refused.err_is_one_line());

    const std::string monitor = admin.server().process().create_admin_token("Watcher", "monitor");
    const CliResult forbidden = admin.run({"revoke", ben}, {{"FIELDSYNC_ADMIN_TOKEN", monitor}});
    CHECK(forbidden.exit_code == 4);
    CHECK(has(forbidden.err, "'enrol' role"));
    CHECK(admin.api("/v1/admin/devices/" + ben).at("state") == "healthy");
    const std::string manager = admin.server().process().create_admin_token("Ops", "manage");
    const CliResult no_monitor = admin.run({"devices"}, {{"FIELDSYNC_ADMIN_TOKEN", manager}});
    CHECK(no_monitor.exit_code == 4);
    CHECK(has(no_monitor.err, "'monitor' role"));
  }
  SECTION("the token from a file, or from the command line") {
    const std::string file = admin.scratch().file("token");
    std::ofstream(file) << admin.token() << "\n";
    ::chmod(file.c_str(), 0600);
    const CliResult from_file =
        admin.run({"users", "--token-file", file}, {{"FIELDSYNC_ADMIN_TOKEN", "not-this-one"}});
    CHECK(from_file.exit_code == 0);
    CHECK(from_file.err.empty());
    ::chmod(file.c_str(), 0644);
    const CliResult readable = admin.run({"users", "--token-file", file});
    CHECK(readable.exit_code == 0);
    CHECK(has(readable.err, "can be read by other users"));
    const CliResult missing = admin.run({"users", "--token-file", file + ".missing"});
    CHECK(missing.exit_code == 2);
    CHECK(has(missing.err, "cannot read the token file"));
    const CliResult on_line =
        admin.run({"users", "--token", admin.token()}, {{"FIELDSYNC_ADMIN_TOKEN", std::nullopt}});
    CHECK(on_line.exit_code == 0);
  }
  SECTION("unknown devices and cases, and values the server refuses") {
    const std::string unknown = Uuid::random_v4().to_string();
    const CliResult no_device = admin.run({"device", unknown});
    CHECK(no_device.exit_code == 1);
    CHECK(has(no_device.err, "no device " + unknown));
    CHECK(no_device.err_is_one_line());
    CHECK(admin.run({"revoke", unknown}).exit_code == 1);
    const CliResult not_an_id = admin.run({"device", "my phone"});
    CHECK(not_an_id.exit_code == 1);
    CHECK(has(not_an_id.err, "device id"));
    const CliResult no_case = admin.run({"allocate", unknown, "--to", "chen"});
    CHECK(no_case.exit_code == 1);
    CHECK(has(no_case.err, "no case"));
    const CliResult bad_state = admin.run({"devices", "--state", "lost"});
    CHECK(bad_state.exit_code == 1);
    CHECK(has(bad_state.err, "'state' takes"));
    CHECK(admin.run({"users", "add", "zed", "--team", "nowhere"}).exit_code == 1);
    const CliResult no_user = admin.run({"cases", "add", "--to", "nobody", "child_name=X"});
    CHECK(no_user.exit_code == 1);
    CHECK(has(no_user.err, "no user 'nobody'"));
    const CliResult bad_date =
        admin.run({"cases", "add", "--to", "amira", "child_name=X", "date_of_birth=yesterday"});
    CHECK(bad_date.exit_code == 1);
    CHECK(has(bad_date.err, "date_of_birth"));
    CHECK(bad_date.err_is_one_line());
  }
  SECTION("usage mistakes") {
    for (const std::vector<std::string>& line : std::vector<std::vector<std::string>>{
             {"frobnicate"},
             {"devices", "--colour", "red"},
             {"devices", "--limit", "ten"},
             {"device"},
             {"audit", "--since", "last tuesday"},
             {"audit", "--verify", "--action", "sync"},
             {"allocate", ben},
             {"enrol", "ben", "--valid-hours", "721"},
             {"users", "add", "zed"},
             {"users", "add", "zed", "--team", "north", "--role", "boss"},
             {"cases", "add", "child_name=X"},
             {"cases", "add", "--to", "amira", "--team", "north", "child_name=X"},
             {"cases", "add", "--to", "amira"},
             {"cases", "add", "--to", "amira", "child_name"},
             {"cases", "add", "--to", "amira", "child_name=X", "colour=red"},
             {"cases", "add", "--to", "amira", "child_name=X", "recorded_in_error=maybe"},
             {"cases", "add", "--to", "amira", "--fields-file", "/nonexistent/case.json"}}) {
      const CliResult result = admin.run(line);
      CHECK(result.exit_code == 2);
      CHECK(result.err_is_one_line());
    }
    const CliResult bad_server = admin.run({"overview", "--server", "127.0.0.1:8443"});
    CHECK(bad_server.exit_code == 2);
  }
  SECTION("the server is down") {
    admin.server().process().stop();
    const CliResult down = admin.run({"overview"});
    CHECK(down.exit_code == 3);
    CHECK(has(down.err, "cannot reach the server at " + admin.server().url()));
    CHECK(down.err_is_one_line());
  }
  SECTION("an altered audit row") {
    const json created = admin.api("/v1/admin/audit?action=user.created&limit=1");
    const std::uint64_t seq = created.at("entries").at(0).at("seq");
    admin.server().process().stop();
    {
      sqlite::Database db(admin.server().data_dir() + "/fieldsync-server.db",
                          sqlite::Database::Mode::kReadWrite);
      db.exec("DROP TRIGGER audit_log_no_update");
      db.exec("UPDATE audit_log SET user_id = 'someone' WHERE seq = " + std::to_string(seq));
    }
    admin.server().process().restart();
    const CliResult broken = admin.run({"audit", "--verify"});
    CHECK(broken.exit_code == 5);
    CHECK(has(broken.err, "BROKEN at row " + std::to_string(seq)));
  }
}

TEST_CASE("fieldsync-admin has help for every command, with examples", "[admin-cli]") {
  const dev::ScratchDir scratch;
  auto run = [&](const std::vector<std::string>& args) {
    return tooltest::run_tool(FIELDSYNC_ADMIN_BINARY, scratch, args, {});
  };
  const CliResult overview = run({"--help"});
  REQUIRE(overview.exit_code == 0);
  CHECK(has(overview.out, "exit codes"));
  CHECK(has(overview.out, "FIELDSYNC_ADMIN_TOKEN"));
  CHECK(has(overview.out, "other users see command lines"));
  for (const char* words :
       {"overview", "activity", "devices", "device", "revoke", "retire", "enrol", "users",
        "users add", "teams", "teams add", "cases", "cases add", "allocate", "conflicts",
        "rejections", "audit", "version", "help"}) {
    INFO(words);
    CHECK(has(overview.out, std::string("fieldsync-admin ") + words));
    std::vector<std::string> args;
    std::string word;
    for (std::istringstream in(words); in >> word;) args.push_back(word);
    args.push_back("--help");
    const CliResult help = run(args);
    CHECK(help.exit_code == 0);
    CHECK(help.out.starts_with(std::string("usage: fieldsync-admin ") + words));
  }
  for (const char* words : {"overview", "devices", "device", "revoke", "retire", "enrol",
                            "allocate", "conflicts", "rejections", "audit"}) {
    INFO(words);
    CHECK(has(run({words, "--help"}).out, "fieldsync-admin " + std::string(words) + " "));
  }
  const CliResult add_case = run({"cases", "add", "--help"});
  CHECK(has(add_case.out, "fieldsync-admin cases add --to amira --fields-file"));
  CHECK(has(add_case.out, "child_name"));
  CHECK(has(add_case.out, "(ps)"));
  CHECK(run({"version"}).out.starts_with("fieldsync-admin "));
  CHECK(run({}).exit_code == 2);
}

TEST_CASE("fieldsync-admin links no database client library", "[admin-cli]") {
  // A shipped admin tool needs the HTTP transport and the admin API client, nothing of the
  // development helpers (which bring libpq for throwaway test databases). A linker that drops
  // unused libraries (--as-needed) would hide a needless -lpq here; without one, this catches it.
  const dev::ScratchDir scratch;
  const CliResult linked =
      tooltest::run_tool("/usr/bin/ldd", scratch, {FIELDSYNC_ADMIN_BINARY}, {});
  REQUIRE(linked.exit_code == 0);
  CHECK(has(linked.out, "libcurl"));
  CHECK_FALSE(has(linked.out, "libpq"));
}
