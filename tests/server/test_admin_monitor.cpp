// The monitoring routes of the admin API (docs/http-api.md, "Monitoring"): the device list with
// its filters, sorting and paging; one device; the overview's counts and rates; sync activity in
// buckets; the conflict log and rejected groups as metadata with their filters; clear 400s for
// query parameters that are wrong; and an older database's rejections after the upgrade.
#include <catch2/catch.hpp>

#include <set>

#include "fieldsync/crypto.h"
#include "fieldsync/sqlite_db.h"
#include "server_fixture.h"
#include "sqlite_storage_schema.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

constexpr std::int64_t kHourMs = 60 * 60 * 1000;

// One sync of `device` reporting `platform`.
void sync_from(ServerFixture& server, TestDevice& device, const std::string& platform) {
  SyncRequest request = server.sync_request(device);
  request.telemetry.platform = platform;
  const http::Response answer = server.sync_call(device, request);
  REQUIRE(answer.status == 200);
  device.cursor = decode_response(answer.body, WireFormat::kBinary).next_cursor;
}

TestDevice enrolled_and_synced(ServerFixture& server, const std::string& user) {
  TestDevice device = server.enrol(user);
  server.sync_all(device);
  return device;
}

std::vector<std::string> ids_of(const nlohmann::json& list) {
  std::vector<std::string> ids;
  for (const nlohmann::json& device : list.at("devices")) ids.push_back(device.at("device_id"));
  return ids;
}

std::set<std::string> id_set(const nlohmann::json& list) {
  const std::vector<std::string> ids = ids_of(list);
  return {ids.begin(), ids.end()};
}

std::set<std::string> id_set(std::initializer_list<const TestDevice*> devices) {
  std::set<std::string> ids;
  for (const TestDevice* device : devices) ids.insert(device->id.to_string());
  return ids;
}

void check_bad_query(ServerFixture& server, const std::string& path, const std::string& mentioned) {
  const http::Response response = server.admin_call("GET", path, nullptr, server.admin_token);
  INFO(path << " answered " << response.body);
  CHECK(response.status == 400);
  CHECK(error_name(response) == "invalid_argument");
  CHECK(error_message(response).find(mentioned) != std::string::npos);
}

// The fleet for the device list: north's four devices of the Casework, one of dan's (south) and
// one of zoe's (south, her name searchable); a day later all but two have synced again.
struct Fleet {
  explicit Fleet(ServerFixture& fixture) : server(fixture), work(fixture) {
    server.admin("POST", "/v1/admin/users",
                 {{"user_id", "zoe"}, {"team_id", "south"}, {"name", "Zoe Marsh"}});
    dan_tablet = enrolled_and_synced(server, "dan");
    zoe_phone = enrolled_and_synced(server, "zoe");
    server.clock.advance(25 * kHourMs);
    sync_from(server, work.amira_phone, "iOS 17.4");
    sync_from(server, work.mona_phone, "ios 16.1");
    sync_from(server, dan_tablet, "android 14");
    sync_from(server, zoe_phone, "android 13");
  }

  ServerFixture& server;
  Casework work;
  TestDevice dan_tablet;
  TestDevice zoe_phone;
};

}  // namespace

TEST_CASE("The device list filters by state, user, team, platform and text",
          "[server][admin][monitor]") {
  ServerFixture server;
  Fleet fleet(server);
  Casework& work = fleet.work;
  const auto list = [&](const std::string& query) {
    return server.admin("GET", "/v1/admin/devices" + query);
  };

  const nlohmann::json all = list("");
  CHECK(all.at("total") == 6);
  CHECK(all.at("devices").size() == 6);
  CHECK(id_set(list("?state=stale")) == id_set({&work.amira_tablet, &work.bilal_phone}));
  CHECK(list("?state=healthy").at("total") == 4);
  CHECK(list("?state=healthy,stale").at("total") == 6);
  CHECK(list("?state=at_risk").at("total") == 0);
  CHECK(id_set(list("?user=amira")) == id_set({&work.amira_phone, &work.amira_tablet}));
  CHECK(id_set(list("?team=south")) == id_set({&fleet.dan_tablet, &fleet.zoe_phone}));
  CHECK(list("?team=north").at("total") == 4);
  CHECK(id_set(list("?platform=ios")) == id_set({&work.amira_phone, &work.mona_phone}));
  CHECK(id_set(list("?platform=ANDROID%2013")) == id_set({&fleet.zoe_phone}));
  CHECK(list("?platform=android").at("total") == 4);
  CHECK(id_set(list("?team=south&platform=android+14")) == id_set({&fleet.dan_tablet}));

  SECTION("text: part of the id (any case, dashes or not), of the user's id or name") {
    std::string upper = work.bilal_phone.id.to_string().substr(4, 10);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(id_set(list("?q=" + upper)) == id_set({&work.bilal_phone}));
    std::string undashed = work.bilal_phone.id.to_string().substr(0, 13);
    undashed.erase(8, 1);
    CHECK(id_set(list("?q=" + undashed)) == id_set({&work.bilal_phone}));
    CHECK(id_set(list("?q=MIR")) == id_set({&work.amira_phone, &work.amira_tablet}));
    CHECK(id_set(list("?q=marsh")) == id_set({&fleet.zoe_phone}));
    CHECK(list("?q=%25").at("total") == 0);  // a '%' is a character to find, not a wildcard
    CHECK(list("?q=_").at("total") == 0);
  }
  SECTION("an unknown user or team: an empty list, not an error") {
    CHECK(list("?user=nobody").at("total") == 0);
    CHECK(list("?team=nowhere").at("devices").empty());
  }
}

TEST_CASE("The device list sorts and pages", "[server][admin][monitor]") {
  ServerFixture server;
  Fleet fleet(server);
  const auto list = [&](const std::string& query) {
    return server.admin("GET", "/v1/admin/devices" + query);
  };

  SECTION("by default the devices that need attention come first") {
    fleet.server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType),
                      fleet.zoe_phone.token);
    fleet.server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType),
                      fleet.zoe_phone.token);
    fleet.server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType),
                      fleet.zoe_phone.token);
    server.revoke(fleet.dan_tablet);
    std::vector<std::string> states;
    const nlohmann::json listed = list("");
    for (const nlohmann::json& device : listed.at("devices")) states.push_back(device.at("state"));
    CHECK(states ==
          std::vector<std::string>{"at_risk", "stale", "stale", "healthy", "healthy", "revoked"});
  }
  SECTION("by a key, ascending or descending, ties by device id") {
    const auto users_of = [](const nlohmann::json& listed) {
      std::vector<std::string> users;
      for (const nlohmann::json& device : listed.at("devices"))
        users.push_back(device.at("user_id"));
      return users;
    };
    CHECK(users_of(list("?sort=user")) ==
          std::vector<std::string>{"amira", "amira", "bilal", "dan", "mona", "zoe"});
    CHECK(users_of(list("?sort=-user")) ==
          std::vector<std::string>{"zoe", "mona", "dan", "bilal", "amira", "amira"});
    const std::vector<std::string> ascending = ids_of(list("?sort=user"));
    const std::vector<std::string> descending = ids_of(list("?sort=-user"));
    CHECK(std::equal(ascending.begin(), ascending.end(), descending.rbegin()));

    std::int64_t previous = 0;
    const nlohmann::json by_sync = list("?sort=last_sync");
    for (const nlohmann::json& device : by_sync.at("devices")) {
      CHECK(device.at("last_sync_ms").get<std::int64_t>() >= previous);
      previous = device.at("last_sync_ms");
    }
    std::vector<std::string> by_id = ids_of(list("?sort=device_id"));
    CHECK(std::is_sorted(by_id.begin(), by_id.end()));
  }
  SECTION("pages of `limit` from `offset`, with the total, together they are the whole list") {
    const std::vector<std::string> whole = ids_of(list("?sort=user"));
    std::vector<std::string> paged;
    for (int offset = 0; offset < 6; offset += 4) {
      const nlohmann::json page = list("?sort=user&limit=4&offset=" + std::to_string(offset));
      CHECK(page.at("total") == 6);
      CHECK(page.at("limit") == 4);
      CHECK(page.at("offset") == offset);
      for (const std::string& id : ids_of(page)) paged.push_back(id);
    }
    CHECK(paged == whole);
    CHECK(list("?offset=6").at("devices").empty());
    const nlohmann::json count_only = list("?state=stale&limit=0");
    CHECK(count_only.at("devices").empty());
    CHECK(count_only.at("total") == 2);
  }
}

TEST_CASE("Query parameters that are wrong are refused with what is wrong",
          "[server][admin][monitor]") {
  ServerFixture server;
  check_bad_query(server, "/v1/admin/devices?stat=stale", "stat");
  check_bad_query(server, "/v1/admin/devices?state=lost", "state");
  check_bad_query(server, "/v1/admin/devices?sort=colour", "sort");
  check_bad_query(server, "/v1/admin/devices?limit=501", "limit");
  check_bad_query(server, "/v1/admin/devices?limit=ten", "limit");
  check_bad_query(server, "/v1/admin/devices?offset=-1", "offset");
  check_bad_query(server, "/v1/admin/devices?q=%zz", "%");
  check_bad_query(server, "/v1/admin/devices?user=a&user=b", "twice");
  check_bad_query(server, "/v1/admin/overview?verbose=1", "verbose");
  check_bad_query(server, "/v1/admin/activity?bucket_minutes=7", "multiple of 5");
  check_bad_query(server, "/v1/admin/activity?hours=0", "hours");
  check_bad_query(server, "/v1/admin/conflicts?state=lost", "state");
  check_bad_query(server, "/v1/admin/rejections?code=typo", "code");
  const http::Response not_an_id =
      server.admin_call("GET", "/v1/admin/conflicts?device=phone", nullptr, server.admin_token);
  CHECK(not_an_id.status == 400);
  CHECK(server
            .admin_call("GET", "/v1/admin/devices/" + Uuid::random_v4().to_string(), nullptr,
                        server.admin_token)
            .status == 404);
  CHECK(server.admin_call("GET", "/v1/admin/devices/phone", nullptr, server.admin_token).status ==
        400);
}

TEST_CASE("The overview counts devices per state and the fleet's syncs and errors",
          "[server][admin][monitor]") {
  ServerFixture server;
  const std::int64_t started = server.clock.monotonic_ms();
  Casework work(server);  // four devices, one sync each
  server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType), work.bilal_phone.token);
  server.revoke(work.amira_tablet);
  server.clock.advance(30 * 60 * 1000);

  nlohmann::json overview = server.admin("GET", "/v1/admin/overview");
  CHECK(overview.at("devices") == nlohmann::json{{"total", 4},
                                                 {"healthy", 3},
                                                 {"stale", 0},
                                                 {"at_risk", 0},
                                                 {"revoked", 1},
                                                 {"retired", 0}});
  CHECK(overview.at("server_time_ms") == server.clock.wall_ms());
  CHECK(overview.at("uptime_s") == (server.clock.monotonic_ms() - started) / 1000);
  CHECK(overview.at("storage_bytes").get<std::uint64_t>() > 0);
  CHECK(overview.at("last_hour").at("syncs") == 5);
  CHECK(overview.at("last_hour").at("failed_syncs") == 1);
  CHECK(overview.at("last_hour").at("error_rate") == Approx(0.2));
  CHECK(overview.at("last_day").at("syncs") == 5);
  CHECK(overview.at("open_conflicts") == 0);

  server.clock.advance(2 * kHourMs);
  overview = server.admin("GET", "/v1/admin/overview");
  CHECK(overview.at("last_hour").at("syncs") == 0);
  CHECK(overview.at("last_hour").at("error_rate") == 0.0);
  CHECK(overview.at("last_day").at("syncs") == 5);
  server.clock.advance(24 * kHourMs);
  overview = server.admin("GET", "/v1/admin/overview");
  CHECK(overview.at("last_day").at("syncs") == 0);
  CHECK(overview.at("devices").at("stale") == 3);
}

TEST_CASE("Sync activity comes in buckets over a span of hours", "[server][admin][monitor]") {
  ServerFixture server;
  Casework work(server);
  const std::int64_t first_syncs_at = server.clock.wall_ms();
  server.clock.advance(kHourMs);
  server.sync(work.amira_phone);
  server.call("POST", "/v1/sync", "x", std::string(kBinaryContentType), work.bilal_phone.token);

  const nlohmann::json activity =
      server.admin("GET", "/v1/admin/activity?hours=3&bucket_minutes=30");
  CHECK(activity.at("bucket_minutes") == 30);
  const nlohmann::json& buckets = activity.at("buckets");
  REQUIRE(buckets.size() == 6);
  std::uint64_t syncs = 0;
  std::uint64_t failed = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    CHECK(buckets[i].at("start_ms") ==
          activity.at("from_ms").get<std::int64_t>() + static_cast<std::int64_t>(i) * 30 * 60'000);
    syncs += buckets[i].at("syncs").get<std::uint64_t>();
    failed += buckets[i].at("failed_syncs").get<std::uint64_t>();
  }
  CHECK(activity.at("to_ms") == buckets.back().at("start_ms").get<std::int64_t>() + 30 * 60'000);
  CHECK(activity.at("to_ms").get<std::int64_t>() > server.clock.wall_ms());
  CHECK(syncs == 6);
  CHECK(failed == 1);
  const nlohmann::json& last = buckets.back();
  CHECK(last.at("syncs") == 2);
  CHECK(last.at("failed_syncs") == 1);
  const auto bucket_of = [&](std::int64_t at) {
    for (const nlohmann::json& bucket : buckets) {
      if (bucket.at("start_ms") <= at &&
          at < bucket.at("start_ms").get<std::int64_t>() + 30 * 60'000)
        return bucket;
    }
    return nlohmann::json();
  };
  CHECK(bucket_of(first_syncs_at).at("syncs") == 4);
}

TEST_CASE("The conflict log shows who and when, filtered by state, device and user",
          "[server][admin][monitor]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup created =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("calm"));
  server.sync(work.amira_phone, {created});
  server.sync(work.mona_phone);
  const Version seen = version_of(created, visit, "observations");
  const WriteGroup amira_edit = server.write(work.amira_phone, "visit", visit, work.case_a,
                                             {{"observations", text("a"), {seen}}});
  server.sync(work.amira_phone, {amira_edit});
  server.clock.advance(1'000);
  const WriteGroup mona_edit = server.write(work.mona_phone, "visit", visit, work.case_a,
                                            {{"observations", text("b"), {seen}}});
  server.sync(work.mona_phone, {mona_edit});  // mona's later stamp wins; amira's edit is lost

  nlohmann::json log = server.admin("GET", "/v1/admin/conflicts");
  REQUIRE(log.at("total") == 1);
  const nlohmann::json entry = log.at("conflicts").at(0);
  CHECK(entry.at("record_id") == visit.to_string());
  CHECK(entry.at("collection") == "visit");
  CHECK(entry.at("field") == "observations");
  CHECK(entry.at("case_id") == work.case_a.to_string());
  CHECK(entry.at("lost").at("device_id") == work.amira_phone.id.to_string());
  CHECK(entry.at("lost").at("user_id") == "amira");
  CHECK(entry.at("lost").at("made_at_ms") ==
        version_of(amira_edit, visit, "observations").hlc.ms());
  CHECK(entry.at("winner").at("device_id") == work.mona_phone.id.to_string());
  CHECK(entry.at("winner").at("user_id") == "mona");
  CHECK(entry.at("resolved") == false);
  CHECK(entry.at("updated_at_ms") == server.clock.wall_ms());

  CHECK(server.admin("GET", "/v1/admin/conflicts?state=open").at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/conflicts?state=resolved").at("total") == 0);
  CHECK(server.admin("GET", "/v1/admin/conflicts?device=" + work.amira_phone.id.to_string())
            .at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/conflicts?device=" + work.bilal_phone.id.to_string())
            .at("total") == 0);
  CHECK(server.admin("GET", "/v1/admin/conflicts?user=mona").at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/conflicts?user=bilal").at("total") == 0);
  CHECK(server.admin("GET", "/v1/admin/overview").at("open_conflicts") == 1);

  // Mona resolves it: her change names both versions.
  const Version winner = version_of(mona_edit, visit, "observations");
  const Version lost = version_of(amira_edit, visit, "observations");
  server.sync(work.mona_phone, {server.write(work.mona_phone, "visit", visit, work.case_a,
                                             {{"observations", text("a and b"), {winner, lost}}})});
  CHECK(server.admin("GET", "/v1/admin/conflicts?state=open").at("total") == 0);
  log = server.admin("GET", "/v1/admin/conflicts?state=resolved");
  REQUIRE(log.at("total") == 1);
  CHECK(log.at("conflicts").at(0).at("resolved") == true);
  CHECK(server.admin("GET", "/v1/admin/conflicts?limit=0").at("conflicts").empty());
}

TEST_CASE("Rejected groups are listed newest first, filtered by device, user, code and time",
          "[server][admin][monitor]") {
  ServerFixture server;
  Casework work(server);
  std::vector<FieldEdit> unseen_alone = valid_visit("x");
  std::erase_if(unseen_alone, [](const FieldEdit& edit) { return edit.field == "seen_alone"; });
  server.sync(work.amira_phone, {server.write(work.amira_phone, "visit", Uuid::random_v4(),
                                              work.case_a, unseen_alone)});
  server.clock.advance(1'000);
  const std::int64_t second_at = server.clock.wall_ms();
  // Bilal writes into Amira's case: out of his scope.
  server.sync(work.bilal_phone, {server.write(work.bilal_phone, "visit", Uuid::random_v4(),
                                              work.case_a, valid_visit("y"))});

  const nlohmann::json all = server.admin("GET", "/v1/admin/rejections");
  REQUIRE(all.at("total") == 2);
  CHECK(all.at("rejections").at(0).at("code") == "scope");
  CHECK(all.at("rejections").at(0).at("user_id") == "bilal");
  CHECK(all.at("rejections").at(0).at("rejected_at_ms") == second_at);
  CHECK(all.at("rejections").at(1).at("code") == "validation");
  CHECK(server.admin("GET", "/v1/admin/rejections?code=validation").at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/rejections?user=amira").at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/rejections?device=" + work.bilal_phone.id.to_string())
            .at("total") == 1);
  CHECK(server.admin("GET", "/v1/admin/rejections?since_ms=" + std::to_string(second_at))
            .at("total") == 1);
  const nlohmann::json page = server.admin("GET", "/v1/admin/rejections?limit=1&offset=1");
  CHECK(page.at("total") == 2);
  REQUIRE(page.at("rejections").size() == 1);
  CHECK(page.at("rejections").at(0).at("code") == "validation");
}

// SQLite only: an older SQLite file upgraded (an older PostgreSQL database is upgraded in
// test_postgres_upgrade.cpp).
TEST_CASE(
    "A database from before the device registry is upgraded, its rejections listed with their "
    "codes",
    "[server][admin][monitor][migration][sqlite]") {
  const dev::ScratchDir dir;
  const OriginId device = Uuid::random_v4();
  const WriteGroupId group = Uuid::random_v4();
  {
    // The first format, as an older server left it: a device and one rejected group.
    sqlite::Database db(dir.file("fieldsync-server.db"), sqlite::Database::Mode::kReadWriteCreate);
    db.exec(sqlite_schema::kMigrations[0]);
    for (const char* key : {"epoch", "origin"}) {
      db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)")
          .bind(1, key)
          .bind(2, Uuid::random_v4())
          .run();
    }
    db.prepare("INSERT INTO devices VALUES (?, 'amira', 1, x'00', 1, 2, 3, '', '{}')")
        .bind(1, device)
        .run();
    SyncResponse holder;
    holder.rejections.push_back({group, RejectionCode::kFrozen, "note.content: cannot change", {}});
    const std::string blob = encode_response(holder, WireFormat::kBinary);
    db.prepare("INSERT INTO rejected_groups VALUES (?, ?, ?, x'00', 42)")
        .bind(1, device)
        .bind(2, group)
        .bind_blob(3, crypto::as_bytes(blob))
        .run();
    db.set_user_version(1);
  }
  const std::unique_ptr<ServerStorage> storage = open_sqlite_storage(dir.path().string());
  auto tx = storage->begin();
  const Page<RejectionMetadata> page = tx->rejections({});
  REQUIRE(page.total == 1);
  const RejectionMetadata& rejection = page.items.front();
  CHECK(rejection.device == device);
  CHECK(rejection.user_id == "amira");
  CHECK(rejection.write_group == group);
  CHECK(rejection.code == RejectionCode::kFrozen);
  CHECK(rejection.message == "note.content: cannot change");
  CHECK(rejection.rejected_at_ms == 42);
  const std::optional<Device> upgraded = tx->device(device);
  REQUIRE(upgraded);
  CHECK(upgraded->last_sync_ms == 3);
  CHECK(upgraded->activity == DeviceActivity{});
}
