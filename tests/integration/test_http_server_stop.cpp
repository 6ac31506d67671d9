// HttpServer::stop: requests in flight finish and are answered, idle connections close, nothing
// new is accepted, and the drain timeout bounds how long busy connections are waited for; periodic
// tasks run until it.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/error.hpp>

#include "fieldsync/error.h"

#include "http/http_server.h"
#include "http/router.h"
#include "http_test_client.h"

using namespace fieldsync::server::http;
using namespace fieldsync::test;

namespace {

// A router whose POST /v1/slow takes `delay`, saying when it starts and when it is done.
class SlowRouter {
 public:
  explicit SlowRouter(std::chrono::milliseconds delay) : router_(silent_log()) {
    router_.add({"POST", "/v1/slow", "slow", [this, delay](const Request&, const PathParams&) {
                   started_.set_value();
                   std::this_thread::sleep_for(delay);
                   finished_.store(true);
                   return json_response(200, {{"done", true}});
                 }});
    router_.add({"GET", "/v1/quick", "quick", [](const Request&, const PathParams&) {
                   return json_response(200, {{"done", true}});
                 }});
  }

  const Router& router() const { return router_; }
  bool wait_until_started() {
    return started_.get_future().wait_for(5s) == std::future_status::ready;
  }
  bool finished() const { return finished_.load(); }

 private:
  Router router_;
  std::promise<void> started_;
  std::atomic<bool> finished_{false};
};

std::future<WireResponse> post_slow_in_background(std::uint16_t port) {
  return std::async(std::launch::async, [port] {
    TestConnection connection(port);
    return connection.request("POST", "/v1/slow", "x");
  });
}

}  // namespace

TEST_CASE("HttpServer::stop answers the request in flight with Connection: close", "[http]") {
  SlowRouter routes(400ms);
  auto server = start_server(routes.router());
  const std::uint16_t port = server->port();

  TestConnection idle(port);
  REQUIRE(idle.request("GET", "/v1/quick").result_int() == 200);  // now idle, kept alive

  auto answer = post_slow_in_background(port);
  REQUIRE(routes.wait_until_started());
  const auto stop_started = std::chrono::steady_clock::now();
  server->stop();
  // Not the 10 s drain timeout: the idle connection was closed, not waited for.
  CHECK(std::chrono::steady_clock::now() - stop_started < 3s);

  CHECK(routes.finished());  // stop() returned only after the handler did
  const WireResponse response = answer.get();
  CHECK(response.result_int() == 200);
  CHECK(json_body(response).at("done") == true);
  CHECK_FALSE(response.keep_alive());
  CHECK(idle.read_until_closed(1s) == boost::asio::error::eof);
  CHECK_THROWS(TestConnection(port, 1s));  // no longer accepting

  server->stop();  // idempotent
}

TEST_CASE("HttpServer::stop closes connections still busy after the drain timeout", "[http]") {
  SlowRouter routes(800ms);
  CapturedLog captured;
  HttpServerOptions options = test_server_options();
  options.drain_timeout = 100ms;
  options.log = captured.log();
  auto server = start_server(routes.router(), options);

  auto answer = post_slow_in_background(server->port());
  REQUIRE(routes.wait_until_started());
  server->stop();

  CHECK_THROWS(answer.get());  // closed without an answer
  bool drain_timeout_logged = false;
  for (const auto& line : captured.lines()) {
    if (line.at("event") == "http_drain_timeout") drain_timeout_logged = true;
  }
  CHECK(drain_timeout_logged);
}

TEST_CASE("Periodic tasks run on the workers until stop(), and a task that throws goes on",
          "[http]") {
  Router router(silent_log());
  CapturedLog log;
  HttpServerOptions options = test_server_options();
  options.log = log.log();
  HttpServer server(options, [&router](const Request& request) { return router.dispatch(request); });
  std::atomic<int> runs{0};
  std::promise<void> third_run;
  server.run_periodically(1ms, [&] {
    const int run = ++runs;
    if (run == 3) third_run.set_value();
    if (run == 1) throw std::runtime_error("the first run fails");
  });
  CHECK_THROWS_AS(server.run_periodically(0ms, [] {}), fieldsync::Error);
  CHECK(runs.load() == 0);

  server.start();
  CHECK_THROWS_AS(server.run_periodically(1ms, [] {}), fieldsync::Error);
  REQUIRE(third_run.get_future().wait_for(10s) == std::future_status::ready);
  server.stop();
  const int runs_at_stop = runs.load();
  std::this_thread::sleep_for(20ms);
  CHECK(runs.load() == runs_at_stop);
  CHECK(log.text().find("periodic_task_failed") != std::string::npos);
}
