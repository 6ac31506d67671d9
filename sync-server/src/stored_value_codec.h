// How the server's storage backends keep, in one column each, what is not a column of its own: a
// change's value and base in a compact, stable byte form (a type byte, then the content; a base as
// 24-byte versions), a device's telemetry as JSON, an admin token's roles as a comma-separated
// list, a rejection in the wire's binary form (and the search patterns both backends use). Stable
// because it is written to disk: new value types may be appended, existing forms never change.
// Decoding checks every length and gives Error(kIntegrity) for bytes that are not such a form
// (telemetry that is not JSON reads as empty).
// Thread-safe: no shared state.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/change.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync::server {

Bytes encode_stored_value(const Value& value);
Value decode_stored_value(std::span<const std::uint8_t> bytes);

Bytes encode_stored_base(const VersionSet& base);
VersionSet decode_stored_base(std::span<const std::uint8_t> bytes);

std::string encode_stored_telemetry(const Telemetry& telemetry);
Telemetry decode_stored_telemetry(const std::string& text);

std::string encode_stored_roles(const std::vector<std::string>& roles);
std::vector<std::string> decode_stored_roles(const std::string& joined);

Bytes encode_stored_rejection(const Rejection& rejection);
Rejection decode_stored_rejection(std::span<const std::uint8_t> bytes);

// For the admins' device search, on either backend: a LIKE pattern (ESCAPE '\\') that finds
// `text`, lower-cased, anywhere or at the start only; and `text` without one character.
std::string like_pattern(std::string_view text, bool prefix_only);
std::string without(std::string_view text, char dropped);

}  // namespace fieldsync::server
