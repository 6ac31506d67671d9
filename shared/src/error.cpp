// Names of error domains and codes, for messages and the C API.
#include "fieldsync/error.h"

namespace fieldsync {

std::string_view to_string(ErrorDomain domain) {
  switch (domain) {
    case ErrorDomain::kFieldsync: return "fieldsync";
    case ErrorDomain::kSqlite: return "sqlite";
    case ErrorDomain::kCrypto: return "crypto";
    case ErrorDomain::kNetwork: return "network";
    case ErrorDomain::kHttp: return "http";
    case ErrorDomain::kPosix: return "posix";
  }
  return "unknown";
}

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnsupportedVersion: return "unsupported_version";
    case ErrorCode::kValidation: return "validation";
    case ErrorCode::kFrozen: return "frozen";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIntegrity: return "integrity";
    case ErrorCode::kLocked: return "locked";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kClockSkew: return "clock_skew";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

}  // namespace fieldsync
