// Values, dates, timestamps and UTF-8 checks.
#include <catch2/catch.hpp>

#include <limits>

#include "fieldsync/error.h"
#include "fieldsync/value.h"

using namespace fieldsync;

TEST_CASE("Values keep their type and refuse the wrong accessor", "[value]") {
  CHECK(Value().is_null());
  CHECK(Value::boolean(true).as_bool());
  CHECK(Value::integer(-42).as_int() == -42);
  CHECK(Value::real(2.5).as_double() == 2.5);
  CHECK(Value::text("seen").as_text() == "seen");
  CHECK(Value::date(Date{3}).as_date() == Date{3});
  CHECK(Value::timestamp(Timestamp{9}).as_timestamp() == Timestamp{9});
  CHECK(Value::bytes({1, 2}).as_bytes() == Bytes{1, 2});
  CHECK_THROWS_AS(Value::text("x").as_int(), Error);
  CHECK_THROWS_AS(Value::real(std::numeric_limits<double>::infinity()), Error);
  CHECK_THROWS_AS(Value::real(std::numeric_limits<double>::quiet_NaN()), Error);
  CHECK(Value::text("abc").payload_size() == 3);
}

TEST_CASE("Values have a total order: type first, then content", "[value]") {
  CHECK(Value() < Value::boolean(false));
  CHECK(Value::integer(5) < Value::integer(6));
  CHECK(Value::integer(1'000) < Value::text(""));
  CHECK(Value::text("a") < Value::text("b"));
  CHECK(Value::real(-1.0) != Value::real(1.0));
  CHECK(Value::text("a") == Value::text("a"));
  CHECK(Value::integer(1) != Value::real(1.0));
}

TEST_CASE("Dates parse only when they exist on the calendar", "[value]") {
  CHECK(parse_date("1970-01-01")->days_since_epoch == 0);
  CHECK(parse_date("2024-02-29")->days_since_epoch == 19782);
  CHECK(format_date(*parse_date("2024-02-29")) == "2024-02-29");
  CHECK(format_date(Date{-1}) == "1969-12-31");
  CHECK_FALSE(parse_date("2023-02-29"));
  CHECK_FALSE(parse_date("2024-13-01"));
  CHECK_FALSE(parse_date("2024-04-31"));
  CHECK_FALSE(parse_date("2024-4-3"));
  CHECK_FALSE(parse_date("24-04-03xx"));
  CHECK(format_date(Date{-719'162}) == "0001-01-01");
  CHECK(format_date(Date{2'932'896}) == "9999-12-31");
  for (int days = -719'162; days <= 2'932'896; days += 997) {
    const std::string text = format_date(Date{days});
    INFO(text);
    REQUIRE(parse_date(text) == Date{days});
  }
}

TEST_CASE("Timestamps are RFC 3339 and always written in UTC", "[value]") {
  CHECK(parse_timestamp("1970-01-01T00:00:00Z")->unix_ms == 0);
  CHECK(parse_timestamp("2024-03-01T09:30:00.250Z")->unix_ms == 1'709'285'400'250);
  CHECK(parse_timestamp("2024-03-01T10:30:00.250+01:00")->unix_ms == 1'709'285'400'250);
  CHECK(format_timestamp(Timestamp{1'709'285'400'250}) == "2024-03-01T09:30:00.250Z");
  CHECK(format_timestamp(Timestamp{-1}) == "1969-12-31T23:59:59.999Z");
  CHECK_FALSE(parse_timestamp("2024-03-01 09:30:00Z"));
  CHECK_FALSE(parse_timestamp("2024-03-01T24:00:00Z"));
  CHECK_FALSE(parse_timestamp("2024-03-01T09:30:00"));
  CHECK_FALSE(parse_timestamp("2024-03-01T09:30:00.Z"));
}

TEST_CASE("UTF-8 validation refuses broken and overlong sequences", "[value]") {
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xC3"));              // truncated
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xFF"));
}
