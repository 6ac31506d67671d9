// HybridClock: server-anchored physical time, HLC ticking with counter carry.
#include "fieldsync/hybrid_clock.h"

#include <algorithm>

namespace fieldsync {

std::string Hlc::to_string() const {
  return std::to_string(ms()) + "." + std::to_string(counter());
}

HybridClock::HybridClock(ClockSource& source, Hlc floor) : source_(source), last_(floor) {}

std::int64_t HybridClock::physical_ms_locked() {
  const std::int64_t monotonic = source_.monotonic_ms();
  if (anchor_ && monotonic >= anchor_->monotonic_ms) {
    return anchor_->server_ms + (monotonic - anchor_->monotonic_ms);
  }
  // No anchor, or the monotonic clock restarted (a reboot): the device clock is all we have.
  return source_.wall_ms();
}

std::int64_t HybridClock::physical_ms() {
  std::lock_guard lock(mutex_);
  return physical_ms_locked();
}

Hlc HybridClock::now() {
  std::lock_guard lock(mutex_);
  const std::int64_t physical = std::clamp<std::int64_t>(
      physical_ms_locked(), 0, static_cast<std::int64_t>(Hlc::kMaxMs));
  const auto physical_ms = static_cast<std::uint64_t>(physical);
  last_ = physical_ms > last_.ms() ? Hlc(physical_ms, 0) : last_.successor();
  return last_;
}

void HybridClock::observe(Hlc remote) {
  std::lock_guard lock(mutex_);
  last_ = std::max(last_, remote);
}

void HybridClock::anchor_to_server(std::int64_t server_ms) {
  std::lock_guard lock(mutex_);
  anchor_ = ServerAnchor{server_ms, source_.monotonic_ms()};
}

std::optional<HybridClock::ServerAnchor> HybridClock::server_anchor() const {
  std::lock_guard lock(mutex_);
  return anchor_;
}

void HybridClock::restore_server_anchor(const ServerAnchor& anchor) {
  std::lock_guard lock(mutex_);
  anchor_ = anchor;
}

void HybridClock::rewind_to(Hlc highest_kept) {
  std::lock_guard lock(mutex_);
  last_ = highest_kept;
}

Hlc HybridClock::highest() const {
  std::lock_guard lock(mutex_);
  return last_;
}

bool HybridClock::has_server_anchor() const {
  std::lock_guard lock(mutex_);
  return anchor_.has_value();
}

bool is_too_far_ahead(Hlc stamp, std::int64_t server_ms, std::int64_t max_ahead_ms) {
  return static_cast<std::int64_t>(stamp.ms()) > server_ms + max_ahead_ms;
}

}  // namespace fieldsync
