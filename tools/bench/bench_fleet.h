// The sync benchmarks' fleet: a real fieldsync-server process on 127.0.0.1 with its admin API
// (dev::ServerProcess, dev::AdminClient) and what it costs the machine (from /proc), and real
// enrolled devices: an encrypted store each, its own HTTP connection, synced with the real sync
// engine.
//
// A BenchServer may be used from any thread for usage(); its admin client from one thread at a
// time. A BenchDevice is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/dev/admin_client.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/platform/http_transport.h"

namespace fieldsync::bench {

// What a process costs the machine now, from /proc/<pid>/status, stat and fd (Linux).
struct ProcessUsage {
  std::uint64_t rss_bytes = 0;       // VmRSS: resident now
  std::uint64_t peak_rss_bytes = 0;  // VmHWM: the most it was ever resident
  double cpu_seconds = 0;            // user + system time since it started
  std::size_t sockets = 0;           // open sockets, the listening one included
};
ProcessUsage process_usage(pid_t pid);

class BenchServer {
 public:
  // Starts fieldsync-server on a free port with its data in `data_dir` and `extra_args`.
  explicit BenchServer(const std::filesystem::path& data_dir,
                       std::vector<std::string> extra_args = {});

  std::string url() const { return process_.url(); }
  dev::AdminClient& admin() { return admin_; }
  ProcessUsage usage() const { return process_usage(process_.pid()); }

 private:
  dev::ServerProcess process_;
  std::unique_ptr<platform::HttpTransport> admin_transport_;
  dev::AdminClient admin_;
};

// Plain curl transport, counting its bytes on the wire into `traffic` when given.
std::unique_ptr<platform::HttpTransport> counting_transport(platform::TrafficCounters* traffic);

class BenchDevice {
 public:
  // Enrols a new device of `user_id` with a one-time code from the admin API, over `transport`,
  // and creates its encrypted store in `dir` (named `name`). It has not synced yet.
  BenchDevice(BenchServer& server, const std::filesystem::path& dir, const std::string& name,
              const std::string& user_id, std::unique_ptr<platform::HttpTransport> transport);

  // The sync engine's defaults, for this server, with room for a whole caseload's pull.
  client::SyncSettings settings() const;
  // One call of the sync engine with `settings`; throws when it does not complete.
  client::SyncReport sync(const client::SyncSettings& settings);
  client::SyncReport sync() { return sync(settings()); }

  client::Store& store() { return **store_; }

 private:
  std::string server_url_;
  std::unique_ptr<platform::HttpTransport> transport_;
  std::unique_ptr<BenchStore> store_;
};

}  // namespace fieldsync::bench
