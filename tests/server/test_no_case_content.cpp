// No case content anywhere an admin can look (DESIGN.md section 5): records whose values hold a
// sentinel are made through the admin API and synced by devices (accepted, overwritten into the
// conflict log, rejected, refused as malformed), then every admin route that reads is called, on
// every device, with and without its filters, and every dashboard page is fetched: no answer, and
// no line of the server's log at its most detailed level, holds the sentinel.
#include <catch2/catch.hpp>

#include "embedded_file.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

const std::string kSentinel = "SENTINEL-c0ffee-Ava";

bool holds_sentinel(const std::string& text) {
  return text.find(kSentinel) != std::string::npos;
}

std::string with_id(const std::string& pattern, const std::string& id) {
  const std::size_t at = pattern.find("{id}");
  return at == std::string::npos ? pattern : pattern.substr(0, at) + id + pattern.substr(at + 4);
}

// Query strings each reading route is called with besides none.
const std::map<std::string, std::vector<std::string>>& queries() {
  static const std::map<std::string, std::vector<std::string>> kQueries = {
      {"/v1/admin/devices",
       {"?state=healthy,stale,at_risk,revoked,retired", "?q=a&sort=-last_sync", "?user=amira"}},
      {"/v1/admin/devices/{id}", {"?history=100"}},
      {"/v1/admin/conflicts", {"?state=open", "?state=resolved", "?user=amira"}},
      {"/v1/admin/rejections", {"?code=validation", "?code=scope", "?code=malformed"}},
      {"/v1/admin/activity", {"?hours=192&bucket_minutes=5"}},
  };
  return kQueries;
}

}  // namespace

TEST_CASE("No admin answer and no log line carries case content", "[server][admin][content]") {
  ServerFixture server;
  server.app->log().set_threshold(http::LogLevel::kDebug);
  Casework work(server);
  std::vector<std::string> answers;
  const auto keep = [&](const http::Response& response) { answers.push_back(response.body); };

  // A case whose name is the sentinel, made through the admin API.
  keep(server.admin_call(
      "POST", "/v1/admin/cases",
      {{"user_id", "amira"}, {"fields", {{"child_name", kSentinel}, {"referrer", kSentinel}}}},
      server.admin_token));
  // Accepted visits, and a conflict whose both sides hold the sentinel.
  const RecordId visit = Uuid::random_v4();
  const WriteGroup created = server.write(work.amira_phone, "visit", visit, work.case_a,
                                          valid_visit(kSentinel + " first"));
  REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
  server.sync_all(work.mona_phone);
  const Version seen = version_of(created, visit, "observations");
  server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                              {{"observations", text(kSentinel + " a"), {seen}}})});
  server.clock.advance(1'000);
  server.sync(work.mona_phone, {server.write(work.mona_phone, "visit", visit, work.case_a,
                                             {{"observations", text(kSentinel + " b"), {seen}}})});
  // Rejected groups: invalid (the server's values go back to the device), and out of scope.
  std::vector<FieldEdit> invalid = valid_visit(kSentinel + " invalid");
  std::erase_if(invalid, [](const FieldEdit& edit) { return edit.field == "seen_alone"; });
  REQUIRE(server
              .sync(work.amira_tablet, {server.write(work.amira_tablet, "visit", Uuid::random_v4(),
                                                     work.case_a, invalid)})
              .rejections.size() == 1);
  REQUIRE(server
              .sync(work.bilal_phone,
                    {server.write(work.bilal_phone, "visit", Uuid::random_v4(), work.case_a,
                                  valid_visit(kSentinel + " elsewhere"))})
              .rejections.size() == 1);
  // Sync bodies that are refused, with the sentinel where a decoder might quote it.
  for (
      const std::string& body :
      {R"({"protocol": {"major": 1, "minor": 0}, "cursor": ")" + kSentinel + R"("})",
       R"({"protocol": {"major": 1, "minor": 0}, ")" + kSentinel +
           R"(": 1, "write_groups": [{"id": ")" + kSentinel + R"("}]})",
       R"({"write_groups": [{"id": "00000000-0000-4000-8000-000000000001", "changes": [{"field": ")" +
           kSentinel + R"(", "value": {"type": "text", "value": ")" + kSentinel + R"("}}]}]})",
       "{\"" + kSentinel + "\""}) {
    const http::Response refused =
        server.call("POST", "/v1/sync", body, "application/json", work.bilal_phone.token);
    CHECK(refused.status == 400);
    keep(refused);
  }
  keep(server.call("POST", "/v1/sync", kSentinel, std::string(kBinaryContentType),
                   work.bilal_phone.token));
  keep(server.call("POST", "/v1/sync", kSentinel, "text/plain", work.bilal_phone.token));
  // A revoked device, for its entry too.
  keep(server.admin_call("POST",
                         "/v1/admin/devices/" + work.amira_tablet.id.to_string() + "/revoke",
                         {{"reason", "lost"}}, server.admin_token));
  // The server does hold the sentinel: what follows checks that it keeps it to itself.
  const auto observations = server.inspect([&](StorageTransaction& tx) {
    return tx.current_field({visit, "observations"});
  });
  REQUIRE(observations);
  REQUIRE(holds_sentinel(observations->change.value.as_text()));

  std::size_t reads = 0;
  for (const http::RouteSignature& route : server.app->router().routes()) {
    if (route.method != "GET" || !route.pattern.starts_with("/v1/admin/")) continue;
    const auto extra = queries().find(route.pattern);
    std::vector<std::string> query_strings = {""};
    if (extra != queries().end())
      query_strings.insert(query_strings.end(), extra->second.begin(), extra->second.end());
    for (const TestDevice* device :
         {&work.amira_phone, &work.amira_tablet, &work.mona_phone, &work.bilal_phone}) {
      for (const std::string& query : query_strings) {
        const std::string path = with_id(route.pattern, device->id.to_string()) + query;
        const http::Response response = server.admin_call("GET", path, nullptr, server.admin_token);
        INFO(path << " answered " << response.status);
        CHECK(response.status == 200);
        keep(response);
        ++reads;
      }
    }
  }
  CHECK(reads > 40);
  // The dashboard's pages, which the admin's browser fills from the answers above.
  keep(server.call("GET", "/admin"));
  for (const EmbeddedFile& file : dashboard_files()) {
    const http::Response response = server.call("GET", "/admin/" + std::string(file.name));
    CHECK(response.status == 200);
    keep(response);
  }
  // The answers did report what happened (without its content).
  const nlohmann::json conflicts = server.admin("GET", "/v1/admin/conflicts");
  CHECK(conflicts.at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/rejections").at("total") == 2);
  CHECK(server.device_entry(work.bilal_phone).at("failed_in_a_row") == 7);

  for (const std::string& answer : answers) {
    INFO(answer);
    CHECK_FALSE(holds_sentinel(answer));
  }
  INFO(server.log_text.str());
  CHECK(server.log_text.str().find("\"sync\"") != std::string::npos);  // the log was written
  CHECK_FALSE(holds_sentinel(server.log_text.str()));
}
