// JSON-lines logging. Thread-safe: the line is built outside the lock, written under it.
#include "http/server_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace fieldsync::server::http {

namespace {

// Bytes that are not UTF-8 (a peer's header, say) become U+FFFD instead of failing the line.
std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_reserved_key(std::string_view key) {
  return key == "ts" || key == "level" || key == "event";
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "unknown";
}

std::string rfc3339_utc_now() {
  using namespace std::chrono;
  const auto now = time_point_cast<milliseconds>(system_clock::now());
  const std::time_t whole_seconds = system_clock::to_time_t(now);
  const auto millis = (now.time_since_epoch() % seconds{1}).count();
  std::tm utc{};
  gmtime_r(&whole_seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis));
  return text;
}

ServerLog::ServerLog(std::ostream& sink, LogLevel threshold) : threshold_(threshold), sink_(sink) {}

std::shared_ptr<ServerLog> ServerLog::standard_error() {
  static const auto log = std::make_shared<ServerLog>(std::cerr);
  return log;
}

void ServerLog::write(LogLevel level, std::string_view event,
                      std::span<const LogField> fields) {
  if (!enabled(level)) return;
  std::string line = "{\"ts\":\"" + rfc3339_utc_now() + "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"event\":" + json_text(event);
  for (const LogField& field : fields) {
    if (is_reserved_key(field.key)) continue;
    line += ',' + json_text(field.key) + ':' + json_text(field.value);
  }
  line += "}\n";

  const std::lock_guard lock(sink_mutex_);
  sink_ << line;
  sink_.flush();
}

}  // namespace fieldsync::server::http
