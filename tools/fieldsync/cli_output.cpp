// Writing for people and for scripts (cli_output.h).
#include "cli_output.h"

#include <cstdio>

namespace fieldsync::cli {
namespace {

constexpr std::size_t kFieldColumn = 26;

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

}  // namespace fieldsync::cli
