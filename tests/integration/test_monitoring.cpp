// Monitoring against a real fieldsync-server process on 127.0.0.1 (docs/http-api.md, "Metrics"
// and "Audit log"): promtool accepts GET /metrics; counters survive a clean restart, and what a
// SIGKILL loses is exactly what was counted since the last save; what the HTTP layer refuses by
// itself (over --max-connections, malformed, too large) is counted by reason and logged with the
// reason; /metrics is refused without the monitor role or an allowed address; a row altered or
// deleted in the stopped server's file is found and named by the chain check; and no case
// content reaches the metrics, the audit log or the server's log.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "device_fixture.h"
#include "fieldsync/dev/metric_samples.h"
#include "fieldsync/sqlite_db.h"
#include "raw_connection.h"

using namespace fieldsync;
using namespace fieldsync::itest;
using nlohmann::json;

namespace {

// Case content seeded into records, conflicts and rejections; it must appear nowhere an admin
// or an operator can look.
constexpr std::string_view kSentinel = "QUOKKA-SENTINEL-41";

// GETs on the server with any token (or none), answered whatever the status.
class Reader {
 public:
  explicit Reader(TestServer& server)
      : server_(server), transport_(platform::make_curl_transport(server.transport_options())) {}

  platform::HttpResponse get(const std::string& path, const std::string& token = {}) {
    platform::HttpRequest request;
    request.method = "GET";
    request.url = server_.url() + path;
    if (!token.empty()) request.headers = {{"Authorization", "Bearer " + token}};
    request.timeout = 10s;
    return transport_->send(request);
  }

  std::string metrics(const std::string& token) {
    const platform::HttpResponse answer = get("/metrics", token);
    INFO(answer.body);
    REQUIRE(answer.status == 200);
    return answer.body;
  }

 private:
  TestServer& server_;
  std::unique_ptr<platform::HttpTransport> transport_;
};

double requests(const std::map<std::string, double>& samples, const std::string& route) {
  const auto found = samples.find("fieldsync_http_requests_total{node=\"itest-1\",route=\"" +
                                  route + "\",status=\"200\"}");
  return found == samples.end() ? 0 : found->second;
}

// The access-log lines (event http_request) of the server's log whose status is one of `statuses`,
// in the order written.
std::vector<json> access_lines_with_status(const dev::ServerProcess& server,
                                           const std::vector<int>& statuses) {
  std::vector<json> found;
  for (json& line : server_log_events(server, "http_request")) {
    const int status = line.value("status", 0);
    if (std::find(statuses.begin(), statuses.end(), status) != statuses.end()) {
      found.push_back(std::move(line));
    }
  }
  return found;
}

ServerSetup node_setup(std::vector<std::string> more = {}) {
  ServerSetup setup;
  setup.extra_args = {"--node-name", "itest-1"};
  setup.extra_args.insert(setup.extra_args.end(), more.begin(), more.end());
  return setup;
}

SyncResponse push(RawDevice& device, const WriteGroup& group) {
  SyncRequest request;
  request.write_groups.push_back(group);
  return device.sync(request);
}

// Traffic of every kind, with the sentinel in a visit, a conflict and a rejected group.
void seed_casework(TestServer& server, const Council& council) {
  TestDevice amira(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "Jordan said " + std::string(kSentinel)));
  REQUIRE(amira.sync().changes_pushed > 0);

  RawDevice amira_raw(server, "amira");
  RawDevice maya_raw(server, "maya");
  amira_raw.pull_all();
  maya_raw.pull_all();
  const WriteGroup note = amira_raw.new_note(council.jordan, "draft " + std::string(kSentinel));
  REQUIRE(push(amira_raw, note).acks.size() == 1);
  const Change& content = note.changes.at(1);
  for (RawDevice* editor : {&maya_raw, &amira_raw}) {
    WriteGroup edit{Uuid::random_v4(), {}};
    edit.changes.push_back(editor->change("note", content.record_id, council.jordan, "content",
                                          Value::text(std::string(kSentinel) + " edit"), edit.id,
                                          editor->id(), {content.version}));
    REQUIRE(push(*editor, edit).acks.size() == 1);
  }
  const WriteGroup outside = amira_raw.new_note(council.sam, std::string(kSentinel));
  REQUIRE(push(amira_raw, outside).rejections.size() == 1);
}

// Runs promtool on `text`; its exit status, with what it said in `output`.
int promtool_check(const std::string& text, std::string& output) {
  dev::ScratchDir dir;
  const std::string input = dir.file("metrics.txt");
  const std::string said = dir.file("promtool.txt");
  std::ofstream(input) << text;
  const std::string command = "promtool check metrics < '" + input + "' > '" + said + "' 2>&1";
  const int status = std::system(command.c_str());
  output = dev::read_file(said);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string database_file(TestServer& server) {
  return server.data_dir() + "/fieldsync-server.db";
}

}  // namespace

TEST_CASE("promtool accepts the metrics of a server that has seen traffic",
          "[monitoring][metrics]") {
  TestServer server(node_setup());
  seed_casework(server, set_up_council(server.admin()));
  Reader reader(server);
  reader.get("/no/such/route");
  const std::string text =
      reader.metrics(server.process().create_admin_token("prometheus", "monitor"));

  std::string said;
  const int status = promtool_check(text, said);
  INFO("promtool said:\n" << said << "\nmetrics:\n" << text);
  REQUIRE(status != 127);  // promtool comes with Debian's prometheus package (tools/bootstrap)
  CHECK(status == 0);
  const auto samples = dev::metric_samples(text);
  CHECK(requests(samples, "sync") >= 4);
  CHECK(samples.at("fieldsync_conflicts_detected_total{node=\"itest-1\"}") == 1);
  CHECK(samples.at("fieldsync_rejections_total{node=\"itest-1\",code=\"scope\"}") == 1);
  CHECK(samples.at("fieldsync_devices{node=\"itest-1\",state=\"healthy\"}") == 3);
  CHECK(samples.at("fieldsync_storage_bytes{node=\"itest-1\"}") > 0);
}

TEST_CASE("A connection over --max-connections gets 503, and the HTTP layer's refusals are counted "
          "and logged",
          "[monitoring][metrics]") {
  TestServer server(node_setup({"--max-connections", "3"}));
  const std::string token = server.process().create_admin_token("prometheus", "monitor");
  const std::uint16_t port = server.process().port();
  const std::string health = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  // Three connections, each answered once and kept open: the server's whole allowance.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(port));
    held.back()->send(health);
    REQUIRE(held.back()->read_answer(10s).status == 200);
  }
  RawConnection over(port);
  const RawAnswer refused = over.read_answer(10s);
  CHECK(refused.status == 503);
  CHECK(refused.header("Retry-After") == "1");
  CHECK(json::parse(refused.body).at("error") == "unavailable");
  CHECK(over.closed_within(10s));

  // Two of the held connections are spent on requests the HTTP layer refuses by itself.
  held[1]->send("THIS IS NOT HTTP\r\n\r\n");
  CHECK(held[1]->read_answer(10s).status == 400);
  CHECK(held[1]->closed_within(10s));

  // The access log says what it knows of a refused exchange: no method or route was read, and
  // which refusal it was. (A connection is closed after its line is written.)
  const std::vector<json> refused_lines =
      access_lines_with_status(server.process(), {503, 400});
  REQUIRE(refused_lines.size() == 2);
  for (const json& line : refused_lines) {
    INFO(line.dump());
    CHECK(line.at("method") == "-");
    CHECK(line.at("route") == "-");
    CHECK(line.at("remote") == "127.0.0.1");
  }
  CHECK(refused_lines[0].at("status") == 503);
  CHECK(refused_lines[0].at("refused") == "connection_limit");
  CHECK(refused_lines[1].at("status") == 400);
  CHECK(refused_lines[1].at("refused") == "malformed");
  held[2]->send(RawConnection::post_head("/v1/sync", {{"Content-Length", "999999999999"}}));
  CHECK(held[2]->read_answer(10s).status == 413);

  held[0]->send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
                "\r\n\r\n");
  const RawAnswer scraped = held[0]->read_answer(10s);
  REQUIRE(scraped.status == 200);
  std::string said;
  CHECK(promtool_check(scraped.body, said) == 0);
  INFO("promtool said:\n" << said << "\nmetrics:\n" << scraped.body);
  const auto samples = dev::metric_samples(scraped.body);
  const auto refusals = [&](const std::string& reason) {
    return samples.at("fieldsync_http_refused_total{node=\"itest-1\",reason=\"" + reason + "\"}");
  };
  CHECK(refusals("connection_limit") == 1);
  CHECK(refusals("malformed") == 1);
  CHECK(refusals("body_too_large") == 1);
  CHECK(refusals("headers_too_large") == 0);
  CHECK(refusals("request_timeout") == 0);
}

TEST_CASE("Metric counters survive a clean restart, a SIGKILL loses what came since the last save",
          "[monitoring][metrics]") {
  // Saved only at clean stops here, so that what a SIGKILL loses does not depend on timing.
  TestServer server(node_setup({"--metrics-save-s", "86400"}));
  const std::string token = server.process().create_admin_token("prometheus", "monitor");
  Reader reader(server);
  for (int i = 0; i < 3; ++i) REQUIRE(reader.get("/v1/admin/teams", token).status == 200);
  const auto before = dev::metric_samples(reader.metrics(token));
  REQUIRE(requests(before, "admin.teams.list") == 3);

  server.process().restart();  // SIGTERM: counters saved
  const auto after = dev::metric_samples(reader.metrics(token));
  CHECK(requests(after, "admin.teams.list") == 3);
  CHECK(requests(after, "metrics") == 1);  // the scrape before the restart
  for (const auto& [series, value] : before) {
    const bool counter = series.find("_total{") != std::string::npos ||
                         series.find("_bucket{") != std::string::npos ||
                         series.find("_count{") != std::string::npos;
    if (!counter) continue;
    INFO(series);
    REQUIRE(after.contains(series));
    CHECK(after.at(series) >= value);
  }

  SECTION("after a SIGKILL, the counts since the last save are gone, the rest kept") {
    for (int i = 0; i < 2; ++i) REQUIRE(reader.get("/v1/admin/teams", token).status == 200);
    REQUIRE(requests(dev::metric_samples(reader.metrics(token)), "admin.teams.list") == 5);
    server.process().kill();
    server.process().restart();
    CHECK(requests(dev::metric_samples(reader.metrics(token)), "admin.teams.list") == 3);
  }
}

TEST_CASE("Metrics need the monitor role or an allowed address", "[monitoring][metrics][auth]") {
  SECTION("no allow-list") {
    TestServer server(node_setup());
    Reader reader(server);
    CHECK(reader.get("/metrics").status == 401);
    CHECK(
        reader.get("/metrics", server.process().create_admin_token("ops", "manage,enrol")).status ==
        403);
    CHECK(reader.get("/metrics", server.process().create_admin_token("prometheus", "monitor"))
              .status == 200);
  }
  SECTION("127.0.0.1 allowed") {
    TestServer server(node_setup({"--metrics-allow", "127.0.0.1"}));
    Reader reader(server);
    CHECK(reader.get("/metrics").status == 200);
  }
  SECTION("another address allowed") {
    TestServer server(node_setup({"--metrics-allow", "10.0.0.0/8,fd00::/8"}));
    Reader reader(server);
    CHECK(reader.get("/metrics").status == 401);
  }
}

TEST_CASE("A row altered or deleted in the stopped server's file is found and named",
          "[monitoring][audit]") {
  TestServer server(node_setup());
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const json intact = server.admin().call("GET", "/v1/admin/audit/verify");
  REQUIRE(intact.at("intact") == true);
  const json created = server.admin().call("GET", "/v1/admin/audit?action=case.created&limit=1");
  const std::uint64_t seq = created.at("entries").at(0).at("seq");
  CHECK(created.at("entries").at(0).at("case_ids") == json::array({council.sam.to_string()}));

  std::string sql;
  SECTION("altered") {
    sql = "UPDATE audit_log SET user_id = 'ben' WHERE seq = " + std::to_string(seq);
  }
  SECTION("deleted") {
    sql = "DELETE FROM audit_log WHERE seq = " + std::to_string(seq);
  }
  server.process().stop();
  // The head as the stopped server logged it, away from the store.
  const std::string log = dev::read_file(server.process().options().log_file);
  const std::size_t last_head = log.rfind("\"event\":\"audit_head\"");
  REQUIRE(last_head != std::string::npos);
  const json logged = json::parse(log.substr(
      log.rfind('\n', last_head) + 1, log.find('\n', last_head) - log.rfind('\n', last_head) - 1));
  CHECK(logged.at("seq") == intact.at("head").at("seq"));
  CHECK(logged.at("hash") == intact.at("head").at("hash"));
  {
    sqlite::Database db(database_file(server), sqlite::Database::Mode::kReadWrite);
    CHECK_THROWS(db.exec(sql));  // the log's guards first
    db.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete");
    db.exec(sql);
  }
  server.process().restart();
  const json result = server.admin().call("GET", "/v1/admin/audit/verify");
  INFO(result.dump());
  CHECK(result.at("intact") == false);
  CHECK(result.at("first_bad_seq") == seq);
}

TEST_CASE("No case content in the metrics, the audit log or the server's log",
          "[monitoring][audit][metrics]") {
  TestServer server(node_setup());
  seed_casework(server, set_up_council(server.admin()));
  Reader reader(server);
  const std::string token = server.process().create_admin_token("auditor", "monitor");
  const std::string metrics = reader.metrics(token);
  const platform::HttpResponse audit = reader.get("/v1/admin/audit?limit=1000", token);
  const platform::HttpResponse verify = reader.get("/v1/admin/audit/verify", token);
  REQUIRE(audit.status == 200);
  REQUIRE(verify.status == 200);
  REQUIRE(json::parse(audit.body).at("entries").size() > 20);
  server.process().stop();
  const std::string log = dev::read_file(server.process().options().log_file);
  REQUIRE_FALSE(log.empty());

  for (const auto& [where, text] : {std::pair{"/metrics", metrics},
                                    {"audit", audit.body},
                                    {"verify", verify.body},
                                    {"server log", log}}) {
    INFO(where);
    CHECK(text.find(kSentinel) == std::string::npos);
  }
  // The server does hold the sentinel, so the scans above could have found it.
  const std::string stored =
      dev::read_file(database_file(server)) + dev::read_file(database_file(server) + "-wal");
  CHECK(stored.find(kSentinel) != std::string::npos);
}
