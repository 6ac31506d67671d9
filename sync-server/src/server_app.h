// The sync server as one object: storage, clock, credentials, reconciler and the route table, put
// together from ServerOptions. main.cpp wraps it in an HTTP server and signal handling; tests may
// call its router directly.
//
// Threading: after construction, router().dispatch() may be called from any number of threads.
#pragma once

#include <memory>
#include <string>

#include "credentials.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/server/server_storage.h"
#include "http/router.h"
#include "http/server_log.h"
#include "reconciler.h"

namespace fieldsync::server {

struct ServerOptions {
  std::string data_dir = "fieldsync-data";   // the SQLite store's directory
  // A PostgreSQL connection string (postgres://...) shared by several server nodes; empty: the
  // SQLite store in data_dir.
  std::string database;
  std::size_t database_connections = 4;      // PostgreSQL connections of this node
  ReconcilerOptions reconciler;
  CredentialOptions credentials;
  std::size_t max_binary_body_bytes = 32u << 20;
  // JSON costs about 20 times its size in memory while decoded, so its cap is lower.
  std::size_t max_json_body_bytes = 4u << 20;
};

// Everything a route handler needs (the handlers live in device_api.cpp and admin_api.cpp).
struct ServerContext {
  ServerOptions options;
  ClockSource& clock;
  ServerStorage& storage;
  Credentials& credentials;
  Reconciler& reconciler;
  http::ServerLog& log;
};

// The storage the options name: PostgreSQL if `database` is set, else SQLite in `data_dir`.
std::unique_ptr<ServerStorage> open_storage(const ServerOptions& options);

void add_device_routes(http::Router& router, ServerContext& context);
void add_admin_routes(http::Router& router, ServerContext& context);

class ServerApp {
 public:
  ServerApp(ServerOptions options, std::shared_ptr<http::ServerLog> log,
            ClockSource& clock = SystemClockSource::instance());

  const http::Router& router() const { return router_; }
  ServerStorage& storage() { return *storage_; }
  Credentials& credentials() { return credentials_; }
  http::ServerLog& log() { return *log_; }

 private:
  std::shared_ptr<http::ServerLog> log_;
  std::unique_ptr<ServerStorage> storage_;
  Credentials credentials_;
  Reconciler reconciler_;
  ServerContext context_;
  http::Router router_;
};

}  // namespace fieldsync::server
