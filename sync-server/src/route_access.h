// Who may call a route: the caller's credential checked, each refusal counted in the metrics and
// written to the audit log, and the admin roles (monitor, manage, enrol). Every handler that
// needs to know its caller goes through here.
//
// A refused attempt's transaction is rolled back, so its count (credentials.h) and its audit entry
// are written in a transaction of its own once the refused one is gone (the SQLite backend has one connection: a second
// transaction in the same thread would wait for ever). Refusals for too many attempts (429) are
// counted but not written: they cost the caller nothing, and anyone could fill the log with them.
//
// Thread-safety: as the ServerContext's parts; any number of handlers at once.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "fieldsync/error.h"
#include "http/http_types.h"
#include "server_app.h"

namespace fieldsync::server {

// Records a refused authentication (`kind`: one of kCredentialKinds): counted against the
// caller's address and, for a CredentialRefused, its account.
void record_refusal(ServerContext& context, const http::Request& request, std::string_view kind,
                    const Error& refusal);

// Runs `authenticate(*tx)`. When it refuses (401 or 429), `tx` is rolled back and released, the
// refusal recorded, and the error thrown on.
template <class Authenticate>
auto authenticated(ServerContext& context, std::unique_ptr<StorageTransaction>& tx,
                   const http::Request& request, std::string_view kind, Authenticate authenticate)
    -> decltype(authenticate(*tx)) {
  try {
    return authenticate(*tx);
  } catch (const Error& error) {
    if (!error.is(ErrorCode::kUnauthorized) && !error.is(ErrorCode::kRateLimited)) throw;
    tx.reset();
    record_refusal(context, request, kind, error);
    throw;
  }
}

// The admin behind the request (its bearer token, or its dashboard session: see admin_routes.h),
// holding one of `roles` (none: any admin). Throws Error(kUnauthorized), RateLimitedError or
// Error(kForbidden) (this last one also written to the audit log, naming `route_name`); `tx` is
// released then.
AdminIdentity authorize_admin(ServerContext& context, std::unique_ptr<StorageTransaction>& tx,
                              const http::Request& request, std::span<const std::string> roles,
                              std::string_view route_name);
AdminIdentity authorize_admin(ServerContext& context, std::unique_ptr<StorageTransaction>& tx,
                              const http::Request& request, std::string_view role,
                              std::string_view route_name);

}  // namespace fieldsync::server
