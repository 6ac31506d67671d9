// Parsing query strings. See query_params.h.
#include "http/query_params.h"

#include "fieldsync/error.h"

namespace fieldsync::server::http {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode_component(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded.push_back(' ');
    } else if (text[i] != '%') {
      decoded.push_back(text[i]);
    } else {
      const int high = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        throw Error(ErrorCode::kInvalidArgument,
                    "the query string has a '%' not followed by two hex digits");
      }
      decoded.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    }
  }
  return decoded;
}

}  // namespace

QueryParams parse_query(std::string_view query) {
  QueryParams params;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2" or a trailing '&'
    const std::size_t equals = std::min(pair.find('='), pair.size());
    std::string name = decode_component(pair.substr(0, equals));
    if (name.empty())
      throw Error(ErrorCode::kInvalidArgument, "the query string has a value without a name");
    std::string value =
        equals < pair.size() ? decode_component(pair.substr(equals + 1)) : std::string();
    if (params.contains(name)) {
      throw Error(ErrorCode::kInvalidArgument, "the query parameter '" + name + "' is given twice");
    }
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

}  // namespace fieldsync::server::http
