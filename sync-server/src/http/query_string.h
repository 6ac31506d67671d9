// The query string of a request ("actor=admin%3Aab12&limit=50") as named parameters: split on
// '&' and '=', '+' read as a space, percent-escapes decoded. For the filters of list routes.
//
// Thread-safety: a pure function.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace fieldsync::server::http {

using QueryParams = std::map<std::string, std::string, std::less<>>;

// Throws Error(kInvalidArgument) for a broken percent-escape or a name given twice.
QueryParams parse_query(std::string_view query);

}  // namespace fieldsync::server::http
