// GET /metrics: the server's metrics in the Prometheus text format (server_metrics.h), for a
// caller at an allowed address (--metrics-allow) or an admin token holding the monitor role.
// Devices per state and the storage size are read at each scrape. See docs/http-api.md.
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

}  // namespace

void add_metrics_routes(http::Router& router, ServerContext& context) {
  router.add(
      {"GET", "/metrics", "metrics", [&context](const Request& request, const http::PathParams&) {
         return metrics(context, request);
       }});
}

}  // namespace fieldsync::server
