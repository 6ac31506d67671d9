// Router and error mapping without sockets: patterns, matching, 404/405/415, the error table.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "fieldsync/error.h"
#include "http/error_mapping.h"
#include "http/router.h"
#include "http_test_client.h"

using namespace fieldsync;
using namespace fieldsync::server::http;
using fieldsync::test::silent_log;

namespace {

Request make_request(std::string method, std::string path, std::string body = {},
                     Headers headers = {}) {
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  request.headers = std::move(headers);
  return request;
}

RouteHandler answer_with(std::string text) {
  return [text](const Request&, const PathParams&) {
    return json_response(200, {{"answer", text}});
  };
}

std::string answer_of(const Response& response) {
  return nlohmann::json::parse(response.body).at("answer").get<std::string>();
}

std::string error_name_of(const Response& response) {
  return nlohmann::json::parse(response.body).at("error").get<std::string>();
}

}  // namespace

TEST_CASE("Router matches method and pattern and passes path parameters", "[http]") {
  Router router(silent_log());
  router.add({"POST", "/v1/admin/devices/{id}/revoke", "admin.devices.revoke",
              [](const Request&, const PathParams& params) {
                return json_response(200, {{"answer", params.at("id")}});
              }});
  router.add({"GET", "/v1/admin/devices", "admin.devices.list", answer_with("list")});

  const Response revoked = router.dispatch(make_request("POST", "/v1/admin/devices/0190ab/revoke"));
  CHECK(revoked.status == 200);
  CHECK(answer_of(revoked) == "0190ab");
  CHECK(revoked.route_name == "admin.devices.revoke");
  CHECK(answer_of(router.dispatch(make_request("GET", "/v1/admin/devices"))) == "list");

  SECTION("an unknown path is 404 not_found, with no route name") {
    for (const char* path : {"/v1/admin/devices/0190ab", "/v1/admin/devices/", "/v1/admin",
                             "/v1/admin/devices//revoke", "nothing"}) {
      const Response response = router.dispatch(make_request("POST", path));
      CAPTURE(path);
      CHECK(response.status == 404);
      CHECK(error_name_of(response) == "not_found");
      CHECK(response.route_name.empty());
    }
  }

  SECTION("a known path with another method is 405 with Allow") {
    router.add({"DELETE", "/v1/admin/devices", "admin.devices.clear", answer_with("clear")});
    const Response response = router.dispatch(make_request("PUT", "/v1/admin/devices"));
    CHECK(response.status == 405);
    CHECK(error_name_of(response) == "method_not_allowed");
    CHECK(response.header("allow") == "GET, DELETE, HEAD");
  }

  SECTION("HEAD is answered by the GET route, and refused where there is none") {
    const Response head = router.dispatch(make_request("HEAD", "/v1/admin/devices"));
    CHECK(head.status == 200);
    CHECK(head.route_name == "admin.devices.list");
    CHECK(answer_of(head) == "list");  // the HTTP layer leaves the body out
    const Response refused =
        router.dispatch(make_request("HEAD", "/v1/admin/devices/0190ab/revoke"));
    CHECK(refused.status == 405);
    CHECK(refused.header("allow") == "POST");
  }

  SECTION("a HEAD route of its own wins over the GET route") {
    router.add({"HEAD", "/v1/admin/devices", "admin.devices.head", answer_with("head")});
    CHECK(answer_of(router.dispatch(make_request("HEAD", "/v1/admin/devices"))) == "head");
    CHECK(answer_of(router.dispatch(make_request("GET", "/v1/admin/devices"))) == "list");
  }

  SECTION("methods are case-sensitive") {
    CHECK(router.dispatch(make_request("get", "/v1/admin/devices")).status == 405);
  }
}

TEST_CASE("Router prefers a literal segment over a parameter, whatever the order added", "[http]") {
  Router router(silent_log());
  router.add({"GET", "/v1/devices/{id}", "device", answer_with("by id")});
  router.add({"GET", "/v1/devices/stats", "stats", answer_with("stats")});
  router.add({"GET", "/v1/{kind}/stats", "kind.stats", answer_with("kind stats")});

  CHECK(answer_of(router.dispatch(make_request("GET", "/v1/devices/stats"))) == "stats");
  CHECK(answer_of(router.dispatch(make_request("GET", "/v1/devices/42"))) == "by id");
  CHECK(answer_of(router.dispatch(make_request("GET", "/v1/users/stats"))) == "kind stats");
}

TEST_CASE("Router refuses malformed or duplicate routes", "[http]") {
  Router router(silent_log());
  router.add({"GET", "/v1/a/{id}", "a", answer_with("a")});
  const auto adding = [&router](std::string method, std::string pattern) {
    return [&router, method, pattern] { router.add({method, pattern, "x", answer_with("x")}); };
  };
  for (const char* pattern :
       {"v1/a", "/v1/{}", "/v1/x{id}", "/v1/{id}x", "/v1//a", "/v1/{id}/{id}", "/v1/{a{b}"}) {
    CAPTURE(pattern);
    CHECK_THROWS_AS(adding("GET", pattern)(), Error);
  }
  CHECK_THROWS_AS(adding("GET", "/v1/a/{id}")(), Error);
  CHECK_THROWS_AS(adding("", "/v1/b")(), Error);
  CHECK_THROWS_AS(router.add({"GET", "/v1/c", "c", nullptr}), Error);
  CHECK_NOTHROW(adding("POST", "/v1/a/{id}")());
  CHECK_NOTHROW(adding("GET", "/")());
}

TEST_CASE("Router takes a pattern with a trailing slash as a route of its own", "[http]") {
  Router router(silent_log());
  router.add({"GET", "/admin", "page", answer_with("page")});
  router.add({"GET", "/admin/", "page.slash", answer_with("slash")});
  router.add({"GET", "/admin/{file}", "file", answer_with("file")});
  CHECK(answer_of(router.dispatch(make_request("GET", "/admin"))) == "page");
  CHECK(answer_of(router.dispatch(make_request("GET", "/admin/"))) == "slash");
  CHECK(answer_of(router.dispatch(make_request("GET", "/admin/app.js"))) == "file");
  CHECK(router.dispatch(make_request("GET", "/admin//")).status == 404);
  CHECK_THROWS_AS(router.add({"GET", "/admin//", "x", answer_with("x")}), Error);
}

TEST_CASE("Router lists its routes in the order added", "[http]") {
  Router router(silent_log());
  router.add({"POST", "/v1/sync", "sync", answer_with("")});
  router.add({"GET", "/v1/admin/devices", "admin.devices.list", answer_with("")});
  const std::vector<RouteSignature> expected = {{"POST", "/v1/sync", "sync"},
                                                {"GET", "/v1/admin/devices", "admin.devices.list"}};
  CHECK(router.routes() == expected);
}

TEST_CASE("Router answers 415 for a body of a type the route does not take", "[http]") {
  Router router(silent_log());
  Route route{"POST", "/v1/sync", "sync", answer_with("synced")};
  route.accepts = {"application/json", "application/x-fieldsync"};
  router.add(std::move(route));

  const Response wrong =
      router.dispatch(make_request("POST", "/v1/sync", "x", {{"Content-Type", "text/plain"}}));
  CHECK(wrong.status == 415);
  CHECK(error_name_of(wrong) == "unsupported_media_type");
  CHECK(wrong.route_name == "sync");
  CHECK(router.dispatch(make_request("POST", "/v1/sync", "x")).status == 415);  // no type at all

  CHECK(router
            .dispatch(make_request("POST", "/v1/sync", "{}",
                                   {{"content-type", "Application/JSON; charset=utf-8"}}))
            .status == 200);
  CHECK(router
            .dispatch(make_request("POST", "/v1/sync", "b",
                                   {{"Content-Type", "application/x-fieldsync"}}))
            .status == 200);
  CHECK(router.dispatch(make_request("POST", "/v1/sync")).status == 200);  // no body to type
}

TEST_CASE("Router turns whatever a handler throws into one error answer and logs faults",
          "[http]") {
  test::CapturedLog captured;
  Router router(captured.log());
  router.add(
      {"GET", "/v1/validation", "validation", [](const Request&, const PathParams&) -> Response {
         throw Error(ErrorCode::kValidation, "the due date is before the start date");
       }});
  router.add({"GET", "/v1/leaky", "leaky", [](const Request&, const PathParams&) -> Response {
                throw std::runtime_error("parse error near 'Jane Doe, 12 Acacia Avenue'");
              }});
  router.add(
      {"GET", "/v1/odd", "odd", [](const Request&, const PathParams&) -> Response { throw 42; }});

  const Response validation = router.dispatch(make_request("GET", "/v1/validation"));
  CHECK(validation.status == 400);
  CHECK(nlohmann::json::parse(validation.body) ==
        nlohmann::json{{"error", "validation"},
                       {"message", "the due date is before the start date"}});
  CHECK(validation.route_name == "validation");

  const Response leaky = router.dispatch(make_request("GET", "/v1/leaky"));
  CHECK(leaky.status == 500);
  CHECK(error_name_of(leaky) == "internal");
  CHECK(leaky.body.find("Acacia") == std::string::npos);
  CHECK(leaky.route_name == "leaky");

  const Response odd = router.dispatch(make_request("GET", "/v1/odd"));
  CHECK(odd.status == 500);
  CHECK(error_name_of(odd) == "internal");

  // The two faults are logged (the 400 is not: it is the client's), never with the leaky text.
  const auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("event") == "handler_failed");
  CHECK(lines[0].at("route") == "leaky");
  CHECK(lines[1].at("route") == "odd");
  CHECK(captured.text().find("Acacia") == std::string::npos);
}

TEST_CASE("error_response implements the documented error table", "[http]") {
  struct Row {
    ErrorCode code;
    int status;
    std::string name;
  };
  const std::vector<Row> table = {
      {ErrorCode::kInvalidArgument, 400, "invalid_argument"},
      {ErrorCode::kValidation, 400, "validation"},
      {ErrorCode::kFrozen, 400, "frozen"},
      {ErrorCode::kMalformed, 400, "malformed"},
      {ErrorCode::kUnsupportedVersion, 400, "unsupported_version"},
      {ErrorCode::kUnauthorized, 401, "unauthorized"},
      {ErrorCode::kForbidden, 403, "forbidden"},
      {ErrorCode::kNotFound, 404, "not_found"},
      {ErrorCode::kConflict, 409, "conflict"},
      {ErrorCode::kTooLarge, 413, "too_large"},
      {ErrorCode::kRateLimited, 429, "rate_limited"},
      {ErrorCode::kUnavailable, 503, "unavailable"},
      {ErrorCode::kInternal, 500, "internal"},
      {ErrorCode::kIo, 500, "io"},
  };
  for (const Row& row : table) {
    CAPTURE(row.name);
    const Response response = error_response(row.code, "said " + row.name);
    CHECK(response.status == row.status);
    CHECK(response.content_type == "application/json");
    CHECK(nlohmann::json::parse(response.body) ==
          nlohmann::json{{"error", row.name}, {"message", "said " + row.name}});
    // Thrown, the same code gives the same answer.
    const Response thrown = error_response(Error(row.code, "said " + row.name));
    CHECK(thrown.status == row.status);
    CHECK(thrown.body == response.body);
  }

  SECTION("the errors of the HTTP exchange") {
    CHECK(error_response(ProtocolError::kMethodNotAllowed, "m").status == 405);
    CHECK(error_response(ProtocolError::kUnsupportedMediaType, "m").status == 415);
    CHECK(error_response(ProtocolError::kRequestTimeout, "m").status == 408);
    CHECK(error_name_of(error_response(ProtocolError::kRequestTimeout, "m")) == "request_timeout");
    CHECK(error_name_of(error_response(ProtocolError::kUnsupportedMediaType, "m")) ==
          "unsupported_media_type");
  }

  SECTION("codes outside the table, other domains and other exceptions are generic 500s") {
    for (const ErrorCode code :
         {ErrorCode::kIntegrity, ErrorCode::kLocked, ErrorCode::kClockSkew}) {
      const Response response = error_response(Error(code, "record 7 of Jane Doe"));
      CHECK(response.status == 500);
      CHECK(error_name_of(response) == "internal");
      CHECK(response.body.find("Jane") == std::string::npos);
    }
    const Response sqlite = error_response(Error(ErrorDomain::kSqlite, 19, "UNIQUE failed: Jane"));
    CHECK(sqlite.status == 500);
    CHECK(sqlite.body.find("Jane") == std::string::npos);
    const Response other = error_response(std::out_of_range("Jane"));
    CHECK(other.status == 500);
    CHECK(other.body.find("Jane") == std::string::npos);
  }

  SECTION("429 and 503 say when to come back") {
    CHECK(error_response(RateLimitedError(std::chrono::seconds(37), "slow down"))
              .header("Retry-After") == "37");
    CHECK(error_response(RateLimitedError(std::chrono::seconds(0), "slow down"))
              .header("Retry-After") == "1");
    CHECK(error_response(ErrorCode::kRateLimited, "slow down").header("Retry-After") == "1");
    CHECK(error_response(ErrorCode::kUnavailable, "stopping").header("Retry-After") == "1");
    CHECK_FALSE(error_response(ErrorCode::kConflict, "taken").header("Retry-After").has_value());
  }
}
