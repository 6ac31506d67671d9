// fieldsync-server: flags and an optional config file, the admin commands run on the server
// machine (admin tokens, backups and restores), and the process life cycle (start, log, save the
// metrics' counters periodically, stop cleanly on SIGTERM or SIGINT with requests in flight
// finished and the counters saved).
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "http/http_server.h"
#include "open_file_limit.h"
#include "server_app.h"

namespace {

using fieldsync::Error;
using fieldsync::ErrorCode;
namespace server = fieldsync::server;
namespace http = fieldsync::server::http;

struct Settings {
  server::ServerOptions app;
  bool connections_given = false;  // --database-connections was set
  http::HttpServerOptions http;
  std::string tls_cert;
  std::string tls_key;
  std::string port_file;
  std::string log_level = "info";
  std::chrono::seconds metrics_save_interval{60};
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

// A PostgreSQL connection string as --database takes it: a postgres:// or postgresql:// URI.
std::string database_uri(const std::string& text) {
  if (text.rfind("postgres://", 0) != 0 && text.rfind("postgresql://", 0) != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "--database must be a PostgreSQL URI: postgres://USER@HOST:PORT/DATABASE?OPTIONS");
  }
  return text;
}

// A node name goes into metrics labels and storage keys: kept to a plain alphabet.
std::string checked_node_name(const std::string& name) {
  const bool plain = !name.empty() && name.size() <= 64 &&
                     name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789.-_") == std::string::npos;
  if (!plain) {
    throw Error(ErrorCode::kInvalidArgument,
                "--node-name must be 1 to 64 letters, digits, '.', '-' or '_'");
  }
  return name;
}

void add_metrics_allow(Settings& settings, const std::string& list) {
  std::stringstream entries(list);
  for (std::string entry; std::getline(entries, entry, ',');) {
    if (!entry.empty()) settings.app.metrics_allow.add(entry);
  }
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"data", "DIR", "directory of the embedded SQLite store, created if missing (default: fieldsync-data)",
       [](Settings& s, const std::string& v) { s.app.data_dir = v; }},
      {"database", "URI", "keep the data in PostgreSQL instead, shared by several server nodes: a libpq "
                          "URI such as postgres://fieldsync@db.example/fieldsync?sslmode=verify-full",
       [](Settings& s, const std::string& v) { s.app.database = database_uri(v); }},
      {"database-connections", "N", "connections this node keeps to PostgreSQL (default: as many as --threads)",
       [](Settings& s, const std::string& v) {
         s.app.database_connections = static_cast<std::size_t>(parse_number("database-connections", v, 1, 256));
         s.connections_given = true;
       }},
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
      {"max-connections", "N", "connections open at once; one more is answered 503 with Retry-After\n"
                               "                               and closed (default: 1000; keep ulimit -n above it)",
       [](Settings& s, const std::string& v) { s.http.max_connections = static_cast<std::size_t>(parse_number("max-connections", v, 1, 1000000)); }},
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
      {"stale-after-h", "N", "no successful sync for N hours makes a device stale, or at risk if it holds unsynced changes (default: 24)",
       [](Settings& s, const std::string& v) { s.app.device_health.stale_after_ms = parse_number("stale-after-h", v, 1, 24 * 365) * 3600 * 1000; }},
      {"failing-syncs", "N", "N syncs in a row that failed or had a write group rejected make a device at risk (default: 3)",
       [](Settings& s, const std::string& v) { s.app.device_health.failing_after = static_cast<std::uint32_t>(parse_number("failing-syncs", v, 1, 1000)); }},
      {"admin-session-hours", "N", "lifetime of a dashboard login (default: 8)",
       [](Settings& s, const std::string& v) { s.app.credentials.admin_session_lifetime_ms = parse_number("admin-session-hours", v, 1, 24 * 30) * 3600 * 1000; }},
      {"log-level", "LEVEL", "debug, info, warning, error or off (default: info)",
       [](Settings& s, const std::string& v) { s.log_level = v; }},
      {"node-name", "NAME", "this server's name in metrics and the audit log; unique per node when\n"
                            "                               several share one storage (default: the host name)",
       [](Settings& s, const std::string& v) { s.app.node_name = checked_node_name(v); }},
      {"metrics-allow", "ADDRESSES", "addresses or networks that may read /metrics without a monitor\n"
                                     "                               token, comma-separated, e.g. 127.0.0.1,10.0.0.0/8 (may repeat;\n"
                                     "                               default: none, a monitor token is needed)",
       [](Settings& s, const std::string& v) { add_metrics_allow(s, v); }},
      {"metrics-save-s", "N", "how often the metrics' counters are saved, so that they survive a\n"
                              "                               restart; a clean stop saves them too (default: 60)",
       [](Settings& s, const std::string& v) { s.metrics_save_interval = std::chrono::seconds(parse_number("metrics-save-s", v, 1, 86400)); }},
  };
  return kOptions;
}

// --- Admin commands ---

// "--name value" pairs after `admin COMMAND`, each name one of `allowed`.
std::map<std::string, std::string> admin_flags(const std::vector<std::string>& args,
                                               const std::vector<std::string>& allowed) {
  std::map<std::string, std::string> flags;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const std::string name = arg.rfind("--", 0) == 0 ? arg.substr(2) : std::string();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown option " + arg + " for admin " + args[2] + " (see --help)");
    }
    if (i + 1 >= args.size()) throw Error(ErrorCode::kInvalidArgument, arg + " needs a value");
    flags[name] = args[++i];
  }
  return flags;
}

std::string flag_or(const std::map<std::string, std::string>& flags, const std::string& name,
                    const std::string& fallback) {
  const auto found = flags.find(name);
  return found == flags.end() ? fallback : found->second;
}

std::string required_flag(const std::map<std::string, std::string>& flags, const std::string& name,
                          const std::string& command, const std::string& what) {
  const auto found = flags.find(name);
  if (found == flags.end() || found->second.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "admin " + command + " needs --" + name + " " + what + " (see --help)");
  }
  return found->second;
}

int create_admin_token(const std::vector<std::string>& args) {
  const auto flags =
      admin_flags(args, {"data", "database", "name", "roles", "expires-in-days", "node-name"});
  server::ServerOptions storage_options;
  storage_options.data_dir = flag_or(flags, "data", "fieldsync-data");
  if (flags.contains("database")) storage_options.database = database_uri(flags.at("database"));
  storage_options.database_connections = 1;
  const std::string name = required_flag(flags, "name", "create-token", "NAME (who the token is for)");
  const std::int64_t days =
      flags.contains("expires-in-days")
          ? parse_number("expires-in-days", flags.at("expires-in-days"), 1, 3650)
          : 90;
  const std::string node = flags.contains("node-name") ? checked_node_name(flags.at("node-name"))
                                                       : server::host_node_name();
  std::vector<std::string> roles;
  std::stringstream split(flag_or(flags, "roles", "monitor,manage,enrol"));
  for (std::string role; std::getline(split, role, ',');) {
    if (!role.empty()) roles.push_back(role);
  }
  auto storage = server::open_storage(storage_options);
  auto& clock = fieldsync::SystemClockSource::instance();
  server::Credentials credentials(clock, {});
  const server::AuditTrail audit(clock, node);
  const std::string token = server::run_transaction(*storage, [&](server::StorageTransaction& tx) {
    std::string text = credentials.issue_admin_token(tx, name, roles, days * 24 * 3600 * 1000);
    const auto stored = tx.admin_token(text.substr(0, text.find('.')));
    audit.admin_token_created(tx, stored->id, stored->name, stored->roles, stored->expires_at_ms);
    return text;
  });
  std::cout << token << "\n";
  return 0;
}

int backup(const std::vector<std::string>& args) {
  const auto flags = admin_flags(args, {"data", "to"});
  const std::string data_dir = flag_or(flags, "data", "fieldsync-data");
  const std::string file = required_flag(flags, "to", "backup", "FILE (a new file)");
  server::backup_sqlite_storage(data_dir, file);
  std::cout << "backed up " << data_dir << " to " << file << "\n";
  return 0;
}

int restore(const std::vector<std::string>& args) {
  const auto flags = admin_flags(args, {"data", "from"});
  const std::string data_dir = flag_or(flags, "data", "fieldsync-data");
  const std::string file = required_flag(flags, "from", "restore", "FILE (a backup)");
  const std::string replaced = server::restore_sqlite_storage(file, data_dir);
  std::cout << "restored " << data_dir << " from " << file << ", in a new epoch\n";
  if (!replaced.empty()) std::cout << "the database it replaced is kept as " << replaced << "\n";
  return 0;
}

int new_epoch(const std::vector<std::string>& args) {
  const auto flags = admin_flags(args, {"data", "database"});
  if (flags.contains("database")) {
    server::ServerOptions storage_options;
    storage_options.database = database_uri(flags.at("database"));
    storage_options.database_connections = 1;
    auto storage = server::open_storage(storage_options);
    server::run_transaction(*storage,
                            [](server::StorageTransaction& tx) { tx.start_new_epoch(); });
    std::cout << "started a new epoch in the PostgreSQL database\n";
    return 0;
  }
  const std::string data_dir = flag_or(flags, "data", "fieldsync-data");
  server::start_new_sqlite_epoch(data_dir);
  std::cout << "started a new epoch in " << data_dir << "\n";
  return 0;
}

struct AdminCommand {
  std::string name;
  std::string usage;  // options
  std::string help;   // what it does, one line per sentence
  std::function<int(const std::vector<std::string>&)> run;
};

const std::vector<AdminCommand>& admin_commands() {
  static const std::vector<AdminCommand> kCommands = {
      {"create-token",
       "--name NAME [--roles monitor,manage,enrol] [--expires-in-days N]\n"
       "                   [--data DIR | --database URI] [--node-name NAME]",
       "prints a new admin token (keep it secret); it expires after 90 days unless N says\n"
       "otherwise; the audit log records it",
       create_admin_token},
      {"backup", "--to FILE [--data DIR]",
       "writes a consistent copy of the server's data to FILE (a new file); the server may keep\n"
       "running meanwhile",
       backup},
      {"restore", "--from FILE [--data DIR]",
       "replaces the server's data with the backup FILE, in a new epoch: every device then\n"
       "resyncs and sends back the work of its own that the backup lacks. Stop the server\n"
       "first; the data it replaces is kept beside it",
       restore},
      {"new-epoch", "[--data DIR | --database URI]",
       "starts a new epoch after data was restored by other means (a file-system snapshot put\n"
       "back, a PostgreSQL backup restored), with the same effect on devices as restore. Stop\n"
       "the server (every node) first",
       new_epoch},
  };
  return kCommands;
}

void print_admin_command(std::ostream& out, const AdminCommand& command) {
  out << "  admin " << command.name << " " << command.usage << "\n";
  std::stringstream lines(command.help);
  for (std::string line; std::getline(lines, line);) out << "      " << line << "\n";
}

void print_admin_commands(std::ostream& out) {
  for (const AdminCommand& command : admin_commands()) print_admin_command(out, command);
  out << "  --data DIR is the server's data directory (default: fieldsync-data); --database URI\n"
         "  names a PostgreSQL database instead (create-token and new-epoch; back up and restore\n"
         "  PostgreSQL with its own tools, then run new-epoch).\n";
}

int run_admin(const std::vector<std::string>& args) {
  const auto command = std::find_if(admin_commands().begin(), admin_commands().end(),
                                    [&](const AdminCommand& candidate) {
                                      return args.size() > 2 && candidate.name == args[2];
                                    });
  if (command == admin_commands().end()) {
    std::cerr << "fieldsync-server: the admin commands are:\n";
    print_admin_commands(std::cerr);
    return 2;
  }
  if (std::find(args.begin() + 3, args.end(), "--help") != args.end()) {
    print_admin_command(std::cout, *command);
    return 0;
  }
  return command->run(args);
}

void print_help(std::ostream& out) {
  out << "fieldsync-server: the fieldsync sync server.\n\n"
         "Usage:\n"
         "  fieldsync-server [options]            serve devices and admins\n"
         "  fieldsync-server admin COMMAND [options]  admin commands (see below)\n"
         "  fieldsync-server --help | --version\n\n"
         "Admin commands (each takes --help):\n";
  print_admin_commands(out);
  out << "\n"
         "With no options it keeps its data in ./fieldsync-data and listens on\n"
         "http://127.0.0.1:8443. Plain HTTP is served only on a loopback address unless\n"
         "--allow-plain-http is given; use --tls-cert and --tls-key for HTTPS.\n\n"
         "Several nodes can serve one council from one PostgreSQL database: start each with\n"
         "the same --database URI (the schema is created on first use). The URI goes to libpq\n"
         "as it is, so TLS to the database is set there: ?sslmode=verify-full&sslrootcert=FILE\n"
         "checks the database server's certificate and name. Keep passwords out of the command\n"
         "line: use ~/.pgpass or PGPASSWORD, or put the URI in a --config file.\n\n"
         "Options (also accepted in a config file as \"name = value\" lines, # for comments):\n"
         "  --config FILE                read options from FILE; later command-line options win\n";
  for (const Option& option : options()) {
    std::string left = "  --" + option.name + (option.value_name.empty() ? "" : " " + option.value_name);
    left.resize(std::max<std::size_t>(left.size() + 1, 31), ' ');
    out << left << option.help << "\n";
  }
  out << "\nSIGTERM or SIGINT stops the server after the requests in flight are answered, and saves\n"
         "the metrics' counters; after a SIGKILL or a crash the counts since the last periodic save\n"
         "(--metrics-save-s) are lost. Logs are JSON lines on standard error; they never contain\n"
         "case content. Every admin action, enrolment, sync that moved data, directive and refused\n"
         "authentication is written to a hash-chained audit log (GET /v1/admin/audit).\n";
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

// The audit chain's head, for the log (kept elsewhere than the store): a rewrite of the chain's
// end shows against the last head logged.
void log_audit_head(server::ServerApp& app, http::ServerLog& log) {
  const server::AuditHead head = server::run_transaction(
      app.storage(), [](server::StorageTransaction& tx) { return tx.audit_head(); });
  log.info("audit_head", {{"seq", head.seq}, {"hash", fieldsync::crypto::to_hex(head.hash)}});
}

// Raises the soft open-file limit to what --max-connections needs when it can, and warns when the
// limit is still short: the server would fail to accept connections (or open its database) only
// once it is busy, far from the cause.
void check_open_file_limit(const Settings& settings, http::ServerLog& log) {
  const std::size_t database_files = settings.app.database.empty()
                                         ? server::kSqliteOpenFiles
                                         : settings.app.database_connections;
  const server::OpenFileLimit limit = server::ensure_open_file_limit(
      server::open_files_needed(settings.http.max_connections, database_files));
  if (limit.raised()) {
    log.info("open_file_limit_raised",
             {{"from", limit.soft_before}, {"to", limit.soft}, {"needed", limit.needed}});
  }
  if (!limit.short_of_need()) return;
  log.warning("open_file_limit_low",
              {{"limit", limit.soft},
               {"hard_limit", limit.hard},
               {"needed", limit.needed},
               {"max_connections", settings.http.max_connections},
               {"message", "the open-file limit is below what --max-connections needs; once the "
                           "server runs out of descriptors it cannot accept connections. Raise "
                           "the limit (systemd LimitNOFILE=, ulimit -n) or lower "
                           "--max-connections"}});
}

int serve(Settings settings) {
  auto log = http::ServerLog::standard_error();
  log->set_threshold(log_level_from(settings.log_level));
  check_open_file_limit(settings, *log);
  if (settings.tls_cert.empty() != settings.tls_key.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
  }
  if (!settings.tls_cert.empty()) settings.http.tls = http::TlsFiles{settings.tls_cert, settings.tls_key};
  // Browsers reach the server over HTTPS: its own, or a TLS proxy's when plain HTTP is allowed
  // off loopback.
  settings.app.secure_cookies = settings.http.tls.has_value() || settings.http.allow_plain_non_loopback;
  settings.http.log = log;

  // Signals are taken by sigwait below, so every thread must have them blocked from the start.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::ServerApp app(settings.app, log);
  settings.http.on_refusal = [&app](http::Refusal refusal) {
    app.metrics().count_http_refusal(refusal);
  };
  http::HttpServer http_server(settings.http, [&app](const http::Request& request) {
    return app.handle(request);
  });
  http_server.run_periodically(settings.metrics_save_interval, [&app] { app.save_metrics(); });
  http_server.start();
  if (!settings.port_file.empty()) {
    const std::string temporary = settings.port_file + ".tmp";
    std::ofstream(temporary) << http_server.port() << "\n";
    std::rename(temporary.c_str(), settings.port_file.c_str());
  }
  log_audit_head(app, *log);
  log->info("server_started", {{"address", settings.http.bind_address},
                               {"port", http_server.port()},
                               {"tls", settings.http.tls.has_value()},
                               {"storage", settings.app.database.empty() ? "sqlite" : "postgresql"},
                               {"data", settings.app.database.empty() ? settings.app.data_dir : ""}});
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log->info("server_stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  http_server.stop();
  app.save_metrics();
  log_audit_head(app, *log);
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
    if (args.size() > 1 && args[1] == "admin") return run_admin(args);
    Settings settings;
    settings.http.port = 8443;
    apply_flags(settings, args, 1);
    if (!settings.connections_given) settings.app.database_connections = settings.http.threads;
    return serve(std::move(settings));
  } catch (const Error& error) {
    std::cerr << "fieldsync-server: " << error.what() << "\n";
    return error.is(ErrorCode::kInvalidArgument) ? 2 : 1;
  } catch (const std::exception& error) {
    std::cerr << "fieldsync-server: " << error.what() << "\n";
    return 1;
  }
}
