// The sync server as one object: storage, clock, credentials, reconciler, audit trail, metrics
// and the route table, put together from ServerOptions. main.cpp wraps it in an HTTP server and
// signal handling; tests may call handle() or the router directly (the router counts nothing).
//
// Threading: after construction, handle(), router().dispatch() and save_metrics() may be called
// from any number of threads.
#pragma once

#include <memory>
#include <string>

#include "audit_trail.h"
#include "credentials.h"
#include "device_registry.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/server/server_storage.h"
#include "http/address_allow_list.h"
#include "http/router.h"
#include "http/server_log.h"
#include "reconciler.h"
#include "server_metrics.h"

namespace fieldsync::server {

struct ServerOptions {
  std::string data_dir = "fieldsync-data";   // the SQLite store's directory
  // A PostgreSQL connection string (postgres://...) shared by several server nodes; empty: the
  // SQLite store in data_dir.
  std::string database;
  std::size_t database_connections = 4;      // PostgreSQL connections of this node
  ReconcilerOptions reconciler;
  CredentialOptions credentials;
  DeviceHealthRules device_health;
  SyncHistoryLimits sync_history;
  // Session cookies get the Secure attribute: set when browsers reach the server over HTTPS (its
  // own TLS, or a TLS proxy in front).
  bool secure_cookies = false;
  std::size_t max_binary_body_bytes = 32u << 20;
  // JSON costs about 20 times its size in memory while decoded, so its cap is lower.
  std::size_t max_json_body_bytes = 4u << 20;
  // This server's name in metrics and audit entries; empty: the host's name. With several nodes
  // on one storage, each needs its own (its saved counters are kept under it).
  std::string node_name;
  // Addresses that may read GET /metrics without a monitor token.
  http::AddressAllowList metrics_allow;
};

// Everything a route handler needs.
struct ServerContext {
  ServerOptions options;
  ClockSource& clock;
  ServerStorage& storage;
  Credentials& credentials;
  Reconciler& reconciler;
  DeviceRegistry& registry;
  http::ServerLog& log;
  AuditTrail& audit;
  ServerMetrics& metrics;
  std::int64_t started_monotonic_ms;  // for the overview's uptime
};

// The storage the options name: PostgreSQL if `database` is set, else SQLite in `data_dir`.
std::unique_ptr<ServerStorage> open_storage(const ServerOptions& options);

// The route tables, in device_api.cpp, admin_api.cpp, monitor_api.cpp, admin_session_api.cpp.
void add_device_routes(http::Router& router, ServerContext& context);
void add_admin_routes(http::Router& router, ServerContext& context);
void add_audit_routes(http::Router& router, ServerContext& context);
void add_metrics_routes(http::Router& router, ServerContext& context);

// The host's name (for the default node name); "fieldsync" when it has none usable.
std::string host_node_name();
void add_monitor_routes(http::Router& router, ServerContext& context);
void add_admin_session_routes(http::Router& router, ServerContext& context);
// The admin dashboard's pages under /admin, in dashboard_routes.cpp.
void add_dashboard_routes(http::Router& router, ServerContext& context);

class ServerApp {
 public:
  ServerApp(ServerOptions options, std::shared_ptr<http::ServerLog> log,
            ClockSource& clock = SystemClockSource::instance());

  // Dispatches `request` and counts it in the metrics (route, status, time).
  http::Response handle(const http::Request& request);
  // Saves the metrics' counters to the storage, under the node's name.
  void save_metrics();

  const http::Router& router() const { return router_; }
  ServerStorage& storage() { return *storage_; }
  Credentials& credentials() { return credentials_; }
  http::ServerLog& log() { return *log_; }
  AuditTrail& audit() { return audit_; }
  ServerMetrics& metrics() { return metrics_; }

 private:
  std::shared_ptr<http::ServerLog> log_;
  std::unique_ptr<ServerStorage> storage_;
  Credentials credentials_;
  Reconciler reconciler_;
  AuditTrail audit_;
  ServerMetrics metrics_;
  DeviceRegistry registry_;
  ServerContext context_;
  http::Router router_;
};

}  // namespace fieldsync::server
