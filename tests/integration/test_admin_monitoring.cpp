// The admin API against a real fieldsync-server process and real device stores syncing over
// libcurl: the registry shows what the devices did (and a sync that failed), a dashboard session
// works over HTTP with its cookie and CSRF header, no admin answer and no line of the server's
// log (at debug level) holds case content, and the admin token made on the server machine
// expires by default.
#include <catch2/catch.hpp>

#include <regex>

#include "device_fixture.h"

using namespace fieldsync;
using namespace fieldsync::itest;

namespace {

const std::string kSentinel = "SENTINEL-5ea1-Jordan";

struct Answer {
  int status = 0;
  std::string body;
  std::string set_cookie;
};

// A request as a browser on the dashboard would send it: the session cookie, and the CSRF header
// when given.
Answer browser_call(platform::HttpTransport& transport, const std::string& url,
                    const std::string& method, const std::string& cookie, const std::string& csrf,
                    const std::string& body = {}) {
  platform::HttpRequest request;
  request.method = method;
  request.url = url;
  if (!cookie.empty()) request.headers.emplace_back("Cookie", cookie);
  if (!csrf.empty()) request.headers.emplace_back("X-CSRF-Token", csrf);
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body;
  }
  const platform::HttpResponse response = transport.send(request);
  return {response.status, response.body, response.header("Set-Cookie")};
}

nlohmann::json device_entry(TestServer& server, const OriginId& device) {
  return server.admin().call("GET", "/v1/admin/devices/" + device.to_string());
}

}  // namespace

TEST_CASE("Admins see real devices' sync health, never their content", "[integration][admin]") {
  TestServer server({.extra_args = {"--log-level", "debug"}});
  const Council council = set_up_council(server.admin());
  const CaseId sentinel_case = server.admin().create_case("ben", {{"child_name", kSentinel}});
  TestDevice amira(server, "amira");
  TestDevice ben(server, "ben");
  RawDevice chen(server, "chen");
  amira.casework().record_visit(council.jordan,
                                visit_fields(amira.store(), kSentinel + " was calm."));
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(ben.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(ben.store().record(sentinel_case).has_value());
  CHECK(chen.post("not a sync request").status == 400);

  const nlohmann::json amira_entry = device_entry(server, amira.id());
  CHECK(amira_entry.at("state") == "healthy");
  CHECK(amira_entry.at("user_id") == "amira");
  CHECK(amira_entry.at("user_name") == "Amira Shah");
  CHECK(amira_entry.at("platform") == "linux");
  CHECK(amira_entry.at("app_version") == "itest");
  CHECK_FALSE(amira_entry.at("core_version").get<std::string>().empty());
  CHECK_FALSE(amira_entry.at("last_sync_ms").is_null());
  CHECK(amira_entry.at("pending_changes") == 0);
  CHECK(amira_entry.at("totals").at("changes_pushed").get<int>() >= 6);
  CHECK(amira_entry.at("totals").at("bytes_in").get<int>() > 0);
  CHECK(amira_entry.at("recent_syncs").at(0).at("outcome") == "ok");
  const nlohmann::json chen_entry = device_entry(server, chen.id());
  CHECK(chen_entry.at("failed_in_a_row") == 1);
  CHECK(chen_entry.at("recent_syncs").at(0).at("outcome") == "failed");
  CHECK(server.admin().call("GET", "/v1/admin/overview").at("devices").at("total") == 3);
  CHECK(server.admin().call("GET", "/v1/admin/devices?user=amira").at("total") == 1);

  SECTION("a dashboard session over HTTP: cookie, CSRF header, logout") {
    const std::unique_ptr<platform::HttpTransport> browser =
        platform::make_curl_transport(server.transport_options());
    const std::string token = server.process().create_admin_token("Dana", "monitor,manage");
    const Answer login = browser_call(*browser, server.url() + "/v1/admin/session", "POST", "", "",
                                      nlohmann::json{{"token", token}}.dump());
    REQUIRE(login.status == 200);
    std::smatch secret;
    REQUIRE(std::regex_search(login.set_cookie, secret,
                              std::regex("^fieldsync_session=([0-9a-f]{64}); Path=/; "
                                         "Max-Age=28800; HttpOnly; SameSite=Strict$")));
    const std::string cookie = "fieldsync_session=" + secret[1].str();
    const std::string csrf = nlohmann::json::parse(login.body).at("csrf_token");

    CHECK(browser_call(*browser, server.url() + "/v1/admin/devices", "GET", cookie, "").status ==
          200);
    CHECK(browser_call(*browser, server.url() + "/v1/admin/teams", "POST", cookie, "",
                       R"({"team_id": "east"})")
              .status == 403);
    CHECK(browser_call(*browser, server.url() + "/v1/admin/teams", "POST", cookie, csrf,
                       R"({"team_id": "east"})")
              .status == 200);
    const Answer out =
        browser_call(*browser, server.url() + "/v1/admin/session", "DELETE", cookie, csrf);
    CHECK(out.status == 200);
    CHECK(out.set_cookie.find("Max-Age=0") != std::string::npos);
    CHECK(browser_call(*browser, server.url() + "/v1/admin/devices", "GET", cookie, "").status ==
          401);
  }
  SECTION("no admin answer and no log line holds case content") {
    std::vector<std::string> paths = {
        "/v1/admin/overview",   "/v1/admin/activity?hours=1&bucket_minutes=5",
        "/v1/admin/devices",    "/v1/admin/conflicts",
        "/v1/admin/rejections", "/v1/admin/teams",
        "/v1/admin/users",      "/v1/admin/cases",
        "/v1/admin/session"};
    for (const OriginId& device : {amira.id(), ben.id(), chen.id()}) {
      paths.push_back("/v1/admin/devices/" + device.to_string() + "?history=100");
    }
    for (const std::string& path : paths) {
      const std::string answer = server.admin().call("GET", path).dump();
      INFO(path << " answered " << answer);
      CHECK(answer.find(kSentinel) == std::string::npos);
    }
    server.process().stop();
    const std::string log = dev::read_file(server.data_dir() + "/server.log");
    CHECK(log.find("\"event\":\"sync\"") != std::string::npos);
    CHECK(log.find("admin_action") != std::string::npos);
    CHECK(log.find(kSentinel) == std::string::npos);
  }
  SECTION("an admin token made on the server machine expires after 90 days by default") {
    const std::string token = server.process().create_admin_token("Dana", "monitor");
    const std::unique_ptr<server::ServerStorage> storage = server.stop_and_open_storage();
    auto tx = storage->begin();
    const auto stored = tx->admin_token(token.substr(0, token.find('.')));
    REQUIRE(stored);
    CHECK(stored->expires_at_ms - stored->created_at_ms == 90LL * 24 * 60 * 60 * 1000);
  }
}
