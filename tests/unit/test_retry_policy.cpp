// The retry policy of the sync engine (DESIGN.md section 4): capped exponential backoff with full
// jitter, never sooner than Retry-After, and Retry-After read in both of its forms.
#include <catch2/catch.hpp>

#include "fieldsync/client/retry_policy.h"

using namespace fieldsync::client;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST_CASE("Backoff ceilings double from the initial delay up to the cap", "[sync][backoff]") {
  const RetryPolicy policy;  // 0.5 s, doubling, capped at 60 s
  CHECK(policy.ceiling(1) == 500ms);
  CHECK(policy.ceiling(2) == 1000ms);
  CHECK(policy.ceiling(3) == 2000ms);
  CHECK(policy.ceiling(7) == 32'000ms);
  CHECK(policy.ceiling(8) == 60'000ms);     // 64 s, capped
  CHECK(policy.ceiling(1000) == 60'000ms);  // no overflow however long the outage
  CHECK(policy.ceiling(0) == 500ms);

  RetryPolicy tight;
  tight.initial_delay = 100ms;
  tight.max_delay = 250ms;
  CHECK(tight.ceiling(2) == 200ms);
  CHECK(tight.ceiling(3) == 250ms);
}

TEST_CASE("Full jitter spreads each wait between zero and the ceiling", "[sync][backoff]") {
  const RetryPolicy policy;
  for (int retry = 1; retry <= 12; ++retry) {
    CAPTURE(retry);
    CHECK(policy.delay(retry, 0.0, std::nullopt) == 0ms);
    CHECK(policy.delay(retry, 0.5, std::nullopt) == policy.ceiling(retry) / 2);
    const milliseconds highest = policy.delay(retry, 0.999999, std::nullopt);
    CHECK(highest <= policy.ceiling(retry));
    CHECK(highest >= policy.ceiling(retry) - 1ms);
  }
  // A draw outside [0, 1) is clamped rather than trusted.
  CHECK(policy.delay(3, 7.0, std::nullopt) == policy.ceiling(3));
  CHECK(policy.delay(3, -1.0, std::nullopt) == 0ms);
}

TEST_CASE("A wait is never shorter than the server's Retry-After", "[sync][backoff]") {
  const RetryPolicy policy;
  CHECK(policy.delay(1, 0.0, 7'000ms) == 7'000ms);          // the jitter alone would say 0
  CHECK(policy.delay(1, 0.99, 7'000ms) == 7'000ms);         // and at most 0.5 s
  CHECK(policy.delay(9, 0.99, 1'000ms) > 1'000ms);          // a longer backoff stands
  CHECK(policy.delay(1, 0.5, 3'600'000ms) == 3'600'000ms);  // beyond the cap: still honoured
}

TEST_CASE("Retry-After is read as seconds or as an HTTP date", "[sync][backoff]") {
  const auto now = std::chrono::sys_days(std::chrono::year(2015) / 10 / 21) + 7h + 28min;
  CHECK(parse_retry_after("120", now) == 120'000ms);
  CHECK(parse_retry_after(" 0 ", now) == 0ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now) == 90'000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0ms);  // already past
  CHECK(parse_retry_after("999999999999", now) == 24h);                   // a day at most
  CHECK(parse_retry_after("Fri, 21 Oct 2095 07:29:30 GMT", now) == 24h);
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("1.5", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("Wed, 32 Oct 2015 07:29:30 GMT", now));
  CHECK_FALSE(parse_retry_after("Wednesday, 21-Oct-15 07:29:30 GMT", now));  // obsolete form
}
