// What a fieldsync-server process says about itself as it starts, checked on real processes on
// 127.0.0.1: an open-file limit too low for --max-connections is raised as far as the hard limit
// allows, and a warning names the figures when it is still short. And what the test support's
// ServerProcess says when a restart fails: how the process ended and what that start wrote.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "device_fixture.h"

using namespace fieldsync;
using namespace fieldsync::itest;
using nlohmann::json;

namespace {

// The one line of the server's log whose event is `event`; the test fails when there are none or
// several.
json one_event(const dev::ServerProcess& server, const std::string& event) {
  const std::vector<json> lines = server_log_events(server, event);
  REQUIRE(lines.size() == 1);
  return lines.front();
}

// fieldsync-server with --max-connections `max_connections`, started by a shell that first sets
// its hard and soft open-file limits with `ulimit`.
std::unique_ptr<dev::ServerProcess> start_under_limits(const dev::ScratchDir& dir, int hard,
                                                       int soft, int max_connections) {
  const std::string script = dir.file("server-under-limits.sh");
  // The soft limit first: a hard limit below the soft one in force is refused.
  std::ofstream(script) << "#!/bin/sh\nset -e\nulimit -Sn " << soft << "\nulimit -Hn " << hard
                        << "\nexec '" << server_binary() << "' \"$@\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return std::make_unique<dev::ServerProcess>(
      dev::ServerProcessOptions{.binary = script,
                                .data_dir = dir.file("server"),
                                .extra_args = {"--max-connections", std::to_string(max_connections)}});
}

// The process's soft and hard open-file limits as the kernel reports them.
std::pair<int, int> open_file_limits_of(pid_t pid) {
  std::istringstream lines(dev::read_file("/proc/" + std::to_string(pid) + "/limits"));
  const std::string label = "Max open files";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(label, 0) != 0) continue;
    std::istringstream fields(line.substr(label.size()));
    std::pair<int, int> limits;
    fields >> limits.first >> limits.second;
    return limits;
  }
  return {};
}

}  // namespace

TEST_CASE("A server started with a low soft open-file limit raises it to what it needs",
          "[server][limits]") {
  const dev::ScratchDir dir;
  const auto server = start_under_limits(dir, 1024, 64, 200);
  // 200 connections, the SQLite store's 5 files and 64 spare: 269.
  CHECK(open_file_limits_of(server->pid()) == std::make_pair(269, 1024));
  const json raised = one_event(*server, "open_file_limit_raised");
  CHECK(raised.at("from") == 64);
  CHECK(raised.at("to") == 269);
  CHECK(server_log_events(*server, "open_file_limit_low").empty());
}

TEST_CASE("A server whose hard open-file limit is below what --max-connections needs warns, and "
          "serves",
          "[server][limits]") {
  const dev::ScratchDir dir;
  const auto server = start_under_limits(dir, 128, 100, 1000);
  CHECK(open_file_limits_of(server->pid()) == std::make_pair(128, 128));
  const json warning = one_event(*server, "open_file_limit_low");
  INFO(warning.dump());
  CHECK(warning.at("level") == "warning");
  CHECK(warning.at("limit") == 128);
  CHECK(warning.at("hard_limit") == 128);
  CHECK(warning.at("needed") == 1000 + 5 + 64);
  CHECK(warning.at("max_connections") == 1000);
  CHECK_THAT(warning.at("message").get<std::string>(), Catch::Contains("LimitNOFILE"));
  CHECK(one_event(*server, "server_started").at("port") == server->port());
}

TEST_CASE("A server with open files enough for --max-connections says nothing of the limit",
          "[server][limits]") {
  const dev::ScratchDir dir;
  const auto server = start_under_limits(dir, 1024, 1024, 200);
  CHECK(open_file_limits_of(server->pid()) == std::make_pair(1024, 1024));
  CHECK(server_log_events(*server, "open_file_limit_raised").empty());
  CHECK(server_log_events(*server, "open_file_limit_low").empty());
}

TEST_CASE("A restart that fails says how the process ended and what that start wrote, nothing "
          "earlier",
          "[server][start]") {
  const dev::ScratchDir dir;
  dev::ServerProcess server({.binary = server_binary(), .data_dir = dir.file("server")});
  server.stop();
  const std::string earlier_log = dev::read_file(server.options().log_file);
  REQUIRE_THAT(earlier_log, Catch::Contains("server_started") && Catch::Contains("server_stopped"));

  // The database the restart must open is no database any more.
  const std::filesystem::path database = dir.file("server") + "/fieldsync-server.db";
  REQUIRE(std::filesystem::exists(database));
  std::filesystem::remove(database.string() + "-wal");
  std::filesystem::remove(database.string() + "-shm");
  std::ofstream(database, std::ios::trunc) << std::string(8192, 'x');

  std::string failure;
  try {
    server.restart();
    FAIL("the server started on a file that is not a database");
  } catch (const std::runtime_error& error) {
    failure = error.what();
  }
  INFO(failure);
  CHECK_FALSE(server.running());
  CHECK_THAT(failure, Catch::Contains("fieldsync-server exited with status 1 at start"));
  CHECK_THAT(failure, Catch::Contains("the end of what it wrote to " + server.options().log_file));
  CHECK_THAT(failure, Catch::Contains("not a database"));
  // The earlier start's lines stay in the log file, but are not this start's story.
  CHECK_THAT(failure, !Catch::Contains("server_started") && !Catch::Contains("server_stopped") &&
                          !Catch::Contains("audit_head"));
  CHECK_THAT(dev::read_file(server.options().log_file), Catch::StartsWith(earlier_log));
}
