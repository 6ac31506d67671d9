// The typed value of one field: null, bool, int64, double, text, date, timestamp or bytes.
//
// Dates are days since 1970-01-01 (text form YYYY-MM-DD); timestamps are milliseconds since the
// Unix epoch in UTC (text form RFC 3339, "2024-03-01T09:30:00.000Z"). Text is UTF-8; doubles are
// finite. Values are plain, immutable-by-convention data: safe to share between threads.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fieldsync {

// Stable numbers: they are written to the wire and the stores.
enum class ValueType : std::uint8_t {
  kNull = 0,
  kBool = 1,
  kInt = 2,
  kDouble = 3,
  kText = 4,
  kDate = 5,
  kTimestamp = 6,
  kBytes = 7,
};
inline constexpr std::uint8_t kValueTypeCount = 8;
std::string_view to_string(ValueType type);
std::optional<ValueType> value_type_from_string(std::string_view name);

struct Date {
  std::int32_t days_since_epoch = 0;
  friend constexpr auto operator<=>(const Date&, const Date&) = default;
};

struct Timestamp {
  std::int64_t unix_ms = 0;
  friend constexpr auto operator<=>(const Timestamp&, const Timestamp&) = default;
};

using Bytes = std::vector<std::uint8_t>;

class Value {
 public:
  Value() = default;  // null
  static Value null() { return Value(); }
  static Value boolean(bool b) { return Value(Storage(b)); }
  static Value integer(std::int64_t i) { return Value(Storage(i)); }
  static Value real(double d);  // throws Error(kInvalidArgument) when not finite
  static Value text(std::string s) { return Value(Storage(std::move(s))); }
  static Value date(Date d) { return Value(Storage(d)); }
  static Value timestamp(Timestamp t) { return Value(Storage(t)); }
  static Value bytes(Bytes b) { return Value(Storage(std::move(b))); }

  ValueType type() const { return static_cast<ValueType>(storage_.index()); }
  bool is_null() const { return type() == ValueType::kNull; }

  // Accessors: each throws Error(kInvalidArgument) when the value has another type.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;
  const std::string& as_text() const;
  Date as_date() const;
  Timestamp as_timestamp() const;
  const Bytes& as_bytes() const;

  // Bytes of payload this value carries (text and bytes length; fixed size for the others).
  std::size_t payload_size() const;
  // A short human form for logs and the CLI (text quoted, bytes as a length).
  std::string describe() const;

  friend bool operator==(const Value& a, const Value& b);
  // A total order (type first, then content; doubles by their bits' order). Used only where
  // a deterministic tie-break is needed.
  friend std::strong_ordering operator<=>(const Value& a, const Value& b);

 private:
  using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string, Date,
                               Timestamp, Bytes>;
  explicit Value(Storage storage) : storage_(std::move(storage)) {}
  Storage storage_;
};

// Calendar helpers shared by the codecs and the schema. Years 0001-9999 only.
std::optional<Date> parse_date(std::string_view yyyy_mm_dd);
std::string format_date(Date date);
std::optional<Timestamp> parse_timestamp(std::string_view rfc3339);  // accepts Z or +hh:mm
std::string format_timestamp(Timestamp ts);                          // always UTC with "Z"
Date date_from_civil(int year, unsigned month, unsigned day);
void civil_from_date(Date date, int& year, unsigned& month, unsigned& day);

bool is_valid_utf8(std::string_view text);

}  // namespace fieldsync
