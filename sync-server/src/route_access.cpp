// Route access: credentials, roles and the record of refusals. See route_access.h.
#include "route_access.h"

#include <algorithm>

#include "admin_routes.h"
#include "credentials.h"
#include "http/error_mapping.h"

namespace fieldsync::server {
namespace {

std::string authorization_of(const http::Request& request) {
  return std::string(request.header("Authorization").value_or(""));
}

// Writes in a transaction of its own (run again after a lost race). Failing to write must not
// hide the refusal the caller is about to answer with, so a failure is logged instead.
template <class Write>
void append_alone(ServerContext& context, Write write) {
  try {
    run_transaction(context.storage, write);
  } catch (const std::exception& error) {
    context.log.error("audit_write_failed", {{"cause", http::describe_for_log(error)}});
  }
}

}  // namespace

void record_refusal(ServerContext& context, const http::Request& request, std::string_view kind,
                    const Error& refusal) {
  context.metrics.count_refused_authentication(kind);
  if (refusal.is(ErrorCode::kRateLimited)) return;
  const auto* refused = dynamic_cast<const CredentialRefused*>(&refusal);
  append_alone(context, [&](StorageTransaction& tx) {
    context.credentials.count_refusal(tx, request.remote_address,
                                      refused ? refused->account() : std::string());
    context.audit.authentication_failed(tx, kind,
                                        Credentials::claimed_account(authorization_of(request)),
                                        request.remote_address, refusal.what());
  });
}

AdminIdentity authorize_admin(ServerContext& context, std::unique_ptr<StorageTransaction>& tx,
                              const http::Request& request, std::span<const std::string> roles,
                              std::string_view route_name) {
  AdminIdentity admin = authenticated(context, tx, request, "admin", [&](StorageTransaction& open) {
    return authenticate_admin_request(context, open, request);
  });
  if (roles.empty() ||
      std::ranges::any_of(roles, [&](const std::string& role) { return admin.has_role(role); })) {
    return admin;
  }
  std::string needed;
  std::string quoted;
  for (const std::string& role : roles) {
    needed += (needed.empty() ? "" : " or ") + role;
    quoted += (quoted.empty() ? "'" : " or '") + role + "'";
  }
  tx.reset();
  append_alone(context, [&](StorageTransaction& denied) {
    context.audit.access_denied(denied, admin, request.remote_address, needed, route_name);
  });
  throw Error(ErrorCode::kForbidden, "this admin lacks the " + quoted + " role");
}

AdminIdentity authorize_admin(ServerContext& context, std::unique_ptr<StorageTransaction>& tx,
                              const http::Request& request, std::string_view role,
                              std::string_view route_name) {
  const std::string roles[] = {std::string(role)};
  return authorize_admin(context, tx, request, roles, route_name);
}

}  // namespace fieldsync::server
