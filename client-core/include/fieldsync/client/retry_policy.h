// When the sync engine tries a round trip again after a temporary failure (DESIGN.md section 4):
// capped exponential backoff with full jitter, and never sooner than the server's Retry-After.
//
// Pure functions over plain values (the random draw is the caller's), so the policy is tested
// without clocks or sleeps. Thread-safe: no shared state.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace fieldsync::client {

struct RetryPolicy {
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{60'000};
  // Failed attempts of one round trip in a row before the sync gives up with the last error.
  int max_attempts = 10;

  // The most the wait before retry number `retry` (1 for the first) may be:
  // min(max_delay, initial_delay * 2^(retry - 1)).
  std::chrono::milliseconds ceiling(int retry) const;

  // The wait before retry number `retry`: full jitter, `unit_random` (uniform in [0, 1)) times
  // ceiling(retry), so that devices failing together do not retry together; but never less than
  // the server's `retry_after`.
  std::chrono::milliseconds delay(int retry, double unit_random,
                                  std::optional<std::chrono::milliseconds> retry_after) const;
};

// A Retry-After header's value as a wait: delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT") measured from `now`. nullopt when empty or unreadable; a date
// in the past is a zero wait, and a wait beyond a day is a day.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

}  // namespace fieldsync::client
