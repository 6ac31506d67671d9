// HttpServer over real sockets on 127.0.0.1: routing and the error table on the wire, keep-alive,
// body caps, malformed HTTP, timeouts, the cap on connections, what the layer refuses by itself
// (reported to on_refusal), the access log and the refusal of plain non-loopback HTTP.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <boost/asio/error.hpp>

#include "fieldsync/error.h"
#include "http/error_mapping.h"
#include "http/http_server.h"
#include "http/router.h"
#include "http_test_client.h"

using namespace fieldsync;
using namespace fieldsync::server::http;
using namespace fieldsync::test;
using Catch::Matchers::Contains;

namespace {

using Clock = std::chrono::steady_clock;

// A router with an echo route (method, path, query, body, a path parameter) and a route that
// throws any fieldsync error code by number.
class EchoRouter {
 public:
  EchoRouter() : router_(silent_log()) {
    router_.add({"POST", "/v1/echo/{word}", "echo",
                 [this](const Request& request, const PathParams& params) {
                   ++calls_;
                   return json_response(200, {{"method", request.method},
                                              {"path", request.path},
                                              {"query", request.query},
                                              {"word", params.at("word")},
                                              {"body", request.body},
                                              {"remote", request.remote_address}});
                 }});
    router_.add({"GET", "/v1/echo/{word}", "echo.get", [this](const Request&, const PathParams&) {
                   ++calls_;
                   return json_response(200, {{"ok", true}});
                 }});
    router_.add({"GET", "/v1/errors/{code}", "errors",
                 [](const Request&, const PathParams& params) -> Response {
                   throw Error(static_cast<ErrorCode>(std::stoi(params.at("code"))),
                               "error number " + params.at("code"));
                 }});
    router_.add({"GET", "/v1/busy", "busy", [](const Request&, const PathParams&) -> Response {
                   throw RateLimitedError(std::chrono::seconds(37), "too many attempts");
                 }});
    router_.add(
        {"GET", "/v1/secret-fault", "fault", [](const Request&, const PathParams&) -> Response {
           throw std::runtime_error("row for Jane Doe is broken");
         }});
  }

  const Router& router() const { return router_; }
  int calls() const { return calls_.load(); }

 private:
  Router router_;
  std::atomic<int> calls_{0};
};

std::string header_of(const WireResponse& response, boost::beast::http::field field) {
  return std::string(response[field]);
}

// What on_refusal heard, by reason; safe to read while the server runs.
class RefusalTally {
 public:
  void listen(HttpServerOptions& options) {
    options.on_refusal = [this](Refusal refusal) { ++counts_[static_cast<std::size_t>(refusal)]; };
  }
  int operator[](Refusal refusal) const {
    return counts_[static_cast<std::size_t>(refusal)].load();
  }
  int total() const {
    int sum = 0;
    for (const auto& count : counts_) sum += count.load();
    return sum;
  }

 private:
  std::array<std::atomic<int>, kRefusalNames.size()> counts_{};
};

}  // namespace

TEST_CASE("HttpServer routes requests and passes path, query, body and remote address", "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  REQUIRE(server->port() != 0);
  TestConnection connection(server->port());

  const WireResponse echoed = connection.request("POST", "/v1/echo/hello?since=42&x", "the body");
  REQUIRE(echoed.result_int() == 200);
  CHECK(header_of(echoed, boost::beast::http::field::content_type) == "application/json");
  const nlohmann::json body = json_body(echoed);
  CHECK(body.at("method") == "POST");
  CHECK(body.at("path") == "/v1/echo/hello");
  CHECK(body.at("query") == "since=42&x");
  CHECK(body.at("word") == "hello");
  CHECK(body.at("body") == "the body");
  CHECK(body.at("remote") == "127.0.0.1");

  SECTION("an unknown path is 404 not_found") {
    const WireResponse response = connection.request("GET", "/v1/nothing-here");
    CHECK(response.result_int() == 404);
    CHECK(json_body(response).at("error") == "not_found");
  }

  SECTION("a known path with another method is 405 with Allow") {
    const WireResponse response = connection.request("DELETE", "/v1/echo/hello");
    CHECK(response.result_int() == 405);
    CHECK(json_body(response).at("error") == "method_not_allowed");
    CHECK(header_of(response, boost::beast::http::field::allow) == "POST, GET, HEAD");
  }
}

TEST_CASE("HttpServer answers every row of the error table with its status and JSON body",
          "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  TestConnection connection(server->port());

  struct Row {
    ErrorCode code;
    unsigned status;
    const char* name;
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
    const std::string number = std::to_string(static_cast<int>(row.code));
    CAPTURE(row.name);
    const WireResponse response = connection.request("GET", "/v1/errors/" + number);
    CHECK(response.result_int() == row.status);
    CHECK(header_of(response, boost::beast::http::field::content_type) == "application/json");
    CHECK(json_body(response) ==
          nlohmann::json{{"error", row.name}, {"message", "error number " + number}});
    CHECK(response.keep_alive());  // an error answer does not cost the connection
  }

  SECTION("429 carries the handler's Retry-After, 503 a Retry-After of 1") {
    const WireResponse limited = connection.request("GET", "/v1/busy");
    CHECK(limited.result_int() == 429);
    CHECK(header_of(limited, boost::beast::http::field::retry_after) == "37");
    CHECK(json_body(limited) ==
          nlohmann::json{{"error", "rate_limited"}, {"message", "too many attempts"}});
    const WireResponse unavailable = connection.request("GET", "/v1/errors/17");
    CHECK(unavailable.result_int() == 503);
    CHECK(header_of(unavailable, boost::beast::http::field::retry_after) == "1");
  }

  SECTION("an unexpected exception is a 500 that does not repeat its text") {
    const WireResponse response = connection.request("GET", "/v1/secret-fault");
    CHECK(response.result_int() == 500);
    CHECK(json_body(response).at("error") == "internal");
    CHECK_THAT(response.body(), !Contains("Jane"));
  }
}

TEST_CASE("HttpServer sends a 500 for an answer that cannot go on the wire as it is", "[http]") {
  HttpServer server(test_server_options(), [](const Request& request) -> Response {
    Response response = json_response(200, {{"ok", true}});
    if (request.path == "/split") {
      response.headers.emplace_back("X-Note", "a\r\nSet-Cookie: stolen=1");
    } else if (request.path == "/status") {
      response.status = 1000;
    } else if (request.path == "/framing") {
      response.headers.emplace_back("Content-Length", "1");
      response.headers.emplace_back("X-Kept", "yes");
    } else {
      throw std::runtime_error("the row of Jane Doe");
    }
    return response;
  });
  server.start();
  TestConnection connection(server.port());

  const WireResponse split = connection.request("GET", "/split");
  CHECK(split.result_int() == 500);
  CHECK(split.find(boost::beast::http::field::set_cookie) == split.end());
  CHECK(connection.request("GET", "/status").result_int() == 500);

  const WireResponse framing = connection.request("GET", "/framing");
  CHECK(framing.result_int() == 200);
  CHECK(header_of(framing, boost::beast::http::field::content_length) ==
        std::to_string(framing.body().size()));
  CHECK(framing["X-Kept"] == "yes");

  const WireResponse thrown = connection.request("GET", "/throws");
  CHECK(thrown.result_int() == 500);
  CHECK(json_body(thrown).at("error") == "internal");
  CHECK_THAT(thrown.body(), !Contains("Jane"));
}

TEST_CASE("HttpServer keeps a connection alive across requests", "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  TestConnection connection(server->port());

  const WireResponse first = connection.request("POST", "/v1/echo/one", "1");
  const WireResponse second = connection.request("POST", "/v1/echo/two", "22");
  CHECK(first.result_int() == 200);
  CHECK(second.result_int() == 200);
  CHECK(json_body(second).at("word") == "two");
  CHECK(first.keep_alive());
  CHECK(routes.calls() == 2);

  // Content-Length always, and no banner naming the software.
  CHECK(header_of(second, boost::beast::http::field::content_length) ==
        std::to_string(second.body().size()));
  CHECK(second.find(boost::beast::http::field::server) == second.end());

  SECTION("two requests sent together are answered in order") {
    connection.send_raw(raw_request("POST", "/v1/echo/three", "") +
                        raw_request("POST", "/v1/echo/four", ""));
    CHECK(json_body(connection.read_response()).at("word") == "three");
    CHECK(json_body(connection.read_response()).at("word") == "four");
  }

  SECTION("Connection: close is honoured") {
    const WireResponse last =
        connection.request("POST", "/v1/echo/last", "", {{"Connection", "close"}});
    CHECK(last.result_int() == 200);
    CHECK_FALSE(last.keep_alive());
    CHECK(connection.read_until_closed(2s) == boost::asio::error::eof);
  }
}

TEST_CASE("HttpServer answers HEAD like GET without a body, so the connection stays usable",
          "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  TestConnection connection(server->port());
  const WireResponse get = connection.request("GET", "/v1/echo/x");
  REQUIRE(get.result_int() == 200);

  connection.send_raw("HEAD /v1/echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  const WireResponse head = connection.read_head_response();
  CHECK(head.result_int() == 200);
  CHECK(header_of(head, boost::beast::http::field::content_length) ==
        std::to_string(get.body().size()));
  CHECK(header_of(head, boost::beast::http::field::content_type) ==
        header_of(get, boost::beast::http::field::content_type));
  // Had the body been sent, it would be read here as the start of the next answer.
  CHECK(connection.request("GET", "/v1/echo/x").result_int() == 200);
}

TEST_CASE("HttpServer refuses HEAD where the path takes no GET: 405 with Allow, no body",
          "[http]") {
  Router router(silent_log());
  router.add({"POST", "/v1/submit", "submit", [](const Request&, const PathParams&) {
                return json_response(200, {{"ok", true}});
              }});
  auto server = start_server(router);
  TestConnection connection(server->port());
  connection.send_raw("HEAD /v1/submit HTTP/1.1\r\nHost: x\r\n\r\n");
  const WireResponse head = connection.read_head_response();
  CHECK(head.result_int() == 405);
  CHECK(header_of(head, boost::beast::http::field::allow) == "POST");
  CHECK(connection.request("POST", "/v1/submit").result_int() == 200);
}

TEST_CASE("HttpServer answers a connection over the cap with 503 and Retry-After, and says so",
          "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.max_connections = 3;
  RefusalTally refusals;
  refusals.listen(options);
  auto server = start_server(routes.router(), options);

  std::vector<std::unique_ptr<TestConnection>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<TestConnection>(server->port()));
    REQUIRE(open.back()->request("GET", "/v1/echo/x").result_int() == 200);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    TestConnection over(server->port());
    const WireResponse refused = over.read_response();  // said without waiting for a request
    CHECK(refused.result_int() == 503);
    CHECK(json_body(refused).at("error") == "unavailable");
    CHECK_THAT(json_body(refused).at("message").get<std::string>(), Contains("(3)"));
    CHECK(header_of(refused, boost::beast::http::field::retry_after) == "1");
    CHECK_FALSE(refused.keep_alive());
    CHECK(over.read_until_closed(3s) == boost::asio::error::eof);
  }
  CHECK(refusals[Refusal::kConnectionLimit] == 2);
  CHECK(refusals.total() == 2);
  CHECK(routes.calls() == 3);
  // The connections within the cap are served as before.
  for (const auto& connection : open) {
    CHECK(connection->request("GET", "/v1/echo/y").result_int() == 200);
  }

  SECTION("a place freed by a closed connection is taken again") {
    open.pop_back();
    // The server learns of the close when it reads the end of the stream; until then a new
    // connection may still be refused, so this tries until served (for at most 10 s).
    const auto until = Clock::now() + 10s;
    int status = 0;
    while (status != 200 && Clock::now() < until) {
      TestConnection again(server->port());
      again.send_raw(raw_request("GET", "/v1/echo/z", ""));
      status = again.read_response().result_int();
    }
    CHECK(status == 200);
  }
}

TEST_CASE("HttpServer needs room for at least one connection", "[http]") {
  HttpServerOptions options = test_server_options();
  options.max_connections = 0;
  CHECK_THROWS_AS(HttpServer(options, [](const Request&) { return Response{}; }), Error);
}

TEST_CASE("HttpServer tells on_refusal of each request it refuses itself, by reason", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.max_body_bytes = 1024;
  options.request_timeout = 300ms;
  RefusalTally refusals;
  refusals.listen(options);
  auto server = start_server(routes.router(), options);

  const auto answer_to = [&](const std::string& bytes) {
    TestConnection connection(server->port());
    connection.send_raw(bytes);
    return connection.read_response().result_int();
  };
  CHECK(answer_to("THIS IS NOT HTTP\r\n\r\n") == 400);
  CHECK(answer_to("POST /v1/echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n") == 413);
  CHECK(answer_to("GET /v1/echo/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') +
                  "\r\n\r\n") == 413);
  CHECK(answer_to("POST /v1/echo/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc") ==
        408);
  CHECK(answer_to(raw_request("GET", "/v1/echo/fine", "")) == 200);
  CHECK(answer_to(raw_request("GET", "/v1/no-such-route", "")) ==
        404);  // the router's, not counted

  CHECK(refusals[Refusal::kMalformed] == 1);
  CHECK(refusals[Refusal::kBodyTooLarge] == 1);
  CHECK(refusals[Refusal::kHeadersTooLarge] == 1);
  CHECK(refusals[Refusal::kRequestTimeout] == 1);
  CHECK(refusals[Refusal::kConnectionLimit] == 0);
  CHECK(refusals.total() == 4);
}

TEST_CASE("HttpServer answers Expect: 100-continue before the body is sent", "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  TestConnection connection(server->port());

  connection.send_raw(
      "POST /v1/echo/later HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: "
      "100-continue\r\n\r\n");
  CHECK(connection.read_response().result_int() == 100);
  connection.send_raw("hello");
  const WireResponse response = connection.read_response();
  CHECK(response.result_int() == 200);
  CHECK(json_body(response).at("body") == "hello");
}

TEST_CASE("HttpServer refuses a body over the cap with 413", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.max_body_bytes = 1024;
  auto server = start_server(routes.router(), options);
  TestConnection connection(server->port());

  SECTION("a Content-Length over the cap is refused before any of the body is sent") {
    connection.send_raw(
        "POST /v1/echo/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
    const WireResponse response = connection.read_response();
    CHECK(response.result_int() == 413);
    CHECK(json_body(response).at("error") == "too_large");
    CHECK_FALSE(response.keep_alive());
    CHECK(connection.read_until_closed(3s) == boost::asio::error::eof);
    CHECK(routes.calls() == 0);
  }

  SECTION("a chunked body is refused once it grows over the cap") {
    const std::string chunk = "200\r\n" + std::string(0x200, 'a') + "\r\n";  // 512 bytes
    connection.send_raw(
        "POST /v1/echo/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
        chunk + chunk);
    const WireResponse response = connection.read_response();
    CHECK(response.result_int() == 413);
    CHECK(json_body(response).at("error") == "too_large");
    CHECK(routes.calls() == 0);
  }

  SECTION("a chunked body under the cap arrives whole") {
    connection.send_raw(
        "POST /v1/echo/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    const WireResponse response = connection.read_response();
    CHECK(response.result_int() == 200);
    CHECK(json_body(response).at("body") == "hello world");
  }

  SECTION("a body exactly at the cap is taken") {
    const WireResponse response =
        connection.request("POST", "/v1/echo/full", std::string(1024, 'z'));
    CHECK(response.result_int() == 200);
    CHECK(routes.calls() == 1);
  }
}

TEST_CASE("HttpServer answers malformed HTTP with 400 and goes on serving", "[http]") {
  EchoRouter routes;
  auto server = start_server(routes.router());
  for (const char* garbage : {"THIS IS NOT HTTP\r\n\r\n", "GET /v1/echo/x HTTP/9.9\r\n\r\n",
                              "POST /v1/echo/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
                              "GET /v1/echo/x HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    CAPTURE(garbage);
    TestConnection bad(server->port());
    bad.send_raw(garbage);
    const WireResponse response = bad.read_response();
    CHECK(response.result_int() == 400);
    CHECK(json_body(response).at("error") == "malformed");
    CHECK(bad.read_until_closed(3s) == boost::asio::error::eof);
  }
  TestConnection good(server->port());
  CHECK(good.request("GET", "/v1/echo/fine").result_int() == 200);
  CHECK(routes.calls() == 1);
}

TEST_CASE("HttpServer drops a request that stalls at the request timeout, with 408", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.request_timeout = 300ms;
  auto server = start_server(routes.router(), options);

  const char* partial =
      GENERATE("POST /v1/echo/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
               "POST /v1/echo/slow HTTP/1.1\r\nHost: x\r\nConte");
  CAPTURE(partial);
  TestConnection connection(server->port());
  const auto started = Clock::now();
  connection.send_raw(partial);
  const WireResponse response = connection.read_response();
  const auto waited = Clock::now() - started;
  CHECK(response.result_int() == 408);
  CHECK(json_body(response).at("error") == "request_timeout");
  CHECK(waited >= 250ms);
  CHECK(waited < 3s);
  CHECK(connection.read_until_closed(3s) == boost::asio::error::eof);
  CHECK(routes.calls() == 0);
}

TEST_CASE("HttpServer closes a connection that never sends a request", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.request_timeout = 300ms;
  auto server = start_server(routes.router(), options);
  TestConnection connection(server->port());
  const auto started = Clock::now();
  CHECK(connection.read_until_closed(3s) == boost::asio::error::eof);
  CHECK(Clock::now() - started >= 250ms);
}

TEST_CASE("HttpServer closes a kept-alive connection at the idle timeout", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.idle_timeout = 300ms;
  auto server = start_server(routes.router(), options);
  TestConnection connection(server->port());
  REQUIRE(connection.request("GET", "/v1/echo/x").result_int() == 200);
  const auto started = Clock::now();
  CHECK(connection.read_until_closed(3s) == boost::asio::error::eof);
  CHECK(Clock::now() - started >= 250ms);
}

TEST_CASE("HttpServer serves new requests while many idle connections stay open", "[http]") {
  EchoRouter routes;
  HttpServerOptions options = test_server_options();
  options.threads = 2;
  auto server = start_server(routes.router(), options);

  std::vector<std::unique_ptr<TestConnection>> idle;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(std::make_unique<TestConnection>(server->port()));
    if (i % 2 == 0) REQUIRE(idle.back()->request("GET", "/v1/echo/x").result_int() == 200);
  }
  TestConnection fresh(server->port(), 2s);
  const auto started = Clock::now();
  CHECK(fresh.request("GET", "/v1/echo/y").result_int() == 200);
  CHECK(Clock::now() - started < 1s);
}

TEST_CASE("HttpServer writes one access log line per request, without secrets", "[http]") {
  EchoRouter routes;
  CapturedLog captured;
  HttpServerOptions options = test_server_options();
  options.log = captured.log();
  auto server = start_server(routes.router(), options);
  {
    TestConnection connection(server->port());
    connection.request("POST", "/v1/echo/word?token=supersecret", "bodysecret",
                       {{"Authorization", "Bearer topsecret"}});
    connection.request("GET", "/v1/unrouted");
  }
  server->stop();

  const std::string text = captured.text();
  for (const char* secret : {"supersecret", "topsecret", "bodysecret", "token"}) {
    CHECK_THAT(text, !Contains(secret));
  }
  std::vector<nlohmann::json> requests;
  for (const auto& line : captured.lines()) {
    if (line.at("event") == "http_request") requests.push_back(line);
  }
  REQUIRE(requests.size() == 2);
  const nlohmann::json& echo = requests[0];
  CHECK(echo.at("method") == "POST");
  CHECK(echo.at("route") == "echo");
  CHECK(echo.at("status") == 200);
  CHECK(echo.at("request_bytes") == 10);
  CHECK(echo.at("response_bytes").get<int>() > 0);
  CHECK(echo.at("remote") == "127.0.0.1");
  CHECK(echo.at("duration_ms").get<double>() >= 0.0);
  CHECK(std::regex_match(echo.at("ts").get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(requests[1].at("route") == "unmatched");
  CHECK(requests[1].at("status") == 404);
}

TEST_CASE("HttpServer refuses plain HTTP on a non-loopback address", "[http]") {
  const auto handler = [](const Request&) { return json_response(200, {}); };
  HttpServerOptions options = test_server_options();

  for (const char* address : {"0.0.0.0", "::", "192.0.2.10"}) {
    CAPTURE(address);
    options.bind_address = address;
    try {
      HttpServer server(options, handler);
      FAIL("the server accepted plain HTTP on " << address);
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kInvalidArgument));
      CHECK_THAT(error.what(), Contains("loopback"));
    }
  }

  SECTION("unless plain HTTP is allowed explicitly") {
    options.bind_address = "0.0.0.0";
    options.allow_plain_non_loopback = true;
    CHECK_NOTHROW(HttpServer(options, handler));
  }

  SECTION("loopback addresses need nothing") {
    for (const char* address : {"127.0.0.1", "::1", "127.0.0.2"}) {
      options.bind_address = address;
      CHECK_NOTHROW(HttpServer(options, handler));
    }
  }

  SECTION("a host name is not an address") {
    options.bind_address = "localhost";
    CHECK_THROWS_AS(HttpServer(options, handler), Error);
  }
}

TEST_CASE("HttpServer reports a port it cannot bind", "[http]") {
  EchoRouter routes;
  auto first = start_server(routes.router());
  HttpServerOptions options = test_server_options();
  options.port = first->port();
  HttpServer second(options, [](const Request&) { return json_response(200, {}); });
  try {
    second.start();
    FAIL("a second server bound the same port");
  } catch (const Error& error) {
    CHECK(error.is(ErrorCode::kIo));
  }
}
