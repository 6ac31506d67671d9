// What every transport shares: looking up a response header by name, case-insensitively (HTTP
// field names are; HTTP/2 sends them in lower case). Thread-safe: no state.
#include <algorithm>
#include <cctype>

#include "fieldsync/platform/http_transport.h"

namespace fieldsync::platform {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  const auto found = std::find_if(headers.begin(), headers.end(), [&](const auto& header) {
    return same_name(header.first, name);
  });
  return found == headers.end() ? std::string() : found->second;
}

}  // namespace fieldsync::platform
