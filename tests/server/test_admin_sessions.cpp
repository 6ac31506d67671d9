// Who may call the admin API (docs/http-api.md, "Roles" and "Dashboard sessions"): each admin
// route is open to the roles docs/openapi.yaml lists for it only (403 otherwise), by bearer token
// or by session alike; a session
// is opened with an admin token and lives in an HttpOnly, SameSite=Strict cookie; a change asked
// for through it needs its CSRF header; it ends at logout, after its lifetime, or when its token
// expires; the server keeps only the session secret's hash.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>

#include "fieldsync/crypto.h"
#include "openapi_document.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr std::int64_t kHourMs = 60 * 60 * 1000;

// The roles each admin route is open to, as docs/openapi.yaml documents them (x-fieldsync-roles;
// empty: any admin).
std::map<std::pair<std::string, std::string>, std::vector<std::string>> documented_roles() {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> roles;
  for (const DocumentedOperation& operation : read_openapi_operations(openapi_file())) {
    if (operation.roles) roles[{operation.method, operation.path}] = *operation.roles;
  }
  return roles;
}

struct Login {
  std::string secret;  // the cookie's value
  std::string csrf;
  nlohmann::json answer;
  http::Response response;
};

Login log_in(ServerFixture& server, const std::string& token) {
  Login login;
  login.response = server.call("POST", "/v1/admin/session", nlohmann::json{{"token", token}}.dump(),
                               "application/json");
  INFO(login.response.body);
  REQUIRE(login.response.status == 200);
  login.answer = nlohmann::json::parse(login.response.body);
  login.csrf = login.answer.at("csrf_token");
  const std::string cookie(login.response.header("Set-Cookie").value_or(""));
  const std::smatch found = [&] {
    std::smatch match;
    std::regex_search(cookie, match, std::regex("^fieldsync_session=([0-9a-f]{64});"));
    return match;
  }();
  REQUIRE(found.size() == 2);
  login.secret = found[1];
  return login;
}

// A request through the dashboard: the session cookie, and for a change, the CSRF header.
http::Response as_dashboard(ServerFixture& server, const std::string& method,
                            const std::string& path, const Login& login, const std::string& csrf,
                            const nlohmann::json& body = nullptr) {
  http::Request request;
  request.method = method;
  request.path = path;
  request.remote_address = kDefaultAddress;
  request.headers.emplace_back("Cookie", "theme=dark; fieldsync_session=" + login.secret);
  if (!csrf.empty()) request.headers.emplace_back("X-CSRF-Token", csrf);
  if (!body.is_null()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body.dump();
  }
  return server.dispatch(std::move(request));
}

std::string with_id(const std::string& pattern, const std::string& id) {
  const std::size_t at = pattern.find("{id}");
  return at == std::string::npos ? pattern : pattern.substr(0, at) + id + pattern.substr(at + 4);
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("Each admin route is open to the roles documented for it only, by token and by session",
          "[server][admin][auth][roles]") {
  ServerFixture server;
  Casework work(server);
  const std::string device = work.bilal_phone.id.to_string();
  const auto documented = documented_roles();
  std::size_t checked = 0;

  for (const http::RouteSignature& route : server.app->router().routes()) {
    const bool is_login = route.method == "POST" && route.pattern == "/v1/admin/session";
    if (!route.pattern.starts_with("/v1/admin/") || is_login) continue;
    INFO(route.method << " " << route.pattern);
    const auto roles = documented.find({route.method, route.pattern});
    REQUIRE(roles != documented.end());
    ++checked;
    for (const std::string role : {"monitor", "manage", "enrol"}) {
      INFO("role " << role);
      const bool allowed =
          roles->second.empty() || std::ranges::find(roles->second, role) != roles->second.end();
      const std::string token = server.issue_admin_token({role});
      const nlohmann::json body =
          route.method == "POST" ? nlohmann::json::object() : nlohmann::json();
      const std::string path = with_id(route.pattern, device);
      // What the call does when allowed does not matter here (an empty body is a 400 for most),
      // only that it is refused with 403 exactly when the role is not the route's. (Logout is
      // only for sessions: a bearer token has none to end.)
      if (route.method != "DELETE") {
        CHECK((server.admin_call(route.method, path, body, token).status == 403) == !allowed);
      }
      const Login login = log_in(server, token);
      const http::Response by_session =
          as_dashboard(server, route.method, path, login, login.csrf, body);
      CHECK((by_session.status == 403) == !allowed);
      if (by_session.status == 403)
        CHECK(error_message(by_session).find("role") != std::string::npos);
    }
    if (!roles->second.empty()) {
      const std::string no_roles = server.issue_admin_token({});
      CHECK(server.admin_call(route.method, with_id(route.pattern, device), nullptr, no_roles)
                .status == 403);
    }
  }
  CHECK(checked > 15);
}

TEST_CASE("A dashboard login gives an HttpOnly, SameSite=Strict session cookie that expires",
          "[server][admin][auth][session]") {
  ServerFixture server;
  Casework work(server);
  const std::string monitor = server.issue_admin_token({"monitor"});
  const Login login = log_in(server, monitor);

  CHECK(*login.response.header("Set-Cookie") ==
        "fieldsync_session=" + login.secret + "; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict");
  CHECK(login.response.header("Cache-Control") == "no-store");
  CHECK(login.answer.at("name") == "test-admin");
  CHECK(login.answer.at("roles") == nlohmann::json::array({"monitor"}));
  CHECK(login.answer.at("by_session") == true);
  CHECK(login.answer.at("expires_at_ms") == server.clock.wall_ms() + 8 * kHourMs);
  CHECK(std::regex_match(login.csrf, std::regex("[0-9a-f]{64}")));
  CHECK(login.csrf != login.secret);

  SECTION("the cookie alone reads; the session says who is logged in, with the CSRF token") {
    CHECK(as_dashboard(server, "GET", "/v1/admin/devices", login, "").status == 200);
    const http::Response who = as_dashboard(server, "GET", "/v1/admin/session", login, "");
    REQUIRE(who.status == 200);
    const nlohmann::json answer = nlohmann::json::parse(who.body);
    CHECK(answer.at("csrf_token") == login.csrf);
    CHECK(answer.at("roles") == nlohmann::json::array({"monitor"}));
    const nlohmann::json by_token = server.admin("GET", "/v1/admin/session");
    CHECK(by_token.at("by_session") == false);
    CHECK_FALSE(by_token.contains("csrf_token"));
  }
  SECTION("expired after its lifetime: 401, for reads and for logout") {
    server.clock.advance(8 * kHourMs - 1);
    CHECK(as_dashboard(server, "GET", "/v1/admin/devices", login, "").status == 200);
    server.clock.advance(1);
    const http::Response expired = as_dashboard(server, "GET", "/v1/admin/devices", login, "");
    CHECK(expired.status == 401);
    CHECK(error_name(expired) == "unauthorized");
    CHECK(as_dashboard(server, "DELETE", "/v1/admin/session", login, login.csrf).status == 401);
  }
  SECTION("expired sessions are dropped at the next login") {
    const Bytes stored_hash = crypto::sha256(crypto::as_bytes(login.secret));
    CHECK(server.inspect(
        [&](StorageTransaction& tx) { return tx.admin_session(stored_hash).has_value(); }));
    server.clock.advance(9 * kHourMs);
    log_in(server, monitor);
    CHECK_FALSE(server.inspect(
        [&](StorageTransaction& tx) { return tx.admin_session(stored_hash).has_value(); }));
  }
  SECTION("the server keeps the secret's hash, never the secret") {
    const std::string data = server.dir.file("server") + "/fieldsync-server.db";
    const std::string stored = file_bytes(data) + file_bytes(data + "-wal");
    CHECK(stored.find(login.secret) == std::string::npos);
    CHECK(stored.find(login.csrf) == std::string::npos);
  }
}

TEST_CASE("A session ends when its token expires, and its lifetime is an option",
          "[server][admin][auth][session]") {
  ServerOptions options;
  options.credentials.admin_session_lifetime_ms = kHourMs;
  options.secure_cookies = true;
  ServerFixture server(options);
  const Login long_token = log_in(server, server.issue_admin_token({"monitor"}));
  CHECK(long_token.answer.at("expires_at_ms") == server.clock.wall_ms() + kHourMs);
  CHECK(long_token.response.header("Set-Cookie")
            .value_or("")
            .ends_with("; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"));

  const std::string brief = server.issue_admin_token({"monitor"}, 10 * 60 * 1000);
  const Login short_token = log_in(server, brief);
  CHECK(short_token.answer.at("expires_at_ms") == server.clock.wall_ms() + 10 * 60 * 1000);
  server.clock.advance(10 * 60 * 1000);
  CHECK(as_dashboard(server, "GET", "/v1/admin/overview", short_token, "").status == 401);
  CHECK(as_dashboard(server, "GET", "/v1/admin/overview", long_token, "").status == 200);
  // The expired token cannot open a new session either.
  const http::Response refused = server.call(
      "POST", "/v1/admin/session", nlohmann::json{{"token", brief}}.dump(), "application/json");
  CHECK(refused.status == 401);
  CHECK(error_message(refused).find("expired") != std::string::npos);
}

TEST_CASE("A change through a session needs its CSRF header", "[server][admin][auth][session]") {
  ServerFixture server;
  const Login login = log_in(server, server.admin_token);
  const nlohmann::json team = {{"team_id", "north"}};

  const http::Response without = as_dashboard(server, "POST", "/v1/admin/teams", login, "", team);
  CHECK(without.status == 403);
  CHECK(error_message(without).find("X-CSRF-Token") != std::string::npos);
  const http::Response wrong =
      as_dashboard(server, "POST", "/v1/admin/teams", login, std::string(64, 'a'), team);
  CHECK(wrong.status == 403);
  CHECK(server.admin("GET", "/v1/admin/teams").at("teams").empty());

  CHECK(as_dashboard(server, "POST", "/v1/admin/teams", login, login.csrf, team).status == 200);
  CHECK(server.admin("GET", "/v1/admin/teams").at("total") == 1);
  // Another session's CSRF token is not this one's.
  const Login other = log_in(server, server.admin_token);
  CHECK(as_dashboard(server, "POST", "/v1/admin/teams", login, other.csrf, {{"team_id", "south"}})
            .status == 403);
  // A bearer token needs none: browsers never attach it on their own.
  CHECK(server.admin_call("POST", "/v1/admin/teams", {{"team_id", "south"}}, server.admin_token)
            .status == 200);
}

TEST_CASE("Logout ends the session", "[server][admin][auth][session]") {
  ServerFixture server;
  const Login login = log_in(server, server.admin_token);

  SECTION("without the CSRF header it is refused, and the session goes on") {
    CHECK(as_dashboard(server, "DELETE", "/v1/admin/session", login, "").status == 403);
    CHECK(as_dashboard(server, "GET", "/v1/admin/overview", login, "").status == 200);
  }
  SECTION("with it: the cookie is cleared and the session no longer works") {
    const http::Response out =
        as_dashboard(server, "DELETE", "/v1/admin/session", login, login.csrf);
    REQUIRE(out.status == 200);
    CHECK(out.header("Set-Cookie") ==
          "fieldsync_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    CHECK(as_dashboard(server, "GET", "/v1/admin/overview", login, "").status == 401);
    CHECK(as_dashboard(server, "DELETE", "/v1/admin/session", login, login.csrf).status == 401);
  }
  SECTION("without a session cookie there is nothing to log out of") {
    CHECK(server.admin_call("DELETE", "/v1/admin/session", nullptr, server.admin_token).status ==
          401);
  }
}

TEST_CASE("A login that is wrong is refused, and repeated failures are limited",
          "[server][admin][auth][session]") {
  ServerFixture server;
  const auto try_login = [&](const std::string& body,
                             const std::string& type = "application/json") {
    return server.call("POST", "/v1/admin/session", body, type);
  };
  CHECK(try_login(nlohmann::json{{"token", "abc.def"}}.dump()).status == 401);
  CHECK(try_login(nlohmann::json{{"token", "not a token"}}.dump()).status == 401);
  CHECK(try_login("{}").status == 400);
  CHECK(try_login("{\"token\": ").status == 400);
  CHECK(try_login(nlohmann::json{{"token", server.admin_token}}.dump(), "text/plain").status ==
        415);
  // A cookie that names no session: 401, and counted like a wrong token.
  http::Request forged;
  forged.method = "GET";
  forged.path = "/v1/admin/overview";
  forged.remote_address = kDefaultAddress;
  forged.headers.emplace_back("Cookie", "fieldsync_session=" + std::string(64, 'f'));
  CHECK(server.dispatch(forged).status == 401);

  int status = 0;
  for (int attempt = 0; attempt < 20 && status != 429; ++attempt) {
    status = try_login(nlohmann::json{{"token", "abc.wrong"}}.dump()).status;
  }
  CHECK(status == 429);
  CHECK(try_login(nlohmann::json{{"token", server.admin_token}}.dump()).status == 429);
}
