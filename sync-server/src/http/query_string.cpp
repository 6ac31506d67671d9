// Parsing query strings. See query_string.h.
#include "http/query_string.h"

#include "fieldsync/error.h"

namespace fieldsync::server::http {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] != '%') {
      out.push_back(text[i]);
    } else {
      const int high = i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
      const int low = high >= 0 ? hex_digit(text[i + 2]) : -1;
      if (low < 0)
        throw Error(ErrorCode::kInvalidArgument, "the query string has a broken %-escape");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    }
  }
  return out;
}

}  // namespace

QueryParams parse_query(std::string_view query) {
  QueryParams params;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t equals = pair.find('=');
    std::string name = decoded(pair.substr(0, equals));
    std::string value =
        equals == std::string_view::npos ? std::string() : decoded(pair.substr(equals + 1));
    if (params.contains(name)) {
      throw Error(ErrorCode::kInvalidArgument, "a query parameter is given twice");
    }
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

}  // namespace fieldsync::server::http
