// Authentication and enrolment (DESIGN.md section 5, docs/http-api.md): a wrong or missing device
// token is 401 with a JSON error; failed attempts past the limit, per address and per account, get
// 429 with Retry-After until the window has passed (on the fake clock); an enrolment code is 24
// characters in groups of four, works once, for its user, until it expires.
#include <catch2/catch.hpp>

#include <regex>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr int kMaxFailures = 3;
constexpr std::int64_t kWindowMs = 60'000;

ServerOptions strict_limits() {
  ServerOptions options;
  options.credentials.max_failures = kMaxFailures;
  options.credentials.failure_window_ms = kWindowMs;
  return options;
}

// One team, one worker with a case, and her enrolled device.
struct OneWorker {
  explicit OneWorker(ServerFixture& fixture) : server(fixture) {
    server.create_team("north");
    server.create_user("amira", "north");
    case_a = server.create_case("amira", "Ava");
    phone = server.enrol("amira");
  }
  ServerFixture& server;
  CaseId case_a;
  TestDevice phone;
};

// The same device id with another secret.
std::string forged(const TestDevice& device) {
  return device.token.substr(0, device.token.find('.') + 1) + std::string(64, 'f');
}

http::Response sync_with(ServerFixture& server, const TestDevice& device, const std::string& token,
                         const std::string& address = kDefaultAddress) {
  TestDevice holder = device;
  holder.token = token;
  return server.sync_call(holder, server.sync_request(holder), address);
}

void check_unauthorized(const http::Response& response) {
  CHECK(response.status == 401);
  CHECK(response.content_type == "application/json");
  CHECK(error_name(response) == "unauthorized");
  CHECK_FALSE(error_message(response).empty());
}

void check_rate_limited(const http::Response& response) {
  CHECK(response.status == 429);
  CHECK(error_name(response) == "rate_limited");
  const auto retry_after = response.header("Retry-After");
  REQUIRE(retry_after);
  const int seconds = std::stoi(std::string(*retry_after));
  CHECK(seconds >= 1);
  CHECK(seconds <= kWindowMs / 1000);
}

}  // namespace

TEST_CASE("A wrong or missing device token is 401 with a JSON error body", "[server][auth]") {
  ServerFixture server;
  OneWorker world(server);
  const std::string body = encode_request(server.sync_request(world.phone), WireFormat::kBinary);
  const auto post = [&](std::vector<std::pair<std::string, std::string>> headers) {
    http::Request request;
    request.method = "POST";
    request.path = "/v1/sync";
    request.body = body;
    request.remote_address = kDefaultAddress;
    request.headers = std::move(headers);
    request.headers.emplace_back("Content-Type", std::string(kBinaryContentType));
    return server.dispatch(std::move(request));
  };

  SECTION("no Authorization") {
    check_unauthorized(post({}));
  }
  SECTION("another scheme") {
    check_unauthorized(post({{"Authorization", "Basic YW1pcmE6MTIzNA=="}}));
  }
  SECTION("not a token") {
    check_unauthorized(post({{"Authorization", "Bearer nonsense"}}));
  }
  SECTION("a token with bytes beyond ASCII") {
    check_unauthorized(post({{"Authorization", "Bearer \xc3\x84" + std::string(30, 'a') + ".b"}}));
  }
  SECTION("the right device with a wrong secret") {
    check_unauthorized(post({{"Authorization", "Bearer " + forged(world.phone)}}));
  }
  SECTION("an unknown device") {
    check_unauthorized(
        post({{"Authorization", "Bearer " + std::string(32, 'a') + "." + std::string(64, 'b')}}));
  }
  SECTION("an admin token") {
    check_unauthorized(post({{"Authorization", "Bearer " + server.admin_token}}));
  }
  SECTION("the right token works") {
    CHECK(post({{"Authorization", "Bearer " + world.phone.token}}).status == 200);
  }
}

TEST_CASE("Repeated failures from one address get 429 with Retry-After until the window passes",
          "[server][auth]") {
  ServerFixture server(strict_limits());
  OneWorker world(server);
  const std::string attacker = "203.0.113.7";
  TestDevice stranger = world.phone;
  for (int i = 0; i < kMaxFailures; ++i) {
    // Each attempt names another account, so only the address limit can catch them.
    stranger.id = Uuid::random_v4();
    const std::string id_hex = stranger.id.to_string();
    std::string hex;
    for (const char c : id_hex) {
      if (c != '-') hex.push_back(c);
    }
    check_unauthorized(sync_with(server, stranger, hex + "." + std::string(64, '0'), attacker));
  }

  SECTION("then even the right token from that address is held back") {
    check_rate_limited(sync_with(server, world.phone, world.phone.token, attacker));
  }
  SECTION("an enrolment from that address is held back too") {
    check_rate_limited(server.enrol_call(server.enrolment_code("amira"), attacker));
  }
  SECTION("another address is not affected") {
    CHECK(sync_with(server, world.phone, world.phone.token, "198.51.100.1").status == 200);
  }
  SECTION("after the window the address may try again") {
    server.clock.advance(kWindowMs + 1);
    CHECK(sync_with(server, world.phone, world.phone.token, attacker).status == 200);
  }
  SECTION("just before the window ends it is still held back") {
    server.clock.advance(kWindowMs - 1'000);
    check_rate_limited(sync_with(server, world.phone, world.phone.token, attacker));
  }
}

TEST_CASE("Repeated failures against one account get 429 from any address until the window passes",
          "[server][auth]") {
  ServerFixture server(strict_limits());
  OneWorker world(server);
  for (int i = 0; i < kMaxFailures; ++i) {
    check_unauthorized(
        sync_with(server, world.phone, forged(world.phone), "203.0.113." + std::to_string(i)));
  }

  SECTION("the account is held back, even with its right token from a fresh address") {
    check_rate_limited(sync_with(server, world.phone, world.phone.token, "198.51.100.1"));
  }
  SECTION("another account from a fresh address is not affected") {
    TestDevice tablet = server.enrol("amira");
    CHECK(sync_with(server, tablet, tablet.token, "198.51.100.2").status == 200);
  }
  SECTION("after the window the account works again") {
    server.clock.advance(kWindowMs + 1);
    CHECK(sync_with(server, world.phone, world.phone.token, "198.51.100.1").status == 200);
  }
}

TEST_CASE("Admin tokens are limited like device tokens", "[server][auth][admin]") {
  ServerFixture server(strict_limits());
  const std::string wrong =
      server.admin_token.substr(0, server.admin_token.find('.') + 1) + std::string(64, '0');
  for (int i = 0; i < kMaxFailures; ++i) {
    CHECK(server.admin_call("GET", "/v1/admin/teams", nullptr, wrong).status == 401);
  }
  check_rate_limited(server.admin_call("GET", "/v1/admin/teams", nullptr, server.admin_token));
  server.clock.advance(kWindowMs + 1);
  CHECK(server.admin_call("GET", "/v1/admin/teams", nullptr, server.admin_token).status == 200);
}

TEST_CASE("An enrolment code works once, for its user, until it expires", "[server][auth]") {
  ServerFixture server;
  OneWorker world(server);

  SECTION("its form: 24 characters in groups of four, without look-alike characters") {
    const std::string code = server.enrolment_code("amira");
    CHECK(std::regex_match(code, std::regex("[A-HJKMNP-TV-Z2-9]{4}(-[A-HJKMNP-TV-Z2-9]{4}){5}")));
    CHECK(server.enrolment_code("amira") != code);
  }
  SECTION("the first use gives a token for the code's user; the second use is 401") {
    const std::string code = server.enrolment_code("amira");
    const http::Response first = server.enrol_call(code);
    REQUIRE(first.status == 200);
    const nlohmann::json answer = nlohmann::json::parse(first.body);
    CHECK(answer.at("user_id") == "amira");
    const std::string token = answer.at("token");
    CHECK(std::regex_match(token, std::regex("[0-9a-f]{32}\\.[0-9a-f]{64}")));
    const auto device_id = Uuid::parse(answer.at("device_id").get<std::string>());
    REQUIRE(device_id);
    std::string id_hex;
    for (const char c : device_id->to_string()) {
      if (c != '-') id_hex.push_back(c);
    }
    CHECK(token.substr(0, 32) == id_hex);

    check_unauthorized(server.enrol_call(code));
    // The token it gave works.
    TestDevice device;
    device.id = *device_id;
    device.token = token;
    device.user_id = "amira";
    CHECK(fields_of(server.sync(device), world.case_a).at("child_name").value == text("Ava"));
  }
  SECTION("typed in lower case without dashes, it still works") {
    std::string typed;
    for (const char c : server.enrolment_code("amira")) {
      if (c != '-') typed.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    CHECK(server.enrol_call(typed).status == 200);
  }
  SECTION("expired: 401; just before expiry it works") {
    const std::string late = server.enrolment_code("amira", 60);
    const std::string in_time = server.enrolment_code("amira", 60);
    server.clock.advance(59'000);
    CHECK(server.enrol_call(in_time).status == 200);
    server.clock.advance(1'000);
    check_unauthorized(server.enrol_call(late));
  }
  SECTION("the default lifetime is a day") {
    const std::string code = server.enrolment_code("amira");
    server.clock.advance(24 * 3'600'000);
    check_unauthorized(server.enrol_call(code));
  }
  SECTION("a wrong secret with a real code's id: 401, and the real code still works") {
    const std::string code = server.enrolment_code("amira");
    std::string wrong = code;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    check_unauthorized(server.enrol_call(wrong));
    CHECK(server.enrol_call(code).status == 200);
  }
  SECTION("not a code at all: 401") {
    check_unauthorized(server.enrol_call("hello"));
  }
  SECTION("24 characters that are not of the code alphabet (a NUL, letters beyond ASCII): 401") {
    const nlohmann::json nul = {{"code", std::string("ABCD\0EFG") + std::string(16, 'A')}};
    check_unauthorized(server.call("POST", "/v1/enrol", nul.dump(), "application/json"));
    check_unauthorized(server.enrol_call("\xc3\x84\xc3\x96\xc3\x9c" + std::string(18, 'A')));
  }
  SECTION("no code member: 400") {
    const http::Response response =
        server.call("POST", "/v1/enrol", R"({"platform": "ios 17"})", "application/json");
    CHECK(response.status == 400);
    CHECK(error_message(response).find("code") != std::string::npos);
  }
}
