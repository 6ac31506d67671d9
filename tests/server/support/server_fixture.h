// Test support for the sync server, run in-process: a ServerApp on real storage and a fake clock,
// called through its router with http::Request values (no sockets). The storage is a SQLite file
// in a scratch directory, or, when FIELDSYNC_TEST_STORAGE=postgres, a fresh PostgreSQL database
// (dev::ScratchDatabase): CTest runs the whole server suite both ways (tests/server/CMakeLists.txt). It holds an admin token with every role, makes teams, users, cases, allocations and
// enrolment codes through the admin routes, enrols devices through /v1/enrol, and syncs as a
// device would: binary SyncRequests with "Authorization: Bearer <token>".
//
// Tests drive time by hand (clock.advance) for expiry, rate-limit windows and clock skew.
// One thread at a time per fixture.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/clock_source.h"
#include "fieldsync/dev/scratch_database.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/sync_messages.h"
#include "fieldsync/wire_codec.h"
#include "http/http_types.h"
#include "server_app.h"

namespace fieldsync::server::testing {

// The storage the suite runs against, from FIELDSYNC_TEST_STORAGE ("sqlite", the default, or
// "postgres").
enum class StorageKind { kSqlite, kPostgres };
StorageKind storage_under_test();

inline constexpr std::int64_t kStartMs = 1'709'280'000'000;  // 2024-03-01 08:00 UTC
inline constexpr const char* kDefaultAddress = "192.0.2.10";

// A device as the tests play it: what it was given at enrolment and what it keeps between syncs.
struct TestDevice {
  OriginId id;
  std::string token;
  std::string user_id;
  std::string cursor;          // as the last sync answered
  std::uint64_t next_seq = 1;  // its outbox's next sequence number
  Hlc last_stamp;              // the highest stamp it has made or pulled
  std::string core_version = "0.1.0";
};

// One field set by a write group, with the versions of it the editor saw.
struct FieldEdit {
  std::string field;
  Value value;
  VersionSet base = {};
};

// The fields set on one record by a write group.
struct RecordEdit {
  std::string collection;
  RecordId record_id;
  CaseId case_id;
  std::vector<FieldEdit> fields;
};

class ServerFixture {
 public:
  explicit ServerFixture(ServerOptions options = {});
  ~ServerFixture();
  ServerFixture(const ServerFixture&) = delete;
  ServerFixture& operator=(const ServerFixture&) = delete;

  // Another server node on the same storage (the same SQLite file or PostgreSQL database) and
  // the same clock, as several nodes behind a load balancer.
  std::unique_ptr<ServerApp> another_node();

  // --- HTTP, in-process (counted in the metrics, as the HTTP server does) ---
  http::Response dispatch(http::Request request);
  // `path` may carry a query string ("/v1/admin/devices?state=stale").
  http::Response call(const std::string& method, const std::string& path, std::string body = {},
                      const std::string& content_type = {}, const std::string& bearer = {},
                      const std::string& address = kDefaultAddress);
  // The same, answered by `node` (thread-safe: it touches nothing of the fixture's).
  static http::Response call_node(ServerApp& node, const std::string& method,
                                   const std::string& path, std::string body = {},
                                   const std::string& content_type = {},
                                   const std::string& bearer = {},
                                   const std::string& address = kDefaultAddress);

  // --- Admin routes (with the fixture's all-roles token) ---
  // An admin call that must succeed (REQUIREs 200); returns the JSON answer.
  nlohmann::json admin(const std::string& method, const std::string& path,
                       const nlohmann::json& body = nullptr);
  // An admin call whatever its answer, with any token.
  http::Response admin_call(const std::string& method, const std::string& path,
                            const nlohmann::json& body, const std::string& token);
  // A token made on the server machine, as `fieldsync-server admin create-token` does.
  std::string issue_admin_token(const std::vector<std::string>& roles,
                                std::int64_t lifetime_ms = 0);

  void create_team(const std::string& team_id);
  void create_user(const std::string& user_id, const std::string& team_id,
                   const std::string& role = "worker");
  // A case for `user_id` (a worker's caseload, or a manager's team), named `child_name`.
  CaseId create_case(const std::string& user_id, const std::string& child_name);
  void allocate(const CaseId& case_id, const std::string& user_id);
  std::string enrolment_code(const std::string& user_id, std::int64_t expires_in_s = 0);
  TestDevice enrol(const std::string& user_id);
  http::Response enrol_call(const std::string& code, const std::string& address = kDefaultAddress);
  void revoke(const TestDevice& device);
  void retire(const TestDevice& device);
  // The device's entry in the registry, with its recent syncs (GET /v1/admin/devices/{id}).
  nlohmann::json device_entry(const TestDevice& device);

  // --- Devices ---
  // A write group as the device's outbox makes it: stamped by the device after every stamp it
  // made before, numbered with its next sequence numbers.
  WriteGroup write(TestDevice& device, const std::vector<RecordEdit>& records);
  WriteGroup write(TestDevice& device, const std::string& collection, const RecordId& record_id,
                   const CaseId& case_id, const std::vector<FieldEdit>& fields);
  // The device's next stamp (also for tests that build changes by hand).
  Hlc stamp(TestDevice& device);

  // The request a device sends: its cursor, `groups`, `acks`, and its telemetry.
  SyncRequest sync_request(const TestDevice& device, std::vector<WriteGroup> groups = {},
                           std::vector<std::uint64_t> acks = {}) const;
  // POSTs a request in binary form; the answer whatever it is. `node`: another node answers.
  http::Response sync_call(const TestDevice& device, const SyncRequest& request,
                           const std::string& address = kDefaultAddress, ServerApp* node = nullptr);
  // One sync round trip that must succeed (REQUIREs 200); keeps the answer's cursor, and the
  // device observes the versions it pulled.
  SyncResponse sync(TestDevice& device, std::vector<WriteGroup> groups = {},
                    std::vector<std::uint64_t> acks = {});
  // Round trips until `more` is false; answers merged (changes, conflicts, resolutions,
  // directives of the last round).
  SyncResponse sync_all(TestDevice& device);

  // --- Backups and restores ---
  // A backup of the server's data: on SQLite as `fieldsync-server admin backup` makes it, in a new
  // file of the fixture's directory; on PostgreSQL a copy of the database (the app is stopped
  // while it is made). Returns the file or the copy's name.
  std::string backup(const std::string& name);
  // The server restored from `backup` in a new epoch (`fieldsync-server admin restore`; on
  // PostgreSQL the copy put back, then `admin new-epoch`): the app is stopped, and started again
  // on the restored data.
  void restore(const std::string& backup);
  // The app stops (its storage closes) and starts again on the same data directory.
  void stop();
  void start();

  // --- Reading the server's storage ---
  // Runs `read` in a transaction of its own, rolled back before it returns (a transaction holds
  // the SQLite backend's one connection, so no call may be made while one is open).
  // (Not through run_transaction: nothing races with a test's single thread.)
  template <class Read>
  auto inspect(Read read) {
    auto tx = app->storage().begin();
    return read(*tx);
  }

  dev::ScratchDir dir;
  std::unique_ptr<dev::ScratchDatabase> database;  // with PostgreSQL only
  ServerOptions options;                           // as the fixture's nodes are made
  FakeClockSource clock{kStartMs, 1'000};
  std::ostringstream log_text;  // the server's log lines, shown when a call fails
  std::unique_ptr<ServerApp> app;
  std::string admin_token;
};

// The casework most tests need: team "north" with manager "mona" and workers "amira" and
// "bilal", team "south" with manager "sara" and worker "dan"; case A (Ava) allocated to amira,
// case B (Ben) to bilal; an enrolled, synced device for each of amira (two), mona, bilal.
struct Casework {
  explicit Casework(ServerFixture& fixture);

  ServerFixture& server;
  CaseId case_a;
  CaseId case_b;
  TestDevice amira_phone;
  TestDevice amira_tablet;
  TestDevice mona_phone;
  TestDevice bilal_phone;
};

// --- Values and records ---
Value text(const std::string& value);
Value boolean(bool value);
Value timestamp_at(std::int64_t unix_ms);
// The fields of a valid visit: statutory, child seen and seen alone, with `observations`.
std::vector<FieldEdit> valid_visit(const std::string& observations);
Version version_of(const WriteGroup& group, const RecordId& record_id, const std::string& field);

// --- Reading answers ---
std::string error_name(const http::Response& response);
std::string error_message(const http::Response& response);
// Changes of one record in an answer, by field.
std::map<std::string, Change> fields_of(const SyncResponse& response, const RecordId& record_id);
bool mentions_case(const SyncResponse& response, const CaseId& case_id);
bool mentions_record(const SyncResponse& response, const RecordId& record_id);
std::vector<Directive> directives_of_kind(const SyncResponse& response, DirectiveKind kind);
std::vector<std::uint64_t> directive_ids(const SyncResponse& response);

}  // namespace fieldsync::server::testing
