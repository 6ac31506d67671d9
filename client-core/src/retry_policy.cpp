// RetryPolicy and Retry-After parsing. Pure; thread-safe.
#include "fieldsync/client/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace fieldsync::client {
namespace {

using std::chrono::milliseconds;

// Beyond about 2^62 ms the doubling would overflow; the cap is reached long before.
constexpr int kMaxDoublings = 40;

// A Retry-After beyond a day is taken as a day: no sync window is that long, and a wait that
// large would overflow the clocks it is added to.
constexpr milliseconds kLongestRetryAfter = std::chrono::hours(24);

std::optional<milliseconds> parse_delta_seconds(std::string_view value) {
  if (value.empty() || value.size() > 12) return std::nullopt;  // a year is 8 digits of seconds
  std::int64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds < 0) {
    return std::nullopt;
  }
  return milliseconds(seconds * 1000);
}

std::optional<int> parse_digits(std::string_view text) {
  int number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

// IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 section 5.6.7: what senders must
// send), read by position so that the process's locale plays no part. The obsolete forms are
// unreadable, which leaves the policy's own backoff in charge.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view value) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (value.size() != 29 || value.substr(3, 2) != ", " || value.substr(25) != " GMT" ||
      value[7] != ' ' || value[11] != ' ' || value[16] != ' ' || value[19] != ':' ||
      value[22] != ':') {
    return std::nullopt;
  }
  const auto month_at = kMonths.find(value.substr(8, 3));
  const auto day = parse_digits(value.substr(5, 2));
  const auto year = parse_digits(value.substr(12, 4));
  const auto hour = parse_digits(value.substr(17, 2));
  const auto minute = parse_digits(value.substr(20, 2));
  const auto second = parse_digits(value.substr(23, 2));
  if (month_at == std::string_view::npos || month_at % 3 != 0 || !day || !year || !hour ||
      !minute || !second || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{
      std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(month_at / 3 + 1)),
      std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
         std::chrono::seconds(*second);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

milliseconds RetryPolicy::ceiling(int retry) const {
  const int doublings = std::clamp(retry - 1, 0, kMaxDoublings);
  const std::int64_t initial = std::max<std::int64_t>(0, initial_delay.count());
  const std::int64_t cap = std::max<std::int64_t>(0, max_delay.count());
  std::int64_t bound = initial;
  for (int i = 0; i < doublings && bound < cap; ++i) bound *= 2;
  return milliseconds(std::min(bound, cap));
}

milliseconds RetryPolicy::delay(int retry, double unit_random,
                                std::optional<milliseconds> retry_after) const {
  const double unit = std::clamp(unit_random, 0.0, 1.0);
  const auto jittered =
      milliseconds(static_cast<std::int64_t>(std::floor(unit * ceiling(retry).count())));
  return retry_after ? std::max(jittered, *retry_after) : jittered;
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (auto seconds = parse_delta_seconds(value)) return std::min(*seconds, kLongestRetryAfter);
  const auto date = parse_http_date(value);
  if (!date) return std::nullopt;
  return std::clamp(std::chrono::duration_cast<milliseconds>(*date - now), milliseconds(0),
                    kLongestRetryAfter);
}

}  // namespace fieldsync::client
