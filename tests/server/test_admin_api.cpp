// The admin API (docs/http-api.md, "Admin"): every route needs an admin token holding the route's
// role (401 without one, 403 without the role); objects cannot be created twice (409); bad input
// is a 400 that says what is wrong; unknown routes are 404 and wrong methods 405; lists carry
// metadata only, never case content; cases made here are stamped by the server itself.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

void check_error(const http::Response& response, int status, const std::string& name) {
  INFO(response.body);
  CHECK(response.status == status);
  CHECK(response.content_type == "application/json");
  CHECK(error_name(response) == name);
  CHECK_FALSE(error_message(response).empty());
}

bool message_mentions(const http::Response& response, const std::string& word) {
  return error_message(response).find(word) != std::string::npos;
}

}  // namespace

TEST_CASE("Admin routes need an admin token with the route's role", "[server][admin][auth]") {
  ServerFixture server;
  const nlohmann::json team = {{"team_id", "north"}};

  SECTION("no token: 401") {
    check_error(server.call("GET", "/v1/admin/teams"), 401, "unauthorized");
    check_error(server.call("POST", "/v1/admin/teams", team.dump(), "application/json"), 401,
                "unauthorized");
  }
  SECTION("a device token: 401") {
    server.create_team("north");
    server.create_user("amira", "north");
    const TestDevice phone = server.enrol("amira");
    check_error(server.admin_call("GET", "/v1/admin/teams", nullptr, phone.token), 401,
                "unauthorized");
  }
  SECTION("monitor may list but not change") {
    const std::string monitor = server.issue_admin_token({"monitor"});
    CHECK(server.admin_call("GET", "/v1/admin/teams", nullptr, monitor).status == 200);
    CHECK(server.admin_call("GET", "/v1/admin/devices", nullptr, monitor).status == 200);
    const http::Response denied = server.admin_call("POST", "/v1/admin/teams", team, monitor);
    check_error(denied, 403, "forbidden");
    CHECK(message_mentions(denied, "manage"));
    CHECK(server.admin("GET", "/v1/admin/teams").at("teams").empty());
  }
  SECTION("enrol may issue codes and revoke, but not manage users or list") {
    server.create_team("north");
    server.create_user("amira", "north");
    const std::string enrol = server.issue_admin_token({"enrol"});
    CHECK(server.admin_call("POST", "/v1/admin/enrolment-codes", {{"user_id", "amira"}}, enrol)
              .status == 200);
    check_error(server.admin_call("POST", "/v1/admin/users",
                                  {{"user_id", "bilal"}, {"team_id", "north"}}, enrol),
                403, "forbidden");
    check_error(server.admin_call("GET", "/v1/admin/devices", nullptr, enrol), 403, "forbidden");
  }
  SECTION("manage may create teams but not issue enrolment codes") {
    const std::string manage = server.issue_admin_token({"manage"});
    CHECK(server.admin_call("POST", "/v1/admin/teams", team, manage).status == 200);
    server.create_user("amira", "north");
    check_error(
        server.admin_call("POST", "/v1/admin/enrolment-codes", {{"user_id", "amira"}}, manage), 403,
        "forbidden");
  }
  SECTION("an expired admin token: 401") {
    const std::string brief = server.issue_admin_token({"monitor"}, 60'000);
    CHECK(server.admin_call("GET", "/v1/admin/teams", nullptr, brief).status == 200);
    server.clock.advance(60'000);
    check_error(server.admin_call("GET", "/v1/admin/teams", nullptr, brief), 401, "unauthorized");
  }
  SECTION("a token with an unknown role cannot be made") {
    CHECK_THROWS_AS(server.issue_admin_token({"superuser"}), Error);
  }
}

TEST_CASE("Admin objects cannot be made twice, and bad input says what is wrong",
          "[server][admin]") {
  ServerFixture server;
  server.create_team("north");
  server.create_user("amira", "north");
  const auto post = [&](const std::string& path, const nlohmann::json& body) {
    return server.admin_call("POST", path, body, server.admin_token);
  };

  SECTION("a team twice: 409") {
    check_error(post("/v1/admin/teams", {{"team_id", "north"}}), 409, "conflict");
  }
  SECTION("a user twice: 409, even in another team") {
    server.create_team("south");
    check_error(post("/v1/admin/users", {{"user_id", "amira"}, {"team_id", "south"}}), 409,
                "conflict");
  }
  SECTION("a case id twice: 409") {
    const CaseId case_a = server.create_case("amira", "Ava");
    check_error(post("/v1/admin/cases", {{"case_id", case_a.to_string()},
                                         {"user_id", "amira"},
                                         {"fields", {{"child_name", "Ava again"}}}}),
                409, "conflict");
  }
  SECTION("a body that is not JSON: 400") {
    const http::Response response = server.call(
        "POST", "/v1/admin/teams", "{\"team_id\": ", "application/json", server.admin_token);
    check_error(response, 400, "invalid_argument");
  }
  SECTION("a body that is not an object: 400") {
    check_error(post("/v1/admin/teams", nlohmann::json::array({"north"})), 400, "invalid_argument");
  }
  SECTION("a missing member: 400 naming it") {
    const http::Response response = post("/v1/admin/users", {{"user_id", "bilal"}});
    check_error(response, 400, "invalid_argument");
    CHECK(message_mentions(response, "team_id"));
  }
  SECTION("a name with a NUL character in it: 400 naming it") {
    const http::Response response = post("/v1/admin/teams", {{"team_id", std::string("so\0uth", 6)}});
    check_error(response, 400, "invalid_argument");
    CHECK(message_mentions(response, "team_id"));
  }
  SECTION("a member of the wrong type: 400 naming it") {
    const http::Response response = post("/v1/admin/teams", {{"team_id", 42}});
    check_error(response, 400, "invalid_argument");
    CHECK(message_mentions(response, "team_id"));
  }
  SECTION("an unknown role: 400") {
    check_error(
        post("/v1/admin/users", {{"user_id", "bilal"}, {"team_id", "north"}, {"role", "boss"}}),
        400, "invalid_argument");
  }
  SECTION("a user in a team that does not exist: 404") {
    check_error(post("/v1/admin/users", {{"user_id", "bilal"}, {"team_id", "nowhere"}}), 404,
                "not_found");
  }
  SECTION("a case without its required child_name: 400 validation, and no case") {
    check_error(post("/v1/admin/cases", {{"user_id", "amira"}, {"fields", {{"referrer", "GP"}}}}),
                400, "validation");
    CHECK(server.admin("GET", "/v1/admin/cases").at("cases").empty());
  }
  SECTION("a case field of the wrong type: 400") {
    const http::Response response =
        post("/v1/admin/cases", {{"user_id", "amira"}, {"fields", {{"child_name", 7}}}});
    CHECK(response.status == 400);
    CHECK(server.admin("GET", "/v1/admin/cases").at("cases").empty());
  }
  SECTION("a case for a user who does not exist: 404, and no case") {
    check_error(post("/v1/admin/cases", {{"user_id", "nobody"}, {"fields", {{"child_name", "X"}}}}),
                404, "not_found");
    CHECK(server.admin("GET", "/v1/admin/cases").at("cases").empty());
  }
  SECTION("allocating a case that does not exist: 404") {
    check_error(post("/v1/admin/allocations",
                     {{"case_id", Uuid::random_v4().to_string()}, {"user_id", "amira"}}),
                404, "not_found");
  }
  SECTION("allocating with a case id that is not an id: 400") {
    CHECK(post("/v1/admin/allocations", {{"case_id", "case-1"}, {"user_id", "amira"}}).status ==
          400);
  }
  SECTION("an enrolment code for a user who does not exist: 404") {
    check_error(post("/v1/admin/enrolment-codes", {{"user_id", "nobody"}}), 404, "not_found");
  }
  SECTION("an enrolment code lifetime out of range: 400") {
    check_error(post("/v1/admin/enrolment-codes", {{"user_id", "amira"}, {"expires_in_s", -5}}),
                400, "invalid_argument");
  }
  SECTION("revoking a device that does not exist: 404; one that is not an id: 400") {
    check_error(post("/v1/admin/devices/" + Uuid::random_v4().to_string() + "/revoke", {}), 404,
                "not_found");
    CHECK(post("/v1/admin/devices/not-an-id/revoke", {}).status == 400);
  }
  SECTION("retiring a revoked device: 409") {
    const TestDevice phone = server.enrol("amira");
    server.revoke(phone);
    check_error(post("/v1/admin/devices/" + phone.id.to_string() + "/retire", {}), 409, "conflict");
  }
  SECTION(
      "revoking a revoked device, or retiring a retiring one, again: 409, and nothing changes") {
    const TestDevice phone = server.enrol("amira");
    const TestDevice tablet = server.enrol("amira");
    const std::string phone_path = "/v1/admin/devices/" + phone.id.to_string();
    const std::string tablet_path = "/v1/admin/devices/" + tablet.id.to_string();
    REQUIRE(post(phone_path + "/revoke", {{"reason", "lost on the bus"}}).status == 200);
    REQUIRE(post(tablet_path + "/retire", {{"reason", "left the team"}}).status == 200);
    const std::size_t audited =
        server.admin("GET", "/v1/admin/audit?action=device.revoked").at("entries").size();

    const http::Response revoked_again = post(phone_path + "/revoke", {{"reason", "typo"}});
    check_error(revoked_again, 409, "conflict");
    CHECK(nlohmann::json::parse(revoked_again.body).at("message") ==
          "the device is already revoked: it is wiped at its next sync; nothing was changed");
    const http::Response retired_again = post(tablet_path + "/retire", {});
    check_error(retired_again, 409, "conflict");
    CHECK(nlohmann::json::parse(retired_again.body)
              .at("message")
              .get<std::string>()
              .starts_with("the device is already being retired"));

    CHECK(server.admin("GET", phone_path).at("status_reason") == "lost on the bus");
    CHECK(server.admin("GET", tablet_path).at("status_reason") == "left the team");
    CHECK(server.admin("GET", "/v1/admin/audit?action=device.revoked").at("entries").size() ==
          audited);
  }
  SECTION("an unknown route: 404") {
    check_error(server.admin_call("GET", "/v1/admin/nothing-here", nullptr, server.admin_token),
                404, "not_found");
    check_error(server.call("GET", "/"), 404, "not_found");
  }
  SECTION("a known path with another method: 405 with Allow") {
    const http::Response response =
        server.admin_call("DELETE", "/v1/admin/teams", nullptr, server.admin_token);
    check_error(response, 405, "method_not_allowed");
    REQUIRE(response.header("Allow"));
    CHECK(std::string(*response.header("Allow")).find("GET") != std::string::npos);
  }
  SECTION("a body that is not JSON by its Content-Type: 415") {
    check_error(server.call("POST", "/v1/admin/teams", R"({"team_id": "x"})", "text/plain",
                            server.admin_token),
                415, "unsupported_media_type");
  }
}

TEST_CASE("Admin lists carry metadata, never case content", "[server][admin]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  REQUIRE(server
              .sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                                    valid_visit("bruise on left arm"))})
              .acks.size() == 1);

  const nlohmann::json teams = server.admin("GET", "/v1/admin/teams").at("teams");
  CHECK(teams.size() == 2);
  const nlohmann::json users = server.admin("GET", "/v1/admin/users").at("users");
  CHECK(users.size() == 5);
  CHECK(users.dump().find("\"manager\"") != std::string::npos);

  const nlohmann::json cases = server.admin("GET", "/v1/admin/cases").at("cases");
  REQUIRE(cases.size() == 2);
  bool found = false;
  for (const nlohmann::json& listed : cases) {
    if (listed.at("case_id") == work.case_a.to_string()) {
      found = true;
      CHECK(listed.at("team_id") == "north");
      CHECK(listed.at("worker_id") == "amira");
    }
  }
  CHECK(found);

  const nlohmann::json devices = server.admin("GET", "/v1/admin/devices").at("devices");
  CHECK(devices.size() == 4);
  for (const nlohmann::json& listed : devices) {
    CHECK(listed.at("status") == "active");
    CHECK(listed.at("platform") == "android 14");
    CHECK(listed.at("last_sync_ms").get<std::int64_t>() > 0);
  }

  for (const nlohmann::json* list : {&teams, &users, &cases, &devices}) {
    const std::string text = list->dump();
    CHECK(text.find("Ava") == std::string::npos);
    CHECK(text.find("bruise") == std::string::npos);
  }
}

TEST_CASE("A case made for a team, without a worker, reaches the team's managers only",
          "[server][admin][scope]") {
  ServerFixture server;
  Casework work(server);
  const nlohmann::json answer = server.admin(
      "POST", "/v1/admin/cases", {{"team_id", "north"}, {"fields", {{"child_name", "Nia"}}}});
  CHECK(answer.at("team_id") == "north");
  CHECK(answer.at("worker_id") == "");
  const CaseId unallocated =
      Uuid::parse_or_throw(answer.at("case_id").get<std::string>(), "case_id");

  CHECK(fields_of(server.sync(work.mona_phone), unallocated).at("child_name").value == text("Nia"));
  CHECK_FALSE(mentions_case(server.sync(work.amira_phone), unallocated));
  CHECK_FALSE(mentions_case(server.sync(work.bilal_phone), unallocated));

  // Allocated later to a worker: it reaches her too.
  server.allocate(unallocated, "bilal");
  CHECK(fields_of(server.sync(work.bilal_phone), unallocated).at("child_name").value ==
        text("Nia"));
}

TEST_CASE("A case made through the admin API is stamped by the server and authored by the admin",
          "[server][admin]") {
  ServerFixture server;
  Casework work(server);
  const OriginId server_origin =
      server.inspect([](StorageTransaction& tx) { return tx.server_origin(); });
  TestDevice laptop = server.enrol("amira");
  const auto fields = fields_of(server.sync_all(laptop), work.case_a);
  REQUIRE(fields.size() == 2);
  for (const auto& [name, change] : fields) {
    INFO(name);
    CHECK(change.version.origin == server_origin);
    CHECK(change.author == "admin:test-admin");
    CHECK(change.collection == "case");
    CHECK(change.record_id == work.case_a);
    CHECK(change.version.hlc.ms() <= static_cast<std::uint64_t>(server.clock.wall_ms()));
  }
  // Each field has a stamp of its own.
  CHECK(fields.at("child_name").version != fields.at("status").version);
}
