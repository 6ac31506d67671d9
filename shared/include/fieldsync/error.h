// The one error type of fieldsync's C++ code: a domain, a code and a message.
//
// Thrown for failures (malformed input, a broken invariant, an I/O error). Expected misses, such
// as "not found" or "nothing to sync", are return values, never exceptions. The C API turns an
// Error into its {domain, code, message} struct at the boundary. Thread-safe: immutable values.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fieldsync {

// Where an error came from. Values are stable: they cross the C API and the wire.
enum class ErrorDomain : std::int32_t {
  kFieldsync = 1,  // fieldsync's own rules (codes below)
  kSqlite = 2,     // an SQLite result code
  kCrypto = 3,     // OpenSSL
  kNetwork = 4,    // transport (libcurl or a shell-supplied transport)
  kHttp = 5,       // an HTTP status from the server
  kPosix = 6,      // errno
};

// Codes of ErrorDomain::kFieldsync. Stable numbers; new codes are only ever appended.
enum class ErrorCode : std::int32_t {
  kInvalidArgument = 1,     // the caller passed something unusable
  kMalformed = 2,           // bytes or text that do not decode
  kTooLarge = 3,            // over a documented cap
  kUnsupportedVersion = 4,  // a protocol, class or store version this build does not know
  kValidation = 5,          // a record breaks a schema rule
  kFrozen = 6,              // an edit of a field frozen by submission
  kNotFound = 7,            // used only where a miss is a failure for the caller
  kIntegrity = 8,           // ciphertext or data failed an integrity check
  kLocked = 9,              // the store is locked
  kIo = 10,                 // a file or database failure
  kClockSkew = 11,          // a stamp too far ahead of the server's time
  kInternal = 12,           // a broken invariant: a bug
  kUnauthorized = 13,       // no valid credentials: a wrong or revoked token, a used enrolment code
  kForbidden = 14,          // valid credentials without the right to do this
  kRateLimited = 15,        // too many failed attempts: wait, then try again
  kConflict = 16,           // the request contradicts what the server already holds
  kUnavailable = 17,        // the service cannot answer now (shutting down, overloaded)
};

std::string_view to_string(ErrorDomain domain);
std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : Error(ErrorDomain::kFieldsync, static_cast<std::int32_t>(code), std::move(message)) {}
  Error(ErrorDomain domain, std::int32_t code, std::string message)
      : std::runtime_error(std::move(message)), domain_(domain), code_(code) {}

  ErrorDomain domain() const noexcept { return domain_; }
  std::int32_t code() const noexcept { return code_; }
  bool is(ErrorCode code) const noexcept {
    return domain_ == ErrorDomain::kFieldsync && code_ == static_cast<std::int32_t>(code);
  }

 private:
  ErrorDomain domain_;
  std::int32_t code_;
};

}  // namespace fieldsync
