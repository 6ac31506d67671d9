// How the server's storage backends keep a change's value and base in one column each: a compact,
// stable byte form (a type byte, then the content; a base as 24-byte versions). Stable because it
// is written to disk: new value types may be appended, existing forms never change.
// Decoding checks every length and gives Error(kIntegrity) for bytes that are not such a form.
// Thread-safe: no shared state.
#pragma once

#include <span>

#include "fieldsync/change.h"

namespace fieldsync::server {

Bytes encode_stored_value(const Value& value);
Value decode_stored_value(std::span<const std::uint8_t> bytes);

Bytes encode_stored_base(const VersionSet& base);
VersionSet decode_stored_base(std::span<const std::uint8_t> bytes);

}  // namespace fieldsync::server
