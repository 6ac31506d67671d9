// A real fieldsync-server process on 127.0.0.1 for the demo, the integration tests and the
// benchmarks: started with a data directory (or a PostgreSQL database that several such processes
// share, each a node of one service) and a free port (read back from --port-file), an
// admin token made with `fieldsync-server admin create-token` (and any other admin command, such
// as backup and restore), stopped with SIGTERM (clean) or SIGKILL (a crash), and restarted on the
// same data and port. Development support only.
//
// One thread at a time per object. The child's standard error goes to `log_file` (JSON lines).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fieldsync::dev {

struct ServerProcessOptions {
  std::string binary;                   // path of fieldsync-server
  std::string data_dir;                 // created if missing; with `database`, only the port file
                                        // and the log go there
  std::string database = {};            // a postgres:// URI: the data is kept there instead
  std::string log_file = {};                 // empty: data_dir/server.log
  std::vector<std::string> extra_args = {};  // more flags (--tls-cert ..., --min-core-version ...)
  // "NAME=value" entries added to the child's environment (a faked clock for a test, say).
  std::vector<std::string> environment = {};
  std::chrono::milliseconds start_timeout{20'000};
};

// Where fieldsync-server is: $FIELDSYNC_SERVER when set, else beside the running program (an
// installed layout), else `built_at` (the build's own path, compiled into the caller).
inline std::string locate_server_binary(const std::string& built_at) {
  if (const char* from_env = std::getenv("FIELDSYNC_SERVER")) return from_env;
  const auto beside =
      std::filesystem::read_symlink("/proc/self/exe").parent_path() / "fieldsync-server";
  if (std::filesystem::exists(beside)) return beside.string();
  return built_at;
}

class ServerProcess {
 public:
  explicit ServerProcess(ServerProcessOptions options) : options_(std::move(options)) {
    if (options_.log_file.empty()) options_.log_file = options_.data_dir + "/server.log";
    std::filesystem::create_directories(options_.data_dir);
    start();
  }
  ~ServerProcess() {
    try {
      stop();
    } catch (...) {
      // Destructors must not throw; the child is reaped or killed either way.
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const ServerProcessOptions& options() const { return options_; }

  // SIGTERM, then waits: in-flight requests are answered first. Returns the exit status.
  int stop() { return end(SIGTERM); }
  // SIGKILL: what a power cut or an OOM kill does.
  void kill() { end(SIGKILL); }
  // Starts again on the same data directory and, when it is free, the same port.
  void restart() {
    if (running()) stop();
    start();
  }
  // The same, with `environment` in place of the one it was started with.
  void restart_with_environment(std::vector<std::string> environment) {
    if (running()) stop();
    options_.environment = std::move(environment);
    start();
  }

  // Runs `fieldsync-server admin <command> --data <this server's data directory>` (or
  // `--database <URI>`; the command and its options quoted by the caller); returns its standard
  // output. Throws if it fails.
  std::string run_admin(const std::string& command) const {
    const std::string line = "'" + options_.binary + "' admin " + command + " " + storage_flag();
    FILE* pipe = ::popen(line.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run " + options_.binary);
    std::string output;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
    if (::pclose(pipe) != 0) throw std::runtime_error("fieldsync-server admin " + command + " failed");
    return output;
  }

  // A new admin token with every role, made by the server binary on the same data directory.
  std::string create_admin_token(const std::string& name = "admin",
                                 const std::string& roles = "monitor,manage,enrol") const {
    std::string token = run_admin("create-token --name '" + name + "' --roles " + roles);
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    if (token.empty()) throw std::runtime_error("admin create-token printed no token");
    return token;
  }

 private:
  std::string storage_flag() const {
    return options_.database.empty() ? "--data '" + options_.data_dir + "'"
                                     : "--database '" + options_.database + "'";
  }

  void start() {
    const std::string port_file = options_.data_dir + "/server.port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = {options_.binary, "--port", std::to_string(port_),
                                     "--port-file", port_file};
    if (options_.database.empty()) {
      args.insert(args.end(), {"--data", options_.data_dir});
    } else {
      args.insert(args.end(), {"--database", options_.database});
    }
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    // The log is appended to across restarts: what this start wrote begins here.
    std::error_code no_log_yet;
    const std::uintmax_t log_start = std::filesystem::file_size(options_.log_file, no_log_yet);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      std::FILE* log = std::fopen(options_.log_file.c_str(), "a");
      if (log) ::dup2(::fileno(log), STDERR_FILENO);
      for (std::string& entry : options_.environment) ::putenv(entry.data());
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const std::string how = WIFSIGNALED(status)
                                    ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                    : "exited with status " + std::to_string(WEXITSTATUS(status));
        const std::string written = log_since(no_log_yet ? 0 : log_start);
        throw std::runtime_error("fieldsync-server " + how + " at start; " +
                                 (written.empty() ? "it wrote nothing to " + options_.log_file
                                                  : "the end of what it wrote to " +
                                                        options_.log_file + ":\n" + written));
      }
      std::ifstream in(port_file);
      unsigned port = 0;
      if (in >> port && port > 0) {
        port_ = static_cast<std::uint16_t>(port);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    end(SIGKILL);
    throw std::runtime_error("fieldsync-server did not start in time; see " + options_.log_file);
  }

  // The end of what the server's log gained from byte `offset` on (its scratch directory may be
  // gone when a test reports), at most `max_bytes`.
  std::string log_since(std::uintmax_t offset, std::size_t max_bytes = 2000) const {
    std::ifstream in(options_.log_file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
  }

  int end(int signal_number) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, signal_number);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  ServerProcessOptions options_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace fieldsync::dev
