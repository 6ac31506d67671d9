// Matching paths against patterns and calling handlers. Thread-safe once built: dispatch reads.
#include "http/router.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "fieldsync/error.h"
#include "http/error_mapping.h"

namespace fieldsync::server::http {

namespace {

struct PatternSegment {
  std::string text;  // the literal, or the parameter's name
  bool is_parameter;
};

// "/a/b" -> {"a", "b"}; "/" -> {""}. The caller has checked the leading '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return segments;
    start = slash + 1;
  }
}

[[noreturn]] void throw_bad_pattern(const std::string& pattern, std::string_view why) {
  throw Error(ErrorCode::kInvalidArgument,
              "route pattern \"" + pattern + "\": " + std::string(why));
}

PatternSegment parse_segment(std::string_view text, const std::string& pattern) {
  const bool opens = text.starts_with('{');
  const bool closes = text.ends_with('}');
  if (opens && closes && text.size() > 2) {
    const std::string_view name = text.substr(1, text.size() - 2);
    if (name.find_first_of("{}") != std::string_view::npos) {
      throw_bad_pattern(pattern, "a parameter name holds a brace");
    }
    return {std::string(name), true};
  }
  if (text.find_first_of("{}") != std::string_view::npos) {
    throw_bad_pattern(pattern, "a parameter must be a whole segment: {name}");
  }
  if (text.empty()) throw_bad_pattern(pattern, "an empty segment");
  return {std::string(text), false};
}

// A trailing '/' is kept as a last, empty literal segment: "/admin/" matches only "/admin/".
std::vector<PatternSegment> parse_pattern(const std::string& pattern) {
  if (!pattern.starts_with('/')) throw_bad_pattern(pattern, "it must start with '/'");
  if (pattern == "/") return {{"", false}};

  std::vector<PatternSegment> segments;
  std::set<std::string, std::less<>> parameter_names;
  const std::vector<std::string_view> texts = split_path(pattern);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty() && i + 1 == texts.size()) {
      segments.push_back({"", false});
      break;
    }
    PatternSegment segment = parse_segment(texts[i], pattern);
    if (segment.is_parameter && !parameter_names.insert(segment.text).second) {
      throw_bad_pattern(pattern, "a parameter name is used twice");
    }
    segments.push_back(std::move(segment));
  }
  return segments;
}

// "application/json; charset=utf-8" -> "application/json".
std::string_view media_type_of(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return type;
}

// HEAD is answered by the GET route of the path (RFC 9110 9.3.2): the same status and headers;
// the HTTP layer leaves the body out.
bool serves_method(const Route& route, const std::string& method) {
  return route.method == method || (method == "HEAD" && route.method == "GET");
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

}  // namespace

struct Router::CompiledRoute {
  Route route;
  std::vector<PatternSegment> segments;

  bool matches(const std::vector<std::string_view>& path, PathParams& params) const {
    if (path.size() != segments.size()) return false;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (!segments[i].is_parameter) {
        if (segments[i].text != path[i]) return false;
      } else if (path[i].empty()) {
        return false;
      } else {
        params.insert_or_assign(segments[i].text, std::string(path[i]));
      }
    }
    return true;
  }

  // Both routes matched the same path, so they have as many segments.
  bool more_specific_than(const CompiledRoute& other) const {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (segments[i].is_parameter != other.segments[i].is_parameter) {
        return !segments[i].is_parameter;
      }
    }
    return false;
  }

  // Both serve `method` on the same path: the more specific wins, then a route of that very method
  // over a GET standing in for HEAD.
  bool better_for(const std::string& method, const CompiledRoute& other) const {
    if (more_specific_than(other)) return true;
    if (other.more_specific_than(*this)) return false;
    return route.method == method && other.route.method != method;
  }

  bool takes_body_of(const Request& request) const {
    if (route.accepts.empty() || request.body.empty()) return true;
    const std::string_view media_type = media_type_of(request.header("Content-Type").value_or(""));
    return std::ranges::any_of(route.accepts, [media_type](const std::string& accepted) {
      return header_names_equal(accepted, media_type);  // media types are case-insensitive too
    });
  }
};

Router::Router(std::shared_ptr<ServerLog> log)
    : log_(log ? std::move(log) : ServerLog::standard_error()) {}

Router::~Router() = default;

void Router::add(Route route) {
  if (route.method.empty()) throw Error(ErrorCode::kInvalidArgument, "a route needs a method");
  if (!route.handler) throw Error(ErrorCode::kInvalidArgument, "a route needs a handler");
  std::vector<PatternSegment> segments = parse_pattern(route.pattern);
  for (const auto& existing : routes_) {
    if (existing->route.method == route.method && existing->route.pattern == route.pattern) {
      throw Error(ErrorCode::kInvalidArgument,
                  "route " + route.method + " " + route.pattern + " is already added");
    }
  }
  routes_.push_back(std::make_unique<CompiledRoute>(std::move(route), std::move(segments)));
}

Response Router::dispatch(const Request& request) const {
  if (!request.path.starts_with('/')) return error_response(ErrorCode::kNotFound, "no such route");
  const std::vector<std::string_view> path = split_path(request.path);

  const CompiledRoute* chosen = nullptr;
  PathParams chosen_params;
  std::vector<std::string> other_methods;
  for (const auto& candidate : routes_) {
    PathParams params;
    if (!candidate->matches(path, params)) continue;
    if (!serves_method(candidate->route, request.method)) {
      if (std::ranges::find(other_methods, candidate->route.method) == other_methods.end()) {
        other_methods.push_back(candidate->route.method);
      }
    } else if (!chosen || candidate->better_for(request.method, *chosen)) {
      chosen = candidate.get();
      chosen_params = std::move(params);
    }
  }

  if (chosen) return call_handler(*chosen, request, chosen_params);
  if (other_methods.empty()) return error_response(ErrorCode::kNotFound, "no such route");
  const bool takes_get = std::ranges::find(other_methods, "GET") != other_methods.end();
  if (takes_get && std::ranges::find(other_methods, "HEAD") == other_methods.end()) {
    other_methods.push_back("HEAD");
  }
  Response response = error_response(ProtocolError::kMethodNotAllowed,
                                     "this path takes " + join(other_methods, ", "));
  response.headers.emplace_back("Allow", join(other_methods, ", "));
  return response;
}

Response Router::call_handler(const CompiledRoute& route, const Request& request,
                              const PathParams& params) const {
  Response response = route.takes_body_of(request)
                          ? run_handler(route, request, params)
                          : error_response(ProtocolError::kUnsupportedMediaType,
                                           "this route takes " + join(route.route.accepts, " or "));
  response.route_name = route.route.name;
  return response;
}

Response Router::run_handler(const CompiledRoute& route, const Request& request,
                             const PathParams& params) const {
  try {
    return route.route.handler(request, params);
  } catch (const std::exception& error) {
    Response response = error_response(error);
    if (response.status >= 500) log_failure(route, response.status, describe_for_log(error));
    return response;
  } catch (...) {
    Response response = error_response(ErrorCode::kInternal, std::string(kGenericInternalMessage));
    log_failure(route, response.status, "a thrown value that is not a std::exception");
    return response;
  }
}

void Router::log_failure(const CompiledRoute& route, int status, const std::string& cause) const {
  log_->error("handler_failed",
              {{"route", route.route.name}, {"status", status}, {"cause", cause}});
}

std::vector<RouteSignature> Router::routes() const {
  std::vector<RouteSignature> signatures;
  signatures.reserve(routes_.size());
  for (const auto& compiled : routes_) {
    signatures.push_back({compiled->route.method, compiled->route.pattern, compiled->route.name});
  }
  return signatures;
}

}  // namespace fieldsync::server::http
