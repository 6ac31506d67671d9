// Encoding and decoding of the sync messages in two forms:
//  - binary (application/x-fieldsync): cereal portable binary with class versions; changes are
//    grouped in runs of one write group and one record; ids as 16 bytes; field and collection
//    names as schema indexes (names only for fields the schema does not know); versions delta-
//    encoded against an origin table; integers as varints. A visit of 8 fields costs tens of
//    bytes beyond its values.
//  - JSON (application/json), for debugging and other languages; int64 beyond 2^53 as strings,
//    bytes as base64, dates YYYY-MM-DD, timestamps RFC 3339 UTC.
//
// Decoders never trust a length: every count is checked against the bytes that remain and
// against DecodeLimits before anything is allocated. Malformed input gives Error(kMalformed),
// over-cap input Error(kTooLarge), an unknown protocol major Error(kUnsupportedVersion).
// All functions are thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fieldsync/schema.h"
#include "fieldsync/sync_messages.h"

namespace fieldsync {

inline constexpr std::string_view kBinaryContentType = "application/x-fieldsync";
inline constexpr std::string_view kJsonContentType = "application/json";

struct DecodeLimits {
  std::size_t max_body_bytes = 32u << 20;   // whole message
  std::size_t max_changes = 200'000;        // changes in one message, all lists together
  std::size_t max_write_groups = 20'000;
  std::size_t max_string_bytes = 4u << 20;  // one text or bytes value
  std::size_t max_base_versions = 64;       // versions in one change's base
  std::size_t max_list_items = 100'000;     // any other list (acks, directives, ...)
  std::size_t max_json_depth = 32;
};

enum class WireFormat { kBinary, kJson };

std::string encode_request(const SyncRequest& request, WireFormat format,
                           const Schema& schema = Schema::domain());
std::string encode_response(const SyncResponse& response, WireFormat format,
                            const Schema& schema = Schema::domain());
SyncRequest decode_request(std::string_view body, WireFormat format,
                           const DecodeLimits& limits = {},
                           const Schema& schema = Schema::domain());
SyncResponse decode_response(std::string_view body, WireFormat format,
                             const DecodeLimits& limits = {},
                             const Schema& schema = Schema::domain());

}  // namespace fieldsync
