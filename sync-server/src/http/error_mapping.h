// The one place where errors become HTTP answers: the table of docs/http-api.md ("Errors").
// Handlers throw fieldsync::Error (or RateLimitedError); Router::dispatch and HttpServer call
// error_response, and nothing else in the server chooses an error status or writes an error body.
// Every answer is JSON: {"error": "<stable name>", "message": "<a sentence for a person>"}.
//
// Thread-safe: pure functions of their arguments.
#pragma once

#include <chrono>
#include <exception>
#include <string>

#include "fieldsync/error.h"
#include "http/http_types.h"

namespace fieldsync::server::http {

// Errors about the HTTP exchange itself, which have no fieldsync::ErrorCode because no layer
// below HTTP can produce them. (Too large, not found and malformed HTTP use kTooLarge, kNotFound
// and kMalformed.)
enum class ProtocolError {
  kMethodNotAllowed,      // 405: the path exists for other methods (the caller adds Allow)
  kUnsupportedMediaType,  // 415: a Content-Type the route does not take
  kRequestTimeout,        // 408: the request did not arrive whole in time
};

// Too many attempts: the client must wait `retry_after` before trying again (429, Retry-After).
class RateLimitedError : public Error {
 public:
  RateLimitedError(std::chrono::seconds retry_after, std::string message)
      : Error(ErrorCode::kRateLimited, std::move(message)), retry_after_(retry_after) {}

  std::chrono::seconds retry_after() const noexcept { return retry_after_; }

 private:
  std::chrono::seconds retry_after_;
};

// Retry-After for a 503, and for a 429 that came without its own wait. Retry-After is never
// below this: a zero would invite a client to retry in a tight loop.
inline constexpr std::chrono::seconds kMinimumRetryAfter{1};

// The answer for a fieldsync error code. Codes the table does not list (integrity, locked,
// clock_skew: faults if they reach HTTP) become 500 "internal" and their message is replaced by a
// generic one. For the listed codes `message` is sent as given, so it must never quote data.
Response error_response(ErrorCode code, std::string message);

// The answer for an error of the HTTP exchange.
Response error_response(ProtocolError error, std::string message);

// The answer for anything a handler threw. A fieldsync::Error of the kFieldsync domain maps by its
// code (a RateLimitedError carries its own Retry-After); any other exception, including Errors of
// other domains (SQLite, OpenSSL), is a 500 "internal" with a generic message, because its text
// may quote data.
Response error_response(const std::exception& error);

// What may be logged about an exception: a fieldsync::Error's message (which by rule never quotes
// data), or only the type of any other exception (a JSON parser's message quotes what it read).
std::string describe_for_log(const std::exception& error);

// The message sent in place of one that may not be shown.
inline constexpr std::string_view kGenericInternalMessage =
    "the server failed to answer this request; the fault is logged";

}  // namespace fieldsync::server::http
