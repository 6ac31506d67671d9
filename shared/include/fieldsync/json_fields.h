// JSON forms of a record's fields and of JSON text given as an argument, shared by the C API
// (records cross it as JSON) and the server's admin API (cases created from JSON), so both read
// every field type the same way. Conventions as in json_form.h.
//
// Errors name the argument and member at fault and never quote content (it may be case data):
// Error(kInvalidArgument) for the wrong shape or type, Error(kTooLarge) past DecodeLimits.
// Thread-safe: no shared state.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fieldsync/schema.h"
#include "fieldsync/value.h"

namespace fieldsync {

// Parses JSON text passed as `argument` (its name in errors), refusing text over
// DecodeLimits::max_body_bytes and nesting deeper than DecodeLimits::max_json_depth.
nlohmann::json parse_json_argument(std::string_view text, std::string_view argument);

// The fields of a `collection` record from a JSON object. A field the schema knows must hold its
// declared type (or null, which clears it); a field it does not know maps JSON booleans, integers,
// other numbers, strings and null to bool, int, double, text and null.
std::map<std::string, Value> fields_from_json(const nlohmann::json& object,
                                              std::string_view collection, const Schema& schema,
                                              std::string_view argument);
// Natural JSON values; unset (null) fields are left out.
nlohmann::json fields_to_json(const std::map<std::string, Value>& fields);

}  // namespace fieldsync
