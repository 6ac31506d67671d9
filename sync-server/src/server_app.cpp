// ServerApp: puts storage, credentials, reconciler, audit trail, metrics and routes together.
// See server_app.h.
#include "server_app.h"

#include <unistd.h>

#include <chrono>

#include "fieldsync/schema.h"

namespace fieldsync::server {
namespace {

std::string node_name_of(const ServerOptions& options) {
  return options.node_name.empty() ? host_node_name() : options.node_name;
}

}  // namespace

std::string host_node_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "fieldsync";
  return name;
}

std::unique_ptr<ServerStorage> open_storage(const ServerOptions& options) {
  if (options.database.empty()) return open_sqlite_storage(options.data_dir);
  return open_postgres_storage(options.database, options.database_connections);
}

ServerApp::ServerApp(ServerOptions options, std::shared_ptr<http::ServerLog> log, ClockSource& clock)
    : log_(std::move(log)),
      storage_(open_storage(options)),
      credentials_(clock, options.credentials),
      reconciler_(*storage_, clock, Schema::domain(), options.reconciler),
      audit_(clock, node_name_of(options)),
      metrics_(node_name_of(options), clock.wall_ms()),
      registry_(options.device_health, options.sync_history),
      context_{.options = std::move(options),
               .clock = clock,
               .storage = *storage_,
               .credentials = credentials_,
               .reconciler = reconciler_,
               .registry = registry_,
               .log = *log_,
               .audit = audit_,
               .metrics = metrics_,
               .started_monotonic_ms = clock.monotonic_ms()},
      router_(log_) {
  add_device_routes(router_, context_);
  add_admin_session_routes(router_, context_);
  add_admin_routes(router_, context_);
  add_monitor_routes(router_, context_);
  add_audit_routes(router_, context_);
  add_metrics_routes(router_, context_);
  add_dashboard_routes(router_, context_);

  std::vector<std::string> route_names;
  for (const http::RouteSignature& route : router_.routes()) route_names.push_back(route.name);
  metrics_.track_routes(route_names);
  metrics_.restore(run_transaction(
      *storage_, [&](StorageTransaction& tx) { return tx.node_counters(metrics_.node()); }));
}

http::Response ServerApp::handle(const http::Request& request) {
  const auto started = std::chrono::steady_clock::now();
  http::Response response = router_.dispatch(request);
  metrics_.count_request(response.route_name, response.status,
                         std::chrono::steady_clock::now() - started);
  return response;
}

void ServerApp::save_metrics() {
  const auto counters = metrics_.counters();
  run_transaction(*storage_, [&](StorageTransaction& tx) {
    tx.put_node_counters(metrics_.node(), counters);
  });
}

}  // namespace fieldsync::server
