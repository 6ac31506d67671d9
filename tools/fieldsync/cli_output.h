// How the fieldsync tool writes for people and for scripts: times and ages, values in full,
// records as field lists, plain tables, and JSON on standard output. Case data is shown in full:
// this is the worker's own device, behind their passcode.
//
// Single-threaded, like the whole tool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/schema.h"
#include "fieldsync/value.h"

namespace fieldsync::cli {

// RFC 3339 in UTC.
std::string time_text(std::int64_t unix_ms);
// "just now", "5 min ago", "3 h ago", "2 days ago", measured on this machine's clock.
std::string age_text(std::int64_t unix_ms);
// A value as a person reads it: text in full and unquoted, other types in their text form.
std::string value_text(const Value& value);

// A record as "<collection> <id>" and then one "  field  value" line per field set, in the
// schema's order (fields it does not know after them).
void print_record(const Record& record);

// Rows of cells printed in left-aligned columns, the first row a header.
void print_table(const std::vector<std::vector<std::string>>& rows);

// Indented, on standard output.
void print_json(const nlohmann::json& json);

}  // namespace fieldsync::cli
