// Where time comes from: the wall clock (which a user may set wrong) and a monotonic clock (which
// only moves forward, and restarts at boot). Injected everywhere time matters, so tests run on a
// FakeClockSource and never sleep.
//
// SystemClockSource is thread-safe. FakeClockSource is thread-safe; tests move it by hand.
#pragma once

#include <atomic>
#include <cstdint>

namespace fieldsync {

class ClockSource {
 public:
  virtual ~ClockSource() = default;
  // Milliseconds since the Unix epoch, as the device believes.
  virtual std::int64_t wall_ms() = 0;
  // Milliseconds from an arbitrary start; never decreases while the process runs.
  virtual std::int64_t monotonic_ms() = 0;
};

class SystemClockSource final : public ClockSource {
 public:
  std::int64_t wall_ms() override;
  std::int64_t monotonic_ms() override;
  // The process-wide instance.
  static SystemClockSource& instance();
};

class FakeClockSource final : public ClockSource {
 public:
  explicit FakeClockSource(std::int64_t wall_ms = 1'700'000'000'000, std::int64_t monotonic_ms = 0)
      : wall_(wall_ms), monotonic_(monotonic_ms) {}

  std::int64_t wall_ms() override { return wall_.load(); }
  std::int64_t monotonic_ms() override { return monotonic_.load(); }

  // Time passes: both clocks move forward by `ms`.
  void advance(std::int64_t ms) {
    wall_ += ms;
    monotonic_ += ms;
  }
  // Someone sets the wall clock (forwards or backwards); the monotonic clock does not move.
  void set_wall(std::int64_t ms) { wall_ = ms; }
  // A reboot: the monotonic clock restarts.
  void reboot(std::int64_t monotonic_ms = 0) { monotonic_ = monotonic_ms; }

 private:
  std::atomic<std::int64_t> wall_;
  std::atomic<std::int64_t> monotonic_;
};

}  // namespace fieldsync
