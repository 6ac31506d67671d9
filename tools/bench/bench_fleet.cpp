// The sync benchmarks' server process, its resource use, and enrolled devices.
#include "bench_fleet.h"

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

BenchServer::BenchServer(const std::filesystem::path& data_dir, std::vector<std::string> extra_args)
    : process_({dev::locate_server_binary(FIELDSYNC_SERVER_BINARY), data_dir.string(), {},
                std::move(extra_args)}),
      admin_transport_(platform::make_curl_transport()),
      admin_(*admin_transport_, process_.url(), process_.create_admin_token("bench admin")) {}

std::unique_ptr<platform::HttpTransport> counting_transport(platform::TrafficCounters* traffic) {
  platform::CurlTransportOptions options;
  options.traffic = traffic;
  return platform::make_curl_transport(options);
}

BenchDevice::BenchDevice(BenchServer& server, const std::filesystem::path& dir,
                         const std::string& name, const std::string& user_id,
                         std::unique_ptr<platform::HttpTransport> transport)
    : server_url_(server.url()), transport_(std::move(transport)) {
  const client::Enrolment enrolment =
      client::enrol(*transport_, server_url_, server.admin().enrolment_code(user_id),
                    {"linux", "fieldsync-bench"});
  store_ = std::make_unique<BenchStore>(dir, name, kCheapKdfIterations,
                                        client::DeviceIdentity{enrolment.device_id, user_id});
  (*store_)->set_token(enrolment.token);
}

client::SyncSettings BenchDevice::settings() const {
  client::SyncSettings settings;
  settings.server_url = server_url_;
  settings.client = {"linux", "fieldsync-bench"};
  settings.max_rounds = 1'000'000;  // the guard is for servers that never stop saying "more"
  return settings;
}

client::SyncReport BenchDevice::sync(const client::SyncSettings& settings) {
  client::SyncReport report = client::sync_with_server(
      **store_, *transport_, settings, std::chrono::steady_clock::now() + kSyncDeadline);
  if (report.outcome != client::SyncOutcome::kCompleted) {
    throw std::runtime_error("a device's sync ended " + std::string(to_string(report.outcome)) +
                             (report.error ? std::string(": ") + report.error->what() : ""));
  }
  return report;
}

}  // namespace fieldsync::bench
