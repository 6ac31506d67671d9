// How fieldsync-admin writes the API's answers for a person, and reads what a person types:
// device states in words, moments as "3 h ago (2026-11-26T09:12:00Z)", sizes, and the times and
// counts given to filters. Single-threaded, like the tool.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::admin {

// "at_risk" -> "at risk"; the other states as they are.
std::string state_label(const std::string& state);
// A `_ms` member as a UTC time to the second ("2026-11-26T09:12:00Z"); "never" for null.
std::string utc_text(const nlohmann::json& unix_ms);
// A past `_ms` member: "never" for null, else its age and its UTC time to the second.
std::string moment_text(const nlohmann::json& unix_ms);
// "830 B", "12.4 KB", "3.1 MB", "2.0 GB".
std::string size_text(std::uint64_t bytes);
// A string member as text, "" for null; a number as its digits.
std::string text_of(const nlohmann::json& value);

// A time typed for a filter (--since, --until): an RFC 3339 time, a date (midnight UTC), or an
// age such as 30m, 24h or 7d (that long before now). Unix milliseconds, as the API takes them.
std::int64_t time_option(const cli::Invocation& invocation, std::string_view name);
// A whole number option (--limit, --offset) checked here, so that a typo is a usage mistake;
// "" when not given.
std::string count_option(const cli::Invocation& invocation, std::string_view name);

}  // namespace fieldsync::admin
