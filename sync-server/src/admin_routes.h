// How the admin API's routes are declared and guarded (docs/http-api.md, "Admin"). Each route
// names the roles that may call it; a call is authenticated by a bearer admin token (scripts,
// fieldsync-admin) or by a dashboard session cookie, and runs in one storage transaction.
//
// A cookie is sent by the browser on its own, so a change asked for through a session must also
// carry the session's CSRF token in the X-CSRF-Token header: a page of another site can neither
// read that token nor (without a CORS preflight, which this server never approves) send a custom
// header. The cookie is SameSite=Strict as well, so another site's request does not carry it.
//
// Threading: the route table is built once; handlers run on any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "credentials.h"
#include "http/router.h"
#include "server_app.h"

namespace fieldsync::server {

inline constexpr std::string_view kSessionCookieName = "fieldsync_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// What an admin route's handler gets.
struct AdminCall {
  ServerContext& server;
  StorageTransaction& tx;
  const AdminIdentity& admin;
  const http::Request& request;
  const http::PathParams& params;
  const nlohmann::json& body;  // a POST's JSON object ({} when it sent none); null for a GET
};

struct AdminRoute {
  std::string method;
  std::string pattern;
  std::string name;                // "admin.devices.list"
  std::vector<std::string> roles;  // any one of them grants the route; empty: any admin
  nlohmann::json (*handler)(const AdminCall& call);
};

// A text member of a JSON body, at most 200 bytes, without NUL; Error(kInvalidArgument) naming it
// when it is required and missing or empty, or not a string.
std::string text_member(const nlohmann::json& body, const char* name, bool required);

// Adds `routes`: each answers 200 with its handler's JSON, committed, or an error (401 without a
// valid login, 403 without one of the route's roles or, through a session, without the CSRF
// header on a change).
void add_admin_route_table(http::Router& router, ServerContext& context,
                           std::span<const AdminRoute> routes);

// The admin behind a request: its bearer token if it has an Authorization header, else its
// session cookie (checking the CSRF header unless the method is GET). Throws Error(kUnauthorized),
// Error(kForbidden) or RateLimitedError.
AdminIdentity authenticate_admin_request(ServerContext& context, StorageTransaction& tx,
                                         const http::Request& request);

// The admin behind a request's session cookie, checking the CSRF header unless the method is GET.
AdminIdentity authenticate_admin_session_request(ServerContext& context, StorageTransaction& tx,
                                                 const http::Request& request);

// The session secret in the request's Cookie header, if any.
std::optional<std::string> session_cookie_of(const http::Request& request);

// A Set-Cookie value for the session cookie: the secret, or empty with Max-Age=0 to delete it.
std::string session_cookie_header(std::string_view secret, std::int64_t max_age_s, bool secure);

}  // namespace fieldsync::server
