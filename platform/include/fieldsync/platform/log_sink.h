// Where fieldsync's log lines go. Each platform supplies a sink (os_log on iOS, logcat on
// Android, stderr on desktops); tests use MemoryLogSink to read what was logged.
//
// Log lines never carry case content: only ids, counts, codes and messages about them.
// Both sinks here are thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fieldsync::platform {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
std::string_view to_string(LogLevel level);

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view component, std::string_view message) = 0;
};

// Writes "LEVEL component: message" lines to standard error, dropping lines below `minimum`.
class StderrLogSink final : public LogSink {
 public:
  explicit StderrLogSink(LogLevel minimum = LogLevel::kInfo) : minimum_(minimum) {}
  void write(LogLevel level, std::string_view component, std::string_view message) override;

 private:
  const LogLevel minimum_;
  std::mutex mutex_;  // keeps lines whole when threads log at once
};

// Keeps every line in memory, for tests.
class MemoryLogSink final : public LogSink {
 public:
  struct Line {
    LogLevel level;
    std::string component;
    std::string message;
  };
  void write(LogLevel level, std::string_view component, std::string_view message) override;
  std::vector<Line> lines() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Line> lines_;  // guarded by mutex_
};

}  // namespace fieldsync::platform
