// Writing answers for people and reading filter values (admin_text.h).
#include "admin_text.h"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "fieldsync/cli/plain_output.h"
#include "fieldsync/value.h"

namespace fieldsync::admin {
namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> whole_number(std::string_view text) {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || number < 0) return std::nullopt;
  return number;
}

// "30m", "24h", "7d" -> milliseconds; nullopt for anything else.
std::optional<std::int64_t> age_ms(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  const auto count = whole_number(text.substr(0, text.size() - 1));
  if (!count) return std::nullopt;
  switch (text.back()) {
    case 'm':
      return *count * 60'000;
    case 'h':
      return *count * 3'600'000;
    case 'd':
      return *count * 86'400'000;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string state_label(const std::string& state) {
  return state == "at_risk" ? "at risk" : state;
}

std::string utc_text(const json& unix_ms) {
  if (!unix_ms.is_number()) return "never";
  std::string time = cli::time_text(unix_ms.get<std::int64_t>());
  if (const auto dot = time.find('.'); dot != std::string::npos) time = time.substr(0, dot) + "Z";
  return time;
}

std::string moment_text(const json& unix_ms) {
  if (!unix_ms.is_number()) return "never";
  return cli::age_text(unix_ms.get<std::int64_t>()) + " (" + utc_text(unix_ms) + ")";
}

std::string size_text(std::uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1000.0;
  std::size_t unit = 0;
  while (value >= 1000.0 && unit + 1 < std::size(units)) {
    value /= 1000.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, units[unit]);
  return buffer;
}

std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

std::int64_t time_option(const cli::Invocation& invocation, std::string_view name) {
  const auto text = invocation.option(name);
  if (!text) return 0;
  if (const auto age = age_ms(*text)) return now_ms() - *age;
  if (const auto date = parse_date(*text)) {
    return static_cast<std::int64_t>(date->days_since_epoch) * 86'400'000;
  }
  if (const auto timestamp = parse_timestamp(*text)) return timestamp->unix_ms;
  throw cli::UsageError(std::string(name) + " takes a time (2026-11-26T09:00:00Z), a date " +
                        "(2026-11-26) or an age (30m, 24h, 7d), not \"" + *text + "\"");
}

std::string count_option(const cli::Invocation& invocation, std::string_view name) {
  const auto text = invocation.option(name);
  if (!text) return "";
  if (!whole_number(*text)) {
    throw cli::UsageError(std::string(name) + " takes a whole number, not \"" + *text + "\"");
  }
  return *text;
}

}  // namespace fieldsync::admin
