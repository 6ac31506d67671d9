// Writing for people and for scripts (cli_output.h).
#include "cli_output.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace fieldsync::cli {
namespace {

constexpr std::size_t kFieldColumn = 26;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A value spread over several lines keeps to the value column.
std::string indent_continuation_lines(const std::string& text) {
  std::string indented;
  for (const char c : text) {
    indented += c;
    if (c == '\n') indented += std::string(kFieldColumn, ' ');
  }
  return indented;
}

void print_field(const std::string& name, const Value& value) {
  const std::string left = "  " + name;
  const std::size_t pad = left.size() < kFieldColumn ? kFieldColumn - left.size() : 1;
  std::printf("%s%s%s\n", left.c_str(), std::string(pad, ' ').c_str(),
              indent_continuation_lines(value_text(value)).c_str());
}

}  // namespace

std::string time_text(std::int64_t unix_ms) {
  return format_timestamp(Timestamp{unix_ms});
}

std::string age_text(std::int64_t unix_ms) {
  const std::int64_t seconds = (now_ms() - unix_ms) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return std::to_string(seconds / 60) + " min ago";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h ago";
  return std::to_string(seconds / 86400) + " days ago";
}

std::string value_text(const Value& value) {
  return value.type() == ValueType::kText ? value.as_text() : value.describe();
}

void print_record(const Record& record) {
  std::printf("%s %s\n", record.collection.c_str(), record.id.to_string().c_str());
  const CollectionSpec* spec = Schema::domain().collection(record.collection);
  if (spec) {
    for (const FieldSpec& field : spec->fields) {
      if (const Value* value = record.get(field.name)) print_field(field.name, *value);
    }
  }
  for (const auto& [name, value] : record.fields) {
    const bool known = spec && spec->field(name);
    if (!known && !value.is_null()) print_field(name, value);
  }
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      line += row[column];
      if (column + 1 < row.size())
        line += std::string(widths[column] - row[column].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_json(const nlohmann::json& json) {
  const std::string text = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
}

}  // namespace fieldsync::cli
