// The audit log (docs/http-api.md, "Audit log"): every admin action, enrolment, sync that moved
// data, directive and refused authentication gets an entry, in the transaction of what it
// records; entries are filtered and paged; only the monitor role reads them; an altered, deleted
// or truncated row breaks the hash chain and the check names it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <thread>

#include "audit_chain.h"
#include "audit_trail.h"
#include "fieldsync/crypto.h"
#include "fieldsync/sqlite_db.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;
using nlohmann::json;

namespace {

http::Response audit_call(ServerFixture& server, const std::string& path, const std::string& query,
                          const std::string& token) {
  http::Request request;
  request.method = "GET";
  request.path = path;
  request.query = query;
  request.remote_address = kDefaultAddress;
  request.headers.emplace_back("Authorization", "Bearer " + token);
  return server.dispatch(std::move(request));
}

json get_json(ServerFixture& server, const std::string& path, const std::string& query = {}) {
  const http::Response response = audit_call(server, path, query, server.admin_token);
  INFO(path << "?" << query << " answered " << response.status << " " << response.body);
  REQUIRE(response.status == 200);
  return json::parse(response.body);
}

// Entries matching `query`, oldest first.
std::vector<json> entries(ServerFixture& server, const std::string& query = "limit=1000") {
  const json answer = get_json(server, "/v1/admin/audit", query);
  std::vector<json> list(answer.at("entries").begin(), answer.at("entries").end());
  std::reverse(list.begin(), list.end());
  return list;
}

std::vector<std::string> actions(const std::vector<json>& list) {
  std::vector<std::string> names;
  for (const json& entry : list) names.push_back(entry.at("action").get<std::string>());
  return names;
}

std::vector<json> with_action(const std::vector<json>& list, const std::string& action) {
  std::vector<json> found;
  std::copy_if(list.begin(), list.end(), std::back_inserter(found),
               [&](const json& entry) { return entry.at("action") == action; });
  return found;
}

json verify(ServerFixture& server) {
  return get_json(server, "/v1/admin/audit/verify");
}

std::string admin_actor(const std::string& token) {
  return "admin:" + token.substr(0, token.find('.'));
}

std::string database_file(ServerFixture& server) {
  return server.dir.file("server") + "/fieldsync-server.db";
}

// Another connection to the server's file, as someone with the file in hand would open it, with
// the append-only triggers dropped first.
void tamper(ServerFixture& server, const std::string& sql) {
  sqlite::Database db(database_file(server), sqlite::Database::Mode::kReadWrite);
  db.exec(
      "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;"
      "DROP TRIGGER IF EXISTS audit_cases_no_update; DROP TRIGGER IF EXISTS "
      "audit_cases_no_delete;");
  db.exec(sql);
}

void check_broken_at(const json& result, std::uint64_t seq, const std::string& words) {
  INFO(result.dump());
  CHECK(result.at("intact") == false);
  CHECK(result.at("first_bad_seq") == seq);
  CHECK(result.at("problem").get<std::string>().find(words) != std::string::npos);
}

}  // namespace

TEST_CASE("Each admin action is written to the audit log with who did it", "[server][audit]") {
  ServerFixture server;
  server.create_team("north");
  server.create_user("amira", "north");
  const CaseId case_id = server.create_case("amira", "Ava");
  server.create_team("south");
  server.create_user("dan", "south");
  server.allocate(case_id, "dan");
  const std::string code = server.enrolment_code("amira");
  const TestDevice phone = server.enrol("amira");
  const TestDevice tablet = server.enrol("amira");
  server.revoke(phone);
  server.retire(tablet);

  const std::vector<json> list = entries(server);
  CHECK(actions(list) == std::vector<std::string>{
                             "team.created", "user.created", "case.created", "team.created",
                             "user.created", "allocation.changed", "enrolment_code.issued",
                             "enrolment_code.issued", "device.enrolled", "enrolment_code.issued",
                             "device.enrolled", "device.revoked", "device.retired"});
  for (const json& entry : list) {
    if (entry.at("action") == "device.enrolled") continue;
    CHECK(entry.at("actor") == admin_actor(server.admin_token));
    CHECK(entry.at("actor_name") == "test-admin");
    CHECK(entry.at("address") == kDefaultAddress);
    CHECK(entry.at("at_ms").get<std::int64_t>() >= kStartMs);
  }
  CHECK(list[0].at("detail").at("team_id") == "north");
  CHECK(list[1].at("user_id") == "amira");
  CHECK(list[2].at("case_ids") == json::array({case_id.to_string()}));
  CHECK(list[5].at("case_ids") == json::array({case_id.to_string()}));
  CHECK(list[5].at("detail").at("team_id") == "south");
  CHECK(list[5].at("detail").at("worker_id") == "dan");
  CHECK(list[6].at("user_id") == "amira");
  CHECK(list[8].at("actor") == "device:" + phone.id.to_string());
  CHECK(list[8].at("device_id") == phone.id.to_string());
  CHECK(list[11].at("device_id") == phone.id.to_string());
  CHECK(list[11].at("detail").at("status_reason") == "lost");
  CHECK(list[12].at("device_id") == tablet.id.to_string());

  SECTION("no enrolment code or token is ever written") {
    const std::string all = get_json(server, "/v1/admin/audit", "limit=1000").dump();
    std::string typed = code;
    std::erase(typed, '-');
    CHECK(all.find(code) == std::string::npos);
    CHECK(all.find(typed.substr(8)) == std::string::npos);  // the code's secret part
    CHECK(all.find(phone.token.substr(phone.token.find('.') + 1)) == std::string::npos);
    CHECK(all.find(server.admin_token.substr(server.admin_token.find('.') + 1)) ==
          std::string::npos);
  }
  SECTION("lists are not recorded") {
    const std::size_t before = entries(server).size();
    server.admin("GET", "/v1/admin/teams");
    server.admin("GET", "/v1/admin/devices");
    CHECK(entries(server).size() == before);
  }
  SECTION("an action that fails leaves no entry") {
    const std::size_t before = entries(server).size();
    CHECK(server.admin_call("POST", "/v1/admin/teams", {{"team_id", "north"}}, server.admin_token)
              .status == 409);
    CHECK(entries(server).size() == before);
  }
}

TEST_CASE("Every admin route that changes something has an audit action", "[server][audit]") {
  ServerFixture server;
  for (const http::RouteSignature& route : server.app->router().routes()) {
    const bool admin_route =
        route.pattern.starts_with("/v1/admin/") || route.pattern.starts_with("/admin/");
    if (!admin_route || route.method == "GET") continue;
    INFO(route.method << " " << route.pattern);
    CHECK(AuditTrail::action_of_admin_route(route.name).has_value());
  }
}

TEST_CASE("Syncs that move data and their directives are written to the audit log",
          "[server][audit]") {
  ServerFixture server;
  Casework work(server);
  const std::size_t before = entries(server).size();

  SECTION("a push: the device, its user, the case and counts") {
    const RecordId visit = Uuid::random_v4();
    const WriteGroup group =
        server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
    server.sync(work.amira_phone, {group});
    const std::vector<json> list = entries(server);
    REQUIRE(list.size() == before + 1);
    const json& entry = list.back();
    CHECK(entry.at("action") == "sync");
    CHECK(entry.at("actor") == "device:" + work.amira_phone.id.to_string());
    CHECK(entry.at("actor_name") == "amira");
    CHECK(entry.at("device_id") == work.amira_phone.id.to_string());
    CHECK(entry.at("user_id") == "amira");
    CHECK(entry.at("case_ids") == json::array({work.case_a.to_string()}));
    CHECK(entry.at("detail").at("groups_accepted") == 1);
    CHECK(entry.at("detail").at("changes_in") == group.changes.size());
    CHECK(entry.at("detail").at("cases_pushed") == json::array({work.case_a.to_string()}));

    SECTION("the pull on another device names the case it received") {
      server.sync(work.amira_tablet);
      const json pulled = entries(server).back();
      CHECK(pulled.at("device_id") == work.amira_tablet.id.to_string());
      CHECK(pulled.at("detail").at("changes_out") == group.changes.size());
      CHECK(pulled.at("detail").at("cases_pulled") == json::array({work.case_a.to_string()}));
    }
    SECTION("a rejected group: its code, never its message") {
      const WriteGroup bad =
          server.write(work.amira_phone, "visit", Uuid::random_v4(), work.case_a,
                       {{"child_seen", boolean(false)}, {"seen_alone", boolean(true)}});
      const SyncResponse answer = server.sync(work.amira_phone, {bad});
      REQUIRE(answer.rejections.size() == 1);
      const json rejected = entries(server).back();
      CHECK(rejected.at("detail").at("groups_rejected") == 1);
      CHECK(rejected.at("detail").at("rejections").at("validation") == 1);
      CHECK(rejected.at("detail").at("cases_refused") == json::array({work.case_a.to_string()}));
      CHECK(rejected.dump().find(answer.rejections[0].message) == std::string::npos);
    }
  }
  SECTION("a sync that moves nothing is not written") {
    server.sync(work.amira_phone);
    server.sync(work.mona_phone);
    CHECK(entries(server).size() == before);
  }
  SECTION("a wipe directive, issued once and acknowledged") {
    server.revoke(work.bilal_phone);
    const SyncResponse told = server.sync(work.bilal_phone);
    server.sync(work.bilal_phone);  // not acknowledged yet: repeated, not issued again
    const std::vector<json> issued = with_action(entries(server), "directive.issued");
    REQUIRE(issued.size() == 1);
    CHECK(issued[0].at("device_id") == work.bilal_phone.id.to_string());
    CHECK(issued[0].at("detail").at("kind") == "wipe");
    CHECK(issued[0].at("detail").at("directive_id") == told.directives.at(0).id);

    server.sync(work.bilal_phone, {}, directive_ids(told));
    const std::vector<json> acknowledged = with_action(entries(server), "directive.acknowledged");
    REQUIRE(acknowledged.size() == 1);
    CHECK(acknowledged[0].at("actor") == "device:" + work.bilal_phone.id.to_string());
    CHECK(acknowledged[0].at("detail").at("kind") == "wipe");
  }
  SECTION("a purge directive names the case that left the device's scope") {
    server.allocate(work.case_b, "amira");
    server.sync(work.bilal_phone);
    const std::vector<json> issued = with_action(entries(server), "directive.issued");
    REQUIRE(issued.size() == 1);
    CHECK(issued[0].at("detail").at("kind") == "purge_case");
    CHECK(issued[0].at("case_ids") == json::array({work.case_b.to_string()}));
  }
}

TEST_CASE("Refused authentication and refused rights are written to the audit log",
          "[server][audit][auth]") {
  ServerOptions options;
  options.credentials.max_failures = 3;
  ServerFixture server(options);
  Casework work(server);
  const std::size_t before = entries(server).size();
  const std::string device_hex = work.amira_phone.token.substr(0, work.amira_phone.token.find('.'));

  SECTION("a wrong device token names the account it claimed, never the secret") {
    TestDevice impostor = work.amira_phone;
    impostor.token = device_hex + "." + std::string(64, 'b');
    CHECK(server.sync_call(impostor, server.sync_request(impostor)).status == 401);
    const std::vector<json> list = entries(server);
    REQUIRE(list.size() == before + 1);
    CHECK(list.back().at("action") == "auth.failed");
    CHECK(list.back().at("actor") == "anonymous");
    CHECK(list.back().at("address") == kDefaultAddress);
    CHECK(list.back().at("detail").at("credential") == "device");
    CHECK(list.back().at("detail").at("claimed_account") == device_hex);
    CHECK(list.back().dump().find(std::string(64, 'b')) == std::string::npos);
  }
  SECTION("a wrong admin token and a wrong enrolment code") {
    CHECK(server.admin_call("GET", "/v1/admin/teams", nullptr, "0123456789abcdef.x").status == 401);
    CHECK(server.enrol_call("ABCD-EFGH-JKMN-PQRS-TVWX-YZ23").status == 401);
    const std::vector<json> refused = with_action(entries(server), "auth.failed");
    REQUIRE(refused.size() == 2);
    CHECK(refused[0].at("detail").at("credential") == "admin");
    CHECK(refused[0].at("detail").at("claimed_account") == "0123456789abcdef");
    CHECK(refused[1].at("detail").at("credential") == "enrolment");
  }
  SECTION("attempts refused for being too many are not written") {
    for (int attempt = 0; attempt < 6; ++attempt) {
      server.call("GET", "/v1/admin/teams", {}, {}, "nobody.x", "198.51.100.20");
    }
    CHECK(with_action(entries(server), "auth.failed").size() == 3);
  }
  SECTION("a token without the route's role") {
    const std::string monitor = server.issue_admin_token({"monitor"});
    CHECK(server.admin_call("POST", "/v1/admin/teams", {{"team_id", "east"}}, monitor).status ==
          403);
    const std::vector<json> denied = with_action(entries(server), "access.denied");
    REQUIRE(denied.size() == 1);
    CHECK(denied[0].at("actor") == admin_actor(monitor));
    CHECK(denied[0].at("detail").at("role_needed") == "manage");
    CHECK(denied[0].at("detail").at("route") == "admin.teams.create");
  }
}

TEST_CASE("The audit log is filtered and paged", "[server][audit]") {
  ServerFixture server;
  Casework work(server);
  server.clock.advance(60'000);
  const std::int64_t later = server.clock.wall_ms();
  server.revoke(work.bilal_phone);
  const RecordId visit = Uuid::random_v4();
  server.sync(work.amira_phone,
              {server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("x"))});
  const std::vector<json> all = entries(server);

  SECTION("by action") {
    const std::vector<json> found = entries(server, "action=device.enrolled");
    CHECK(found.size() == 4);
    CHECK(actions(found) == std::vector<std::string>(4, "device.enrolled"));
  }
  SECTION("by actor") {
    const std::vector<json> found =
        entries(server, "actor=device%3A" + work.amira_phone.id.to_string());
    REQUIRE_FALSE(found.empty());
    for (const json& entry : found)
      CHECK(entry.at("actor") == "device:" + work.amira_phone.id.to_string());
  }
  SECTION("by device") {
    const std::vector<json> found = entries(server, "device=" + work.bilal_phone.id.to_string());
    CHECK(actions(found) == std::vector<std::string>{"device.enrolled", "sync", "device.revoked"});
  }
  SECTION("by case") {
    const std::vector<json> found = entries(server, "case=" + work.case_b.to_string());
    REQUIRE(found.size() >= 2);
    CHECK(found.front().at("action") == "case.created");
    for (const json& entry : found) {
      CHECK(std::ranges::count(entry.at("case_ids"), json(work.case_b.to_string())) == 1);
    }
  }
  SECTION("by time") {
    const std::vector<json> found = entries(server, "from_ms=" + std::to_string(later));
    CHECK(actions(found) == std::vector<std::string>{"device.revoked", "sync"});
    const std::vector<json> earlier =
        entries(server, "to_ms=" + std::to_string(later) + "&limit=1000");
    CHECK(earlier.size() + found.size() == all.size());
  }
  SECTION("pages of a given size, newest first, until next_before is null") {
    std::vector<std::uint64_t> seen;
    std::string query = "limit=7";
    for (int page = 0; page < 100; ++page) {
      const json answer = get_json(server, "/v1/admin/audit", query);
      CHECK(answer.at("entries").size() <= 7);
      for (const json& entry : answer.at("entries")) seen.push_back(entry.at("seq"));
      if (answer.at("next_before").is_null()) break;
      query = "limit=7&before=" + std::to_string(answer.at("next_before").get<std::uint64_t>());
    }
    CHECK(seen.size() == all.size());
    CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
    CHECK(seen.back() == 1);
  }
  SECTION("bad filters are refused with a reason") {
    for (const std::string query : {"limit=0", "limit=5000", "device=42", "case=", "from_ms=x",
                                    "before=0", "colour=red", "limit=1&limit=2", "actor=%zz"}) {
      INFO(query);
      const http::Response response =
          audit_call(server, "/v1/admin/audit", query, server.admin_token);
      CHECK(response.status == 400);
      CHECK_FALSE(error_message(response).empty());
    }
  }
}

TEST_CASE("Only the monitor role reads the audit log", "[server][audit][auth]") {
  ServerFixture server;
  const std::string monitor = server.issue_admin_token({"monitor"});
  const std::string others = server.issue_admin_token({"manage", "enrol"});
  for (const std::string path : {"/v1/admin/audit", "/v1/admin/audit/verify"}) {
    INFO(path);
    CHECK(audit_call(server, path, {}, monitor).status == 200);
    const http::Response denied = audit_call(server, path, {}, others);
    CHECK(denied.status == 403);
    CHECK(error_name(denied) == "forbidden");
    CHECK(server.call("GET", path).status == 401);
  }
}

// SQLite only: rows are altered through the database file. On PostgreSQL the append-only
// triggers and an altered row are checked in test_postgres_storage.cpp.
TEST_CASE("The hash chain shows an altered, rewritten or deleted row and names it",
          "[server][audit][sqlite]") {
  ServerFixture server;
  Casework work(server);
  const json intact = verify(server);
  REQUIRE(intact.at("intact") == true);
  const std::uint64_t rows = intact.at("rows_checked");
  REQUIRE(rows > 10);
  CHECK(intact.at("head").at("seq") == rows);
  CHECK(intact.at("first_bad_seq").is_null());

  SECTION("the log refuses changes through SQL unless its guards are removed") {
    sqlite::Database db(database_file(server), sqlite::Database::Mode::kReadWrite);
    CHECK_THROWS(db.exec("UPDATE audit_log SET action = 'nothing' WHERE seq = 3"));
    CHECK_THROWS(db.exec("DELETE FROM audit_log WHERE seq = 3"));
    CHECK_THROWS(db.exec("DELETE FROM audit_cases"));
  }
  SECTION("an altered row") {
    tamper(server, "UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 5");
    check_broken_at(verify(server), 5, "row 5 does not match its hash");
  }
  SECTION("an altered time") {
    tamper(server, "UPDATE audit_log SET at = at + 1 WHERE seq = 2");
    check_broken_at(verify(server), 2, "row 2");
  }
  SECTION("an altered case id") {
    const std::uint64_t seq = entries(server, "action=case.created&limit=1").at(0).at("seq");
    tamper(server,
           "UPDATE audit_cases SET case_id = randomblob(16) WHERE seq = " + std::to_string(seq));
    check_broken_at(verify(server), seq, "row " + std::to_string(seq));
  }
  SECTION("a row rewritten with a hash made for it") {
    auto tx = server.app->storage().begin();
    AuditRecord row = tx->audit_range(6, 1).at(0);
    tx.reset();
    row.entry.actor_name = "someone else";
    const Bytes forged = audit_row_hash(row.previous_hash, row.seq, row.entry);
    tamper(server, "UPDATE audit_log SET actor_name = 'someone else', hash = x'" +
                       crypto::to_hex(forged) + "' WHERE seq = 7");
    check_broken_at(verify(server), 7, "row 7 is not the row that the next one was chained to");
  }
  SECTION("a deleted row") {
    tamper(server, "DELETE FROM audit_log WHERE seq = 4");
    check_broken_at(verify(server), 4, "row 4 is missing");
  }
  SECTION("the last rows deleted") {
    tamper(server, "DELETE FROM audit_log WHERE seq > " + std::to_string(rows - 2));
    check_broken_at(verify(server), rows - 1, "are missing");
  }
  SECTION("a broken chain is logged") {
    tamper(server, "DELETE FROM audit_log WHERE seq = 4");
    verify(server);
    CHECK(server.log_text.str().find("audit_chain_broken") != std::string::npos);
  }
}

TEST_CASE("The chain stays whole with many writers at once", "[server][audit]") {
  ServerFixture server;
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&server, t] {
      for (int i = 0; i < kEach; ++i) {
        AuditEntry entry;
        entry.at_ms = kStartMs + i;
        entry.actor = "writer:" + std::to_string(t);
        entry.action = "test.event";
        entry.detail = "{}";
        entry.case_ids = {Uuid::random_v4(), Uuid::random_v4()};
        // A writer that loses a race runs again (PostgreSQL), as the server's do.
        run_transaction(server.app->storage(),
                        [&](StorageTransaction& tx) { tx.append_audit(entry); });
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  const AuditVerification result = verify_audit_chain(server.app->storage(), 37);
  CHECK(result.intact);
  CHECK(result.rows_checked == kThreads * kEach);
  CHECK(result.head.seq == kThreads * kEach);
}

TEST_CASE("A row's hash covers every part of it", "[server][audit]") {
  AuditEntry entry;
  entry.at_ms = kStartMs;
  entry.node = "n1";
  entry.actor = "admin:ab";
  entry.actor_name = "Jo";
  entry.action = "team.created";
  entry.address = "127.0.0.1";
  entry.device = Uuid::random_v4();
  entry.user_id = "amira";
  entry.case_ids = {Uuid::random_v4(), Uuid::random_v4()};
  entry.detail = R"({"team_id":"north"})";
  const Bytes previous = audit_genesis_hash();
  const Bytes hash = audit_row_hash(previous, 1, entry);
  CHECK(hash.size() == kAuditHashBytes);

  AuditEntry reordered = entry;
  std::swap(reordered.case_ids[0], reordered.case_ids[1]);
  CHECK(audit_row_hash(previous, 1, reordered) == hash);  // case ids are a set

  CHECK(audit_row_hash(previous, 2, entry) != hash);
  CHECK(audit_row_hash(Bytes(32, 1), 1, entry) != hash);
  const std::vector<std::function<void(AuditEntry&)>> changes = {
      [](AuditEntry& e) { ++e.at_ms; },
      [](AuditEntry& e) { e.node = "n2"; },
      [](AuditEntry& e) { e.actor = "admin:ac"; },
      [](AuditEntry& e) { e.actor_name = "Jon"; },
      [](AuditEntry& e) { e.action = "team.deleted"; },
      [](AuditEntry& e) { e.address = "127.0.0.2"; },
      [](AuditEntry& e) { e.device.reset(); },
      [](AuditEntry& e) { e.user_id = "amir"; },
      [](AuditEntry& e) { e.case_ids.pop_back(); },
      [](AuditEntry& e) { e.detail = R"({"team_id":"south"})"; },
      // Moving a byte from one text to the next changes the hash too (lengths are hashed).
      [](AuditEntry& e) {
        e.actor = "admin:a";
        e.actor_name = "bJo";
      },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    INFO("change " << i);
    AuditEntry altered = entry;
    changes[i](altered);
    CHECK(audit_row_hash(previous, 1, altered) != hash);
  }
}
