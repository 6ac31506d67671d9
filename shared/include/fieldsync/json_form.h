// JSON forms of fieldsync's ids, values, versions and changes, with the conventions every JSON of
// fieldsync follows (DESIGN.md section 7): int64 beyond 2^53 as a decimal string, bytes as base64,
// dates YYYY-MM-DD, timestamps RFC 3339 UTC, ids as UUID text. The wire's JSON form is built on
// them, and the C API uses them for the records that cross it as JSON.
//
// The *_from_json functions throw Error(kMalformed) naming what is wrong and where (never quoting
// content, which may be case data), or Error(kTooLarge) past a DecodeLimits cap.
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fieldsync/change.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync {

// Beyond this magnitude a reader that holds numbers as doubles (JavaScript) would round them, so
// such integers travel as decimal strings.
inline constexpr std::int64_t kMaxJsonSafeInteger = std::int64_t{1} << 53;

nlohmann::json int_to_json(std::int64_t value);
nlohmann::json uint_to_json(std::uint64_t value);
// Accept a JSON integer or a decimal string; `what` names the value in errors.
std::int64_t int_from_json(const nlohmann::json& json, std::string_view what);
std::uint64_t uint_from_json(const nlohmann::json& json, std::string_view what);

// Standard alphabet, padded. from_base64 is strict: nullopt for anything else.
std::string to_base64(std::string_view bytes);
std::optional<std::string> from_base64(std::string_view text);

// A value's content alone, for callers that know its type from elsewhere (a schema field): JSON
// null, a boolean, a number, or a string in the conventions above.
nlohmann::json value_content_to_json(const Value& value);
Value value_content_from_json(const nlohmann::json& json, ValueType type,
                              const DecodeLimits& limits = {});

// A self-describing value: {"type":"date","value":"2024-03-01"}; a null is {"type":"null"}.
nlohmann::json value_to_json(const Value& value);
Value value_from_json(const nlohmann::json& json, const DecodeLimits& limits = {});

// {"ms":1700000000000,"counter":3,"origin":"0190..."}
nlohmann::json version_to_json(const Version& version);
Version version_from_json(const nlohmann::json& json);

// Every member of Change under its own name: the value self-describing, the base a list of
// versions, the ids as UUID text.
nlohmann::json change_to_json(const Change& change);
Change change_from_json(const nlohmann::json& json, const DecodeLimits& limits = {});

// nlohmann's hooks, so that nlohmann::json(x) and json.get<T>() work (with the default limits).
void to_json(nlohmann::json& json, const Uuid& id);
void from_json(const nlohmann::json& json, Uuid& id);
inline void to_json(nlohmann::json& json, const Value& value) {
  json = value_to_json(value);
}
inline void from_json(const nlohmann::json& json, Value& value) {
  value = value_from_json(json);
}
inline void to_json(nlohmann::json& json, const Version& version) {
  json = version_to_json(version);
}
inline void from_json(const nlohmann::json& json, Version& version) {
  version = version_from_json(json);
}
inline void to_json(nlohmann::json& json, const Change& change) {
  json = change_to_json(change);
}
inline void from_json(const nlohmann::json& json, Change& change) {
  change = change_from_json(json);
}

}  // namespace fieldsync
