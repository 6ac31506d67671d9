// The two wire forms behind wire_codec.h (binary in wire_binary.cpp, JSON in wire_json.cpp), and
// the checks every decoder makes before it reads a message. Private to shared/; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fieldsync/error.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync {

namespace wire_binary {
std::string encode(const SyncRequest& request, const Schema& schema);
std::string encode(const SyncResponse& response, const Schema& schema);
SyncRequest decode_request(std::string_view body, const DecodeLimits& limits, const Schema& schema);
SyncResponse decode_response(std::string_view body, const DecodeLimits& limits,
                             const Schema& schema);
}  // namespace wire_binary

namespace wire_json {
std::string encode(const SyncRequest& request);
std::string encode(const SyncResponse& response);
SyncRequest decode_request(std::string_view body, const DecodeLimits& limits);
SyncResponse decode_response(std::string_view body, const DecodeLimits& limits);
}  // namespace wire_json

// Dates and timestamps of the years 0001-9999: all that YYYY-MM-DD and RFC 3339 can write. Both
// forms accept only these, so that any message one form accepts, the other can carry.
inline bool is_wire_date(std::int64_t days_since_epoch) {
  static const std::int64_t kFirst = date_from_civil(1, 1, 1).days_since_epoch;
  static const std::int64_t kLast = date_from_civil(9999, 12, 31).days_since_epoch;
  return kFirst <= days_since_epoch && days_since_epoch <= kLast;
}

inline bool is_wire_timestamp(std::int64_t unix_ms) {
  constexpr std::int64_t kMsPerDay = 86'400'000;
  return is_wire_date(unix_ms / kMsPerDay - (unix_ms % kMsPerDay < 0 ? 1 : 0));
}

// Checked before anything else is read, so that a huge body costs no parsing.
inline void check_body_size(std::string_view body, const DecodeLimits& limits) {
  if (body.size() > limits.max_body_bytes) {
    throw Error(ErrorCode::kTooLarge, "the message is " + std::to_string(body.size()) +
                                          " bytes, over the limit of " +
                                          std::to_string(limits.max_body_bytes));
  }
}

// A peer that speaks another major version gets an error that says so, not a parse failure.
inline void check_protocol(const ProtocolVersion& protocol) {
  if (protocol.major != kProtocolVersion.major) {
    throw Error(ErrorCode::kUnsupportedVersion, "sync protocol " + std::to_string(protocol.major) +
                                                    "." + std::to_string(protocol.minor) +
                                                    " is not supported: this build speaks " +
                                                    std::to_string(kProtocolVersion.major) + ".x");
  }
}

}  // namespace fieldsync
