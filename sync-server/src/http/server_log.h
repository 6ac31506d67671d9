// The server's structured log: one JSON object per line, {"ts", "level", "event", fields...},
// written to stderr in production (for journald or a log shipper) and to a string in tests.
// The HTTP layer writes its access log here; the rest of the server may log through it too.
//
// What never goes in: request or response bodies, query string values, Authorization or any
// other credential, case content. Callers choose the fields, so this is their rule to keep.
//
// Thread-safe: write() may be called from any thread; one mutex keeps lines whole.
#pragma once

#include <atomic>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fieldsync::server::http {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

std::string_view to_string(LogLevel level);

// One key/value pair of a log line. Fields appear in the line in the order given.
struct LogField {
  std::string_view key;
  nlohmann::json value;
};

class ServerLog {
 public:
  // Lines at or above `threshold` go to `sink`, which must outlive this log.
  explicit ServerLog(std::ostream& sink, LogLevel threshold = LogLevel::kInfo);
  ServerLog(const ServerLog&) = delete;
  ServerLog& operator=(const ServerLog&) = delete;

  // The process's one log on stderr (one instance, so its lines never interleave with another's).
  static std::shared_ptr<ServerLog> standard_error();

  // kOff silences the log entirely (tests).
  void set_threshold(LogLevel threshold) { threshold_.store(threshold); }
  LogLevel threshold() const { return threshold_.load(); }
  bool enabled(LogLevel level) const { return level != LogLevel::kOff && level >= threshold(); }

  // Keys "ts", "level" and "event" are the line's own; a field may not reuse them.
  void write(LogLevel level, std::string_view event, std::span<const LogField> fields);
  void write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {}) {
    write(level, event, std::span<const LogField>(fields.begin(), fields.size()));
  }

  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kDebug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kInfo, event, fields);
  }
  void warning(std::string_view event, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kWarning, event, fields);
  }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kError, event, fields);
  }

 private:
  std::atomic<LogLevel> threshold_;

  std::mutex sink_mutex_;  // guards sink_: one line written at a time
  std::ostream& sink_;
};

// Now as RFC 3339 UTC with milliseconds: "2025-11-26T09:20:00.123Z".
std::string rfc3339_utc_now();

}  // namespace fieldsync::server::http
