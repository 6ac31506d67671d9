// The sync benchmarks' server (its nodes, their storage and resource use) and enrolled devices.
#include "bench_fleet.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fieldsync::bench {
namespace {

constexpr auto kSyncDeadline = std::chrono::minutes(30);  // a whole caseload on a slow machine

// "VmHWM:	   12345 kB" -> bytes.
std::uint64_t status_bytes(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return 0;
  std::istringstream in(status.substr(at + key.size() + 2));
  std::uint64_t kilobytes = 0;
  in >> kilobytes;
  return kilobytes * 1024;
}

}  // namespace

ProcessUsage process_usage(pid_t pid) {
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  ProcessUsage usage;
  std::ifstream status_file(proc / "status");
  const std::string status((std::istreambuf_iterator<char>(status_file)), {});
  usage.rss_bytes = status_bytes(status, "VmRSS");
  usage.peak_rss_bytes = status_bytes(status, "VmHWM");

  // Fields 14 and 15 of stat (utime, stime, in clock ticks) follow the command name, which is in
  // parentheses and may hold spaces: count from the last ')'.
  std::ifstream stat_file(proc / "stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
  const auto name_end = stat.rfind(')');
  if (name_end != std::string::npos) {
    std::istringstream fields(stat.substr(name_end + 2));
    std::string skipped;
    for (int field = 3; field < 14; ++field) fields >> skipped;
    std::uint64_t user_ticks = 0, system_ticks = 0;
    fields >> user_ticks >> system_ticks;
    usage.cpu_seconds =
        static_cast<double>(user_ticks + system_ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(proc / "fd", ignored)) {
    const auto target = std::filesystem::read_symlink(entry.path(), ignored);
    if (target.string().starts_with("socket:")) ++usage.sockets;
  }
  return usage;
}

std::string storage_name(const BenchOptions& options) {
  return options.database.empty() ? "sqlite" : "postgresql";
}

void report_storage(const BenchOptions& options, Report& report, const std::string& mode) {
  const std::size_t nodes = options.database.empty() ? 1 : options.nodes;
  report.setting("storage", storage_name(options));
  report.setting("server_nodes", nodes);
  std::string meaning = "server nodes, on SQLite";
  if (!options.database.empty()) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(options.database.c_str()),
                                                      &PQfinish);
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
      throw std::runtime_error("cannot connect to the PostgreSQL of --database: " +
                               std::string(conn ? PQerrorMessage(conn.get()) : "out of memory"));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexec(conn.get(),
               "SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
               "current_setting('full_page_writes'), current_setting('server_version')"),
        &PQclear);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      throw std::runtime_error("cannot read the PostgreSQL settings: " +
                               std::string(PQerrorMessage(conn.get())));
    }
    const std::string durability = std::string("fsync=") + PQgetvalue(result.get(), 0, 0) +
                                   ", synchronous_commit=" + PQgetvalue(result.get(), 0, 1) +
                                   ", full_page_writes=" + PQgetvalue(result.get(), 0, 2);
    report.setting("postgresql_settings", durability);
    report.setting("postgresql_version", PQgetvalue(result.get(), 0, 3));
    meaning = "server nodes, on one PostgreSQL database (" + durability + ")";
  }
  report.figure(mode + ".server_nodes", static_cast<double>(nodes), "nodes", meaning);
}

namespace {

std::vector<std::unique_ptr<dev::ServerProcess>> start_nodes(const std::filesystem::path& data_dir,
                                                             const BenchOptions& options,
                                                             const dev::ScratchDatabase* database) {
  std::vector<std::unique_ptr<dev::ServerProcess>> nodes;
  if (!database) {
    nodes.push_back(std::make_unique<dev::ServerProcess>(dev::ServerProcessOptions{
        dev::locate_server_binary(FIELDSYNC_SERVER_BINARY), data_dir.string()}));
    return nodes;
  }
  for (std::size_t i = 1; i <= options.nodes; ++i) {
    const std::string name = "node-" + std::to_string(i);
    dev::ServerProcessOptions node{dev::locate_server_binary(FIELDSYNC_SERVER_BINARY),
                                   (data_dir / name).string()};
    node.database = database->uri();
    node.extra_args = {"--node-name", name};
    nodes.push_back(std::make_unique<dev::ServerProcess>(std::move(node)));
  }
  return nodes;
}

}  // namespace

BenchServer::BenchServer(const std::filesystem::path& data_dir, const BenchOptions& options)
    : database_(options.database.empty()
                    ? nullptr
                    : std::make_unique<dev::ScratchDatabase>(options.database)),
      nodes_(start_nodes(data_dir, options, database_.get())),
      admin_transport_(platform::make_curl_transport()),
      admin_(*admin_transport_, nodes_.front()->url(),
             nodes_.front()->create_admin_token("bench admin")) {}

ProcessUsage BenchServer::usage() const {
  ProcessUsage sum;
  for (const auto& node : nodes_) {
    const ProcessUsage one = process_usage(node->pid());
    sum.rss_bytes += one.rss_bytes;
    sum.peak_rss_bytes += one.peak_rss_bytes;
    sum.cpu_seconds += one.cpu_seconds;
    sum.sockets += one.sockets;
  }
  return sum;
}

std::unique_ptr<platform::HttpTransport> counting_transport(platform::TrafficCounters* traffic) {
  platform::CurlTransportOptions options;
  options.traffic = traffic;
  return platform::make_curl_transport(options);
}

BenchDevice::BenchDevice(BenchServer& server, const std::filesystem::path& dir,
                         const std::string& name, const std::string& user_id,
                         std::unique_ptr<platform::HttpTransport> transport, std::size_t number)
    : device_({.dir = dir,
               .label = name,
               .passcode = kBenchPasscode,
               .key_file = true,  // the desktop default
               .kdf_iterations = kCheapKdfIterations,
               .auto_lock_ms = kNeverLockDuringRun,
               .client = {"linux", "fieldsync-bench"}},
              std::move(transport)) {
  device_.enrol(server.url(number), server.admin().enrolment_code(user_id));
}

client::SyncSettings BenchDevice::settings() const {
  client::SyncSettings settings = device_.settings();
  settings.max_rounds = 1'000'000;  // the guard is for servers that never stop saying "more"
  return settings;
}

client::SyncReport BenchDevice::sync(const client::SyncSettings& settings) {
  const client::SyncReport report = device_.sync(settings, kSyncDeadline);
  if (report.outcome != client::SyncOutcome::kCompleted) {
    throw std::runtime_error("a device's sync ended " + std::string(to_string(report.outcome)) +
                             (report.error ? std::string(": ") + report.error->what() : ""));
  }
  return report;
}

}  // namespace fieldsync::bench
