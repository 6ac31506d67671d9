// How fieldsync's tools write for people and for scripts, whatever they show: times and ages,
// plain tables in aligned columns, and JSON on standard output.
//
// Single-threaded, like the tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::cli {

// RFC 3339 in UTC.
std::string time_text(std::int64_t unix_ms);
// "just now", "5 min ago", "3 h ago", "2 days ago", measured on this machine's clock.
std::string age_text(std::int64_t unix_ms);

// Rows of cells printed in left-aligned columns, the first row a header.
void print_table(const std::vector<std::vector<std::string>>& rows);

// Indented, on standard output.
void print_json(const nlohmann::json& json);

}  // namespace fieldsync::cli
