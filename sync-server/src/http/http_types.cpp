// Header look-ups and JSON answers for the HTTP layer's plain types. Thread-safe: no state.
#include "http/http_types.h"

#include <algorithm>

namespace fieldsync::server::http {

namespace {

// ASCII only: field names are tokens, and locale-dependent tolower has no place in a protocol.
char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool header_names_equal(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  const auto found = std::ranges::find_if(
      headers, [name](const auto& field) { return header_names_equal(field.first, name); });
  if (found == headers.end()) return std::nullopt;
  return found->second;
}

Response json_response(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.content_type = kJsonContentType;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace fieldsync::server::http
