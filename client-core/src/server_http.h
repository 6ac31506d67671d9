// The client's side of the server's HTTP contract (docs/http-api.md), shared by enrolment and the
// sync engine: endpoint URLs, reading error answers, temporary statuses and response formats.
// Private to client-core. Thread-safe: no state.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::client {

// `server_url` ("https://host[:port]", a trailing slash allowed) joined with `path` ("/v1/sync").
// Throws Error(kInvalidArgument) unless the scheme is https, or http to a loopback address
// (tests and the demo only: DESIGN.md section 5).
std::string server_endpoint(std::string_view server_url, std::string_view path);

// 429 and 5xx: worth another attempt after a wait. Every other non-2xx status is final.
bool is_temporary_status(int status);

// An answer that is not a success: the server's {"error": name, "message": ...} body, when it
// sent one (a proxy's answer may hold anything), and its Retry-After.
struct ErrorAnswer {
  int status = 0;
  std::string name;     // the server's stable name ("unauthorized"), or empty
  std::string message;  // its sentence for a person, cut short, or empty
  std::optional<std::chrono::milliseconds> retry_after;

  // A name that is one of fieldsync's codes gives that code (ErrorCode::kUnauthorized); any other
  // gives ErrorDomain::kHttp with the status. The message reads "HTTP 429 rate_limited: too many
  // attempts (try again in 60 s)".
  Error to_error() const;
};
ErrorAnswer read_error_answer(const platform::HttpResponse& response,
                              std::chrono::system_clock::time_point now);

// The wire form of a sync answer, from its Content-Type. Throws Error(kMalformed) for anything
// else (a captive portal's or a proxy's page).
WireFormat answer_format(const platform::HttpResponse& response);

std::string_view content_type_of(WireFormat format);

}  // namespace fieldsync::client
