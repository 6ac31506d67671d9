// fieldsync-bench: measures fieldsync against what the machine can do on its own. One binary,
// one mode per run; modes are data (bench_modes.h), each with its own help. Progress goes to
// stderr, the table to stdout, and --json FILE keeps every figure with the machine and versions.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "bench_modes.h"
#include "bench_report.h"

namespace fieldsync::bench {

const std::vector<Mode>& modes() {
  static const std::vector<Mode> all = {
      {"baseline", "raw SQLite inserts and AES-256-GCM on this machine, with the store's settings",
       R"(Measures what SQLite and OpenSSL do here on their own, as a yardstick for the others:
  - rows/s inserting visits' plain bytes (about 1.2 KB each), 500 rows per transaction,
    --records rows (rounded up to whole transactions);
  - rows/s and ms per transaction inserting one row per transaction, --visits rows;
  - AES-256-GCM seals/s and MB/s of 1 KB values (fieldsync::crypto::seal).
SQLite runs as the store does: WAL, synchronous=FULL, secure_delete=ON.)",
       run_baseline},
      {"client", "the device store against raw SQLite writing the same bytes, and unlock time",
       R"(Measures the device store against raw SQLite inserting the same visits' plain bytes with
the same settings, in the same run, interleaved in rounds:
  (a) visits/s recorded with Casework::record_visit (a write group per transaction), --visits
      of them, against one plain row per transaction; target ratio >= 0.8;
  (b) records/s importing --records pulled visits with Store::apply_sync in pages of 500
      (about 4,000 changes each), against 500 plain rows per transaction; target ratio >= 0.6;
  (c) seconds for Store::unlock with 600,000 PBKDF2 iterations (median of 3); target < 1 s.)",
       run_client},
      {"sync", "devices push through a real fieldsync-server, a fresh device pulls it all",
       R"(Starts fieldsync-server on 127.0.0.1 and measures, for notes as English-like text and as
incompressible random text (--notes), in the same run:
  - push: --devices devices (default 50) each record --per-device visits (default 1000) in
    their encrypted stores, then sync them to the server, --concurrency devices at a time
    (default 2, or one per node with more --nodes); records/s
    against the push ceiling (raw SQLite writing each visit into 2 tables, 500 per transaction);
  - pull: a fresh device of the team's manager pulls every record into its encrypted store;
    records/s against the pull ceiling (the same, into 1 table);
  - bytes on the wire per record each way (HTTP headers and bodies, as libcurl writes and reads
    them), and beyond the field values; round trips per 1,000 records; the server's peak RSS;
  - pull cost: a worker's tablet pulls 100 visits its phone pushed, on a server holding
    --history visits of the team's history (default 1000000; 0 skips it) and on one holding
    a hundredth of that, alternately, five times; target ratio of the medians <= 1.5.
The server keeps its data in SQLite, or with --database in a scratch PostgreSQL database
served by --nodes nodes (devices spread over them); the server's memory is then summed over
the nodes.)",
       run_sync},
      {"load", "hundreds of devices syncing every second: round trips/s, latency, errors",
       R"(Starts fieldsync-server on 127.0.0.1 and enrols --devices devices (default 500), two per
worker, each with its own encrypted store (in --device-dir, default /dev/shm) and its own
kept-alive connection. For --seconds seconds (default 30) each device edits --changes fields
(default 4) of a visit and syncs, once a second, through the real sync engine; each pulls the
other device's edits. Reports round trips/s, round-trip latency p50/p95/p99 (target p99 <
100 ms), errors (target 0), the server's CPU time per second and its memory. With --database
and --nodes, the server is that many nodes on a scratch PostgreSQL database, the devices spread
over them, and CPU, memory and sockets are summed over the nodes.)",
       run_load},
  };
  return all;
}

}  // namespace fieldsync::bench

namespace {

using fieldsync::bench::BenchOptions;
using fieldsync::bench::Mode;

constexpr const char* kOptionsHelp = R"(options:
  --records N      baseline, client: records (or rows) written in bulk (default 50000)
  --visits N       baseline, client: visits (or rows) written one per transaction (default 2000)
  --devices N      sync: devices pushing (default 50); load: devices syncing (default 500)
  --per-device N   sync: visits each device records and pushes (default 1000)
  --notes KIND     sync: text, random or both (default both)
  --history N      sync: records of history for the pull-cost figure (default 1000000; 0: skip)
  --seconds N      load: how long the devices sync (default 30)
  --changes N      load: fields each device edits before each sync, 1 to 5 (default 4)
  --device-dir DIR load: where the device stores go (default /dev/shm, a RAM file system)
  --database URI   sync, load: run the server on PostgreSQL instead of SQLite. URI (or a libpq
                   key=value string) names a database on a PostgreSQL server where this may
                   create databases, e.g. postgresql:///postgres?host=/run/postgresql; each
                   server the mode starts gets a scratch database of its own there, dropped at
                   the end. tools/with-postgres --durable starts a fitting one (fsync on)
  --nodes N        sync, load: server nodes sharing that database (default 1); devices are
                   spread over them in turn, each talking to one node. Needs --database
  --concurrency N  sync: devices pushing at once (default 2, the cores of a small machine, or
                   --nodes when that is more: one pushing device per node)
  --json FILE      also write every figure, the settings, the machine and the versions as JSON
  --dir DIR        where the scratch directory goes (default: the directory of this program,
                   so the file system of the build); it is removed at the end
)";

void print_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: fieldsync-bench <mode> [options]\n       fieldsync-bench <mode> --help\n\nmodes:\n");
  for (const Mode& mode : fieldsync::bench::modes()) {
    std::fprintf(out, "  %-10s %.*s\n", std::string(mode.name).c_str(),
                 static_cast<int>(mode.summary.size()), mode.summary.data());
  }
  std::fprintf(out, "\n%s", kOptionsHelp);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "fieldsync-bench: %s\n\n", message.c_str());
  print_usage(stderr);
  return 2;
}

const Mode* find_mode(const std::string& name) {
  for (const Mode& mode : fieldsync::bench::modes()) {
    if (mode.name == name) return &mode;
  }
  return nullptr;
}

std::size_t parse_count(const std::string& option, const std::string& text,
                        bool zero_allowed = false) {
  // std::stoull alone would take "-5" (wrapping it round) and "12abc": digits only.
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long long value = digits ? std::stoull(text) : 0;
  if (!digits || (value == 0 && !zero_allowed)) {
    throw std::invalid_argument(option + " needs a positive number");
  }
  return static_cast<std::size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("a mode is needed");
  const std::string mode_name = argv[1];
  if (mode_name == "--help" || mode_name == "-h" || mode_name == "help") {
    print_usage(stdout);
    return 0;
  }
  const Mode* mode = find_mode(mode_name);
  if (!mode) return usage_error("unknown mode: " + mode_name);

  BenchOptions options;
  options.dir = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::printf("usage: fieldsync-bench %s [options]\n\n%.*s\n\n%s", mode_name.c_str(),
                    static_cast<int>(mode->help.size()), mode->help.data(), kOptionsHelp);
        return 0;
      }
      if (i + 1 >= argc) return usage_error("unknown option or missing value: " + arg);
      const std::string value = argv[++i];
      if (arg == "--records") {
        options.records = parse_count(arg, value);
      } else if (arg == "--visits") {
        options.visits = parse_count(arg, value);
      } else if (arg == "--devices") {
        options.devices = parse_count(arg, value);
      } else if (arg == "--per-device") {
        options.per_device = parse_count(arg, value);
      } else if (arg == "--notes") {
        if (value != "text" && value != "random" && value != "both") {
          return usage_error("--notes must be text, random or both");
        }
        options.notes = value;
      } else if (arg == "--history") {
        options.history = parse_count(arg, value, /*zero_allowed=*/true);
      } else if (arg == "--seconds") {
        options.seconds = parse_count(arg, value);
      } else if (arg == "--changes") {
        options.changes = parse_count(arg, value);
        if (options.changes > 5) return usage_error("--changes is at most 5");
      } else if (arg == "--device-dir") {
        options.device_dir = value;
      } else if (arg == "--json") {
        options.json_file = value;
      } else if (arg == "--dir") {
        options.dir = value;
      } else if (arg == "--database") {
        if (value.empty()) return usage_error("--database needs a PostgreSQL connection URI");
        options.database = value;
      } else if (arg == "--nodes") {
        options.nodes = parse_count(arg, value);
      } else if (arg == "--concurrency") {
        options.concurrency = parse_count(arg, value);
      } else {
        return usage_error("unknown option: " + arg);
      }
    }
  } catch (const std::exception& error) {
    return usage_error(error.what());
  }
  if (options.nodes > 1 && options.database.empty()) {
    return usage_error("--nodes needs --database: several nodes share one PostgreSQL database");
  }

  try {
    fieldsync::bench::Report report(mode_name);
    mode->run(options, report);
    report.print_table(stdout);
    if (!options.json_file.empty()) {
      std::ofstream json(options.json_file);
      json << report.to_json().dump(2) << "\n";
      if (!json) throw std::runtime_error("cannot write " + options.json_file);
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "fieldsync-bench %s: %s\n", mode_name.c_str(), error.what());
    return 1;
  }
}
