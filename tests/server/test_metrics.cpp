// GET /metrics (docs/http-api.md, "Metrics"): requests and latency per route and status, changes,
// conflicts and rejections, devices per state and storage size, every sample labelled with the
// node; readable with a monitor token or from an allowed address, and by nobody else; counters
// saved and restored. Also the query strings and address lists the routes take.
#include <catch2/catch.hpp>

#include <map>

#include "fieldsync/dev/metric_samples.h"
#include "fieldsync/error.h"
#include "http/address_allow_list.h"
#include "http/query_params.h"
#include "server_fixture.h"
#include "server_metrics.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr const char* kNode = "test-node";

ServerOptions with_node(ServerOptions options = {}) {
  options.node_name = kNode;
  return options;
}

http::Response scrape(ServerFixture& server, const std::string& token,
                      const std::string& address = kDefaultAddress) {
  return server.call("GET", "/metrics", {}, {}, token, address);
}

std::map<std::string, double> scrape_samples(ServerFixture& server) {
  const http::Response response = scrape(server, server.admin_token);
  INFO(response.body);
  REQUIRE(response.status == 200);
  return dev::metric_samples(response.body);
}

std::string series(const std::string& name, const std::string& labels = {}) {
  return name + "{node=\"" + kNode + "\"" + (labels.empty() ? "" : "," + labels) + "}";
}

double requests(const std::map<std::string, double>& samples, const std::string& route,
                int status) {
  const auto found =
      samples.find(series("fieldsync_http_requests_total",
                          "route=\"" + route + "\",status=\"" + std::to_string(status) + "\""));
  return found == samples.end() ? 0 : found->second;
}

}  // namespace

TEST_CASE("Metrics count requests per route and status, with latency histograms",
          "[server][metrics]") {
  ServerFixture server(with_node());
  for (int i = 0; i < 3; ++i) server.admin("GET", "/v1/admin/teams");
  server.call("GET", "/v1/admin/teams");  // no token: 401
  server.call("GET", "/no/such/route");
  server.call("GET", "/no/such/route/either");

  const http::Response response = scrape(server, server.admin_token);
  REQUIRE(response.status == 200);
  CHECK(response.content_type == ServerMetrics::kContentType);
  const auto samples = dev::metric_samples(response.body);
  CHECK(requests(samples, "admin.teams.list", 200) == 3);
  CHECK(requests(samples, "admin.teams.list", 401) == 1);
  CHECK(requests(samples, "unmatched", 404) == 2);
  CHECK(requests(samples, "metrics", 200) == 0);  // a scrape is counted once answered
  const std::string teams = "route=\"admin.teams.list\"";
  CHECK(samples.at(series("fieldsync_http_request_duration_seconds_count", teams)) == 4);
  CHECK(samples.at(
            series("fieldsync_http_request_duration_seconds_bucket", teams + ",le=\"+Inf\"")) == 4);
  CHECK(samples.at(
            series("fieldsync_http_request_duration_seconds_bucket", teams + ",le=\"10\"")) <= 4);
  CHECK(samples.at(series("fieldsync_http_request_duration_seconds_sum", teams)) >= 0);
  CHECK(requests(scrape_samples(server), "metrics", 200) == 1);
}

TEST_CASE("Metrics count changes, conflicts, rejections and devices", "[server][metrics]") {
  ServerFixture server(with_node());
  Casework work(server);
  const auto before = scrape_samples(server);
  CHECK(before.at(series("fieldsync_devices", "state=\"healthy\"")) == 4);
  CHECK(before.at(series("fieldsync_devices", "state=\"revoked\"")) == 0);
  CHECK(before.at(series("fieldsync_devices", "state=\"stale\"")) == 0);
  CHECK(before.at(series("fieldsync_devices", "state=\"at_risk\"")) == 0);
  CHECK(before.at(series("fieldsync_storage_bytes")) > 0);
  CHECK(before.at(series("fieldsync_start_time_seconds")) == kStartMs / 1000);

  const RecordId visit = Uuid::random_v4();
  const WriteGroup created =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  server.sync(work.amira_phone, {created});
  server.sync(work.amira_tablet);
  server.sync(work.mona_phone);
  const Version seen = version_of(created, visit, "observations");
  server.sync(work.mona_phone, {server.write(work.mona_phone, "visit", visit, work.case_a,
                                             {{"observations", text("mona"), {seen}}})});
  server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                              {{"observations", text("amira"), {seen}}})});
  server.sync(work.amira_phone,
              {server.write(work.amira_phone, "visit", Uuid::random_v4(), work.case_a,
                            {{"child_seen", boolean(false)}, {"seen_alone", boolean(true)}})});
  server.revoke(work.bilal_phone);
  server.retire(work.amira_tablet);

  const auto after = scrape_samples(server);
  const auto grew = [&](const std::string& name, const std::string& labels = {}) {
    return after.at(series(name, labels)) - before.at(series(name, labels));
  };
  CHECK(grew("fieldsync_changes_in_total") == created.changes.size() + 2);
  CHECK(grew("fieldsync_changes_out_total") >= 2 * created.changes.size());
  CHECK(grew("fieldsync_conflicts_detected_total") == 1);
  CHECK(grew("fieldsync_conflicts_resolved_total") == 0);
  CHECK(grew("fieldsync_rejections_total", "code=\"validation\"") == 1);
  CHECK(grew("fieldsync_rejections_total", "code=\"scope\"") == 0);
  CHECK(after.at(series("fieldsync_devices", "state=\"healthy\"")) == 2);
  CHECK(after.at(series("fieldsync_devices", "state=\"revoked\"")) == 1);
  CHECK(after.at(series("fieldsync_devices", "state=\"retired\"")) == 1);
}

TEST_CASE("Metrics are for the monitor role or an allowed address", "[server][metrics][auth]") {
  ServerOptions options = with_node();
  options.metrics_allow.add("203.0.113.0/24");
  options.metrics_allow.add("::1");
  ServerFixture server(options);
  const std::string monitor = server.issue_admin_token({"monitor"});
  const std::string others = server.issue_admin_token({"manage", "enrol"});

  CHECK(scrape(server, {}, "203.0.113.9").status == 200);
  CHECK(scrape(server, {}, "::ffff:203.0.113.9").status == 200);
  CHECK(scrape(server, {}, "::1").status == 200);
  CHECK(scrape(server, monitor).status == 200);
  const http::Response without_token = scrape(server, {});
  CHECK(without_token.status == 401);
  CHECK(without_token.body.find("fieldsync_") == std::string::npos);
  const http::Response without_role = scrape(server, others);
  CHECK(without_role.status == 403);
  CHECK(error_name(without_role) == "forbidden");
  CHECK(scrape(server, {}, "203.0.114.9").status == 401);
  CHECK(server.call("POST", "/metrics", "x", "text/plain", monitor).status == 405);
}

TEST_CASE("Counters are saved and restored under the node's name", "[server][metrics]") {
  ServerFixture server(with_node());
  for (int i = 0; i < 5; ++i) server.admin("GET", "/v1/admin/users");
  server.app->save_metrics();
  const auto saved = server.inspect([](StorageTransaction& tx) { return tx.node_counters(kNode); });
  CHECK(saved.at("requests|admin.users.list|200") == 5);
  CHECK(server.inspect([](StorageTransaction& tx) { return tx.node_counters("another-node"); })
            .empty());

  ServerMetrics restored(kNode, kStartMs);
  restored.track_routes({"admin.users.list"});
  restored.restore(saved);
  CHECK(restored.counters() == server.app->metrics().counters());

  SECTION("a route no longer served is dropped, the others kept") {
    ServerMetrics fewer(kNode, kStartMs);
    fewer.track_routes({"sync"});
    fewer.restore(saved);
    CHECK_FALSE(fewer.counters().contains("requests|admin.users.list|200"));
  }
}

TEST_CASE("The exposition escapes label values and adds up histograms", "[server][metrics]") {
  ServerMetrics metrics("odd\"node\\name\nx", kStartMs);
  metrics.track_routes({"sync"});
  metrics.count_request("sync", 200, std::chrono::microseconds(500));
  metrics.count_request("sync", 200, std::chrono::milliseconds(30));
  metrics.count_request("sync", 200, std::chrono::seconds(20));
  metrics.count_request("not.a.route", 599, std::chrono::milliseconds(1));
  metrics.count_refused_authentication("admin");
  metrics.count_refused_authentication("no such kind");
  const std::string text = metrics.render({});
  const std::string node = R"(node="odd\"node\\name\nx")";
  const auto samples = dev::metric_samples(text);
  const auto value = [&](const std::string& name, const std::string& labels) {
    return samples.at(name + "{" + node + (labels.empty() ? "" : "," + labels) + "}");
  };
  CHECK(value("fieldsync_http_requests_total", R"(route="sync",status="200")") == 3);
  CHECK(value("fieldsync_http_requests_total", R"(route="unmatched",status="599")") == 1);
  const std::string sync = R"(route="sync")";
  CHECK(value("fieldsync_http_request_duration_seconds_bucket", sync + R"(,le="0.001")") == 1);
  CHECK(value("fieldsync_http_request_duration_seconds_bucket", sync + R"(,le="0.025")") == 1);
  CHECK(value("fieldsync_http_request_duration_seconds_bucket", sync + R"(,le="0.05")") == 2);
  CHECK(value("fieldsync_http_request_duration_seconds_bucket", sync + R"(,le="10")") == 2);
  CHECK(value("fieldsync_http_request_duration_seconds_bucket", sync + R"(,le="+Inf")") == 3);
  CHECK(value("fieldsync_http_request_duration_seconds_sum", sync) == Approx(20.0305));
  CHECK(value("fieldsync_refused_authentications_total", R"(credential="admin")") == 1);
  CHECK(value("fieldsync_refused_authentications_total", R"(credential="device")") == 0);
}

TEST_CASE("Address allow-lists take addresses and networks, v4 and v6", "[server][metrics]") {
  http::AddressAllowList list;
  CHECK(list.empty());
  CHECK_FALSE(list.allows("127.0.0.1"));
  list.add("127.0.0.1");
  list.add("10.1.0.0/16");
  list.add("fd00::/8");
  CHECK(list.allows("127.0.0.1"));
  CHECK(list.allows("::ffff:127.0.0.1"));
  CHECK_FALSE(list.allows("127.0.0.2"));
  CHECK(list.allows("10.1.255.3"));
  CHECK_FALSE(list.allows("10.2.0.1"));
  CHECK(list.allows("fd12::1"));
  CHECK_FALSE(list.allows("fe80::1"));
  CHECK_FALSE(list.allows("::1"));
  CHECK_FALSE(list.allows("not an address"));
  CHECK_FALSE(list.allows(""));
  for (const std::string bad :
       {"", "localhost", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129", "1.2.3"}) {
    INFO(bad);
    CHECK_THROWS_AS(list.add(bad), Error);
  }
}

TEST_CASE("Query strings are decoded into named parameters", "[server][http]") {
  using http::parse_query;
  CHECK(parse_query("").empty());
  CHECK(parse_query("a=1&b=two+words&c=%3A%2f&d&&e=") ==
        http::QueryParams{{"a", "1"}, {"b", "two words"}, {"c", ":/"}, {"d", ""}, {"e", ""}});
  CHECK_THROWS_AS(parse_query("a=1&a=2"), Error);
  CHECK_THROWS_AS(parse_query("a=%2"), Error);
  CHECK_THROWS_AS(parse_query("a=%zz"), Error);
  CHECK_THROWS_AS(parse_query("=1"), Error);
}
