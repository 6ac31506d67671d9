// Value accessors and ordering, and the calendar and UTF-8 helpers the codecs and schema share.
#include "fieldsync/value.h"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "fieldsync/error.h"

namespace fieldsync {
namespace {

constexpr std::array<std::string_view, kValueTypeCount> kTypeNames = {
    "null", "bool", "int", "double", "text", "date", "timestamp", "bytes"};

[[noreturn]] void throw_wrong_type(ValueType actual, std::string_view wanted) {
  throw Error(ErrorCode::kInvalidArgument, "value is " + std::string(to_string(actual)) +
                                               ", not " + std::string(wanted));
}

// Parses exactly `width` decimal digits at `pos`.
bool parse_digits(std::string_view text, std::size_t pos, std::size_t width, int& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(int year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

bool valid_civil(int year, int month, int day) {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 &&
         static_cast<unsigned>(day) <= days_in_month(year, static_cast<unsigned>(month));
}

constexpr std::int64_t kMsPerDay = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

std::string_view to_string(ValueType type) {
  const auto index = static_cast<std::size_t>(type);
  return index < kTypeNames.size() ? kTypeNames[index] : "unknown";
}

std::optional<ValueType> value_type_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == name) return static_cast<ValueType>(i);
  }
  return std::nullopt;
}

Value Value::real(double d) {
  if (!std::isfinite(d)) throw Error(ErrorCode::kInvalidArgument, "a double value must be finite");
  return Value(Storage(d));
}

bool Value::as_bool() const {
  if (auto* v = std::get_if<bool>(&storage_)) return *v;
  throw_wrong_type(type(), "bool");
}
std::int64_t Value::as_int() const {
  if (auto* v = std::get_if<std::int64_t>(&storage_)) return *v;
  throw_wrong_type(type(), "int");
}
double Value::as_double() const {
  if (auto* v = std::get_if<double>(&storage_)) return *v;
  throw_wrong_type(type(), "double");
}
const std::string& Value::as_text() const {
  if (auto* v = std::get_if<std::string>(&storage_)) return *v;
  throw_wrong_type(type(), "text");
}
Date Value::as_date() const {
  if (auto* v = std::get_if<Date>(&storage_)) return *v;
  throw_wrong_type(type(), "date");
}
Timestamp Value::as_timestamp() const {
  if (auto* v = std::get_if<Timestamp>(&storage_)) return *v;
  throw_wrong_type(type(), "timestamp");
}
const Bytes& Value::as_bytes() const {
  if (auto* v = std::get_if<Bytes>(&storage_)) return *v;
  throw_wrong_type(type(), "bytes");
}

std::size_t Value::payload_size() const {
  switch (type()) {
    case ValueType::kNull: return 0;
    case ValueType::kBool: return 1;
    case ValueType::kDate: return 4;
    case ValueType::kInt:
    case ValueType::kDouble:
    case ValueType::kTimestamp: return 8;
    case ValueType::kText: return as_text().size();
    case ValueType::kBytes: return as_bytes().size();
  }
  return 0;
}

std::string Value::describe() const {
  switch (type()) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return as_bool() ? "true" : "false";
    case ValueType::kInt: return std::to_string(as_int());
    case ValueType::kDouble: {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.17g", as_double());
      return buffer;
    }
    case ValueType::kText: {
      const auto& text = as_text();
      return "\"" + (text.size() > 60 ? text.substr(0, 57) + "..." : text) + "\"";
    }
    case ValueType::kDate: return format_date(as_date());
    case ValueType::kTimestamp: return format_timestamp(as_timestamp());
    case ValueType::kBytes: return "<" + std::to_string(as_bytes().size()) + " bytes>";
  }
  return "?";
}

bool operator==(const Value& a, const Value& b) { return (a <=> b) == 0; }

std::strong_ordering operator<=>(const Value& a, const Value& b) {
  if (a.storage_.index() != b.storage_.index()) return a.storage_.index() <=> b.storage_.index();
  if (a.type() == ValueType::kDouble) {
    // Bit order: a total order with no NaN surprises (values are finite anyway).
    return std::bit_cast<std::uint64_t>(a.as_double()) <=>
           std::bit_cast<std::uint64_t>(b.as_double());
  }
  return std::visit(
      [&](const auto& left) -> std::strong_ordering {
        using T = std::decay_t<decltype(left)>;
        if constexpr (std::is_same_v<T, std::monostate> || std::is_same_v<T, double>) {
          return std::strong_ordering::equal;
        } else {
          const auto& right = std::get<T>(b.storage_);
          if (left < right) return std::strong_ordering::less;
          if (right < left) return std::strong_ordering::greater;
          return std::strong_ordering::equal;
        }
      },
      a.storage_);
}

// Days from civil date: the proleptic Gregorian calendar, 1970-01-01 = 0.
Date date_from_civil(int year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return Date{static_cast<std::int32_t>(era * 146097 + static_cast<int>(doe) - 719468)};
}

void civil_from_date(Date date, int& year, unsigned& month, unsigned& day) {
  const int z = date.days_since_epoch + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int>(yoe) + era * 400 + (month <= 2);
}

std::optional<Date> parse_date(std::string_view text) {
  int year, month, day;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !parse_digits(text, 0, 4, year) ||
      !parse_digits(text, 5, 2, month) || !parse_digits(text, 8, 2, day) ||
      !valid_civil(year, month, day)) {
    return std::nullopt;
  }
  return date_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

std::string format_date(Date date) {
  int year;
  unsigned month, day;
  civil_from_date(date, year, month, day);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", year, month, day);
  return buffer;
}

std::optional<Timestamp> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't')) return std::nullopt;
  const auto date = parse_date(text.substr(0, 10));
  int hour, minute, second;
  if (!date || text[13] != ':' || text[16] != ':' || !parse_digits(text, 11, 2, hour) ||
      !parse_digits(text, 14, 2, minute) || !parse_digits(text, 17, 2, second) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (text[pos] == '.') {
    std::size_t digits = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::int64_t offset_minutes = 0;
  const std::string_view zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
    offset_minutes = 0;
  } else {
    int offset_hour, offset_minute;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' ||
        !parse_digits(zone, 1, 2, offset_hour) || !parse_digits(zone, 4, 2, offset_minute) ||
        offset_hour > 23 || offset_minute > 59) {
      return std::nullopt;
    }
    offset_minutes = (offset_hour * 60 + offset_minute) * (zone[0] == '-' ? -1 : 1);
  }
  const std::int64_t seconds_of_day = hour * 3600 + minute * 60 + second;
  return Timestamp{date->days_since_epoch * kMsPerDay + seconds_of_day * 1000 + millis -
                   offset_minutes * 60'000};
}

std::string format_timestamp(Timestamp ts) {
  const std::int64_t days = floor_div(ts.unix_ms, kMsPerDay);
  const std::int64_t ms_of_day = ts.unix_ms - days * kMsPerDay;
  const std::string date = format_date(Date{static_cast<std::int32_t>(days)});
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%sT%02d:%02d:%02d.%03dZ", date.c_str(),
                static_cast<int>(ms_of_day / 3'600'000), static_cast<int>(ms_of_day / 60'000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buffer;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length;
    std::uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;  // overlong, out of range, or a surrogate
    }
    i += length;
  }
  return true;
}

}  // namespace fieldsync
