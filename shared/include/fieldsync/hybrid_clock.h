// The hybrid logical clock that stamps every change (DESIGN.md section 3).
//
// A stamp (Hlc) is 48 bits of milliseconds and a 16-bit counter; a full counter carries into the
// milliseconds. The physical part is the last server time plus the monotonic time elapsed since
// it was received, so a device whose wall clock is wrong stamps correctly once it has synced;
// before its first sync in this process (or after a reboot) it falls back to the device's wall
// clock. Stamps never go below the highest stamp issued or observed.
//
// HybridClock is thread-safe: the UI thread stamps edits while a sync thread observes.
#pragma once

#include <compare>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "fieldsync/clock_source.h"

namespace fieldsync {

class Hlc {
 public:
  static constexpr std::uint64_t kMaxMs = (std::uint64_t{1} << 48) - 1;
  static constexpr std::uint32_t kMaxCounter = 0xFFFF;

  constexpr Hlc() = default;
  constexpr Hlc(std::uint64_t ms, std::uint16_t counter) : packed_((ms << 16) | counter) {}
  static constexpr Hlc from_packed(std::uint64_t packed) {
    Hlc hlc;
    hlc.packed_ = packed;
    return hlc;
  }

  constexpr std::uint64_t ms() const { return packed_ >> 16; }
  constexpr std::uint16_t counter() const { return static_cast<std::uint16_t>(packed_ & 0xFFFF); }
  constexpr std::uint64_t packed() const { return packed_; }
  constexpr bool is_zero() const { return packed_ == 0; }
  // The next stamp: counter + 1, carrying into the milliseconds when the counter is full.
  constexpr Hlc successor() const { return from_packed(packed_ + 1); }
  std::string to_string() const;  // "ms.counter"

  friend constexpr auto operator<=>(const Hlc&, const Hlc&) = default;

 private:
  std::uint64_t packed_ = 0;
};

class HybridClock {
 public:
  // `floor` is the highest stamp this origin has issued or seen (persisted by the caller).
  explicit HybridClock(ClockSource& source, Hlc floor = {});

  // A stamp for a local event: greater than every stamp issued or observed so far.
  Hlc now();
  // Another replica's stamp was seen: later stamps from now() are greater than it.
  void observe(Hlc remote);
  // The server said its time is `server_ms`: from now on the physical part is that plus the
  // monotonic time elapsed.
  void anchor_to_server(std::int64_t server_ms);
  // After the server refused stamps as too far ahead: forget stamps above `highest_kept` (the
  // highest stamp known outside this device: seen from the server or acknowledged by it), so the
  // unacknowledged outbox can be re-stamped from max(corrected now, highest_kept) + 1.
  void rewind_to(Hlc highest_kept);

  // What anchor_to_server() recorded: a server time and the monotonic time it was received at.
  // A store keeps it so that a new process on the same boot goes on from the server's time
  // rather than from a device clock that may be wrong.
  struct ServerAnchor {
    std::int64_t server_ms = 0;
    std::int64_t monotonic_ms = 0;
  };
  std::optional<ServerAnchor> server_anchor() const;
  // Takes back an anchor kept from an earlier process. The caller checks that the monotonic clock
  // has not restarted since (a reboot); a later anchor_to_server() replaces it.
  void restore_server_anchor(const ServerAnchor& anchor);

  // The physical part now, in Unix milliseconds (server-anchored when an anchor exists).
  std::int64_t physical_ms();
  // The highest stamp issued or observed.
  Hlc highest() const;
  bool has_server_anchor() const;

 private:
  std::int64_t physical_ms_locked();

  ClockSource& source_;
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  Hlc last_;
  std::optional<ServerAnchor> anchor_;
};

// True when `stamp` is more than `max_ahead_ms` ahead of `server_ms` (the server refuses it).
bool is_too_far_ahead(Hlc stamp, std::int64_t server_ms, std::int64_t max_ahead_ms);

}  // namespace fieldsync
