// What a load balancer and its operators rely on, across real server processes: GET /v1/health
// answers 200 with the node's name while the node can use its storage; on PostgreSQL (three nodes
// sharing one database, support/sync_harness.h) every node serves a device's requests and an
// admin's dashboard session made on one node, and when the database is gone every node says 503
// (and why only in its own log).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sync_harness.h"

namespace fieldsync::integration {
namespace {

platform::HttpResponse get(platform::HttpTransport& transport, const std::string& url,
                           platform::HttpHeaders headers = {}) {
  platform::HttpRequest request;
  request.method = "GET";
  request.url = url;
  request.headers = std::move(headers);
  request.timeout = std::chrono::seconds(20);
  return transport.send(request);
}

}  // namespace

TEST_CASE("Every node answers its health check with its name while it can use its storage",
          "[nodes]") {
  TestServer server;
  auto transport = platform::make_curl_transport();
  for (std::size_t i = 0; i < server.node_count(); ++i) {
    INFO("node " << i + 1 << " of " << server.node_count());
    const platform::HttpResponse response = get(*transport, server.node(i).url() + "/v1/health");
    CHECK(response.status == 200);
    const auto body = nlohmann::json::parse(response.body);
    CHECK(body.at("status") == "ok");
    if (server.on_postgres()) CHECK(body.at("node") == "node-" + std::to_string(i + 1));
  }
}

TEST_CASE("A dashboard session made on one node is valid on every node", "[nodes]") {
  TestServer server;
  auto transport = platform::make_curl_transport();
  platform::HttpRequest login;
  login.url = server.node(0).url() + "/v1/admin/session";
  login.headers = {{"Content-Type", "application/json"}};
  login.body = nlohmann::json{{"token", server.process().create_admin_token("Jo")}}.dump();
  const platform::HttpResponse opened = transport->send(login);
  REQUIRE(opened.status == 200);
  const std::string set_cookie = opened.header("Set-Cookie");
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  REQUIRE(cookie.starts_with("fieldsync_session="));
  for (std::size_t i = 0; i < server.node_count(); ++i) {
    INFO("node " << i + 1);
    CHECK(get(*transport, server.node(i).url() + "/v1/admin/overview", {{"Cookie", cookie}})
              .status == 200);
  }
  // And a made-up session is refused everywhere: the 200s above came from the session.
  CHECK(get(*transport, server.node(server.node_count() - 1).url() + "/v1/admin/overview",
            {{"Cookie", "fieldsync_session=0123456789abcdef"}})
            .status == 401);
}

TEST_CASE("With the database gone, every node's health check says 503 and logs why",
          "[nodes][postgres]") {
  TestServer server(StorageUnderTest{true, 3});
  // A device syncs through the nodes first: they were serving.
  dev::create_council_people(server.admin(), {"amira"});
  server.admin().create_case("amira", {{"child_name", "Jordan Ellis"}});
  auto device = server.enrol("amira-phone", "amira");
  REQUIRE(device->sync().outcome == client::SyncOutcome::kCompleted);

  server.drop_database();
  auto transport = platform::make_curl_transport();
  for (std::size_t i = 0; i < server.node_count(); ++i) {
    INFO("node " << i + 1);
    const platform::HttpResponse response = get(*transport, server.node(i).url() + "/v1/health");
    CHECK(response.status == 503);
    const auto body = nlohmann::json::parse(response.body);
    CHECK(body.at("status") == "unavailable");
    CHECK(body.size() == 2);  // status and node: nothing about the database to the public
    CHECK(dev::read_file(server.node(i).options().log_file).find("health_check_failed") !=
          std::string::npos);
  }
}

}  // namespace fieldsync::integration
