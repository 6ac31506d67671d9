// The device registry (docs/http-api.md, "Device registry"): every sync updates its device's
// entry from the request's telemetry and the server's own view, in the sync's own transaction; a
// failed sync is recorded too; each device's recent syncs are kept, bounded; and the state of a
// device (healthy, stale, at risk, revoked, retired) follows the clock and the health rules.
#include <catch2/catch.hpp>

#include "device_registry.h"
#include "fieldsync/sqlite_db.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr std::int64_t kHourMs = 60 * 60 * 1000;

std::string state_of(ServerFixture& server, const TestDevice& device) {
  return server.device_entry(device).at("state");
}

// The fields of a visit that the schema refuses: the child was seen, but "seen alone" is missing.
std::vector<FieldEdit> visit_missing_seen_alone() {
  std::vector<FieldEdit> fields = valid_visit("first visit");
  std::erase_if(fields, [](const FieldEdit& edit) { return edit.field == "seen_alone"; });
  return fields;
}

// A sync whose body does not decode: the server answers 400 and nothing of it commits.
http::Response failing_sync(ServerFixture& server, const TestDevice& device) {
  return server.call("POST", "/v1/sync", "not a sync request", std::string(kBinaryContentType),
                     device.token);
}

// A second connection to the server's SQLite file, for what no route can do: break a table.
sqlite::Database open_server_database(ServerFixture& server) {
  return sqlite::Database(server.dir.file("server") + "/fieldsync-server.db",
                          sqlite::Database::Mode::kReadWrite);
}

bool exists(ServerFixture& server, const RecordId& record) {
  return server.inspect(
      [&](StorageTransaction& tx) { return !tx.record_homes(std::span(&record, 1)).empty(); });
}

}  // namespace

TEST_CASE("Each sync updates its device's entry from its telemetry and the server's view",
          "[server][registry]") {
  ServerFixture server;
  Casework work(server);
  const std::int64_t enrolled_at = server.clock.wall_ms();
  server.clock.advance(60'000);
  const std::int64_t now = server.clock.wall_ms();

  const RecordId visit = Uuid::random_v4();
  SyncRequest request = server.sync_request(
      work.amira_phone,
      {server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("calm"))});
  request.telemetry.platform = "ios 17.4";
  request.telemetry.app_version = "2.3.1";
  request.telemetry.core_version = "0.1.0";
  request.telemetry.pending_count = 7;  // the 5 changes sent, and 2 more left in the outbox
  request.telemetry.oldest_pending_age_ms = 2 * kHourMs;
  request.telemetry.device_clock_ms = now + 90'000;
  request.telemetry.last_error_code = "network";
  request.telemetry.last_error_message = "the server could not be reached";
  const std::string body = encode_request(request, WireFormat::kBinary);
  const http::Response answer = server.sync_call(work.amira_phone, request);
  REQUIRE(answer.status == 200);

  const nlohmann::json entry = server.device_entry(work.amira_phone);
  CHECK(entry.at("device_id") == work.amira_phone.id.to_string());
  CHECK(entry.at("user_id") == "amira");
  CHECK(entry.at("team_id") == "north");
  CHECK(entry.at("state") == "healthy");
  CHECK(entry.at("status") == "active");
  CHECK(entry.at("platform") == "ios 17.4");
  CHECK(entry.at("app_version") == "2.3.1");
  CHECK(entry.at("core_version") == "0.1.0");
  CHECK(entry.at("enrolled_at_ms") == enrolled_at);
  CHECK(entry.at("last_seen_ms") == now);
  CHECK(entry.at("last_sync_ms") == now);
  CHECK(entry.at("last_attempt_ms") == now);
  CHECK(entry.at("pending_changes") == 2);
  CHECK(entry.at("oldest_pending_at_ms") == now - 2 * kHourMs);
  CHECK(entry.at("clock_offset_ms") == 90'000);
  CHECK(entry.at("failed_in_a_row") == 0);
  CHECK(entry.at("last_error").is_null());
  CHECK(entry.at("device_error") ==
        nlohmann::json{{"code", "network"}, {"message", "the server could not be reached"}});
  const nlohmann::json& totals = entry.at("totals");
  CHECK(totals.at("syncs") == 2);  // the Casework's first sync, and this one
  CHECK(totals.at("changes_pushed") == 5);
  CHECK(totals.at("rejections") == 0);
  CHECK(totals.at("conflicts") == 0);

  const nlohmann::json& last = entry.at("recent_syncs").at(0);
  CHECK(last.at("at_ms") == now);
  CHECK(last.at("outcome") == "ok");
  CHECK(last.at("changes_pushed") == 5);
  CHECK(last.at("bytes_in") == body.size());
  CHECK(last.at("bytes_out") == answer.body.size());
  CHECK(last.at("error").is_null());

  SECTION("what it pulls and the conflicts its pushes make are counted") {
    server.sync(work.amira_tablet);  // pulls the visit
    const nlohmann::json tablet = server.device_entry(work.amira_tablet);
    CHECK(tablet.at("recent_syncs").at(0).at("changes_pulled") == 5);
    CHECK(tablet.at("totals").at("changes_pulled") == 7);  // and the case's two fields before

    // Both edit the observations from the same version: the later overwrites one it never saw.
    const Version seen = version_of(request.write_groups[0], visit, "observations");
    server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", visit, work.case_a,
                                                {{"observations", text("a"), {seen}}})});
    server.sync(work.amira_tablet, {server.write(work.amira_tablet, "visit", visit, work.case_a,
                                                 {{"observations", text("b"), {seen}}})});
    const nlohmann::json after = server.device_entry(work.amira_tablet);
    CHECK(after.at("totals").at("conflicts") == 1);
    CHECK(after.at("recent_syncs").at(0).at("conflicts") == 1);
  }
  SECTION("a device that reports no clock keeps the offset it had") {
    SyncRequest quiet = server.sync_request(work.amira_phone);
    quiet.telemetry.device_clock_ms = 0;
    REQUIRE(server.sync_call(work.amira_phone, quiet).status == 200);
    CHECK(server.device_entry(work.amira_phone).at("clock_offset_ms") == 90'000);
  }
  SECTION("a request that names no platform or version keeps what the device last reported") {
    SyncRequest bare = server.sync_request(work.amira_phone);
    bare.telemetry = {};
    REQUIRE(server.sync_call(work.amira_phone, bare).status == 200);
    const nlohmann::json after = server.device_entry(work.amira_phone);
    CHECK(after.at("platform") == "ios 17.4");
    CHECK(after.at("app_version") == "2.3.1");
    CHECK(after.at("core_version") == "0.1.0");
    CHECK(after.at("pending_changes") == 0);  // the outbox is taken as sent
    CHECK(after.at("device_error").is_null());

    SyncRequest upgraded = server.sync_request(work.amira_phone);
    upgraded.telemetry.platform = "ios 18.0";
    upgraded.telemetry.app_version = "2.4.0";
    REQUIRE(server.sync_call(work.amira_phone, upgraded).status == 200);
    const nlohmann::json later = server.device_entry(work.amira_phone);
    CHECK(later.at("platform") == "ios 18.0");
    CHECK(later.at("app_version") == "2.4.0");
    CHECK(later.at("core_version") == "0.1.0");
  }
}

TEST_CASE("A rejected group becomes the device's last error, with the rejection's metadata",
          "[server][registry]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup invalid =
      server.write(work.amira_phone, "visit", visit, work.case_a, visit_missing_seen_alone());
  REQUIRE(server.sync(work.amira_phone, {invalid}).rejections.size() == 1);

  const nlohmann::json entry = server.device_entry(work.amira_phone);
  CHECK(entry.at("failed_in_a_row") == 1);
  CHECK(entry.at("last_error").at("code") == "validation");
  CHECK(entry.at("last_error").at("message") ==
        "visit.seen_alone: is required when child_seen is true");
  CHECK(entry.at("last_error").at("at_ms") == server.clock.wall_ms());
  CHECK(entry.at("totals").at("rejections") == 1);
  CHECK(entry.at("totals").at("failed_syncs") == 1);
  CHECK(entry.at("last_sync_ms") == server.clock.wall_ms());  // the exchange itself went through
  const nlohmann::json& last = entry.at("recent_syncs").at(0);
  CHECK(last.at("outcome") == "rejected");
  CHECK(last.at("groups_rejected") == 1);
  CHECK(last.at("error").at("code") == "validation");

  const nlohmann::json rejections = server.admin("GET", "/v1/admin/rejections").at("rejections");
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].at("device_id") == work.amira_phone.id.to_string());
  CHECK(rejections[0].at("user_id") == "amira");
  CHECK(rejections[0].at("write_group") == invalid.id.to_string());
  CHECK(rejections[0].at("record_id") == visit.to_string());
  CHECK(rejections[0].at("field") == "seen_alone");
  CHECK(rejections[0].at("change_count") == invalid.changes.size());

  // A sync that goes well ends the run of failures but keeps the last error to read.
  server.sync(work.amira_phone);
  const nlohmann::json later = server.device_entry(work.amira_phone);
  CHECK(later.at("failed_in_a_row") == 0);
  CHECK(later.at("last_error").at("code") == "validation");
}

TEST_CASE("A sync answered with an error is recorded against its device", "[server][registry]") {
  ServerFixture server;
  Casework work(server);
  const std::int64_t synced_at = server.clock.wall_ms();
  server.clock.advance(1'000);

  SECTION("a body that does not decode: 400, recorded as the device was answered") {
    const http::Response answer = failing_sync(server, work.amira_phone);
    REQUIRE(answer.status == 400);
    const nlohmann::json entry = server.device_entry(work.amira_phone);
    CHECK(entry.at("failed_in_a_row") == 1);
    CHECK(entry.at("last_error").at("code") == error_name(answer));
    CHECK(entry.at("last_error").at("message") == error_message(answer));
    CHECK(entry.at("last_sync_ms") == synced_at);  // no successful sync
    CHECK(entry.at("last_attempt_ms") == server.clock.wall_ms());
    CHECK(entry.at("last_seen_ms") == server.clock.wall_ms());
    const nlohmann::json& last = entry.at("recent_syncs").at(0);
    CHECK(last.at("outcome") == "failed");
    CHECK(last.at("bytes_in") == std::string("not a sync request").size());
  }
  SECTION("a body of another type: 415") {
    REQUIRE(server.call("POST", "/v1/sync", "{}", "text/plain", work.amira_phone.token).status ==
            415);
    CHECK(server.device_entry(work.amira_phone).at("last_error").at("code") ==
          "unsupported_media_type");
  }
  SECTION("a core below the server's minimum: upgrade_required counts as failing") {
    ServerOptions options;
    options.reconciler.min_core_version = "9.0";
    ServerFixture strict(options);
    strict.create_team("north");
    strict.create_user("amira", "north");
    TestDevice phone = strict.enrol("amira");
    strict.sync(phone);
    const nlohmann::json entry = strict.device_entry(phone);
    CHECK(entry.at("last_error").at("code") == "upgrade_required");
    CHECK(entry.at("recent_syncs").at(0).at("outcome") == "upgrade_required");
    CHECK(entry.at("last_sync_ms").is_null());
  }
  SECTION("a wrong token is recorded against nobody") {
    const std::string wrong =
        work.amira_phone.token.substr(0, work.amira_phone.token.find('.') + 1) +
        std::string(64, 'a');
    REQUIRE(server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType), wrong).status ==
            401);
    CHECK(server.device_entry(work.amira_phone).at("failed_in_a_row") == 0);
  }
}

// SQLite only: the failures are made with SQLite triggers written into the database file.
TEST_CASE("The registry is written in the sync's own transaction", "[server][registry][sqlite]") {
  ServerFixture server;
  Casework work(server);
  const std::uint64_t syncs_before = server.device_entry(work.amira_phone).at("totals").at("syncs");
  const RecordId visit = Uuid::random_v4();
  const WriteGroup group =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("x"));
  const SyncRequest request = server.sync_request(work.amira_phone, {group});
  sqlite::Database db = open_server_database(server);

  SECTION("when the registry cannot be written, the sync's own writes roll back with it") {
    db.exec(
        "CREATE TRIGGER no_events BEFORE INSERT ON sync_events BEGIN SELECT RAISE(ABORT, "
        "'broken'); END");
    CHECK(server.sync_call(work.amira_phone, request).status == 500);
    CHECK_FALSE(exists(server, visit));
    CHECK(server.log_text.str().find("sync_failure_not_recorded") != std::string::npos);

    db.exec("DROP TRIGGER no_events");
    REQUIRE(server.sync_call(work.amira_phone, request).status == 200);
    CHECK(exists(server, visit));
    const nlohmann::json entry = server.device_entry(work.amira_phone);
    CHECK(entry.at("totals").at("syncs") == syncs_before + 1);
    CHECK(entry.at("totals").at("changes_pushed") == group.changes.size());
  }
  SECTION("when the sync's writes fail, the registry counts a failure and none of its changes") {
    db.exec(
        "CREATE TRIGGER no_history BEFORE INSERT ON history BEGIN SELECT RAISE(ABORT, 'broken'); "
        "END");
    CHECK(server.sync_call(work.amira_phone, request).status == 500);
    db.exec("DROP TRIGGER no_history");
    CHECK_FALSE(exists(server, visit));
    const nlohmann::json entry = server.device_entry(work.amira_phone);
    CHECK(entry.at("totals").at("syncs") == syncs_before + 1);
    CHECK(entry.at("totals").at("changes_pushed") == 0);
    CHECK(entry.at("failed_in_a_row") == 1);
    CHECK(entry.at("last_error").at("code") == "internal");
    CHECK(entry.at("recent_syncs").at(0).at("outcome") == "failed");
  }
}

TEST_CASE("A device's state follows the clock and the health rules", "[server][registry][states]") {
  ServerOptions options;
  options.device_health.stale_after_ms = 24 * kHourMs;
  options.device_health.failing_after = 3;
  ServerFixture server(options);
  Casework work(server);

  SECTION("healthy, then stale a day after its last sync, then at risk when it holds changes") {
    CHECK(state_of(server, work.amira_phone) == "healthy");
    server.clock.advance(24 * kHourMs - 1);
    CHECK(state_of(server, work.amira_phone) == "healthy");
    server.clock.advance(1);
    CHECK(state_of(server, work.amira_phone) == "stale");

    // It syncs again, with work it could not send in this batch.
    SyncRequest request = server.sync_request(work.amira_phone);
    request.telemetry.pending_count = 3;
    request.telemetry.oldest_pending_age_ms = 5 * kHourMs;
    REQUIRE(server.sync_call(work.amira_phone, request).status == 200);
    CHECK(state_of(server, work.amira_phone) == "healthy");
    server.clock.advance(24 * kHourMs);
    CHECK(state_of(server, work.amira_phone) == "at_risk");
    // Once the outbox is empty again, a quiet device is only stale.
    REQUIRE(server.sync_call(work.amira_phone, server.sync_request(work.amira_phone)).status ==
            200);
    server.clock.advance(24 * kHourMs);
    CHECK(state_of(server, work.amira_phone) == "stale");
  }
  SECTION("a device enrolled and never synced goes stale from its enrolment") {
    TestDevice spare = server.enrol("bilal");
    CHECK(state_of(server, spare) == "healthy");
    server.clock.advance(24 * kHourMs);
    CHECK(state_of(server, spare) == "stale");
    CHECK(server.device_entry(spare).at("last_sync_ms").is_null());
  }
  SECTION("three failed syncs in a row: at risk at once; one that goes well: healthy") {
    failing_sync(server, work.amira_phone);
    failing_sync(server, work.amira_phone);
    CHECK(state_of(server, work.amira_phone) == "healthy");
    failing_sync(server, work.amira_phone);
    CHECK(state_of(server, work.amira_phone) == "at_risk");
    server.sync(work.amira_phone);
    CHECK(state_of(server, work.amira_phone) == "healthy");
  }
  SECTION("revoked, and still revoked once wiped") {
    server.revoke(work.amira_tablet);
    CHECK(state_of(server, work.amira_tablet) == "revoked");
    const SyncResponse told = server.sync(work.amira_tablet);
    server.sync(work.amira_tablet, {}, directive_ids(told));
    CHECK(server.device_entry(work.amira_tablet).at("status") == "wiped");
    CHECK(state_of(server, work.amira_tablet) == "revoked");
  }
  SECTION("retired, and still retired once it acknowledged") {
    server.retire(work.bilal_phone);
    CHECK(state_of(server, work.bilal_phone) == "retired");
    const SyncResponse told = server.sync(work.bilal_phone);
    server.sync(work.bilal_phone, {}, directive_ids(told));
    CHECK(server.device_entry(work.bilal_phone).at("status") == "retired");
    CHECK(state_of(server, work.bilal_phone) == "retired");
  }
}

TEST_CASE("Other health rules: stale after an hour, at risk after two failures",
          "[server][registry][states]") {
  ServerOptions options;
  options.device_health.stale_after_ms = kHourMs;
  options.device_health.failing_after = 2;
  ServerFixture server(options);
  Casework work(server);
  server.clock.advance(kHourMs);
  CHECK(state_of(server, work.amira_phone) == "stale");
  server.sync(work.amira_phone);
  failing_sync(server, work.amira_phone);
  CHECK(state_of(server, work.amira_phone) == "healthy");
  failing_sync(server, work.amira_phone);
  CHECK(state_of(server, work.amira_phone) == "at_risk");
  const nlohmann::json overview = server.admin("GET", "/v1/admin/overview");
  CHECK(overview.at("rules") == nlohmann::json{{"stale_after_h", 1.0}, {"failing_after", 2}});
}

TEST_CASE("device_state: precedence and boundaries", "[server][registry][states]") {
  const DeviceHealthRules rules{.stale_after_ms = 1'000, .failing_after = 2};
  Device device;
  device.enrolled_at_ms = 10'000;
  device.last_sync_ms = 20'000;
  CHECK(device_state(device, 20'999, rules) == DeviceState::kHealthy);
  CHECK(device_state(device, 21'000, rules) == DeviceState::kStale);
  device.activity.pending_changes = 1;
  CHECK(device_state(device, 20'999, rules) == DeviceState::kHealthy);
  CHECK(device_state(device, 21'000, rules) == DeviceState::kAtRisk);
  device.activity.pending_changes = 0;
  device.activity.failed_in_a_row = 2;
  CHECK(device_state(device, 20'000, rules) == DeviceState::kAtRisk);
  for (const DeviceStatus status : {DeviceStatus::kRevoked, DeviceStatus::kWiped}) {
    device.status = status;
    CHECK(device_state(device, 21'000, rules) == DeviceState::kRevoked);
  }
  for (const DeviceStatus status : {DeviceStatus::kRetiring, DeviceStatus::kRetired}) {
    device.status = status;
    CHECK(device_state(device, 21'000, rules) == DeviceState::kRetired);
  }
  for (const DeviceState state : kDeviceStates)
    CHECK(device_state_from_string(to_string(state)) == state);
}

TEST_CASE("A device's sync history and the fleet's activity are bounded", "[server][registry]") {
  ServerOptions options;
  options.sync_history.events_per_device = 3;
  options.sync_history.activity_kept_ms = 2 * kHourMs;
  ServerFixture server(options);
  Casework work(server);
  for (int i = 0; i < 5; ++i) {
    server.clock.advance(60'000);
    server.sync(work.amira_phone);
  }
  const nlohmann::json entry =
      server.admin("GET", "/v1/admin/devices/" + work.amira_phone.id.to_string() + "?history=3");
  REQUIRE(entry.at("recent_syncs").size() == 3);
  CHECK(entry.at("recent_syncs").at(0).at("at_ms") == server.clock.wall_ms());  // newest first
  CHECK(entry.at("totals").at("syncs") == 6);  // totals keep counting
  CHECK(server.inspect([&](StorageTransaction& tx) {
    return tx.sync_events(work.amira_phone.id, 100).size();
  }) == 3);

  const std::int64_t first_bucket =
      server.inspect([](StorageTransaction& tx) { return tx.sync_activity(0); }).front().start_ms;
  server.clock.advance(3 * kHourMs);
  server.sync(work.amira_phone);
  const std::vector<SyncActivity> kept =
      server.inspect([](StorageTransaction& tx) { return tx.sync_activity(0); });
  REQUIRE(kept.size() == 1);
  CHECK(kept.front().start_ms > first_bucket);
  CHECK(kept.front().syncs == 1);
}

TEST_CASE("add_sync_counts adds every counter to a device's totals and to an activity bucket alike",
          "[server][registry]") {
  // Each counter its own value, so that a counter added to another, or left out, shows.
  const SyncActivity part{.start_ms = 300'000,
                          .syncs = 1,
                          .failed_syncs = 2,
                          .rejections = 3,
                          .changes_pushed = 4,
                          .changes_pulled = 5,
                          .conflicts = 6,
                          .bytes_in = 7,
                          .bytes_out = 8};
  DeviceActivity device;
  device.failed_in_a_row = 9;
  SyncActivity bucket;
  for (int i = 0; i < 2; ++i) {
    add_sync_counts(device, part);
    add_sync_counts(bucket, part);
  }
  const auto holds_part_twice = [&part](const auto& totals) {
    CHECK(totals.syncs == 2 * part.syncs);
    CHECK(totals.failed_syncs == 2 * part.failed_syncs);
    CHECK(totals.rejections == 2 * part.rejections);
    CHECK(totals.changes_pushed == 2 * part.changes_pushed);
    CHECK(totals.changes_pulled == 2 * part.changes_pulled);
    CHECK(totals.conflicts == 2 * part.conflicts);
    CHECK(totals.bytes_in == 2 * part.bytes_in);
    CHECK(totals.bytes_out == 2 * part.bytes_out);
  };
  holds_part_twice(device);
  holds_part_twice(bucket);
  CHECK(device.failed_in_a_row == 9);  // not a total: left to the registry
  CHECK(bucket.start_ms == 0);         // a bucket's own, not added
}
