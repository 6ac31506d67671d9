// Test support for the end-to-end sync tests (story, chaos, server crash): a real fieldsync-server
// process on 127.0.0.1 with its SQLite files, enrolled devices with real encrypted stores syncing
// over libcurl, and the checks those tests share, made on the server's storage opened in this
// process once the server has stopped:
//  - differences_from_server: a device holds exactly its user's cases, and for each of them the
//    server's current state (every record, field, version and value) and its open conflicts;
//  - audit_history: every field's history holds each version once, its current winner is the
//    merge rule's winner, and its conflict log equals the batch definition (the unresolved
//    entries are exactly lost_changes over the whole history; a resolved entry names a change
//    whose base names it); no (device, sequence number) was applied twice;
//  - acked_changes_missing: every change of every write group whose acknowledgement reached a
//    device is in the history, as sent.
//
// Each device's transport keeps a SyncLedger of what it sent and what came back, and can drop
// answers after the server committed them (as a connection lost on the way back would), so the
// device must send again and the server must acknowledge the resend without applying it twice.
//
// Stores and the server's data go to /dev/shm when it exists (FIELDSYNC_TEST_TMPDIR overrides):
// the processes are killed, never the machine, so fsync buys these tests nothing but time.
//
// Storage: SQLite and one server process by default. With FIELDSYNC_TEST_STORAGE=postgres (ctest
// sets it for the tests it runs a second time under the `postgres` fixture) the server is several
// nodes (FIELDSYNC_TEST_NODES, default 3) sharing one throwaway PostgreSQL database, as behind a
// load balancer, and every request a device makes goes to a node picked at random.
//
// Not thread-safe: a TestServer belongs to one thread; a Device may move to another thread and is
// then used by that thread only (LedgerTransport::in_flight aside, which any thread may read).
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/content_coding.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/council.h"
#include "fieldsync/dev/field_device.h"
#include "fieldsync/dev/scratch_database.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/error.h"
#include "fieldsync/merge_rule.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/schema.h"
#include "fieldsync/server/server_storage.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::integration {

inline std::string server_binary() {
  if (const char* from_env = std::getenv("FIELDSYNC_SERVER")) return from_env;
  return FIELDSYNC_SERVER_BINARY;
}

inline std::filesystem::path scratch_parent() {
  if (const char* from_env = std::getenv("FIELDSYNC_TEST_TMPDIR")) return from_env;
  std::error_code ignored;
  if (std::filesystem::is_directory("/dev/shm", ignored)) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

// The number of random seeds a property test runs: FIELDSYNC_PROPERTY_SEEDS, or `fallback`.
inline std::uint64_t property_seeds(std::uint64_t fallback) {
  if (const char* text = std::getenv("FIELDSYNC_PROPERTY_SEEDS"))
    return std::strtoull(text, nullptr, 10);
  return fallback;
}

// What one device's transport saw of its sync exchanges.
struct SyncLedger {
  std::map<WriteGroupId, WriteGroup> sent;  // every group sent, as last sent
  // Acknowledgements delivered, with the content they answered.
  std::map<WriteGroupId, WriteGroup> acked;
  std::map<WriteGroupId, Rejection> rejected;  // rejections delivered (clock skew aside)
  std::size_t network_failures = 0;   // sync requests that got no answer (a server killed, say)
  std::size_t cut_off = 0;            // among them, those that had connected: cut off mid-exchange
  std::size_t answers_dropped = 0;    // answered (2xx: committed) by the server, never delivered
  std::size_t acks_dropped = 0;       // acknowledgements in those answers
  std::vector<std::string> problems;  // an acknowledgement of a group the request did not carry
};

// Sends through a real transport and keeps a SyncLedger; with `drop_probability`, throws a
// network error instead of delivering a 2xx sync answer, after the server committed it.
class LedgerTransport final : public platform::HttpTransport {
 public:
  // CURLE_COULDNT_CONNECT, the transport's error code when nobody listens.
  static constexpr std::int32_t kCurlCouldNotConnect = 7;
  // CURLE_RECV_ERROR, what a connection lost while the answer comes in gives.
  static constexpr std::int32_t kCurlReceiveError = 56;

  LedgerTransport(std::unique_ptr<platform::HttpTransport> inner, std::uint64_t seed)
      : inner_(std::move(inner)), random_(seed) {}

  void set_drop_probability(double probability) { drop_probability_ = probability; }
  // Sends each request to one of `base_urls` (scheme://host:port) picked at random, as a load
  // balancer in front of several server nodes would; empty: to the address the request names.
  void set_nodes(std::vector<std::string> base_urls) { nodes_ = std::move(base_urls); }
  // Requests sent to each node of set_nodes(), by its index.
  const std::map<std::size_t, std::size_t>& requests_per_node() const { return per_node_; }
  // The next `answers` 2xx sync answers are dropped, whatever the probability.
  void drop_next(std::size_t answers) { forced_drops_ = answers; }
  const SyncLedger& ledger() const { return ledger_; }
  // What happens elsewhere while a sync is under way (the UI records, another device syncs):
  // called with kSending once the request is made, before it goes out, and with kAnswered once
  // the server has answered, before the answer is delivered (or dropped).
  enum class SyncPhase { kSending, kAnswered };
  void set_during_sync(std::function<void(SyncPhase)> hook) { during_sync_ = std::move(hook); }
  // True while a sync request is out; may be read from any thread.
  bool in_flight() const { return in_flight_.load(); }

  platform::HttpResponse send(const platform::HttpRequest& original) override {
    const platform::HttpRequest request = to_some_node(original);
    const bool is_sync = request.url.ends_with("/v1/sync");
    if (!is_sync) return inner_->send(request);
    const WireFormat format = has_json_type(request) ? WireFormat::kJson : WireFormat::kBinary;
    const SyncRequest sent = decode_request(plain_body(request), format);
    for (const WriteGroup& group : sent.write_groups) ledger_.sent[group.id] = group;
    if (during_sync_) during_sync_(SyncPhase::kSending);
    platform::HttpResponse response;
    try {
      in_flight_ = true;
      response = inner_->send(request);
      in_flight_ = false;
    } catch (const Error& error) {
      in_flight_ = false;
      ++ledger_.network_failures;
      if (error.domain() == ErrorDomain::kNetwork && error.code() != kCurlCouldNotConnect)
        ++ledger_.cut_off;
      throw;
    }
    if (response.status < 200 || response.status > 299) return response;
    if (during_sync_) during_sync_(SyncPhase::kAnswered);
    const SyncResponse answer = decode_response(plain_body(response), format);
    const bool forced = forced_drops_ > 0;
    if (forced) --forced_drops_;
    if (forced ||
        (drop_probability_ > 0 && std::bernoulli_distribution(drop_probability_)(random_))) {
      ++ledger_.answers_dropped;
      ledger_.acks_dropped += answer.acks.size();
      throw Error(ErrorDomain::kNetwork, kCurlReceiveError,
                  "connection lost before the answer arrived (dropped by the test)");
    }
    for (const WriteGroupId& id : answer.acks) {
      const auto group =
          std::find_if(sent.write_groups.begin(), sent.write_groups.end(),
                       [&](const WriteGroup& candidate) { return candidate.id == id; });
      if (group == sent.write_groups.end()) {
        ledger_.problems.push_back("acknowledgement of group " + id.to_string() +
                                   " that was not sent");
        continue;
      }
      ledger_.acked[id] = *group;
      ledger_.rejected.erase(id);
    }
    for (const Rejection& rejection : answer.rejections) {
      if (rejection.code != RejectionCode::kClockSkew)
        ledger_.rejected[rejection.write_group] = rejection;
    }
    return response;
  }

 private:
  // The request with its scheme://host:port replaced by a node picked at random.
  platform::HttpRequest to_some_node(const platform::HttpRequest& request) {
    if (nodes_.empty()) return request;
    const std::size_t authority = request.url.find("://");
    const std::size_t path = authority == std::string::npos
                                 ? std::string::npos
                                 : request.url.find('/', authority + 3);
    const std::size_t node =
        std::uniform_int_distribution<std::size_t>(0, nodes_.size() - 1)(node_random_);
    ++per_node_[node];
    platform::HttpRequest routed = request;
    routed.url = nodes_[node] + (path == std::string::npos ? "" : request.url.substr(path));
    return routed;
  }

  // A body as it was encoded, inflated when it travelled in gzip.
  static std::string plain_body(const platform::HttpRequest& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Content-Encoding" && is_gzip_coding(value)) return gunzip(request.body, kMaxBody);
    }
    return request.body;
  }
  static std::string plain_body(const platform::HttpResponse& response) {
    return is_gzip_coding(response.header("Content-Encoding")) ? gunzip(response.body, kMaxBody)
                                                               : response.body;
  }
  static constexpr std::size_t kMaxBody = 64u << 20;

  static bool has_json_type(const platform::HttpRequest& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Content-Type") return value.starts_with(kJsonContentType);
    }
    return false;
  }

  std::unique_ptr<platform::HttpTransport> inner_;
  std::mt19937_64 random_;
  std::mt19937_64 node_random_{random_()};  // apart from random_, so drops stay as they were
  std::vector<std::string> nodes_;
  std::map<std::size_t, std::size_t> per_node_;
  double drop_probability_ = 0;
  std::size_t forced_drops_ = 0;
  std::function<void(SyncPhase)> during_sync_;
  std::atomic<bool> in_flight_{false};
  SyncLedger ledger_;
};

// One enrolled device (dev::FieldDevice): its clocks, its encrypted store (fast key derivation: a
// test setting), its own connection with a ledger.
class Device {
 public:
  Device(const std::filesystem::path& dir, const std::string& label, std::int64_t clock_offset_ms,
         std::uint64_t seed)
      : Device(dir, label, clock_offset_ms,
               std::make_unique<LedgerTransport>(platform::make_curl_transport(), seed)) {}

  void enrol(const std::string& server_url, const std::string& code) {
    device_.enrol(server_url, code);
  }

  // Syncs until done; a wipe directive destroys the store (has_store() turns false).
  client::SyncReport sync(std::chrono::milliseconds budget = std::chrono::seconds(60)) {
    return sync_with(device_.server_url(), budget);
  }
  client::SyncReport sync_with(const std::string& server_url, std::chrono::milliseconds budget) {
    client::SyncSettings settings = device_.settings();
    settings.server_url = server_url;
    settings.format = format_;
    // Retries come fast: the server is on this machine, and a killed one is back in milliseconds.
    settings.retry.initial_delay = std::chrono::milliseconds(1);
    settings.retry.max_delay = std::chrono::milliseconds(100);
    settings.retry.max_attempts = 200;
    settings.jitter_seed = 1;
    return device_.sync(settings, budget);
  }

  // The form of its sync bodies (binary by default).
  void set_wire_format(WireFormat format) { format_ = format; }

  // The phone restarts: its monotonic clock begins again, and the app reopens its store.
  void reboot() { device_.reboot(); }

  client::Store& store() { return device_.store(); }
  client::Casework casework() { return device_.casework(); }
  bool has_store() const { return device_.has_store(); }
  const std::string& label() const { return device_.label(); }
  const std::string& path() const { return device_.path(); }
  const client::DeviceIdentity& identity() const { return device_.identity(); }
  LedgerTransport& transport() { return transport_; }
  const SyncLedger& ledger() const { return transport_.ledger(); }

 private:
  Device(const std::filesystem::path& dir, const std::string& label, std::int64_t clock_offset_ms,
         std::unique_ptr<LedgerTransport> transport)
      : transport_(*transport),
        device_({.dir = dir,
                 .label = label,
                 .clock_offset_ms = clock_offset_ms,
                 .kdf_iterations = dev::kCheapKdfIterations,
                 .client = {"test", "1.0"}},
                std::move(transport)) {}

  LedgerTransport& transport_;  // owned by device_
  dev::FieldDevice device_;
  WireFormat format_ = WireFormat::kBinary;
};

// Where the server under test keeps its data: a SQLite directory, or a PostgreSQL database
// shared by several nodes (see the top of this file).
struct StorageUnderTest {
  bool postgres = false;
  std::size_t nodes = 1;
};

inline StorageUnderTest storage_under_test() {
  const char* storage = std::getenv("FIELDSYNC_TEST_STORAGE");
  if (!storage || std::string(storage) != "postgres") return {};
  std::size_t nodes = 3;
  if (const char* text = std::getenv("FIELDSYNC_TEST_NODES")) nodes = std::strtoull(text, nullptr, 10);
  return {true, std::max<std::size_t>(nodes, 1)};
}

// The server's storage, opened in this process once the server processes have stopped; one
// read transaction for every check.
class ServerState {
 public:
  explicit ServerState(std::unique_ptr<server::ServerStorage> storage)
      : storage_(std::move(storage)), tx_(storage_->begin()) {}
  explicit ServerState(const std::string& data_dir)
      : ServerState(server::open_sqlite_storage(data_dir)) {}
  server::StorageTransaction& tx() { return *tx_; }

 private:
  std::unique_ptr<server::ServerStorage> storage_;
  std::unique_ptr<server::StorageTransaction> tx_;
};

// A real fieldsync-server on 127.0.0.1 (or several nodes of one on PostgreSQL, see the top of this
// file) with its data in a scratch directory, an admin client, and the devices enrolled to it
// (their stores beside the server's data).
class TestServer {
 public:
  TestServer() : TestServer(storage_under_test()) {}
  explicit TestServer(StorageUnderTest storage)
      : dir_(scratch_parent(), "fieldsync-e2e"),
        database_(storage.postgres ? std::make_unique<dev::ScratchDatabase>() : nullptr) {
    for (std::size_t i = 0; i < storage.nodes; ++i) {
      dev::ServerProcessOptions options{server_binary(), dir_.file(node_dir(i))};
      if (database_) {
        options.database = database_->uri();
        options.extra_args = {"--node-name", "node-" + std::to_string(i + 1)};
      }
      nodes_.push_back(std::make_unique<dev::ServerProcess>(std::move(options)));
    }
    admin_transport_ = platform::make_curl_transport();
    admin_ = std::make_unique<admin::AdminClient>(*admin_transport_, url(),
                                                process().create_admin_token("test admin"));
  }

  // The first node (the only one on SQLite).
  dev::ServerProcess& process() { return *nodes_.front(); }
  dev::ServerProcess& node(std::size_t index) { return *nodes_.at(index); }
  std::size_t node_count() const { return nodes_.size(); }
  bool on_postgres() const { return database_ != nullptr; }
  admin::AdminClient& admin() { return *admin_; }
  std::string url() const { return nodes_.front()->url(); }
  std::vector<std::string> urls() const {
    std::vector<std::string> all;
    for (const auto& node : nodes_) all.push_back(node->url());
    return all;
  }
  // The SQLite directory (on SQLite only).
  std::string data_dir() const { return dir_.file(node_dir(0)); }

  // A new device of `user_id`, enrolled with a fresh one-time code. `seed` drives its drops and,
  // with several nodes, which node each of its requests goes to.
  std::unique_ptr<Device> enrol(const std::string& label, const std::string& user_id,
                                std::int64_t clock_offset_ms = 0, std::uint64_t seed = 1) {
    auto device = std::make_unique<Device>(dir_.path(), label, clock_offset_ms, seed);
    if (nodes_.size() > 1) device->transport().set_nodes(urls());
    device->enrol(url(), admin_->enrolment_code(user_id));
    return device;
  }

  // The database goes away under the running nodes (on PostgreSQL only).
  void drop_database() { database_->drop(); }

  // Stops every node cleanly (SIGTERM) and opens the storage here. Returns nullptr if one did
  // not exit with status 0.
  std::unique_ptr<ServerState> stop_and_open() {
    bool clean = true;
    for (auto& node : nodes_) {
      const int status = node->stop();
      clean &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!clean) return nullptr;
    if (database_) return std::make_unique<ServerState>(server::open_postgres_storage(database_->uri(), 1));
    return std::make_unique<ServerState>(data_dir());
  }

 private:
  // On SQLite the server's data directory; on PostgreSQL a node's port file and log.
  static std::string node_dir(std::size_t index) {
    return index == 0 ? "server" : "server-node-" + std::to_string(index + 1);
  }

  dev::ScratchDir dir_;
  std::unique_ptr<dev::ScratchDatabase> database_;  // before the nodes: they stop first
  std::vector<std::unique_ptr<dev::ServerProcess>> nodes_;
  std::unique_ptr<platform::HttpTransport> admin_transport_;
  std::unique_ptr<admin::AdminClient> admin_;
};

// A field as the device shows it: null when the record or the field is not there.
inline Value value_of(client::Store& store, const RecordId& id, const std::string& field) {
  const auto record = store.record(id);
  const Value* value = record ? record->get(field) : nullptr;
  return value ? *value : Value::null();
}

// Syncs every device in turn until one whole pass pushes and pulls nothing. False if a sync did
// not complete or `max_passes` passes were not enough.
inline bool sync_until_quiet(const std::vector<Device*>& devices, std::string& why,
                             int max_passes = 8) {
  for (int pass = 0; pass < max_passes; ++pass) {
    bool quiet = true;
    for (Device* device : devices) {
      const client::SyncReport report = device->sync();
      if (report.outcome != client::SyncOutcome::kCompleted) {
        why = device->label() + ": sync " + std::string(client::to_string(report.outcome)) +
              (report.error ? std::string(": ") + report.error->what() : "");
        return false;
      }
      quiet &= report.changes_pushed == 0 && report.changes_pulled == 0 &&
               report.conflicts_queued == 0 && report.groups_rejected == 0;
    }
    if (quiet) return true;
  }
  why = "still syncing after " + std::to_string(max_passes) + " passes";
  return false;
}

// --- Checks on the server's storage ---

inline std::string describe(const Change& change) {
  return change.collection + " " + change.record_id.to_string() + "." + change.field + " = " +
         change.value.describe() + " @" + change.version.to_string();
}

// Every field of every case that has a history, with its current winner.
inline std::map<server::FieldKey, server::StoredChange> all_current_fields(
    server::StorageTransaction& tx) {
  std::map<server::FieldKey, server::StoredChange> fields;
  for (const server::CaseAllocation& allocation : tx.allocations()) {
    for (server::StoredChange& stored : tx.current_of_case(allocation.case_id, tx.last_seq())) {
      const server::FieldKey key{stored.change.record_id, stored.change.field};
      fields.emplace(key, std::move(stored));
    }
  }
  return fields;
}

// What the device holds differs from the server's current state (see the top of this file):
// one line per difference; empty when they agree.
inline std::vector<std::string> differences_from_server(client::Store& store,
                                                        server::StorageTransaction& tx) {
  std::vector<std::string> differences;
  const client::DeviceIdentity identity = store.identity();
  const std::vector<CaseId> held = store.cases();
  const auto user = tx.user(identity.user_id);
  if (!user) return {"the server has no user " + identity.user_id};
  const std::vector<CaseId> scope = tx.scope_of(*user);
  if (std::set<CaseId>(held.begin(), held.end()) != std::set<CaseId>(scope.begin(), scope.end())) {
    differences.push_back("holds " + std::to_string(held.size()) + " cases; " + identity.user_id +
                          "'s scope has " + std::to_string(scope.size()));
  }
  const std::uint64_t up_to = tx.last_seq();
  for (const CaseId& case_id : held) {
    std::map<std::pair<RecordId, std::string>, Change> on_server;
    for (server::StoredChange& stored : tx.current_of_case(case_id, up_to)) {
      on_server[{stored.change.record_id, stored.change.field}] = std::move(stored.change);
    }
    std::set<std::pair<RecordId, std::string>> on_device;
    for (const CollectionSpec& collection : Schema::domain().collections()) {
      for (const Record& record : store.records(case_id, collection.name)) {
        for (const auto& [field, version] : store.field_versions(record.id)) {
          on_device.insert({record.id, field});
          const auto found = on_server.find({record.id, field});
          const Value* value = record.get(field);
          const Value device_value = value ? *value : Value::null();
          if (found == on_server.end()) {
            differences.push_back(collection.name + " " + record.id.to_string() + "." + field +
                                  " is on the device only");
          } else if (found->second.version != version || found->second.value != device_value) {
            differences.push_back(
                collection.name + " " + record.id.to_string() + "." + field + ": device " +
                device_value.describe() + " @" + version.to_string() + ", server " +
                found->second.value.describe() + " @" + found->second.version.to_string());
          }
        }
      }
    }
    for (const auto& [key, change] : on_server) {
      if (!on_device.contains(key))
        differences.push_back(describe(change) + " is on the server only");
    }

    // Open conflicts: the same lost versions, with the same values on both sides.
    std::map<Version, Conflict> device_conflicts;
    for (const client::LocalConflict& local : store.conflicts()) {
      if (local.conflict.case_id == case_id)
        device_conflicts.emplace(local.conflict.lost.version, local.conflict);
    }
    for (const server::ConflictEntry& entry : tx.open_conflicts_of_case(case_id, up_to)) {
      const auto found = device_conflicts.find(entry.lost);
      const auto lost = tx.change_by_version({entry.record_id, entry.field}, entry.lost);
      const auto winner = tx.current_field({entry.record_id, entry.field});
      const std::string name =
          entry.record_id.to_string() + "." + entry.field + " lost " + entry.lost.to_string();
      if (found == device_conflicts.end()) {
        differences.push_back("conflict " + name + " is on the server only");
        continue;
      }
      const Conflict& conflict = found->second;
      if (!lost || !winner || conflict.lost.value != lost->change.value ||
          conflict.winner.version != winner->change.version ||
          conflict.winner.value != winner->change.value) {
        differences.push_back("conflict " + name + " shows other values on the device");
      }
      device_conflicts.erase(found);
    }
    for (const auto& [version, conflict] : device_conflicts) {
      differences.push_back("conflict " + conflict.record_id.to_string() + "." + conflict.field +
                            " lost " + version.to_string() + " is on the device only");
    }
  }
  return differences;
}

struct HistoryAudit {
  std::size_t fields = 0;
  std::size_t changes = 0;
  std::size_t conflict_entries = 0;  // every entry the log ever made, resolved or not
  std::size_t unresolved = 0;
  std::vector<std::string> problems;
};

// The server's history and conflict log against the merge rule (see the top of this file).
inline HistoryAudit audit_history(server::StorageTransaction& tx) {
  HistoryAudit audit;
  std::set<std::pair<OriginId, std::uint64_t>> device_seqs;
  for (const auto& [key, current] : all_current_fields(tx)) {
    const std::string name = key.record_id.to_string() + "." + key.field;
    ++audit.fields;
    std::vector<Change> history;
    std::set<Version> versions;
    for (server::StoredChange& stored : tx.field_history(key)) {
      if (!versions.insert(stored.change.version).second) {
        audit.problems.push_back(name + ": version " + stored.change.version.to_string() +
                                 " is in the history twice");
      }
      if (stored.change.device_seq != 0 &&
          !device_seqs.insert({stored.change.version.origin, stored.change.device_seq}).second) {
        audit.problems.push_back("device " + stored.change.version.origin.to_string() +
                                 " sequence " + std::to_string(stored.change.device_seq) +
                                 " was applied twice");
      }
      history.push_back(std::move(stored.change));
    }
    audit.changes += history.size();
    const Change* winner = merge_winner(history);
    if (!winner || winner->version != current.change.version ||
        winner->value != current.change.value) {
      audit.problems.push_back(name + ": the current value is not the merge rule's winner");
    }
    std::set<Version> lost;
    for (const Change* change : lost_changes(history)) lost.insert(change->version);
    std::set<Version> unresolved;
    for (const server::ConflictEntry& entry : tx.field_conflicts(key)) {
      ++audit.conflict_entries;
      if (!versions.contains(entry.lost)) {
        audit.problems.push_back(name + ": conflict entry for " + entry.lost.to_string() +
                                 ", which is not in the history");
      }
      if (!entry.resolved_by) {
        unresolved.insert(entry.lost);
        continue;
      }
      const auto resolver = std::find_if(history.begin(), history.end(), [&](const Change& change) {
        return change.version == *entry.resolved_by;
      });
      if (resolver == history.end() || !resolver->base.contains(entry.lost)) {
        audit.problems.push_back(name + ": entry " + entry.lost.to_string() + " is resolved by " +
                                 entry.resolved_by->to_string() + ", which does not name it");
      }
    }
    audit.unresolved += unresolved.size();
    if (unresolved != lost) {
      audit.problems.push_back(name + ": " + std::to_string(unresolved.size()) +
                               " unresolved entries, but " + std::to_string(lost.size()) +
                               " lost changes in its history of " + std::to_string(history.size()));
    }
  }
  return audit;
}

// Changes of acknowledged groups (as the device sent them) that the server's history lacks.
inline std::vector<std::string> acked_changes_missing(const SyncLedger& ledger,
                                                      server::StorageTransaction& tx) {
  std::vector<std::string> missing = ledger.problems;
  std::map<server::FieldKey, std::vector<server::StoredChange>> histories;
  for (const auto& [id, group] : ledger.acked) {
    for (const Change& change : group.changes) {
      const server::FieldKey key{change.record_id, change.field};
      auto found = histories.find(key);
      if (found == histories.end()) found = histories.emplace(key, tx.field_history(key)).first;
      const bool present = std::any_of(
          found->second.begin(), found->second.end(), [&](const server::StoredChange& stored) {
            return stored.change.version == change.version && stored.change.value == change.value &&
                   stored.change.device_seq == change.device_seq &&
                   stored.change.write_group == id && stored.change.base == change.base;
          });
      if (!present) missing.push_back("acknowledged but not in the history: " + describe(change));
    }
  }
  return missing;
}

// Joins problems for a test's failure message.
inline std::string lines(const std::vector<std::string>& problems, std::size_t max = 20) {
  std::string text;
  for (std::size_t i = 0; i < problems.size() && i < max; ++i) text += "\n  " + problems[i];
  if (problems.size() > max)
    text += "\n  ... and " + std::to_string(problems.size() - max) + " more";
  return text;
}

}  // namespace fieldsync::integration
