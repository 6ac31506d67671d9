// ServerApp: puts storage, credentials, reconciler and routes together. See server_app.h.
#include "server_app.h"

#include "fieldsync/schema.h"

namespace fieldsync::server {

std::unique_ptr<ServerStorage> open_storage(const ServerOptions& options) {
  if (options.database.empty()) return open_sqlite_storage(options.data_dir);
  return open_postgres_storage(options.database, options.database_connections);
}

ServerApp::ServerApp(ServerOptions options, std::shared_ptr<http::ServerLog> log, ClockSource& clock)
    : log_(std::move(log)),
      storage_(open_storage(options)),
      credentials_(clock, options.credentials),
      reconciler_(*storage_, clock, Schema::domain(), options.reconciler),
      context_{std::move(options), clock, *storage_, credentials_, reconciler_, *log_},
      router_(log_) {
  add_device_routes(router_, context_);
  add_admin_routes(router_, context_);
}

}  // namespace fieldsync::server
