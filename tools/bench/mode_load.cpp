// fieldsync-bench load: many devices connected to one fieldsync-server at once, each editing a
// visit and syncing every second, as a council's fleet does during a working day. Each device is
// real: an encrypted store, its own kept-alive HTTP connection and the real sync engine. Measures
// the round trips the server answers per second, their latency, errors, and the server's CPU and
// memory.
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <queue>
#include <stdexcept>
#include <thread>

#include "bench_fleet.h"
#include "bench_modes.h"
#include "bench_report.h"
#include "fieldsync/error.h"
#include "measure.h"
#include "workload.h"

namespace fieldsync::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kMode = "load";
constexpr std::size_t kDefaultDevices = 500;
constexpr std::size_t kDevicesPerWorker = 2;  // a phone and a tablet: each pulls the other's edits
constexpr milliseconds kInterval{1000};       // each device syncs once a second
// Threads that run the devices' syncs when they fall due. A sync takes a few milliseconds, so
// this many keep up with hundreds of syncs a second and still start each on time.
constexpr std::size_t kThreads = 32;
constexpr const char* kTeam = "load";
// The visit fields a device edits, in turn: free text and the end time, which no rule ties to
// another field (actual_end only has to follow actual_start).
constexpr std::array<std::string_view, 5> kEditedFields = {
    "observations", "people_present", "childs_views", "worker_analysis", "actual_end"};

// Round trips as the device sees them: from handing the request to the transport to having the
// whole answer. Thread-safe.
class LatencyLog {
 public:
  void record(double ms, bool failed) {
    std::lock_guard lock(mutex_);
    if (!recording_) return;
    latencies_ms_.push_back(ms);
    if (failed) ++failures_;
  }
  void start() {
    std::lock_guard lock(mutex_);
    recording_ = true;
  }
  void stop() {
    std::lock_guard lock(mutex_);
    recording_ = false;
  }
  std::vector<double> sorted() const {
    std::lock_guard lock(mutex_);
    std::vector<double> copy = latencies_ms_;
    std::sort(copy.begin(), copy.end());
    return copy;
  }
  std::size_t failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  bool recording_ = false;
  std::vector<double> latencies_ms_;
  std::size_t failures_ = 0;  // answers other than 2xx, and network failures
};

// Forwards to a transport and logs each exchange's round-trip time.
class TimedTransport final : public platform::HttpTransport {
 public:
  TimedTransport(std::unique_ptr<platform::HttpTransport> inner, LatencyLog& log)
      : inner_(std::move(inner)), log_(log) {}

  platform::HttpResponse send(const platform::HttpRequest& request) override {
    const Clock::time_point start = Clock::now();
    try {
      platform::HttpResponse response = inner_->send(request);
      log_.record(elapsed_ms(start), response.status < 200 || response.status > 299);
      return response;
    } catch (const Error&) {
      log_.record(elapsed_ms(start), true);
      throw;
    }
  }

 private:
  static double elapsed_ms(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }

  std::unique_ptr<platform::HttpTransport> inner_;
  LatencyLog& log_;
};

// One device of the fleet and the visit it keeps editing.
struct LoadDevice {
  std::unique_ptr<BenchDevice> device;
  RecordId visit;
  CaseId case_id;
  std::size_t edits = 0;
};

// The devices' syncs, each due every kInterval from its own offset, run by kThreads threads.
class Schedule {
 public:
  Schedule(std::size_t devices, Clock::time_point start, Clock::time_point end) : end_(end) {
    for (std::size_t i = 0; i < devices; ++i) {
      due_.push({start + kInterval * static_cast<long>(i) / static_cast<long>(devices), i});
    }
  }

  struct Slot {
    Clock::time_point due;
    std::size_t device;
    bool operator>(const Slot& other) const { return due > other.due; }
  };

  // The next device to sync, once it falls due; nullopt when the run is over.
  std::optional<Slot> next() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (due_.empty()) {
        changed_.wait(lock);
        continue;
      }
      const Slot slot = due_.top();
      if (slot.due >= end_) {
        changed_.notify_all();  // threads waiting on an empty queue end too
        return std::nullopt;
      }
      if (Clock::now() >= slot.due) {
        due_.pop();
        return slot;
      }
      changed_.wait_until(lock, slot.due);
    }
  }
  void done(const Slot& slot) {
    {
      std::lock_guard lock(mutex_);
      due_.push({slot.due + kInterval, slot.device});
    }
    changed_.notify_one();
  }

 private:
  const Clock::time_point end_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> due_;  // guarded by mutex_
};

// Open files: each device holds a connection and its store's files; the default soft limit
// (often 1024) is too low for hundreds of devices.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

client::Fields edit(LoadDevice& device, std::size_t changes) {
  client::Fields fields;
  const std::size_t number = ++device.edits;
  for (std::size_t i = 0; i < changes; ++i) {
    const std::string_view field = kEditedFields[i];
    if (field == "actual_end") {
      fields.emplace(field, Value::timestamp(Timestamp{1'709'280'000'000 +
                                                       static_cast<std::int64_t>(number) * 1000}));
    } else {
      fields.emplace(field, Value::text("Edit " + std::to_string(number) + " of " +
                                        std::string(field) + ": the family was at home."));
    }
  }
  return fields;
}

double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

}  // namespace

void run_load(const BenchOptions& options, Report& report) {
  const std::size_t device_count = options.devices.value_or(kDefaultDevices);
  if (options.changes > kEditedFields.size()) {
    throw std::invalid_argument("--changes is at most " + std::to_string(kEditedFields.size()));
  }
  raise_open_file_limit();
  ScratchDir scratch(options.dir);
  const std::filesystem::path device_parent =
      !options.device_dir.empty()                ? options.device_dir
      : std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                  : scratch.path();
  ScratchDir device_dir(device_parent, "fieldsync-devices");
  report.setting("devices", device_count);
  report.setting("seconds", options.seconds);
  report.setting("changes_per_sync", options.changes);
  report.setting("sync_interval_ms", kInterval.count());
  report.setting("threads", kThreads);
  report.setting("server_dir", scratch.path().parent_path().string());
  report.setting("device_dir", device_parent.string());
  report_storage(options, report, kMode);

  progress(kMode, "starting fieldsync-server, enrolling " + std::to_string(device_count) +
                      " devices");
  BenchServer server(scratch.path() / "server", options);
  server.admin().create_team(kTeam, "Load team");
  LatencyLog log;
  std::vector<LoadDevice> devices;
  for (std::size_t i = 0; i < device_count; ++i) {
    const std::string user = "worker-" + std::to_string(i / kDevicesPerWorker + 1);
    if (i % kDevicesPerWorker == 0) {
      server.admin().create_user(user, kTeam, "worker", "Worker " + user);
      server.admin().create_case(user, {{"child_name", "Child of " + user}});
    }
    auto transport =
        std::make_unique<TimedTransport>(counting_transport(nullptr), log);
    LoadDevice device{std::make_unique<BenchDevice>(server, device_dir.path(),
                                                    "device-" + std::to_string(i + 1), user,
                                                    std::move(transport), i),
                      {}, {}, 0};
    device.device->sync();  // brings the case
    const std::vector<CaseId> cases = device.device->store().cases();
    if (cases.empty()) throw std::runtime_error("a device got no case on its first sync");
    device.case_id = cases.front();
    VisitWorkload workload(std::vector<CaseId>{device.case_id}, NoteStyle::kText);
    const VisitWorkload::Visit visit = workload.next_visit();
    device.visit = visit.id;
    device.device->store().write_record({"visit", visit.id, visit.case_id, visit.fields});
    devices.push_back(std::move(device));
    if ((i + 1) % 50 == 0 || i + 1 == device_count) {
      progress(kMode, "enrolled " + std::to_string(i + 1) + "/" + std::to_string(device_count));
    }
  }
  // Everyone's first visit reaches the server (and the partner device) before the clock starts.
  for (LoadDevice& device : devices) device.device->sync();

  progress(kMode, std::to_string(device_count) + " devices syncing every second for " +
                      std::to_string(options.seconds) + " s");
  const ProcessUsage before = server.usage();
  const Clock::time_point start = Clock::now() + milliseconds(100);
  const Clock::time_point end = start + std::chrono::seconds(options.seconds);
  Schedule schedule(device_count, start, end);
  std::mutex results_mutex;
  std::vector<double> lag_ms;       // guarded by results_mutex
  std::size_t failed_syncs = 0;     // guarded by results_mutex
  std::size_t syncs = 0;            // guarded by results_mutex
  std::size_t max_sockets = 0;      // guarded by results_mutex
  log.start();
  auto runner = [&] {
    while (const std::optional<Schedule::Slot> slot = schedule.next()) {
      const double late =
          std::chrono::duration<double, std::milli>(Clock::now() - slot->due).count();
      LoadDevice& device = devices[slot->device];
      bool failed = false;
      try {
        device.device->store().write_record(
            {"visit", device.visit, device.case_id, edit(device, options.changes)});
        device.device->sync();
      } catch (const std::exception&) {
        failed = true;
      }
      schedule.done(*slot);
      std::lock_guard lock(results_mutex);
      lag_ms.push_back(late);
      ++syncs;
      if (failed) ++failed_syncs;
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < kThreads; ++i) threads.emplace_back(runner);
  for (std::size_t second = 1; second <= options.seconds; ++second) {
    std::this_thread::sleep_until(start + std::chrono::seconds(second));
    const ProcessUsage now = server.usage();
    {
      std::lock_guard lock(results_mutex);
      max_sockets = std::max(max_sockets, now.sockets);
    }
    if (second % 5 == 0 || second == options.seconds) {
      progress(kMode, std::to_string(second) + "/" + std::to_string(options.seconds) + " s");
    }
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  log.stop();
  const ProcessUsage after = server.usage();

  const std::vector<double> latencies = log.sorted();
  std::sort(lag_ms.begin(), lag_ms.end());
  report.figure("load.round_trips_per_s", static_cast<double>(latencies.size()) / seconds,
                "trips/s", "round trips answered per second");
  report.figure("load.syncs_per_s", static_cast<double>(syncs) / seconds, "syncs/s",
                "device syncs completed per second (" + std::to_string(device_count) +
                    " offered)");
  report.figure("load.latency_p50_ms", percentile(latencies, 0.50), "ms", "round trip, median");
  report.figure("load.latency_p95_ms", percentile(latencies, 0.95), "ms", "round trip, p95");
  report.figure("load.latency_p99_ms", percentile(latencies, 0.99), "ms", "round trip, p99",
                Target::below(100));
  report.figure("load.latency_max_ms", latencies.empty() ? 0 : latencies.back(), "ms",
                "round trip, slowest");
  report.figure("load.errors", static_cast<double>(log.failures() + failed_syncs), "errors",
                "failed requests and syncs", Target::at_most(0));
  report.figure("load.start_lag_p99_ms", percentile(lag_ms, 0.99), "ms",
                "syncs starting late (the benchmark's own lag), p99");
  report.figure("load.server_cpu_cores", (after.cpu_seconds - before.cpu_seconds) / seconds,
                "cores", "server CPU time per second of the run");
  report.figure("load.server_rss_mb",
                static_cast<double>(after.rss_bytes) / (1024.0 * 1024.0), "MB",
                "server resident memory at the end");
  report.figure("load.server_peak_rss_mb",
                static_cast<double>(after.peak_rss_bytes) / (1024.0 * 1024.0), "MB",
                "server peak resident memory");
  report.figure("load.server_sockets", static_cast<double>(max_sockets), "sockets",
                "server's open sockets (connections + 1 listening)");
}

}  // namespace fieldsync::bench
