// ServerLog: one JSON object per line, RFC 3339 times, thresholds, whole lines under threads.
#include <catch2/catch.hpp>

#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "http/server_log.h"
#include "http_test_client.h"

using namespace fieldsync::server::http;
using fieldsync::test::json_lines;

TEST_CASE("ServerLog writes one JSON object per line, fields in order", "[http][log]") {
  std::ostringstream sink;
  ServerLog log(sink);
  log.info("http_request", {{"method", "GET"}, {"status", 200}, {"event", "ignored"}});

  const std::string text = sink.str();
  REQUIRE(text.back() == '\n');
  CHECK(text.find("\"method\":\"GET\",\"status\":200") != std::string::npos);
  const auto lines = json_lines(text);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].at("level") == "info");
  CHECK(lines[0].at("event") == "http_request");  // a field cannot overwrite the line's own keys
  CHECK(lines[0].at("status") == 200);
  const std::regex rfc3339_utc_ms(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  CHECK(std::regex_match(lines[0].at("ts").get<std::string>(), rfc3339_utc_ms));
}

TEST_CASE("ServerLog drops lines below its threshold and is silent when off", "[http][log]") {
  std::ostringstream sink;
  ServerLog log(sink, LogLevel::kWarning);
  log.info("quiet");
  log.debug("quieter");
  log.warning("loud");
  log.error("louder");
  const auto lines = json_lines(sink.str());
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("level") == "warning");
  CHECK(lines[1].at("level") == "error");

  log.set_threshold(LogLevel::kOff);
  log.error("nothing");
  CHECK(json_lines(sink.str()).size() == 2);
  CHECK_FALSE(log.enabled(LogLevel::kError));
}

TEST_CASE("ServerLog keeps lines whole with bytes that are not UTF-8", "[http][log]") {
  std::ostringstream sink;
  ServerLog log(sink);
  log.warning("odd_peer", {{"method", std::string("G\xff\xfeT")}});
  const auto lines = json_lines(sink.str());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].at("method").get<std::string>().find("G") == 0);
}

TEST_CASE("ServerLog keeps lines whole when many threads write at once", "[http][log]") {
  std::ostringstream sink;
  ServerLog log(sink);
  constexpr int kThreads = 8;
  constexpr int kLinesEach = 200;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&log, t] {
      for (int i = 0; i < kLinesEach; ++i) {
        log.info("tick", {{"thread", t}, {"i", i}, {"padding", std::string(100, 'x')}});
      }
    });
  }
  for (auto& writer : writers) writer.join();
  const auto lines = json_lines(sink.str());  // throws on a torn line
  CHECK(lines.size() == kThreads * kLinesEach);
}
