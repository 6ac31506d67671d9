// Dashboard sessions (docs/http-api.md, "Dashboard sessions"): log in with an admin token to get
// an HttpOnly, SameSite=Strict session cookie (Secure when the server is reached over TLS), ask
// who is logged in (and the session's CSRF token), log out. See admin_routes.h for why the CSRF
// token and the cookie's attributes together keep other sites from acting through a session.
#include "admin_routes.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "route_access.h"

namespace fieldsync::server {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

json login_json(const AdminIdentity& admin) {
  return {{"name", admin.token.name},
          {"roles", admin.token.roles},
          {"by_session", admin.by_session},
          {"expires_at_ms", admin.expires_at_ms == 0 ? json(nullptr) : json(admin.expires_at_ms)}};
}

// Session answers carry the CSRF token: no cache may keep them.
Response session_answer(const json& body) {
  Response response = http::json_response(200, body);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

Response log_in(ServerContext& context, const Request& request) {
  const json body =
      request.body.empty() ? json::object() : parse_json_argument(request.body, "the login");
  if (!body.is_object())
    throw Error(ErrorCode::kInvalidArgument, "the login must be a JSON object");
  const std::string token = text_member(body, "token", true);
  const OpenedAdminSession session = retry_lost_races([&] {
    auto tx = context.storage.begin();
    OpenedAdminSession opened =
        authenticated(context, tx, request, "admin", [&](StorageTransaction& open) {
          return context.credentials.open_admin_session(open, token, request.remote_address);
        });
    context.audit.admin_route(*tx, opened.admin, request.remote_address, "admin.session.open",
                              login_json(opened.admin));
    tx->commit();
    return opened;
  });
  context.log.info("admin_login", {{"admin", session.admin.token.name}});
  json answer = login_json(session.admin);
  answer["csrf_token"] = Credentials::csrf_token_for(session.secret);
  Response response = session_answer(answer);
  const std::int64_t max_age_s = (session.admin.expires_at_ms - session.opened_at_ms) / 1000;
  response.headers.emplace_back(
      "Set-Cookie",
      session_cookie_header(session.secret, max_age_s, context.options.secure_cookies));
  return response;
}

Response who_is_logged_in(ServerContext& context, const Request& request) {
  const AdminIdentity admin = retry_lost_races([&] {
    auto tx = context.storage.begin();
    return authenticated(context, tx, request, "admin", [&](StorageTransaction& open) {
      return authenticate_admin_request(context, open, request);
    });
  });
  json answer = login_json(admin);
  if (admin.by_session)
    answer["csrf_token"] = Credentials::csrf_token_for(session_cookie_of(request).value_or(""));
  return session_answer(answer);
}

Response log_out(ServerContext& context, const Request& request) {
  if (!session_cookie_of(request)) {
    throw Error(ErrorCode::kUnauthorized, "there is no dashboard session to log out of");
  }
  const AdminIdentity admin = retry_lost_races([&] {
    auto tx = context.storage.begin();
    AdminIdentity closing =
        authenticated(context, tx, request, "admin", [&](StorageTransaction& open) {
          return authenticate_admin_session_request(context, open, request);
        });
    context.credentials.close_admin_session(*tx, *session_cookie_of(request));
    context.audit.admin_route(*tx, closing, request.remote_address, "admin.session.close",
                              {{"logged_out", true}});
    tx->commit();
    return closing;
  });
  context.log.info("admin_logout", {{"admin", admin.token.name}});
  Response response = session_answer({{"logged_out", true}});
  response.headers.emplace_back("Set-Cookie",
                                session_cookie_header("", 0, context.options.secure_cookies));
  return response;
}

}  // namespace

void add_admin_session_routes(http::Router& router, ServerContext& context) {
  router.add({"POST",
              "/v1/admin/session",
              "admin.session.open",
              [&context](const Request& request, const http::PathParams&) {
                return log_in(context, request);
              },
              {"application/json"}});
  router.add({"GET", "/v1/admin/session", "admin.session.show",
              [&context](const Request& request, const http::PathParams&) {
                return who_is_logged_in(context, request);
              }});
  router.add({"DELETE", "/v1/admin/session", "admin.session.close",
              [&context](const Request& request, const http::PathParams&) {
                return log_out(context, request);
              }});
}

}  // namespace fieldsync::server
