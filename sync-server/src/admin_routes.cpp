// Admin route guarding: authentication by token or session, the CSRF check, roles, one
// transaction per call. See admin_routes.h.
#include "admin_routes.h"

#include <algorithm>
#include <utility>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "route_access.h"

namespace fieldsync::server {
namespace {

using nlohmann::json;

bool is_read(const http::Request& request) {
  return request.method == "GET" || request.method == "HEAD";
}

json body_of(const http::Request& request) {
  if (request.method != "POST") return nullptr;
  json body =
      request.body.empty() ? json::object() : parse_json_argument(request.body, "the request body");
  if (!body.is_object())
    throw Error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  return body;
}

}  // namespace

std::string text_member(const json& body, const char* name, bool required) {
  constexpr std::size_t kMaxBytes = 200;
  const auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required)
      throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" is required");
    return {};
  }
  if (!found->is_string())
    throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" must be a string");
  const auto& text = found->get_ref<const std::string&>();
  // Names are text: a storage backend may hold them as such (PostgreSQL's text has no NUL).
  if (text.find('\0') != std::string::npos) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("\"") + name + "\" must not contain NUL characters");
  }
  if (text.size() > kMaxBytes) {
    throw Error(ErrorCode::kTooLarge, std::string("\"") + name + "\" is longer than " +
                                          std::to_string(kMaxBytes) + " bytes");
  }
  if (required && text.empty())
    throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" is empty");
  return text;
}

std::optional<std::string> session_cookie_of(const http::Request& request) {
  const std::string_view cookies = request.header("Cookie").value_or("");
  std::size_t start = 0;
  while (start < cookies.size()) {
    const std::size_t end = std::min(cookies.find(';', start), cookies.size());
    std::string_view pair = cookies.substr(start, end - start);
    start = end + 1;
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == kSessionCookieName) {
      return std::string(pair.substr(equals + 1));
    }
  }
  return std::nullopt;
}

std::string session_cookie_header(std::string_view secret, std::int64_t max_age_s, bool secure) {
  return std::string(kSessionCookieName) + "=" + std::string(secret) +
         "; Path=/; Max-Age=" + std::to_string(std::max<std::int64_t>(max_age_s, 0)) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

AdminIdentity authenticate_admin_request(ServerContext& context, StorageTransaction& tx,
                                         const http::Request& request) {
  const auto authorization = request.header("Authorization");
  if (authorization || !session_cookie_of(request)) {
    return context.credentials.authenticate_admin(tx, authorization.value_or(""),
                                                  request.remote_address);
  }
  return authenticate_admin_session_request(context, tx, request);
}

AdminIdentity authenticate_admin_session_request(ServerContext& context, StorageTransaction& tx,
                                                 const http::Request& request) {
  const std::string secret = session_cookie_of(request).value_or("");
  AdminIdentity admin =
      context.credentials.authenticate_admin_session(tx, secret, request.remote_address);
  if (!is_read(request)) {
    const std::string expected = Credentials::csrf_token_for(secret);
    const std::string_view sent = request.header(kCsrfHeader).value_or("");
    if (!crypto::constant_time_equal(crypto::as_bytes(sent), crypto::as_bytes(expected))) {
      throw Error(ErrorCode::kForbidden,
                  "a change asked for through a dashboard session must carry "
                  "the session's X-CSRF-Token header");
    }
  }
  return admin;
}

void add_admin_route_table(http::Router& router, ServerContext& context,
                           std::span<const AdminRoute> routes) {
  for (const AdminRoute& route : routes) {
    router.add({route.method, route.pattern, route.name,
                [&context, &route](const http::Request& request, const http::PathParams& params) {
                  // One transaction, run again after a lost race (server_storage.h).
                  auto [admin, answer] = retry_lost_races([&] {
                    auto tx = context.storage.begin();
                    AdminIdentity caller =
                        authorize_admin(context, tx, request, route.roles, route.name);
                    const json body = body_of(request);
                    json result = route.handler({context, *tx, caller, request, params, body});
                    if (!is_read(request)) {
                      context.audit.admin_route(*tx, caller, request.remote_address, route.name,
                                                result);
                    }
                    tx->commit();
                    return std::pair(std::move(caller), std::move(result));
                  });
                  context.log.write(
                      is_read(request) ? http::LogLevel::kDebug : http::LogLevel::kInfo,
                      "admin_action",
                      {{"admin", admin.token.name}, {"route", route.name}, {"path", request.path}});
                  return http::json_response(200, answer);
                },
                route.method == "POST" ? std::vector<std::string>{"application/json"}
                                       : std::vector<std::string>{}});
  }
}

}  // namespace fieldsync::server
