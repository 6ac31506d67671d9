// The sync benchmarks' fleet: real fieldsync-server processes on 127.0.0.1 with their admin API
// (dev::ServerProcess, admin::AdminClient) and what they cost the machine (from /proc), and real
// enrolled devices: an encrypted store each, its own HTTP connection to one of the server's
// nodes, synced with the real sync engine. The server keeps its data in SQLite (one node) or in a
// scratch PostgreSQL database of its own (dev::ScratchDatabase, dropped with it) shared by one or
// more nodes.
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

#include "bench_modes.h"
#include "bench_report.h"
#include "bench_store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/field_device.h"
#include "fieldsync/dev/scratch_database.h"
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

// "sqlite" or "postgresql", as --database chose.
std::string storage_name(const BenchOptions& options);
// Reports which storage the server runs on: the settings `storage`, `server_nodes` and, on
// PostgreSQL, its durability settings (fsync, synchronous_commit, full_page_writes) and version;
// and the figure `<mode>.server_nodes`, whose meaning names the storage.
void report_storage(const BenchOptions& options, Report& report, const std::string& mode);

class BenchServer {
 public:
  // Starts fieldsync-server on free ports as `options` say (--database, --nodes): one node on
  // SQLite in `data_dir`, or options.nodes nodes on a new scratch database on the PostgreSQL
  // server options.database (each node's port file and log in `data_dir`/node-N).
  BenchServer(const std::filesystem::path& data_dir, const BenchOptions& options);

  std::size_t nodes() const { return nodes_.size(); }
  // The node that device number `device` talks to: devices are spread over the nodes in turn.
  std::string url(std::size_t device = 0) const { return nodes_[device % nodes_.size()]->url(); }
  admin::AdminClient& admin() { return admin_; }
  // Summed over the nodes (peak RSS: the sum of each node's peak).
  ProcessUsage usage() const;

 private:
  std::unique_ptr<dev::ScratchDatabase> database_;  // outlives the nodes, which use it
  std::vector<std::unique_ptr<dev::ServerProcess>> nodes_;
  std::unique_ptr<platform::HttpTransport> admin_transport_;
  admin::AdminClient admin_;
};

// Plain curl transport, counting its bytes on the wire into `traffic` when given.
std::unique_ptr<platform::HttpTransport> counting_transport(platform::TrafficCounters* traffic);

class BenchDevice {
 public:
  // Enrols a new device of `user_id` with a one-time code from the admin API, over `transport`
  // to the node for device number `number` (BenchServer::url), and creates its encrypted store in
  // `dir` (named `name`). It has not synced yet.
  BenchDevice(BenchServer& server, const std::filesystem::path& dir, const std::string& name,
              const std::string& user_id, std::unique_ptr<platform::HttpTransport> transport,
              std::size_t number = 0);

  // The sync engine's defaults, for this server, with room for a whole caseload's pull.
  client::SyncSettings settings() const;
  // One call of the sync engine with `settings`; throws when it does not complete.
  client::SyncReport sync(const client::SyncSettings& settings);
  client::SyncReport sync() { return sync(settings()); }

  client::Store& store() { return device_.store(); }

 private:
  dev::FieldDevice device_;
};

}  // namespace fieldsync::bench
