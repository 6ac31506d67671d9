// The stderr and in-memory log sinks.
#include "fieldsync/platform/log_sink.h"

#include <cstdio>

namespace fieldsync::platform {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}

void StderrLogSink::write(LogLevel level, std::string_view component, std::string_view message) {
  if (level < minimum_) return;
  const std::string_view name = to_string(level);
  std::lock_guard lock(mutex_);
  std::fprintf(stderr, "%.*s %.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

void MemoryLogSink::write(LogLevel level, std::string_view component, std::string_view message) {
  std::lock_guard lock(mutex_);
  lines_.push_back({level, std::string(component), std::string(message)});
}

std::vector<MemoryLogSink::Line> MemoryLogSink::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

}  // namespace fieldsync::platform
