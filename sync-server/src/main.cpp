// fieldsync-server: flags and an optional config file, the admin token command, and the process
// life cycle (start, log, stop cleanly on SIGTERM or SIGINT with requests in flight finished).
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fieldsync/error.h"
#include "http/http_server.h"
#include "server_app.h"

namespace {

using fieldsync::Error;
using fieldsync::ErrorCode;
namespace server = fieldsync::server;
namespace http = fieldsync::server::http;

struct Settings {
  server::ServerOptions app;
  http::HttpServerOptions http;
  std::string tls_cert;
  std::string tls_key;
  std::string port_file;
  std::string log_level = "info";
};

// One option: its name (as --name on the command line, or "name = value" in a config file), the
// value it takes, what it does, and how it is applied.
struct Option {
  std::string name;
  std::string value_name;  // empty: a switch without a value
  std::string help;
  std::function<void(Settings&, const std::string&)> apply;
};

std::int64_t parse_number(const std::string& name, const std::string& text, std::int64_t low,
                          std::int64_t high) {
  std::size_t used = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < low || value > high) {
    throw Error(ErrorCode::kInvalidArgument, "--" + name + " must be a whole number from " +
                                                 std::to_string(low) + " to " + std::to_string(high));
  }
  return value;
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"data", "DIR", "directory of the embedded SQLite store, created if missing (default: fieldsync-data)",
       [](Settings& s, const std::string& v) { s.app.data_dir = v; }},
      {"listen", "ADDRESS", "IP address to listen on (default: 127.0.0.1)",
       [](Settings& s, const std::string& v) { s.http.bind_address = v; }},
      {"port", "N", "TCP port; 0 picks a free one (default: 8443)",
       [](Settings& s, const std::string& v) { s.http.port = static_cast<std::uint16_t>(parse_number("port", v, 0, 65535)); }},
      {"port-file", "FILE", "write the bound port to FILE once listening (for scripts and tests)",
       [](Settings& s, const std::string& v) { s.port_file = v; }},
      {"threads", "N", "worker threads; most wait on the disk at any time (default: 8)",
       [](Settings& s, const std::string& v) { s.http.threads = static_cast<unsigned>(parse_number("threads", v, 1, 256)); }},
      {"tls-cert", "FILE", "PEM certificate chain: serve HTTPS (needs --tls-key)",
       [](Settings& s, const std::string& v) { s.tls_cert = v; }},
      {"tls-key", "FILE", "PEM private key of --tls-cert",
       [](Settings& s, const std::string& v) { s.tls_key = v; }},
      {"allow-plain-http", "", "allow plain HTTP on a non-loopback address (only behind a TLS proxy)",
       [](Settings& s, const std::string&) { s.http.allow_plain_non_loopback = true; }},
      {"max-body-mb", "N", "largest binary sync body accepted, in MiB (default: 32)",
       [](Settings& s, const std::string& v) {
         s.app.max_binary_body_bytes = static_cast<std::size_t>(parse_number("max-body-mb", v, 1, 1024)) << 20;
         s.http.max_body_bytes = s.app.max_binary_body_bytes;
       }},
      {"request-timeout-s", "N", "time allowed to receive one request (default: 30)",
       [](Settings& s, const std::string& v) { s.http.request_timeout = std::chrono::seconds(parse_number("request-timeout-s", v, 1, 3600)); }},
      {"idle-timeout-s", "N", "how long a kept-alive connection may stay idle (default: 60)",
       [](Settings& s, const std::string& v) { s.http.idle_timeout = std::chrono::seconds(parse_number("idle-timeout-s", v, 1, 3600)); }},
      {"page-changes", "N", "changes per pull page (default: 10000)",
       [](Settings& s, const std::string& v) { s.app.reconciler.page_changes = static_cast<std::size_t>(parse_number("page-changes", v, 1, 200000)); }},
      {"max-clock-ahead-s", "N", "refuse stamps further ahead of the server's clock (default: 300)",
       [](Settings& s, const std::string& v) { s.app.reconciler.max_clock_ahead_ms = parse_number("max-clock-ahead-s", v, 1, 86400) * 1000; }},
      {"min-core-version", "VERSION", "devices with an older core get an upgrade-required directive",
       [](Settings& s, const std::string& v) { s.app.reconciler.min_core_version = v; }},
      {"enrol-code-hours", "N", "lifetime of an enrolment code (default: 24)",
       [](Settings& s, const std::string& v) { s.app.credentials.enrolment_code_lifetime_ms = parse_number("enrol-code-hours", v, 1, 720) * 3600 * 1000; }},
      {"max-auth-failures", "N", "failed authentications per address or account before 429 (default: 10)",
       [](Settings& s, const std::string& v) { s.app.credentials.max_failures = static_cast<int>(parse_number("max-auth-failures", v, 1, 100000)); }},
      {"auth-window-s", "N", "window in which failed authentications are counted (default: 900)",
       [](Settings& s, const std::string& v) { s.app.credentials.failure_window_ms = parse_number("auth-window-s", v, 1, 86400) * 1000; }},
      {"log-level", "LEVEL", "debug, info, warning, error or off (default: info)",
       [](Settings& s, const std::string& v) { s.log_level = v; }},
  };
  return kOptions;
}

void print_help(std::ostream& out) {
  out << "fieldsync-server: the fieldsync sync server.\n\n"
         "Usage:\n"
         "  fieldsync-server [options]            serve devices and admins\n"
         "  fieldsync-server admin create-token --name NAME [--roles monitor,manage,enrol]\n"
         "                   [--expires-in-days N] [--data DIR]\n"
         "                                        print a new admin token (keep it secret)\n"
         "  fieldsync-server --help | --version\n\n"
         "With no options it keeps its data in ./fieldsync-data and listens on\n"
         "http://127.0.0.1:8443. Plain HTTP is served only on a loopback address unless\n"
         "--allow-plain-http is given; use --tls-cert and --tls-key for HTTPS.\n\n"
         "Options (also accepted in a config file as \"name = value\" lines, # for comments):\n"
         "  --config FILE                read options from FILE; later command-line options win\n";
  for (const Option& option : options()) {
    std::string left = "  --" + option.name + (option.value_name.empty() ? "" : " " + option.value_name);
    left.resize(std::max<std::size_t>(left.size() + 1, 31), ' ');
    out << left << option.help << "\n";
  }
  out << "\nSIGTERM or SIGINT stops the server after the requests in flight are answered.\n"
         "Logs are JSON lines on standard error; they never contain case content.\n";
}

const Option& find_option(const std::string& name) {
  for (const Option& option : options()) {
    if (option.name == name) return option;
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown option --" + name + " (see --help)");
}

void apply_config_file(Settings& settings, const std::string& path) {
  std::ifstream file(path);
  if (!file) throw Error(ErrorCode::kInvalidArgument, "cannot read the config file " + path);
  std::string line;
  int number = 0;
  auto trim = [](std::string text) {
    const auto first = text.find_first_not_of(" \t\r");
    const auto last = text.find_last_not_of(" \t\r");
    return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
  };
  while (std::getline(file, line)) {
    ++number;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto equals = line.find('=');
    const std::string name = trim(line.substr(0, equals));
    const std::string value = equals == std::string::npos ? "" : trim(line.substr(equals + 1));
    try {
      const Option& option = find_option(name);
      if (!option.value_name.empty() && equals == std::string::npos) {
        throw Error(ErrorCode::kInvalidArgument, name + " needs a value");
      }
      option.apply(settings, value);
    } catch (const Error& error) {
      throw Error(ErrorCode::kInvalidArgument, path + ":" + std::to_string(number) + ": " + error.what());
    }
  }
}

// Applies "--name value" pairs from args[first...]; a config file first, so flags win.
void apply_flags(Settings& settings, const std::vector<std::string>& args, std::size_t first) {
  for (std::size_t i = first; i < args.size(); ++i) {
    if (args[i] == "--config") {
      if (i + 1 >= args.size()) throw Error(ErrorCode::kInvalidArgument, "--config needs a file");
      apply_config_file(settings, args[i + 1]);
    }
  }
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw Error(ErrorCode::kInvalidArgument, "unexpected argument '" + arg + "' (see --help)");
    std::string name = arg.substr(2);
    std::string value;
    bool has_inline_value = false;
    if (const auto equals = name.find('='); equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
      has_inline_value = true;
    }
    if (name == "config") {
      if (!has_inline_value) ++i;
      continue;
    }
    const Option& option = find_option(name);
    if (!option.value_name.empty() && !has_inline_value) {
      if (i + 1 >= args.size()) throw Error(ErrorCode::kInvalidArgument, "--" + name + " needs " + option.value_name);
      value = args[++i];
    }
    option.apply(settings, value);
  }
}

http::LogLevel log_level_from(const std::string& name) {
  for (const auto level : {http::LogLevel::kDebug, http::LogLevel::kInfo, http::LogLevel::kWarning,
                           http::LogLevel::kError, http::LogLevel::kOff}) {
    if (http::to_string(level) == name) return level;
  }
  throw Error(ErrorCode::kInvalidArgument, "--log-level must be debug, info, warning, error or off");
}

int create_admin_token(const std::vector<std::string>& args) {
  std::string data_dir = "fieldsync-data";
  std::string name;
  std::string roles_text = "monitor,manage,enrol";
  std::int64_t days = 0;
  for (std::size_t i = 3; i < args.size(); ++i) {
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw Error(ErrorCode::kInvalidArgument, args[i] + " needs a value");
      return args[++i];
    };
    if (args[i] == "--data") data_dir = value();
    else if (args[i] == "--name") name = value();
    else if (args[i] == "--roles") roles_text = value();
    else if (args[i] == "--expires-in-days") days = parse_number("expires-in-days", value(), 1, 3650);
    else throw Error(ErrorCode::kInvalidArgument, "unknown option " + args[i] + " for admin create-token");
  }
  if (name.empty()) throw Error(ErrorCode::kInvalidArgument, "admin create-token needs --name NAME (who the token is for)");
  std::vector<std::string> roles;
  std::stringstream split(roles_text);
  for (std::string role; std::getline(split, role, ',');) {
    if (!role.empty()) roles.push_back(role);
  }
  auto storage = server::open_sqlite_storage(data_dir);
  server::Credentials credentials(fieldsync::SystemClockSource::instance(), {});
  auto tx = storage->begin();
  const std::string token = credentials.issue_admin_token(*tx, name, roles, days * 24 * 3600 * 1000);
  tx->commit();
  std::cout << token << "\n";
  return 0;
}

int serve(Settings settings) {
  auto log = http::ServerLog::standard_error();
  log->set_threshold(log_level_from(settings.log_level));
  if (settings.tls_cert.empty() != settings.tls_key.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  }
  if (!settings.tls_cert.empty()) settings.http.tls = http::TlsFiles{settings.tls_cert, settings.tls_key};
  settings.http.log = log;

  // Signals are taken by sigwait below, so every thread must have them blocked from the start.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::ServerApp app(settings.app, log);
  http::HttpServer http_server(settings.http, [&app](const http::Request& request) {
    return app.router().dispatch(request);
  });
  http_server.start();
  if (!settings.port_file.empty()) {
    const std::string temporary = settings.port_file + ".tmp";
    std::ofstream(temporary) << http_server.port() << "\n";
    std::rename(temporary.c_str(), settings.port_file.c_str());
  }
  log->info("server_started", {{"address", settings.http.bind_address},
                               {"port", http_server.port()},
                               {"tls", settings.http.tls.has_value()},
                               {"data", settings.app.data_dir}});
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log->info("server_stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  http_server.stop();
  log->info("server_stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  try {
    if (args.size() > 1 && (args[1] == "--help" || args[1] == "-h" || args[1] == "help")) {
      print_help(std::cout);
      return 0;
    }
    if (args.size() > 1 && args[1] == "--version") {
      std::cout << "fieldsync-server " << FIELDSYNC_PROJECT_VERSION << "\n";
      return 0;
    }
    if (args.size() > 1 && args[1] == "admin") {
      if (args.size() < 3 || args[2] != "create-token") {
        std::cerr << "fieldsync-server: the admin command is: admin create-token --name NAME (see --help)\n";
        return 2;
      }
      return create_admin_token(args);
    }
    Settings settings;
    settings.http.port = 8443;
    apply_flags(settings, args, 1);
    return serve(std::move(settings));
  } catch (const Error& error) {
    std::cerr << "fieldsync-server: " << error.what() << "\n";
    return error.is(ErrorCode::kInvalidArgument) ? 2 : 1;
  } catch (const std::exception& error) {
    std::cerr << "fieldsync-server: " << error.what() << "\n";
    return 1;
  }
}
