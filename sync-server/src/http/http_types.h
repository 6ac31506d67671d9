// The server's view of one HTTP exchange: a Request as handlers see it and the Response they
// return, free of Boost.Beast so that handlers and their tests need no networking headers.
// HttpServer turns wire messages into these and back; Router dispatches on them.
//
// Thread-safety: plain values. A Request is read by one handler at a time; nothing is shared.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::server::http {

// Header fields in the order they came; names keep their spelling, so compare them with
// header_names_equal (HTTP field names are case-insensitive). A name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

// What the HTTP layer refuses by itself, before any route sees a request (HttpServerOptions::
// on_refusal hears of each). The names are metric labels: append only.
enum class Refusal {
  kMalformed,        // 400: not valid HTTP/1.1
  kHeadersTooLarge,  // 413: the headers are over 16 KB
  kBodyTooLarge,     // 413: the body is over max_body_bytes
  kRequestTimeout,   // 408: the request did not arrive whole within request_timeout
  kConnectionLimit,  // 503: max_connections were open already
};
inline constexpr std::array<std::string_view, 5> kRefusalNames = {
    "malformed", "headers_too_large", "body_too_large", "request_timeout", "connection_limit"};
inline std::string_view to_string(Refusal refusal) {
  return kRefusalNames[static_cast<std::size_t>(refusal)];
}

bool header_names_equal(std::string_view a, std::string_view b);

// The first value of the field `name` (any case), or nullopt when it is absent.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // as sent, case-sensitive: "GET", "POST"
  std::string path;    // the target up to '?': "/v1/admin/devices/0190.../revoke"
  std::string query;   // after '?', without it; empty when there is none
  Headers headers;
  std::string body;
  std::string remote_address;  // the peer's IP address, for logs and per-address rate limits

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

struct Response {
  int status = 200;
  std::string content_type;  // sent as Content-Type when not empty
  Headers headers;           // extra fields; the server sets Content-Length and Connection itself
  std::string body;
  // Which route answered, for the access log and metrics; never sent. Router::dispatch fills
  // it; empty means no route matched.
  std::string route_name;

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

inline constexpr std::string_view kJsonContentType = "application/json";

// A response whose body is `body` serialised, typed application/json. Strings that are not
// valid UTF-8 are written with U+FFFD in place of the bad bytes rather than failing the answer.
Response json_response(int status, const nlohmann::json& body);

}  // namespace fieldsync::server::http
