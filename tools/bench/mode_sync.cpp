// fieldsync-bench sync: devices push their visits through a real fieldsync-server on 127.0.0.1,
// then a fresh device pulls them all into its encrypted store, against the push and pull ceilings
// (raw SQLite writing the same bytes) measured in the same run; bytes on the wire, round trips
// and the server's memory; and whether a pull's cost grows with what changed or with history.
#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "bench_fleet.h"
#include "bench_modes.h"
#include "bench_report.h"
#include "fieldsync/client/casework.h"
#include "measure.h"
#include "plain_table.h"
#include "workload.h"

namespace fieldsync::bench {
namespace {

constexpr const char* kMode = "sync";
constexpr std::size_t kDefaultDevices = 50;
constexpr std::size_t kCasesPerWorker = 20;
constexpr std::size_t kCaseFields = 2;  // child_name and status, as the admin API creates them
// Devices pushing at once unless --concurrency says: as many as a small machine has cores, so
// that the server's decoding and encoding of one request overlaps the reconciling of another; and
// at least one per node, so that every node has a push to serve (devices take nodes in turn).
constexpr std::size_t kDefaultParallelPushes = 2;
constexpr std::size_t kChangedRecords = 100;
constexpr std::size_t kPullCostRepeats = 5;
// The history is written in groups of this many visits, and pushed this many changes at a time.
constexpr std::size_t kHistoryGroupVisits = 500;
constexpr std::size_t kHistoryRequestChanges = 8'000;
constexpr const char* kTeam = "bench";
constexpr const char* kManager = "lead";

double megabytes(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void reset(platform::TrafficCounters& traffic) {
  traffic.bytes_sent = 0;
  traffic.bytes_received = 0;
  traffic.exchanges = 0;
}

std::vector<NoteStyle> note_styles(const std::string& notes) {
  if (notes == "text") return {NoteStyle::kText};
  if (notes == "random") return {NoteStyle::kRandom};
  if (notes == "both") return {NoteStyle::kText, NoteStyle::kRandom};
  throw std::invalid_argument("--notes must be text, random or both");
}

// A team with a manager, on a fresh server.
void create_team(BenchServer& server) {
  server.admin().create_team(kTeam, "Bench team");
  server.admin().create_user(kManager, kTeam, "manager", "Bench Lead");
}

// A worker of the team with `count` new cases; returns their ids, and adds the bytes of the
// cases' values to `value_bytes`.
std::vector<CaseId> create_worker(BenchServer& server, const std::string& user,
                                  std::size_t count, std::size_t& value_bytes) {
  server.admin().create_user(user, kTeam, "worker", "Worker " + user);
  std::vector<CaseId> cases;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string child = "Child " + std::to_string(i) + " of " + user;
    cases.push_back(server.admin().create_case(user, {{"child_name", child}}));
    value_bytes += child.size() + std::string("open").size();
  }
  return cases;
}

// What pushing and pulling one kind of notes measured.
struct SyncRun {
  std::size_t pushed_records = 0;
  std::size_t pulled_records = 0;
  double push_seconds = 0;
  double pull_seconds = 0;
  std::uint64_t push_value_bytes = 0;  // of the visits pushed
  std::uint64_t pull_value_bytes = 0;  // of the visits and cases pulled
  std::uint64_t push_sent = 0, push_received = 0, pull_sent = 0, pull_received = 0;
  std::size_t push_round_trips = 0, pull_round_trips = 0;
  ProcessUsage server;
};

std::size_t parallel_pushes(const BenchOptions& options) {
  return options.concurrency.value_or(std::max(kDefaultParallelPushes, options.nodes));
}

// Each of `devices` syncs once, `parallel` at a time; returns the round trips they made.
std::size_t push_all(std::vector<std::unique_ptr<BenchDevice>>& devices, std::size_t parallel,
                     const std::string& what) {
  std::atomic<std::size_t> next{0}, done{0}, round_trips{0};
  std::mutex failure_mutex;
  std::string failure;
  auto pusher = [&] {
    for (std::size_t i = next++; i < devices.size(); i = next++) {
      try {
        round_trips += static_cast<std::size_t>(devices[i]->sync().requests);
      } catch (const std::exception& error) {
        std::lock_guard lock(failure_mutex);
        failure = error.what();
        next = devices.size();
        return;
      }
      const std::size_t finished = ++done;
      if (finished % 10 == 0 || finished == devices.size()) {
        progress(kMode, what + " " + std::to_string(finished) + "/" +
                            std::to_string(devices.size()) + " devices");
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < std::min(parallel, devices.size()); ++i) {
    threads.emplace_back(pusher);
  }
  for (std::thread& thread : threads) thread.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  return round_trips;
}

SyncRun push_and_pull(const BenchOptions& options, const ScratchDir& scratch, NoteStyle style) {
  const std::string name(to_string(style));
  const std::filesystem::path dir = scratch.path() / name;
  std::filesystem::create_directories(dir);
  const std::size_t device_count = options.devices.value_or(kDefaultDevices);
  SyncRun run;

  progress(kMode, name + " notes: starting fieldsync-server, enrolling " +
                      std::to_string(device_count) + " devices");
  BenchServer server(dir / "server", options);
  create_team(server);
  platform::TrafficCounters push_traffic;
  std::vector<std::unique_ptr<BenchDevice>> devices;
  std::deque<VisitWorkload> workloads;  // not movable: a deque grows without moving
  std::size_t case_value_bytes = 0;
  for (std::size_t i = 0; i < device_count; ++i) {
    const std::string user = "worker-" + std::to_string(i + 1);
    std::vector<CaseId> cases = create_worker(server, user, kCasesPerWorker, case_value_bytes);
    workloads.emplace_back(std::move(cases), style);
    devices.push_back(std::make_unique<BenchDevice>(server, dir, "device-" + std::to_string(i + 1),
                                                    user, counting_transport(&push_traffic), i));
    devices.back()->sync();  // brings the worker's cases
  }

  progress(kMode, name + " notes: recording " + std::to_string(options.per_device) +
                      " visits on each device");
  for (std::size_t i = 0; i < device_count; ++i) {
    client::Casework casework(devices[i]->store());
    for (std::size_t n = 0; n < options.per_device; ++n) {
      const VisitWorkload::Visit visit = workloads[i].next_visit();
      run.push_value_bytes += VisitWorkload::value_bytes(visit);
      casework.record_visit(visit.case_id, visit.fields);
    }
  }
  run.pushed_records = device_count * options.per_device;

  const std::size_t parallel = parallel_pushes(options);
  progress(kMode, name + " notes: pushing, " + std::to_string(parallel) + " devices at a time");
  reset(push_traffic);
  Stopwatch push_watch;
  run.push_round_trips =
      push_watch.time([&] { return push_all(devices, parallel, name + " notes: pushed"); });
  run.push_seconds = push_watch.seconds();
  run.push_sent = push_traffic.bytes_sent;
  run.push_received = push_traffic.bytes_received;

  progress(kMode, name + " notes: a fresh device of the team's manager pulls everything");
  platform::TrafficCounters pull_traffic;
  BenchDevice fresh(server, dir, "fresh-device", kManager, counting_transport(&pull_traffic),
                    device_count);
  reset(pull_traffic);
  client::SyncSettings settings = fresh.settings();
  settings.on_progress = [&](const client::SyncProgress& at) {
    if (at.round % 10 == 0) {
      progress(kMode, name + " notes: pulled " + std::to_string(at.changes_pulled) + " changes");
    }
  };
  Stopwatch pull_watch;
  const client::SyncReport pulled = pull_watch.time([&] { return fresh.sync(settings); });
  run.pull_seconds = pull_watch.seconds();
  run.pull_sent = pull_traffic.bytes_sent;
  run.pull_received = pull_traffic.bytes_received;
  run.pull_round_trips = static_cast<std::size_t>(pulled.requests);
  const std::size_t case_count = device_count * kCasesPerWorker;
  const std::size_t expected_changes =
      run.pushed_records * VisitWorkload::kVisitFields + case_count * kCaseFields;
  if (pulled.changes_pulled != expected_changes) {
    throw std::runtime_error("the fresh device pulled " + std::to_string(pulled.changes_pulled) +
                             " changes, not the " + std::to_string(expected_changes) + " pushed");
  }
  run.pulled_records = run.pushed_records + case_count;
  run.pull_value_bytes = run.push_value_bytes + case_value_bytes;
  run.server = server.usage();
  return run;
}

void report_run(const SyncRun& run, NoteStyle style, Report& report) {
  const std::string prefix = std::string(to_string(style)) + ".";
  const std::string notes = " (" + std::string(to_string(style)) + " notes)";
  const bool incompressible = style == NoteStyle::kRandom;
  const auto pushed = static_cast<double>(run.pushed_records);
  const auto pulled = static_cast<double>(run.pulled_records);
  const double push_values = static_cast<double>(run.push_value_bytes) / pushed;
  const double pull_values = static_cast<double>(run.pull_value_bytes) / pulled;

  report.figure(prefix + "push_records_per_s", pushed / run.push_seconds, "records/s",
                "push through the server" + notes, Target::at_least(15'000));
  report.ratio(prefix + "push_ratio", prefix + "push_records_per_s", "sync.push_ceiling_rows_per_s",
               "push / push ceiling" + notes, Target::at_least(0.5));
  report.figure(prefix + "pull_records_per_s", pulled / run.pull_seconds, "records/s",
                "pull into a fresh encrypted store" + notes, Target::at_least(20'000));
  report.ratio(prefix + "pull_ratio", prefix + "pull_records_per_s", "sync.pull_ceiling_rows_per_s",
               "pull / pull ceiling" + notes, Target::at_least(0.5));

  report.figure(prefix + "push_value_bytes_per_record", push_values, "bytes",
                "field values per visit" + notes);
  report.figure(prefix + "push_up_bytes_per_record", static_cast<double>(run.push_sent) / pushed,
                "bytes", "push, bytes sent per record" + notes);
  report.figure(prefix + "push_down_bytes_per_record",
                static_cast<double>(run.push_received) / pushed, "bytes",
                "push, bytes received per record" + notes);
  report.figure(prefix + "pull_up_bytes_per_record", static_cast<double>(run.pull_sent) / pulled,
                "bytes", "pull, bytes sent per record" + notes);
  report.figure(prefix + "pull_down_bytes_per_record",
                static_cast<double>(run.pull_received) / pulled, "bytes",
                "pull, bytes received per record" + notes);
  const std::optional<Target> overhead_target =
      incompressible ? std::optional(Target::at_most(100)) : std::nullopt;
  report.figure(prefix + "push_overhead_bytes_per_record",
                static_cast<double>(run.push_sent) / pushed - push_values, "bytes",
                "push, bytes sent beyond the values, per record" + notes, overhead_target);
  report.figure(prefix + "pull_overhead_bytes_per_record",
                static_cast<double>(run.pull_received) / pulled - pull_values, "bytes",
                "pull, bytes received beyond the values, per record" + notes, overhead_target);
  const std::optional<Target> compressed_target =
      incompressible ? std::nullopt : std::optional(Target::below(1));
  report.figure(prefix + "push_wire_ratio", static_cast<double>(run.push_sent) / pushed / push_values,
                "x", "push, bytes sent / value bytes" + notes, compressed_target);
  report.figure(prefix + "pull_wire_ratio",
                static_cast<double>(run.pull_received) / pulled / pull_values, "x",
                "pull, bytes received / value bytes" + notes, compressed_target);

  report.figure(prefix + "push_round_trips_per_1000",
                1000.0 * static_cast<double>(run.push_round_trips) / pushed, "trips",
                "push, round trips per 1,000 records" + notes, Target::at_most(2));
  report.figure(prefix + "pull_round_trips_per_1000",
                1000.0 * static_cast<double>(run.pull_round_trips) / pulled, "trips",
                "pull, round trips per 1,000 records" + notes, Target::at_most(2));
  report.figure(prefix + "server_peak_rss_mb", megabytes(run.server.peak_rss_bytes), "MB",
                "server peak resident memory, summed over its nodes" + notes,
                Target::at_most(100));
}

// A server holding `history` visits, with a worker whose phone records visits and whose tablet
// pulls them. The history is the rest of the team's: written by another worker's device in
// groups of kHistoryGroupVisits, pushed kHistoryRequestChanges changes at a time. So the tablet's
// pull meets the whole history on the server, in the same tables and indexes, but holds none of
// it in its own store: what is measured is the server's part, as it is for a worker's device in a
// big council.
class HistoryWorld {
 public:
  HistoryWorld(const BenchOptions& options, const ScratchDir& scratch, std::size_t history)
      : dir_(scratch.path() / ("history-" + std::to_string(history))),
        server_((std::filesystem::create_directories(dir_), dir_ / "server"), options) {
    progress(kMode, "pull cost: " + std::to_string(history) + " records of history");
    create_team(server_);
    std::size_t ignored_bytes = 0;
    const std::vector<CaseId> history_cases =
        create_worker(server_, "historian", kCasesPerWorker, ignored_bytes);
    cases_ = create_worker(server_, "worker", 1, ignored_bytes);

    BenchDevice historian(server_, dir_, "historian", "historian", counting_transport(nullptr),
                          2);
    historian.sync();
    client::SyncSettings bulk = historian.settings();
    bulk.max_changes_per_request = kHistoryRequestChanges;
    VisitWorkload visits(history_cases, NoteStyle::kText);
    std::size_t written = 0;
    while (written < history) {
      std::vector<client::Store::RecordWrite> group;
      for (; group.size() < kHistoryGroupVisits && written < history; ++written) {
        VisitWorkload::Visit visit = visits.next_visit();
        group.push_back({"visit", visit.id, visit.case_id, std::move(visit.fields)});
      }
      historian.store().write_records(group);
      if (written % (10 * kHistoryGroupVisits) == 0 || written == history) {
        historian.sync(bulk);
        if (written % 100'000 == 0 || written == history) {
          progress(kMode, "pull cost: history " + std::to_string(written) + "/" +
                              std::to_string(history) + " records pushed");
        }
      }
    }
    // With several nodes, the phone and the tablet talk to different ones.
    phone_ = std::make_unique<BenchDevice>(server_, dir_, "phone", "worker",
                                           counting_transport(nullptr), 0);
    tablet_ = std::make_unique<BenchDevice>(server_, dir_, "tablet", "worker",
                                            counting_transport(nullptr), 1);
    phone_->sync();
    tablet_->sync();
    edits_ = std::make_unique<VisitWorkload>(cases_, NoteStyle::kText);
  }

  // The phone records kChangedRecords visits and pushes them; the tablet's pull of them, in ms.
  double timed_pull() {
    client::Casework casework(phone_->store());
    for (std::size_t i = 0; i < kChangedRecords; ++i) {
      const VisitWorkload::Visit visit = edits_->next_visit();
      casework.record_visit(visit.case_id, visit.fields);
    }
    phone_->sync();
    Stopwatch watch;
    const client::SyncReport pulled = watch.time([&] { return tablet_->sync(); });
    if (pulled.changes_pulled != kChangedRecords * VisitWorkload::kVisitFields) {
      throw std::runtime_error("the tablet pulled " + std::to_string(pulled.changes_pulled) +
                               " changes, not the " +
                               std::to_string(kChangedRecords * VisitWorkload::kVisitFields) +
                               " its phone pushed");
    }
    return 1000 * watch.seconds();
  }

 private:
  std::filesystem::path dir_;
  BenchServer server_;
  std::vector<CaseId> cases_;
  std::unique_ptr<BenchDevice> phone_;
  std::unique_ptr<BenchDevice> tablet_;
  std::unique_ptr<VisitWorkload> edits_;  // the phone's visits, to the worker's case
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void measure_pull_cost(const BenchOptions& options, const ScratchDir& scratch, Report& report) {
  const std::size_t large = options.history;
  const std::size_t small = std::max<std::size_t>(1, large / 100);
  HistoryWorld short_history(options, scratch, small);
  HistoryWorld long_history(options, scratch, large);
  // Alternately, so that the machine's ups and downs fall on both alike.
  std::vector<double> short_ms, long_ms;
  for (std::size_t repeat = 0; repeat < kPullCostRepeats; ++repeat) {
    short_ms.push_back(short_history.timed_pull());
    long_ms.push_back(long_history.timed_pull());
  }
  report.figure("history.pull_after_small_ms", median(short_ms), "ms",
                "pull of 100 changed records, " + std::to_string(small) + " records of history");
  report.figure("history.pull_after_large_ms", median(long_ms), "ms",
                "pull of 100 changed records, " + std::to_string(large) + " records of history");
  report.ratio("history.pull_cost_ratio", "history.pull_after_large_ms",
               "history.pull_after_small_ms",
               "pull cost, " + std::to_string(large) + " / " + std::to_string(small) + " history",
               Target::at_most(1.5));
}

}  // namespace

void run_sync(const BenchOptions& options, Report& report) {
  const std::vector<NoteStyle> styles = note_styles(options.notes);
  ScratchDir scratch(options.dir);
  const std::size_t devices = options.devices.value_or(kDefaultDevices);
  const std::size_t records = devices * options.per_device;
  report.setting("devices", devices);
  report.setting("visits_per_device", options.per_device);
  report.setting("cases_per_device", kCasesPerWorker);
  report.setting("narrative_bytes", kNarrativeBytes);
  report.setting("notes", options.notes);
  report.setting("parallel_pushes", parallel_pushes(options));
  report.setting("history", options.history);
  report.setting("sqlite_settings", "journal_mode=WAL, synchronous=FULL, secure_delete=ON");
  report.setting("dir", scratch.path().parent_path().string());
  report_storage(options, report, kMode);

  report.figure("sync.push_ceiling_rows_per_s",
                bulk_insert_rate(scratch.file("push-ceiling.db"), 2, records, kMode), "rows/s",
                "raw SQLite, each visit into 2 tables, 500 per tx (push ceiling)");
  report.figure("sync.pull_ceiling_rows_per_s",
                bulk_insert_rate(scratch.file("pull-ceiling.db"), 1, records, kMode), "rows/s",
                "raw SQLite, each visit into 1 table, 500 per tx (pull ceiling)");
  for (const NoteStyle style : styles) {
    report_run(push_and_pull(options, scratch, style), style, report);
  }
  if (options.history > 0) measure_pull_cost(options, scratch, report);
}

}  // namespace fieldsync::bench
