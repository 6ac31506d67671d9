// JSON forms of records' fields and of JSON arguments. See json_fields.h.
#include "fieldsync/json_fields.h"

#include <optional>

#include "fieldsync/error.h"
#include "fieldsync/json_form.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync {
namespace {

using nlohmann::json;

[[noreturn]] void throw_invalid(std::string message) {
  throw Error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string member_path(std::string_view parent, std::string_view member) {
  return std::string(parent) + "." + std::string(member);
}

// What a field of `type` looks like in JSON, for error messages.
std::string_view expected_form(ValueType type) {
  switch (type) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return "true or false";
    case ValueType::kInt: return "an integer (a decimal string beyond 2^53)";
    case ValueType::kDouble: return "a finite number";
    case ValueType::kText: return "a string";
    case ValueType::kDate: return "a date string \"YYYY-MM-DD\"";
    case ValueType::kTimestamp: return "an RFC 3339 timestamp string (\"2024-03-01T09:30:00Z\")";
    case ValueType::kBytes: return "a base64 string";
  }
  return "a value";
}

// The type a field the schema does not know takes from its JSON value alone.
std::optional<ValueType> natural_type(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return ValueType::kNull;
    case json::value_t::boolean: return ValueType::kBool;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return ValueType::kInt;
    case json::value_t::number_float: return ValueType::kDouble;
    case json::value_t::string: return ValueType::kText;
    default: return std::nullopt;
  }
}

// `value` read as `type`; null always clears the field. `path` names the member in errors.
Value field_value_from_json(const json& value, ValueType type, const std::string& path) {
  if (value.is_null()) return Value::null();
  try {
    return value_content_from_json(value, type);
  } catch (const Error& error) {
    if (error.is(ErrorCode::kTooLarge)) {
      throw Error(ErrorCode::kTooLarge, path + ": " + error.what());
    }
    throw_invalid(path + " must be " + std::string(expected_form(type)));
  }
}

}  // namespace

json parse_json_argument(std::string_view text, std::string_view argument) {
  const DecodeLimits limits;
  if (text.size() > limits.max_body_bytes) {
    throw Error(ErrorCode::kTooLarge, std::string(argument) + " is " +
                                          std::to_string(text.size()) +
                                          " bytes, over the limit of " +
                                          std::to_string(limits.max_body_bytes));
  }
  // Nesting is refused as the parser meets it, before a deep document is built.
  const json::parser_callback_t depth_guard = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start ||
         event == json::parse_event_t::array_start) &&
        static_cast<std::size_t>(depth) >= limits.max_json_depth) {
      throw Error(ErrorCode::kTooLarge, std::string(argument) + " is nested deeper than " +
                                            std::to_string(limits.max_json_depth) + " levels");
    }
    return true;
  };
  try {
    return json::parse(text, depth_guard);
  } catch (const json::parse_error& error) {
    // The byte offset only: nlohmann's message quotes the input, which may be case data.
    throw_invalid(std::string(argument) + " is not valid JSON (syntax error at byte " +
                  std::to_string(error.byte) + ")");
  }
}

std::map<std::string, Value> fields_from_json(const json& object, std::string_view collection, const Schema& schema,
                        std::string_view argument) {
  if (!object.is_object()) throw_invalid(std::string(argument) + " must be a JSON object");
  const CollectionSpec* spec = schema.collection(collection);
  std::map<std::string, Value> fields;
  for (const auto& [name, value] : object.items()) {
    if (name.empty()) throw_invalid(std::string(argument) + " has a field with an empty name");
    const std::string path = member_path(argument, name);
    const FieldSpec* field = spec ? spec->field(name) : nullptr;
    std::optional<ValueType> type = field ? std::optional(field->type) : natural_type(value);
    if (!type) {
      throw_invalid(path + " is not in the " + std::string(collection) +
                    " schema, so it must be true, false, a number, a string or null");
    }
    fields.emplace(name, field_value_from_json(value, *type, path));
  }
  return fields;
}

json fields_to_json(const std::map<std::string, Value>& fields) {
  json object = json::object();
  for (const auto& [name, value] : fields) {
    if (!value.is_null()) object[name] = value_content_to_json(value);
  }
  return object;
}

}  // namespace fieldsync
