// What operators' machines read: GET /metrics, the server's metrics in the Prometheus text format
// (server_metrics.h), for a caller at an allowed address (--metrics-allow) or an admin token
// holding the monitor role (devices per state and the storage size are read at each scrape); and
// GET /v1/health, for a load balancer: 200 while this node can use its storage, 503 otherwise,
// open to anyone and saying nothing but that and the node's name. See docs/http-api.md.
#include <nlohmann/json.hpp>

#include "fieldsync/error.h"
#include "route_access.h"
#include "server_app.h"

namespace fieldsync::server {
namespace {

using http::Request;
using http::Response;

// The devices' states as the metrics show them: every state, with 0 when no device is in it, so
// that its series exists from the first scrape.
std::vector<std::pair<std::string, std::uint64_t>> devices_per_state(ServerContext& context,
                                                                     StorageTransaction& tx) {
  std::vector<std::pair<std::string, std::uint64_t>> states;
  for (const auto& [state, count] : context.registry.count_by_state(tx, context.clock.wall_ms())) {
    states.emplace_back(std::string(to_string(state)), count);
  }
  return states;
}

Response metrics(ServerContext& context, const Request& request) {
  MetricsGauges gauges;
  gauges.devices_per_state = retry_lost_races([&] {
    auto tx = context.storage.begin();
    if (!context.options.metrics_allow.allows(request.remote_address)) {
      authorize_admin(context, tx, request, "monitor", "metrics");
    }
    return devices_per_state(context, *tx);
  });
  gauges.storage_bytes = context.storage.size_bytes();
  Response response;
  response.content_type = ServerMetrics::kContentType;
  response.body = context.metrics.render(gauges);
  return response;
}

// Whether this node can read and write its storage: a transaction that reads the epoch and
// commits (on PostgreSQL a round trip to the database through this node's pool).
Response health(ServerContext& context) {
  nlohmann::json body = {{"node", context.options.node_name}};
  Response response;
  response.content_type = std::string(http::kJsonContentType);
  try {
    retry_lost_races([&] {
      auto tx = context.storage.begin();
      tx->epoch();
      tx->commit();
    });
    body["status"] = "ok";
  } catch (const Error& error) {
    // Why goes to the node's own log only: this answer is public.
    context.log.error("health_check_failed", {{"error", error.what()}});
    response.status = 503;
    body["status"] = "unavailable";
  }
  response.body = body.dump();
  return response;
}

}  // namespace

void add_metrics_routes(http::Router& router, ServerContext& context) {
  router.add(
      {"GET", "/metrics", "metrics", [&context](const Request& request, const http::PathParams&) {
         return metrics(context, request);
       }});
  router.add({"GET", "/v1/health", "health",
              [&context](const Request&, const http::PathParams&) { return health(context); }});
}

}  // namespace fieldsync::server
