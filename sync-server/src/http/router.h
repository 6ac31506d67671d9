// Routes as data: each is a method, a path pattern and a handler, and Router::dispatch picks one
// for a request. HEAD is answered by the path's GET route (the HTTP layer drops the body). A path
// that matches no route is 404, one that matches only for other methods is 405 with Allow (which
// names HEAD wherever GET is taken), a body of a type the route does not take is 415; a handler
// that throws is answered by error_response (error_mapping.h), so every error body has one shape.
//
// Thread-safety: add() all routes before serving; dispatch() and routes() are then safe from any
// number of threads at once (they only read), and handlers are called concurrently.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/http_types.h"
#include "http/server_log.h"

namespace fieldsync::server::http {

// Values of a pattern's "{name}" segments, by name. They are the request's raw segment text (no
// percent-decoding: the ids in this API are hex).
using PathParams = std::map<std::string, std::string, std::less<>>;

using RouteHandler = std::function<Response(const Request&, const PathParams&)>;

struct Route {
  std::string method;   // "GET", "POST": compared exactly, as HTTP methods are case-sensitive
  // "/v1/admin/devices/{id}/revoke": literal segments and {name} segments. A trailing '/' is part
  // of the pattern: "/admin/" and "/admin" are two routes.
  std::string pattern;
  std::string name;     // for logs and metrics: "admin.devices.revoke"
  RouteHandler handler;
  // Media types the route takes for a non-empty body ("application/json"); parameters such as
  // "; charset=utf-8" are ignored. Empty: any type, the handler decides.
  std::vector<std::string> accepts = {};
};

// What routes() lists, for checks against the API description.
struct RouteSignature {
  std::string method;
  std::string pattern;
  std::string name;

  bool operator==(const RouteSignature&) const = default;
};

class Router {
 public:
  // `log` receives a line for each handler failure (500s with their cause); null: stderr.
  explicit Router(std::shared_ptr<ServerLog> log = nullptr);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Throws Error(kInvalidArgument) for a malformed pattern ("{}", "x{id}", no leading '/'), an
  // empty method or handler, or a method and pattern that are already routed.
  void add(Route route);

  // Never throws. When several patterns match, the one with a literal where the others have a
  // parameter (compared from the left) wins: "/devices/stats" before "/devices/{id}".
  Response dispatch(const Request& request) const;

  // In the order added.
  std::vector<RouteSignature> routes() const;

 private:
  struct CompiledRoute;

  Response call_handler(const CompiledRoute& route, const Request& request,
                        const PathParams& params) const;
  Response run_handler(const CompiledRoute& route, const Request& request,
                       const PathParams& params) const;
  void log_failure(const CompiledRoute& route, int status, const std::string& cause) const;

  std::vector<std::unique_ptr<CompiledRoute>> routes_;
  std::shared_ptr<ServerLog> log_;
};

}  // namespace fieldsync::server::http
