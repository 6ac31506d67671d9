// The in-process server fixture: see server_fixture.h.
#include "server_fixture.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "fieldsync/wire_codec.h"
#include "http/server_log.h"

namespace fieldsync::server::testing {
namespace {

std::string bearer_header(const std::string& token) {
  return "Bearer " + token;
}

nlohmann::json json_of(const http::Response& response) {
  return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}


// The server syncs every commit to disk, and the suite makes thousands of commits: on a disk
// each costs an fsync. Durability is not what these tests check, so the files go to a RAM-backed
// file system when there is one (still real SQLite files, WAL and all).
std::filesystem::path scratch_parent() {
  std::error_code error;
  const std::filesystem::path shm = "/dev/shm";
  if (std::filesystem::is_directory(shm, error)) return shm;
  return std::filesystem::temp_directory_path();
}

// A device sees the versions it pulls: its later stamps are greater (as its HybridClock does).
void observe(TestDevice& device, const SyncResponse& answer) {
  for (const Change& change : answer.changes) {
    device.last_stamp = std::max(device.last_stamp, change.version.hlc);
  }
  for (const Conflict& conflict : answer.conflicts) {
    device.last_stamp =
        std::max({device.last_stamp, conflict.lost.version.hlc, conflict.winner.version.hlc});
  }
}

}  // namespace

StorageKind storage_under_test() {
  const char* name = std::getenv("FIELDSYNC_TEST_STORAGE");
  if (name == nullptr || std::string(name).empty() || std::string(name) == "sqlite") return StorageKind::kSqlite;
  if (std::string(name) == "postgres") return StorageKind::kPostgres;
  throw std::runtime_error("FIELDSYNC_TEST_STORAGE must be sqlite or postgres");
}

ServerFixture::ServerFixture(ServerOptions server_options)
    : dir(scratch_parent(), "fieldsync-server-test"), options(std::move(server_options)) {
  if (storage_under_test() == StorageKind::kPostgres) {
    database = std::make_unique<dev::ScratchDatabase>();
    options.database = database->connection();
  } else {
    options.data_dir = dir.file("server");
  }
  start();
  admin_token = issue_admin_token({"monitor", "manage", "enrol"});
}

void ServerFixture::stop() { app.reset(); }

void ServerFixture::start() {
  auto log = std::make_shared<http::ServerLog>(log_text, http::LogLevel::kWarning);
  app = std::make_unique<ServerApp>(options, log, clock);
}

std::string ServerFixture::backup(const std::string& name) {
  if (database) {
    // PostgreSQL copies a database only while no one is connected to it.
    stop();
    std::string suffix = name;
    std::erase_if(suffix, [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); });
    const std::string copy = database->copy(suffix);
    start();
    return copy;
  }
  const std::string file = dir.file(name);
  backup_sqlite_storage(options.data_dir, file);
  return file;
}

void ServerFixture::restore(const std::string& backup) {
  stop();
  if (database) {
    // As an operator does it: the backup put back, then fieldsync-server admin new-epoch.
    database->replace_with(backup);
    run_transaction(*open_postgres_storage(options.database, 1),
                    [](StorageTransaction& tx) { tx.start_new_epoch(); });
  } else {
    restore_sqlite_storage(backup, options.data_dir);
  }
  start();
}

ServerFixture::~ServerFixture() = default;

std::unique_ptr<ServerApp> ServerFixture::another_node() {
  auto log = std::make_shared<http::ServerLog>(log_text, http::LogLevel::kWarning);
  return std::make_unique<ServerApp>(options, log, clock);
}

http::Response ServerFixture::dispatch(http::Request request) {
  return app->handle(request);
}

http::Response ServerFixture::call(const std::string& method, const std::string& path,
                                   std::string body, const std::string& content_type,
                                   const std::string& bearer, const std::string& address) {
  return call_node(*app, method, path, std::move(body), content_type, bearer, address);
}

http::Response ServerFixture::call_node(ServerApp& node, const std::string& method,
                                        const std::string& path, std::string body,
                                        const std::string& content_type, const std::string& bearer,
                                        const std::string& address) {
  http::Request request;
  request.method = method;
  request.path = path.substr(0, path.find('?'));  // as the HTTP layer splits the target
  if (path.find('?') != std::string::npos) request.query = path.substr(path.find('?') + 1);
  request.body = std::move(body);
  request.remote_address = address;
  if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
  if (!bearer.empty()) request.headers.emplace_back("Authorization", bearer_header(bearer));
  return node.handle(request);
}

nlohmann::json ServerFixture::admin(const std::string& method, const std::string& path,
                                    const nlohmann::json& body) {
  const http::Response response = admin_call(method, path, body, admin_token);
  INFO(method << " " << path << " answered " << response.status << " " << response.body
              << "\nserver log:\n"
              << log_text.str());
  REQUIRE(response.status == 200);
  return json_of(response);
}

http::Response ServerFixture::admin_call(const std::string& method, const std::string& path,
                                         const nlohmann::json& body, const std::string& token) {
  return call(method, path, body.is_null() ? std::string() : body.dump(),
              body.is_null() ? std::string() : "application/json", token);
}

std::string ServerFixture::issue_admin_token(const std::vector<std::string>& roles,
                                             std::int64_t lifetime_ms) {
  return run_transaction(app->storage(), [&](StorageTransaction& tx) {
    return app->credentials().issue_admin_token(tx, "test-admin", roles, lifetime_ms);
  });
}

void ServerFixture::create_team(const std::string& team_id) {
  admin("POST", "/v1/admin/teams", {{"team_id", team_id}, {"name", "Team " + team_id}});
}

void ServerFixture::create_user(const std::string& user_id, const std::string& team_id,
                                const std::string& role) {
  admin("POST", "/v1/admin/users",
        {{"user_id", user_id}, {"team_id", team_id}, {"role", role}, {"name", user_id}});
}

CaseId ServerFixture::create_case(const std::string& user_id, const std::string& child_name) {
  const nlohmann::json answer = admin(
      "POST", "/v1/admin/cases", {{"user_id", user_id}, {"fields", {{"child_name", child_name}}}});
  return Uuid::parse_or_throw(answer.at("case_id").get<std::string>(), "case_id");
}

void ServerFixture::allocate(const CaseId& case_id, const std::string& user_id) {
  admin("POST", "/v1/admin/allocations", {{"case_id", case_id.to_string()}, {"user_id", user_id}});
}

std::string ServerFixture::enrolment_code(const std::string& user_id, std::int64_t expires_in_s) {
  nlohmann::json body = {{"user_id", user_id}};
  if (expires_in_s > 0) body["expires_in_s"] = expires_in_s;
  return admin("POST", "/v1/admin/enrolment-codes", body).at("code").get<std::string>();
}

http::Response ServerFixture::enrol_call(const std::string& code, const std::string& address) {
  const nlohmann::json body = {{"code", code},
                               {"platform", "android 14"},
                               {"app_version", "1.0"},
                               {"core_version", "0.1.0"}};
  return call("POST", "/v1/enrol", body.dump(), "application/json", {}, address);
}

TestDevice ServerFixture::enrol(const std::string& user_id) {
  const http::Response response = enrol_call(enrolment_code(user_id));
  INFO("enrol answered " << response.status << " " << response.body);
  REQUIRE(response.status == 200);
  const nlohmann::json answer = json_of(response);
  TestDevice device;
  device.id = Uuid::parse_or_throw(answer.at("device_id").get<std::string>(), "device_id");
  device.token = answer.at("token").get<std::string>();
  device.user_id = answer.at("user_id").get<std::string>();
  REQUIRE(device.user_id == user_id);
  return device;
}

void ServerFixture::revoke(const TestDevice& device) {
  admin("POST", "/v1/admin/devices/" + device.id.to_string() + "/revoke", {{"reason", "lost"}});
}

void ServerFixture::retire(const TestDevice& device) {
  admin("POST", "/v1/admin/devices/" + device.id.to_string() + "/retire",
        {{"reason", "handed back"}});
}

nlohmann::json ServerFixture::device_entry(const TestDevice& device) {
  return admin("GET", "/v1/admin/devices/" + device.id.to_string());
}

Hlc ServerFixture::stamp(TestDevice& device) {
  const Hlc now(static_cast<std::uint64_t>(clock.wall_ms()), 0);
  device.last_stamp = std::max(device.last_stamp.successor(), now);
  return device.last_stamp;
}

WriteGroup ServerFixture::write(TestDevice& device, const std::vector<RecordEdit>& records) {
  WriteGroup group{Uuid::random_v4(), {}};
  for (const RecordEdit& record : records) {
    for (const FieldEdit& edit : record.fields) {
      Change change;
      change.collection = record.collection;
      change.record_id = record.record_id;
      change.case_id = record.case_id;
      change.field = edit.field;
      change.value = edit.value;
      change.version = {stamp(device), device.id};
      change.base = edit.base;
      change.device_seq = device.next_seq++;
      change.write_group = group.id;
      group.changes.push_back(std::move(change));
    }
  }
  return group;
}

WriteGroup ServerFixture::write(TestDevice& device, const std::string& collection,
                                const RecordId& record_id, const CaseId& case_id,
                                const std::vector<FieldEdit>& fields) {
  return write(device, {RecordEdit{collection, record_id, case_id, fields}});
}

SyncRequest ServerFixture::sync_request(const TestDevice& device, std::vector<WriteGroup> groups,
                                        std::vector<std::uint64_t> acks) const {
  SyncRequest request;
  request.cursor = device.cursor;
  request.write_groups = std::move(groups);
  request.directive_acks = std::move(acks);
  request.telemetry.app_version = "1.0";
  request.telemetry.core_version = device.core_version;
  request.telemetry.platform = "android 14";
  request.telemetry.pending_count = request.write_groups.size();
  return request;
}

http::Response ServerFixture::sync_call(const TestDevice& device, const SyncRequest& request,
                                        const std::string& address, ServerApp* node) {
  return call_node(node ? *node : *app, "POST", "/v1/sync", encode_request(request, WireFormat::kBinary),
                   std::string(kBinaryContentType), device.token, address);
}

SyncResponse ServerFixture::sync(TestDevice& device, std::vector<WriteGroup> groups,
                                 std::vector<std::uint64_t> acks) {
  const http::Response response =
      sync_call(device, sync_request(device, std::move(groups), std::move(acks)));
  INFO(
      "sync answered " << response.status << " "
                       << (response.content_type == kBinaryContentType ? "(binary)" : response.body)
                       << "\nserver log:\n"
                       << log_text.str());
  REQUIRE(response.status == 200);
  REQUIRE(response.content_type == kBinaryContentType);
  SyncResponse answer = decode_response(response.body, WireFormat::kBinary);
  device.cursor = answer.next_cursor;
  observe(device, answer);
  return answer;
}

SyncResponse ServerFixture::sync_all(TestDevice& device) {
  SyncResponse merged;
  for (int round = 0; round < 1000; ++round) {
    SyncResponse page = sync(device);
    auto append = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    append(merged.changes, page.changes);
    append(merged.conflicts, page.conflicts);
    append(merged.resolutions, page.resolutions);
    merged.directives = page.directives;
    merged.next_cursor = page.next_cursor;
    if (!page.more) return merged;
  }
  FAIL("the server kept answering `more` for 1000 rounds");
  return merged;
}

Casework::Casework(ServerFixture& fixture) : server(fixture) {
  server.create_team("north");
  server.create_team("south");
  server.create_user("mona", "north", "manager");
  server.create_user("amira", "north");
  server.create_user("bilal", "north");
  server.create_user("sara", "south", "manager");
  server.create_user("dan", "south");
  case_a = server.create_case("amira", "Ava");
  case_b = server.create_case("bilal", "Ben");
  amira_phone = server.enrol("amira");
  amira_tablet = server.enrol("amira");
  mona_phone = server.enrol("mona");
  bilal_phone = server.enrol("bilal");
  for (TestDevice* device : {&amira_phone, &amira_tablet, &mona_phone, &bilal_phone}) {
    server.sync_all(*device);
  }
}

Value text(const std::string& value) {
  return Value::text(value);
}
Value boolean(bool value) {
  return Value::boolean(value);
}
Value timestamp_at(std::int64_t unix_ms) {
  return Value::timestamp(Timestamp{unix_ms});
}

std::vector<FieldEdit> valid_visit(const std::string& observations) {
  return {{"visit_type", text("statutory_child_in_need")},
          {"actual_start", timestamp_at(kStartMs - 3'600'000)},
          {"child_seen", boolean(true)},
          {"seen_alone", boolean(true)},
          {"observations", text(observations)}};
}

Version version_of(const WriteGroup& group, const RecordId& record_id, const std::string& field) {
  for (const Change& change : group.changes) {
    if (change.record_id == record_id && change.field == field) return change.version;
  }
  FAIL("the write group does not set " << field);
  return {};
}

std::string error_name(const http::Response& response) {
  const nlohmann::json body = json_of(response);
  return body.is_object() ? body.value("error", "") : "";
}

std::string error_message(const http::Response& response) {
  const nlohmann::json body = json_of(response);
  return body.is_object() ? body.value("message", "") : "";
}

std::map<std::string, Change> fields_of(const SyncResponse& response, const RecordId& record_id) {
  std::map<std::string, Change> fields;
  for (const Change& change : response.changes) {
    if (change.record_id == record_id) fields.insert_or_assign(change.field, change);
  }
  return fields;
}

bool mentions_case(const SyncResponse& response, const CaseId& case_id) {
  return std::ranges::any_of(response.changes,
                             [&](const Change& change) { return change.case_id == case_id; }) ||
         std::ranges::any_of(response.conflicts,
                             [&](const Conflict& conflict) { return conflict.case_id == case_id; });
}

bool mentions_record(const SyncResponse& response, const RecordId& record_id) {
  return std::ranges::any_of(response.changes,
                             [&](const Change& change) { return change.record_id == record_id; });
}

std::vector<Directive> directives_of_kind(const SyncResponse& response, DirectiveKind kind) {
  std::vector<Directive> found;
  for (const Directive& directive : response.directives) {
    if (directive.kind == kind) found.push_back(directive);
  }
  return found;
}

std::vector<std::uint64_t> directive_ids(const SyncResponse& response) {
  std::vector<std::uint64_t> ids;
  for (const Directive& directive : response.directives) ids.push_back(directive.id);
  return ids;
}

}  // namespace fieldsync::server::testing
