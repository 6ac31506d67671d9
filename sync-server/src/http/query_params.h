// The query string of a request ("state=stale&q=ab%20c") as names and values: percent-escapes
// decoded, '+' read as a space (HTML forms send spaces so). A name given twice, a bad escape or an
// empty name is refused with Error(kInvalidArgument) naming what is wrong, so a handler never
// guesses which of two values was meant.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace fieldsync::server::http {

using QueryParams = std::map<std::string, std::string, std::less<>>;

QueryParams parse_query(std::string_view query);

}  // namespace fieldsync::server::http
