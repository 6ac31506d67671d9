// ServerApp: puts storage, credentials, reconciler and routes together. See server_app.h.
#include "server_app.h"

#include "fieldsync/schema.h"

namespace fieldsync::server {

ServerApp::ServerApp(ServerOptions options, std::shared_ptr<http::ServerLog> log, ClockSource& clock)
    : log_(std::move(log)),
      storage_(open_sqlite_storage(options.data_dir)),
      credentials_(clock, options.credentials),
      reconciler_(*storage_, clock, Schema::domain(), options.reconciler),
      registry_(options.device_health, options.sync_history),
      context_{.options = std::move(options),
               .clock = clock,
               .storage = *storage_,
               .credentials = credentials_,
               .reconciler = reconciler_,
               .registry = registry_,
               .log = *log_,
               .started_monotonic_ms = clock.monotonic_ms()},
      router_(log_) {
  add_device_routes(router_, context_);
  add_admin_session_routes(router_, context_);
  add_admin_routes(router_, context_);
  add_monitor_routes(router_, context_);
}

}  // namespace fieldsync::server
