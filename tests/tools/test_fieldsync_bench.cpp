// fieldsync-bench's smoke test: each mode runs at a tiny size, exits 0, prints its table and writes
// JSON holding every figure it documents, with the settings, machine and versions. The figures'
// values are not judged (they depend on the machine's speed); only that they are there, numeric,
// and that the targeted ones say whether they were met. Cases tagged [postgres] run sync and load
// on the test PostgreSQL (the ctest `postgres` fixture) with several server nodes.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/dev/scratch_database.h"
#include "fieldsync/dev/scratch_dir.h"

namespace {

namespace dev = fieldsync::dev;
using nlohmann::json;

struct BenchRun {
  int exit_code = -1;
  std::string table;
  json report;
};

BenchRun run_bench(const dev::ScratchDir& scratch, const std::string& mode,
                   const std::string& options) {
  const std::string json_file = scratch.file(mode + ".json");
  const std::string out_file = scratch.file(mode + ".out");
  const std::string command = std::string("'") + FIELDSYNC_BENCH_BINARY + "' " + mode + " " +
                              options + " --dir '" + scratch.path().string() + "' --json '" +
                              json_file + "' > '" + out_file + "' 2> '" +
                              scratch.file(mode + ".err") + "'";
  const int status = std::system(command.c_str());
  BenchRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.table = dev::read_file(out_file);
  if (run.exit_code != 0) {
    UNSCOPED_INFO("stderr of fieldsync-bench " << mode << ":\n"
                                               << dev::read_file(scratch.file(mode + ".err")));
  }
  run.report = json::parse(dev::read_file(json_file), nullptr, /*allow_exceptions=*/false);
  return run;
}

// Every name in `expected` is a figure of the report, with a finite number and a unit; the
// targeted ones carry target and target_met.
void check_figures(const json& report, const std::vector<std::string>& expected,
                   const std::set<std::string>& targeted) {
  REQUIRE(report.is_object());
  CHECK(report.contains("machine"));
  CHECK(report.contains("versions"));
  CHECK(report.contains("settings"));
  std::set<std::string> present;
  for (const json& figure : report.at("figures")) {
    const std::string name = figure.at("name").get<std::string>();
    present.insert(name);
    INFO(name);
    CHECK(figure.at("value").is_number());
    CHECK(std::isfinite(figure.at("value").get<double>()));
    CHECK_FALSE(figure.at("unit").get<std::string>().empty());
    CHECK(figure.contains("target_met") == targeted.contains(name));
  }
  for (const std::string& name : expected) {
    INFO(name);
    CHECK(present.contains(name));
  }
}

}  // namespace

TEST_CASE("fieldsync-bench sync runs at a tiny size and reports every figure", "[bench]") {
  dev::ScratchDir scratch;
  const BenchRun run =
      run_bench(scratch, "sync", "--devices 2 --per-device 20 --history 200 --concurrency 1");
  REQUIRE(run.exit_code == 0);
  CHECK(run.table.find("push through the server (text notes)") != std::string::npos);
  std::vector<std::string> expected = {"sync.push_ceiling_rows_per_s",
                                       "sync.pull_ceiling_rows_per_s",
                                       "history.pull_after_small_ms",
                                       "history.pull_after_large_ms", "history.pull_cost_ratio"};
  std::set<std::string> targeted = {"history.pull_cost_ratio"};
  for (const std::string notes : {"text", "random"}) {
    for (const char* name :
         {"push_records_per_s", "push_ratio", "pull_records_per_s", "pull_ratio",
          "push_round_trips_per_1000", "pull_round_trips_per_1000", "server_peak_rss_mb"}) {
      expected.push_back(notes + "." + name);
      targeted.insert(notes + "." + name);
    }
    for (const char* name :
         {"push_value_bytes_per_record", "push_up_bytes_per_record", "push_down_bytes_per_record",
          "pull_up_bytes_per_record", "pull_down_bytes_per_record"}) {
      expected.push_back(notes + "." + name);
    }
    for (const char* name : {"push_overhead_bytes_per_record", "pull_overhead_bytes_per_record",
                             "push_wire_ratio", "pull_wire_ratio"}) {
      expected.push_back(notes + "." + name);
    }
  }
  for (const char* name : {"push_overhead_bytes_per_record", "pull_overhead_bytes_per_record"}) {
    targeted.insert(std::string("random.") + name);
  }
  for (const char* name : {"push_wire_ratio", "pull_wire_ratio"}) {
    targeted.insert(std::string("text.") + name);
  }
  check_figures(run.report, expected, targeted);
  CHECK(run.report.at("settings").at("devices") == 2);
  CHECK(run.report.at("settings").at("parallel_pushes") == 1);  // as --concurrency says
}

double figure_value(const json& report, const std::string& name) {
  for (const json& figure : report.at("figures")) {
    if (figure.at("name") == name) return figure.at("value").get<double>();
  }
  FAIL("no figure " << name);
  return 0;
}

TEST_CASE("fieldsync-bench sync and load run on PostgreSQL with several nodes",
          "[bench][postgres]") {
  const std::optional<std::string> server = dev::test_postgres_server();
  REQUIRE(server);
  dev::ScratchDir scratch;
  const std::string database = " --database '" + *server + "'";

  // Three nodes on one scratch database: the fresh device's pull, which the mode checks for every
  // change pushed, goes to another node than most pushes did.
  const BenchRun sync = run_bench(scratch, "sync",
                                  "--devices 3 --per-device 20 --notes text --history 100 --nodes 3" +
                                      database);
  REQUIRE(sync.exit_code == 0);
  CHECK(sync.table.find("server nodes, on one PostgreSQL database (fsync=") != std::string::npos);
  check_figures(sync.report,
                {"sync.server_nodes", "text.push_records_per_s", "text.pull_records_per_s",
                 "text.server_peak_rss_mb", "history.pull_cost_ratio"},
                {"text.push_records_per_s", "text.push_ratio", "text.pull_records_per_s",
                 "text.pull_ratio", "text.push_round_trips_per_1000",
                 "text.pull_round_trips_per_1000", "text.server_peak_rss_mb",
                 "text.push_wire_ratio", "text.pull_wire_ratio", "history.pull_cost_ratio"});
  CHECK(figure_value(sync.report, "sync.server_nodes") == 3);
  CHECK(sync.report.at("settings").at("storage") == "postgresql");
  CHECK(sync.report.at("settings").at("server_nodes") == 3);
  CHECK(sync.report.at("settings").at("parallel_pushes") == 3);  // one pushing device per node
  CHECK(sync.report.at("settings").contains("postgresql_settings"));

  const BenchRun load = run_bench(scratch, "load",
                                  "--devices 4 --seconds 2 --changes 2 --nodes 2 --device-dir '" +
                                      scratch.path().string() + "'" + database);
  REQUIRE(load.exit_code == 0);
  CHECK(figure_value(load.report, "load.server_nodes") == 2);
  CHECK(figure_value(load.report, "load.errors") == 0);
  // Two nodes, each with its listener and the connections of the devices it serves.
  CHECK(figure_value(load.report, "load.server_sockets") >= 6);
}

TEST_CASE("fieldsync-bench load runs at a tiny size and reports every figure", "[bench]") {
  dev::ScratchDir scratch;
  const BenchRun run = run_bench(scratch, "load",
                                 "--devices 4 --seconds 2 --changes 2 --device-dir '" +
                                     scratch.path().string() + "'");
  REQUIRE(run.exit_code == 0);
  check_figures(run.report,
                {"load.round_trips_per_s", "load.syncs_per_s", "load.latency_p50_ms",
                 "load.latency_p95_ms", "load.latency_p99_ms", "load.latency_max_ms",
                 "load.errors", "load.start_lag_p99_ms", "load.server_cpu_cores",
                 "load.server_rss_mb", "load.server_peak_rss_mb", "load.server_sockets"},
                {"load.latency_p99_ms", "load.errors"});
  // Not a timing claim: four devices on one machine never fail to sync.
  for (const json& figure : run.report.at("figures")) {
    if (figure.at("name") == "load.errors") CHECK(figure.at("value") == 0);
    if (figure.at("name") == "load.server_sockets") CHECK(figure.at("value").get<double>() >= 5);
  }
}

TEST_CASE("fieldsync-bench baseline reports the push and pull ceilings", "[bench]") {
  dev::ScratchDir scratch;
  const BenchRun run = run_bench(scratch, "baseline", "--records 500 --visits 20");
  REQUIRE(run.exit_code == 0);
  check_figures(run.report,
                {"sqlite.bulk_rows_per_s", "sqlite.bulk_twice_rows_per_s",
                 "sqlite.single_rows_per_s", "sqlite.single_commit_ms", "aes_gcm.seal_1k_per_s",
                 "aes_gcm.seal_mb_per_s"},
                {});
}

TEST_CASE("fieldsync-bench refuses unknown modes and bad options with usage", "[bench]") {
  dev::ScratchDir scratch;
  CHECK(run_bench(scratch, "nonsense", "").exit_code == 2);
  CHECK(run_bench(scratch, "sync", "--notes pictures").exit_code == 2);
  CHECK(run_bench(scratch, "load", "--devices 0").exit_code == 2);
  // Several nodes share one PostgreSQL database: not possible on SQLite.
  CHECK(run_bench(scratch, "sync", "--nodes 3").exit_code == 2);
  CHECK(run_bench(scratch, "sync", "--concurrency 0").exit_code == 2);
}
