// The end of a device's life and its upgrade (DESIGN.md section 5): a revoked device gets only a
// wipe directive (nothing pulled, nothing it pushes applied) until it acknowledges, after which
// its token is refused; a retired device's final push is accepted before its retire directive;
// a device whose core is below the server's minimum gets upgrade_required and nothing else.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

std::string status_in_admin_list(ServerFixture& server, const TestDevice& device) {
  const nlohmann::json answer = server.admin("GET", "/v1/admin/devices");
  for (const nlohmann::json& listed : answer.at("devices")) {
    if (listed.at("device_id") == device.id.to_string()) return listed.at("status");
  }
  return "absent";
}

bool exists(ServerFixture& server, const RecordId& record) {
  return server.inspect(
      [&](StorageTransaction& tx) { return !tx.record_homes(std::span(&record, 1)).empty(); });
}

}  // namespace

TEST_CASE("A revoked device gets only a wipe directive, once it acknowledges, its token is refused",
          "[server][auth]") {
  ServerFixture server;
  Casework work(server);
  const RecordId colleague_visit = Uuid::random_v4();
  REQUIRE(server
              .sync(work.amira_phone, {server.write(work.amira_phone, "visit", colleague_visit,
                                                    work.case_a, valid_visit("unseen by tablet"))})
              .acks.size() == 1);
  server.revoke(work.amira_tablet);
  CHECK(status_in_admin_list(server, work.amira_tablet) == "revoked");

  const RecordId visit = Uuid::random_v4();
  const WriteGroup push =
      server.write(work.amira_tablet, "visit", visit, work.case_a, valid_visit("from a thief"));
  const SyncResponse wiped = server.sync(work.amira_tablet, {push});
  CHECK(wiped.acks.empty());
  CHECK(wiped.rejections.empty());
  CHECK(wiped.changes.empty());
  CHECK(wiped.conflicts.empty());
  REQUIRE(wiped.directives.size() == 1);
  CHECK(wiped.directives[0].kind == DirectiveKind::kWipe);
  CHECK_FALSE(exists(server, visit));

  SECTION("repeated until acknowledged") {
    const SyncResponse again = server.sync(work.amira_tablet);
    CHECK(again.directives == wiped.directives);
    CHECK(again.changes.empty());
  }
  SECTION("acknowledged: the token is refused, and the device is listed as wiped") {
    server.sync(work.amira_tablet, {}, {wiped.directives[0].id});
    const http::Response refused =
        server.sync_call(work.amira_tablet, server.sync_request(work.amira_tablet));
    CHECK(refused.status == 401);
    CHECK(error_name(refused) == "unauthorized");
    CHECK(status_in_admin_list(server, work.amira_tablet) == "wiped");
    // Its user's other device is untouched.
    CHECK(server.sync(work.amira_phone).directives.empty());
  }
}

TEST_CASE("A retired device's final push is accepted, then it is told to retire",
          "[server][auth]") {
  ServerFixture server;
  Casework work(server);
  server.retire(work.amira_tablet);
  CHECK(status_in_admin_list(server, work.amira_tablet) == "retiring");

  const RecordId visit = Uuid::random_v4();
  const WriteGroup final_push =
      server.write(work.amira_tablet, "visit", visit, work.case_a, valid_visit("last visit"));
  const SyncResponse answer = server.sync(work.amira_tablet, {final_push});
  CHECK(answer.acks == std::vector<WriteGroupId>{final_push.id});
  const std::vector<Directive> retire = directives_of_kind(answer, DirectiveKind::kRetire);
  REQUIRE(retire.size() == 1);
  CHECK(answer.directives.size() == 1);
  CHECK(fields_of(server.sync(work.amira_phone), visit).size() == final_push.changes.size());

  SECTION("repeated until acknowledged") {
    CHECK(server.sync(work.amira_tablet).directives == answer.directives);
  }
  SECTION("acknowledged: the token is refused and the device is listed as retired") {
    server.sync(work.amira_tablet, {}, {retire[0].id});
    CHECK(server.sync_call(work.amira_tablet, server.sync_request(work.amira_tablet)).status ==
          401);
    CHECK(status_in_admin_list(server, work.amira_tablet) == "retired");
  }
}

TEST_CASE("A device below the minimum core version gets upgrade_required and nothing else",
          "[server][reconcile]") {
  ServerOptions options;
  options.reconciler.min_core_version = "0.2.0";
  ServerFixture server(options);
  server.create_team("north");
  server.create_user("amira", "north");
  const CaseId case_a = server.create_case("amira", "Ava");
  TestDevice phone = server.enrol("amira");
  const RecordId visit = Uuid::random_v4();

  SECTION("too old: nothing pulled, nothing pushed") {
    phone.core_version = GENERATE(as<std::string>{}, "0.1.9", "0.1", "", "garbage");
    INFO("core version '" << phone.core_version << "'");
    const WriteGroup push = server.write(phone, "visit", visit, case_a, valid_visit("old app"));
    const SyncResponse answer = server.sync(phone, {push});
    CHECK(answer.acks.empty());
    CHECK(answer.rejections.empty());
    CHECK(answer.changes.empty());
    REQUIRE(answer.directives.size() == 1);
    CHECK(answer.directives[0].kind == DirectiveKind::kUpgradeRequired);
    CHECK(answer.directives[0].detail == "0.2.0");
    CHECK_FALSE(exists(server, visit));
    CHECK(server.sync(phone).directives == answer.directives);
  }
  SECTION("new enough: a normal sync") {
    phone.core_version = GENERATE(as<std::string>{}, "0.2.0", "0.10.0", "1.0.0-beta");
    INFO("core version '" << phone.core_version << "'");
    const WriteGroup push = server.write(phone, "visit", visit, case_a, valid_visit("new app"));
    const SyncResponse answer = server.sync(phone, {push});
    CHECK(answer.acks.size() == 1);
    CHECK(fields_of(answer, case_a).at("child_name").value == text("Ava"));
    CHECK(answer.directives.empty());
  }
}
