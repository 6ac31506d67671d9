// Support for the integration tests of identity, scope, HTTPS, bad input and clocks across real
// processes: a fieldsync-server process on 127.0.0.1 (its own data directory, real SQLite) with
// an admin, a small council's people and cases, field devices (each with its encrypted store,
// its own clocks and its own libcurl connection), and raw sync requests for what a well-behaved
// client never sends.
//
// Test support only. One thread at a time per object.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/council.h"
#include "fieldsync/dev/field_device.h"
#include "fieldsync/dev/make_change.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::itest {

using namespace std::chrono_literals;

// The server under test: $FIELDSYNC_SERVER when set (another build of it), else the one built
// with these tests.
inline std::string server_binary() {
  const char* from_env = std::getenv("FIELDSYNC_SERVER");
  return from_env && *from_env ? from_env : FIELDSYNC_SERVER_BINARY;
}

struct ServerSetup {
  std::vector<std::string> extra_args = {};       // --max-auth-failures 3, --tls-cert ..., ...
  std::vector<std::string> environment = {};      // "NAME=value" for the server process
  std::string scheme = "http";                    // "https" with --tls-cert and --tls-key
  platform::CurlTransportOptions transport = {};  // what the admin and the devices trust
};

// The lines of the server's log (JSON lines) whose event is `event`, in the order written. A line
// that is not JSON (what the server prints before its log begins) is passed over.
inline std::vector<nlohmann::json> server_log_events(const dev::ServerProcess& server,
                                                     const std::string& event) {
  std::vector<nlohmann::json> found;
  std::istringstream lines(dev::read_file(server.options().log_file));
  for (std::string text; std::getline(lines, text);) {
    nlohmann::json line = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!line.is_discarded() && line.value("event", "") == event) found.push_back(std::move(line));
  }
  return found;
}

// A fieldsync-server process on a free port of 127.0.0.1, with an admin client that has every
// role. The process is stopped (SIGTERM) when the object goes.
class TestServer {
 public:
  explicit TestServer(ServerSetup setup = {})
      : setup_(std::move(setup)),
        process_({.binary = server_binary(),
                  .data_dir = dir_.file("server"),
                  .extra_args = setup_.extra_args,
                  .environment = setup_.environment}),
        admin_transport_(platform::make_curl_transport(setup_.transport)),
        admin_(*admin_transport_, url(), process_.create_admin_token()) {}

  std::string url() const { return process_.url(setup_.scheme); }
  admin::AdminClient& admin() { return admin_; }
  dev::ServerProcess& process() { return process_; }
  const platform::CurlTransportOptions& transport_options() const { return setup_.transport; }
  std::string data_dir() const { return process_.options().data_dir; }

  // Stops the server and opens its store, to check what it holds.
  std::unique_ptr<server::ServerStorage> stop_and_open_storage() {
    process_.stop();
    return server::open_sqlite_storage(data_dir());
  }

 private:
  ServerSetup setup_;
  dev::ScratchDir dir_;
  dev::ServerProcess process_;
  std::unique_ptr<platform::HttpTransport> admin_transport_;
  admin::AdminClient admin_;
};

// The council of dev/council.h: two teams, four people, Jordan's and Riley's cases (Amira's) and
// Sam's (Ben's).
using Council = dev::CouncilCases;
using dev::set_up_council;

// A visit's fields that pass the schema (the child seen alone).
inline client::Fields visit_fields(client::Store& store, const std::string& observations) {
  return {{"visit_type", Value::text("statutory_child_protection")},
          {"location_type", Value::text("home")},
          {"actual_start", Value::timestamp(store.now())},
          {"child_seen", Value::boolean(true)},
          {"seen_alone", Value::boolean(true)},
          {"observations", Value::text(observations)}};
}

// A text field of a record as the store holds it; empty when the record or field is missing.
inline std::string text_of(client::Store& store, const RecordId& id, const std::string& field) {
  const auto record = store.record(id);
  const Value* value = record ? record->get(field) : nullptr;
  return value ? value->as_text() : std::string();
}

// One enrolled field device (dev::FieldDevice): its encrypted store (fast key derivation), its
// clocks, its own HTTP connection. A wipe directive destroys the store; has_store() then says
// false.
class TestDevice {
 public:
  TestDevice(TestServer& server, const std::string& user, std::int64_t clock_offset_ms = 0)
      : device_({.dir = dir_.path(),
                 .label = "device",
                 .clock_offset_ms = clock_offset_ms,
                 .kdf_iterations = dev::kCheapKdfIterations,
                 .client = {"linux", "itest"}},
                platform::make_curl_transport(server.transport_options())) {
    device_.enrol(server.url(), server.admin().enrolment_code(user));
  }

  client::Store& store() { return device_.store(); }
  bool has_store() const { return device_.has_store(); }
  client::Casework casework() { return device_.casework(); }
  OriginId id() const { return device_.identity().device_id; }
  std::string token() { return store().token().value_or(""); }
  const std::string& path() const { return device_.path(); }
  platform::HttpTransport& transport() { return device_.transport(); }

  client::SyncSettings settings() const { return device_.settings(); }
  client::SyncReport sync(std::chrono::milliseconds budget = 10s) {
    return sync(settings(), budget);
  }
  // `through`: another connection (one that trusts another CA, say) instead of the device's own.
  client::SyncReport sync(const client::SyncSettings& settings, std::chrono::milliseconds budget,
                          platform::HttpTransport* through = nullptr) {
    return device_.sync(settings, budget, through);
  }

  // The app closes its store, and opens and unlocks it again.
  void close() { device_.close(); }
  void open() { device_.open(); }
  // The phone restarts: its monotonic clock begins again, and the app reopens its store.
  void reboot() { device_.reboot(); }
  // A copy of the closed store's files (the database and its journal), as a device backup holds.
  void copy_store_to(const std::string& other_path) const { copy_files(path(), other_path); }
  void restore_store_from(const std::string& other_path) const { copy_files(other_path, path()); }

 private:
  static void copy_files(const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(to + suffix);
      if (std::filesystem::exists(from + suffix))
        std::filesystem::copy_file(from + suffix, to + suffix);
    }
  }

  dev::ScratchDir dir_;
  dev::FieldDevice device_;
};

// A device of `user` enrolled by hand, for the requests the client library never sends: it
// stamps and numbers its own changes, and posts any body with any token.
class RawDevice {
 public:
  RawDevice(TestServer& server, const std::string& user)
      : sync_url_(server.url() + "/v1/sync"),
        transport_(platform::make_curl_transport(server.transport_options())),
        enrolment_(client::enrol(*transport_, server.url(), server.admin().enrolment_code(user),
                                 {"raw", "itest"})) {}

  const OriginId& id() const { return enrolment_.device_id; }
  const std::string& token() const { return enrolment_.token; }

  platform::HttpResponse post(std::string body,
                              std::string_view content_type = kBinaryContentType) {
    return post_as(enrolment_.token, std::move(body), content_type);
  }
  platform::HttpResponse post_as(const std::string& token, std::string body,
                                 std::string_view content_type = kBinaryContentType) {
    platform::HttpRequest request;
    request.url = sync_url_;
    request.headers = {{"Authorization", "Bearer " + token},
                       {"Content-Type", std::string(content_type)}};
    request.body = std::move(body);
    request.timeout = 10s;
    return transport_->send(request);
  }
  // One round trip that must be answered 200; the cursor is this device's own.
  SyncResponse sync(SyncRequest request) {
    request.cursor = cursor_;
    const platform::HttpResponse answer = post(encode_request(request, WireFormat::kBinary));
    if (answer.status != 200) {
      throw std::runtime_error("sync answered " + std::to_string(answer.status) + ": " +
                               answer.body);
    }
    SyncResponse response = decode_response(answer.body, WireFormat::kBinary);
    cursor_ = response.next_cursor;
    return response;
  }
  // Pulls until the server has nothing more; every change received.
  std::vector<Change> pull_all() {
    std::vector<Change> changes;
    for (int round = 0; round < 100; ++round) {
      SyncResponse response = sync({});
      changes.insert(changes.end(), response.changes.begin(), response.changes.end());
      if (!response.more) return changes;
    }
    throw std::runtime_error("the server kept saying 'more'");
  }

  // A new draft note on `case_id`, stamped now by `origin` (this device unless said otherwise),
  // with this device's next sequence numbers.
  WriteGroup new_note(const CaseId& case_id, const std::string& content) {
    return new_note(case_id, content, id());
  }
  WriteGroup new_note(const CaseId& case_id, const std::string& content, const OriginId& origin) {
    const RecordId note = Uuid::random_v4();
    WriteGroup group{Uuid::random_v4(), {}};
    group.changes.push_back(
        change("note", note, case_id, "status", Value::text("draft"), group.id, origin));
    group.changes.push_back(
        change("note", note, case_id, "content", Value::text(content), group.id, origin));
    return group;
  }
  // One change of this device's, stamped now with its next sequence number.
  Change change(std::string collection, const RecordId& record, const CaseId& case_id,
                std::string field, Value value, const WriteGroupId& group, const OriginId& origin,
                VersionSet base = {}) {
    const auto now = static_cast<std::uint64_t>(SystemClockSource::instance().wall_ms());
    last_stamp_ = std::max(last_stamp_.successor(), Hlc(now, 0));
    return dev::make_change(std::move(collection), record, case_id, std::move(field),
                            std::move(value), {last_stamp_, origin}, group, "", std::move(base),
                            ++last_seq_);
  }

 private:
  std::string sync_url_;
  std::unique_ptr<platform::HttpTransport> transport_;
  client::Enrolment enrolment_;
  std::string cursor_;
  Hlc last_stamp_;
  std::uint64_t last_seq_ = 0;
};

// The JSON error body of an answer ({"error": ..., "message": ...}); null when it is not one.
inline nlohmann::json error_body(const platform::HttpResponse& answer) {
  nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  const bool is_error = body.is_object() && body.contains("error") && body["error"].is_string() &&
                        body.contains("message") && body["message"].is_string() &&
                        !body["message"].get<std::string>().empty();
  return is_error ? body : nlohmann::json();
}

}  // namespace fieldsync::itest
