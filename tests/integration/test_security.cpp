// Identity, scope and HTTPS across real processes (DESIGN.md section 5): a fieldsync-server
// process on 127.0.0.1 with its SQLite store, and client stores syncing through libcurl. A device
// reads and writes only its user's cases, only under the case and collection the server holds,
// only as itself; wrong tokens get 401 and then 429; enrolment codes work once; only a revoked
// device is wiped, never by a bare 401; a device restored from an old backup is refused loudly,
// then numbers its work after the server's and loses nothing;
// HTTPS is verified against the right CA, and plain HTTP is refused off loopback.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <span>

#include "device_fixture.h"
#include "fieldsync/error.h"
#include "raw_connection.h"

using namespace fieldsync;
using namespace fieldsync::itest;
using server::StoredChange;

namespace {

std::set<CaseId> cases_of(client::Store& store) {
  const std::vector<CaseId> cases = store.cases();
  return {cases.begin(), cases.end()};
}

// A push of one write group, in its own request; the server must answer 200.
SyncResponse push(RawDevice& device, const WriteGroup& group) {
  SyncRequest request;
  request.write_groups.push_back(group);
  return device.sync(request);
}

void require_single_rejection(const SyncResponse& response, const WriteGroup& group,
                              RejectionCode code) {
  CHECK(response.acks.empty());
  REQUIRE(response.rejections.size() == 1);
  CHECK(response.rejections.front().write_group == group.id);
  CHECK(response.rejections.front().code == code);
  CHECK_FALSE(response.rejections.front().message.empty());
}

// What the server holds of a record: its history, every field, every version.
std::vector<StoredChange> history_of(server::StorageTransaction& tx, const RecordId& record,
                                     const std::vector<std::string>& fields) {
  std::vector<StoredChange> history;
  for (const std::string& field : fields) {
    for (StoredChange& stored : tx.field_history({record, field}))
      history.push_back(std::move(stored));
  }
  return history;
}

// The token with its secret replaced: the right account, the wrong key.
std::string with_wrong_secret(const std::string& token) {
  return token.substr(0, token.find('.') + 1) + std::string(64, 'a');
}

}  // namespace

TEST_CASE("A device pulls only its user's cases", "[security][scope]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  TestDevice ben(server, "ben");
  RawDevice amira_raw(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(ben.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan, council.riley});
  CHECK(cases_of(ben.store()) == std::set<CaseId>{council.sam});

  const std::vector<Change> first_pull = amira_raw.pull_all();
  CHECK_FALSE(first_pull.empty());
  for (const Change& change : first_pull) {
    CHECK((change.case_id == council.jordan || change.case_id == council.riley));
  }

  // Ben records a visit on Sam's case: nothing of it reaches Amira, by any route.
  const RecordId ben_visit =
      ben.casework().record_visit(council.sam, visit_fields(ben.store(), "Sam was well."));
  REQUIRE(ben.sync().changes_pushed > 0);
  CHECK(amira_raw.pull_all().empty());
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan, council.riley});
  CHECK_FALSE(amira.store().record(ben_visit).has_value());

  // Riley's case moves to Chen: Amira's devices are told to purge it, and get nothing of it
  // from then on, not even while they have not acknowledged the purge (the raw device never does).
  server.admin().allocate(council.riley, "chen");
  TestDevice chen(server, "chen");
  REQUIRE(chen.sync().outcome == client::SyncOutcome::kCompleted);
  const SyncResponse told = amira_raw.sync({});
  REQUIRE(told.directives.size() == 1);
  CHECK(told.directives.front().kind == DirectiveKind::kPurgeCase);
  CHECK(told.directives.front().case_id == council.riley);
  const RecordId chen_visit =
      chen.casework().record_visit(council.riley, visit_fields(chen.store(), "Riley, now Chen's."));
  REQUIRE(chen.sync().changes_pushed > 0);
  CHECK(amira_raw.pull_all().empty());
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan});
  CHECK_FALSE(amira.store().record(chen_visit).has_value());
}

TEST_CASE("A push for a case outside the user's scope is refused and nothing of it is stored",
          "[security][scope]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  RawDevice amira_raw(server, "amira");
  TestDevice ben(server, "ben");
  REQUIRE(ben.sync().outcome == client::SyncOutcome::kCompleted);

  const WriteGroup on_sam = amira_raw.new_note(council.sam, "Written on a case that is not mine.");
  require_single_rejection(push(amira_raw, on_sam), on_sam, RejectionCode::kScope);
  // Sent again, it is refused again: a refusal is not forgotten, nor turned into an ack.
  require_single_rejection(push(amira_raw, on_sam), on_sam, RejectionCode::kScope);

  const RecordId note = on_sam.changes.front().record_id;
  REQUIRE(ben.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK_FALSE(ben.store().record(note).has_value());

  auto storage = server.stop_and_open_storage();
  auto tx = storage->begin();
  CHECK(tx->record_homes(std::span(&note, 1)).empty());
  CHECK(history_of(*tx, note, {"status", "content"}).empty());
}

TEST_CASE("A record stays under the case and collection the server holds for it",
          "[security][scope]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  RawDevice amira_raw(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const RecordId visit = amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "Jordan was calm."));
  REQUIRE(amira.sync().changes_pushed > 0);

  // Both cases are Amira's: only the record's home is wrong.
  WriteGroup moved{Uuid::random_v4(), {}};
  moved.changes.push_back(amira_raw.change("visit", visit, council.riley, "observations",
                                           Value::text("Filed under Riley."), moved.id,
                                           amira_raw.id()));
  const SyncResponse moved_answer = push(amira_raw, moved);
  require_single_rejection(moved_answer, moved, RejectionCode::kScope);
  // The refusal carries the server's current value, so a device can put its record right.
  REQUIRE(moved_answer.rejections.front().server_values.size() == 1);
  CHECK(moved_answer.rejections.front().server_values.front().value ==
        Value::text("Jordan was calm."));

  WriteGroup renamed{Uuid::random_v4(), {}};
  renamed.changes.push_back(amira_raw.change("note", visit, council.jordan, "content",
                                             Value::text("Now a note."), renamed.id,
                                             amira_raw.id()));
  require_single_rejection(push(amira_raw, renamed), renamed, RejectionCode::kScope);

  // A record new to the server cannot be filed under two cases in one go either.
  WriteGroup split = amira_raw.new_note(council.jordan, "Half on Jordan, half on Riley.");
  split.changes.back().case_id = council.riley;
  require_single_rejection(push(amira_raw, split), split, RejectionCode::kScope);

  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const auto record = amira.store().record(visit);
  REQUIRE(record.has_value());
  CHECK(record->case_id == council.jordan);
  CHECK(record->collection == "visit");
  CHECK(text_of(amira.store(), visit, "observations") == "Jordan was calm.");

  auto storage = server.stop_and_open_storage();
  auto tx = storage->begin();
  const auto homes = tx->record_homes(std::span(&visit, 1));
  REQUIRE(homes.size() == 1);
  CHECK(homes.begin()->second.case_id == council.jordan);
  CHECK(homes.begin()->second.collection == "visit");
  const RecordId split_note = split.changes.front().record_id;
  CHECK(tx->record_homes(std::span(&split_note, 1)).empty());
  for (const StoredChange& stored : history_of(*tx, visit, {"observations", "content"})) {
    CHECK(stored.change.version.origin == amira.id());
    CHECK(stored.change.value == Value::text("Jordan was calm."));
  }
}

TEST_CASE("A device cannot push as another device or another user", "[security][identity]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira_phone(server, "amira");
  TestDevice ben_phone(server, "ben");
  RawDevice amira_raw(server, "amira");
  RawDevice maya_raw(server, "maya");

  SECTION("changes stamped with another device's origin are refused, whoever's device it is") {
    for (const OriginId& other : {amira_phone.id(), ben_phone.id()}) {
      const WriteGroup forged =
          amira_raw.new_note(council.jordan, "Pretending to be another phone.", other);
      require_single_rejection(push(amira_raw, forged), forged, RejectionCode::kScope);
    }
    // One forged change spoils its whole write group.
    WriteGroup mixed = amira_raw.new_note(council.jordan, "Half mine.");
    mixed.changes.back().version.origin = ben_phone.id();
    require_single_rejection(push(amira_raw, mixed), mixed, RejectionCode::kScope);
    for (const Change& change : maya_raw.pull_all()) CHECK(change.collection == "case");
  }

  SECTION("the author is the token's user, whatever the change claims") {
    WriteGroup claimed = amira_raw.new_note(council.jordan, "Signed as the manager.");
    for (Change& change : claimed.changes) change.author = "maya";
    const SyncResponse answer = push(amira_raw, claimed);
    REQUIRE(answer.acks == std::vector<WriteGroupId>{claimed.id});
    std::size_t seen = 0;
    for (const Change& change : maya_raw.pull_all()) {
      if (change.write_group != claimed.id) continue;
      CHECK(change.author == "amira");
      ++seen;
    }
    CHECK(seen == claimed.changes.size());
  }
}

TEST_CASE("Wrong tokens get 401 with a JSON error, and repeated failures get 429 with Retry-After",
          "[security][identity]") {
  TestServer server({.extra_args = {"--max-auth-failures", "3", "--auth-window-s", "60"}});
  set_up_council(server.admin());
  TestDevice amira(server, "amira");
  RawDevice raw(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const std::size_t cases_held = amira.store().cases().size();
  const std::string body = encode_request(SyncRequest{}, WireFormat::kBinary);

  const std::vector<std::string> wrong_tokens = {with_wrong_secret(raw.token()), "not-a-token",
                                                 with_wrong_secret(amira.token())};
  for (const std::string& wrong : wrong_tokens) {
    const platform::HttpResponse answer = raw.post_as(wrong, body);
    CHECK(answer.status == 401);
    CHECK(error_body(answer).value("error", "") == "unauthorized");
    CHECK(answer.header("Retry-After").empty());
  }

  const platform::HttpResponse limited = raw.post_as(with_wrong_secret(raw.token()), body);
  CHECK(limited.status == 429);
  CHECK(error_body(limited).value("error", "") == "rate_limited");
  const int retry_after = std::atoi(limited.header("Retry-After").c_str());
  CHECK(retry_after > 0);
  CHECK(retry_after <= 60);

  // The limit is per address too: from here, even the right token waits.
  CHECK(raw.post(body).status == 429);
  const client::SyncReport report = amira.sync(2s);
  CHECK(report.outcome == client::SyncOutcome::kDeadlineReached);  // Retry-After is past it
  CHECK(report.http_status == 429);
  CHECK(report.server_error == "rate_limited");
  REQUIRE(amira.has_store());
  CHECK(amira.store().cases().size() == cases_held);
}

TEST_CASE("Failed authentication is limited per account whatever the address, and only for a while",
          "[security][identity]") {
  TestServer server({.extra_args = {"--max-auth-failures", "3", "--auth-window-s", "2"}});
  set_up_council(server.admin());
  TestDevice amira(server, "amira");
  TestDevice ben(server, "ben");
  const std::string body = encode_request(SyncRequest{}, WireFormat::kBinary);
  const auto attempt = [&](const std::string& from_address, const std::string& token) {
    RawConnection connection(server.process().port(), from_address);
    connection.send(
        RawConnection::post_head("/v1/sync", {{"Authorization", "Bearer " + token},
                                              {"Content-Type", std::string(kBinaryContentType)},
                                              {"Content-Length", std::to_string(body.size())},
                                              {"Connection", "close"}}) +
        body);
    return connection.read_answer(5s);
  };

  // Someone elsewhere (127.0.0.2) tries Amira's device with wrong secrets.
  for (int i = 0; i < 3; ++i)
    CHECK(attempt("127.0.0.2", with_wrong_secret(amira.token())).status == 401);
  const RawAnswer limited = attempt("127.0.0.1", amira.token());
  CHECK(limited.status == 429);
  CHECK(std::atoi(limited.header("Retry-After").c_str()) > 0);
  // The limit is on her account, not on this address: Ben syncs.
  CHECK(ben.sync().outcome == client::SyncOutcome::kCompleted);
  // Amira's phone waits out Retry-After, then goes through.
  const client::SyncReport report = amira.sync(10s);
  CHECK(report.outcome == client::SyncOutcome::kCompleted);
  CHECK(report.requests >= 2);
}

TEST_CASE("An enrolment code works once, then never", "[security][identity]") {
  TestServer server;
  set_up_council(server.admin());
  auto transport = platform::make_curl_transport();
  const std::string code = server.admin().enrolment_code("amira");

  const client::Enrolment first = client::enrol(*transport, server.url(), code, {"linux", "itest"});
  CHECK(first.user_id == "amira");
  std::string typed_again = code;  // as a person might type it: lower case, no dashes
  for (char& c : typed_again) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  typed_again.erase(std::remove(typed_again.begin(), typed_again.end(), '-'), typed_again.end());
  for (const std::string& again : {code, typed_again, code}) {
    try {
      client::enrol(*transport, server.url(), again, {"linux", "itest"});
      FAIL("a used enrolment code was accepted");
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kUnauthorized));
    }
  }

  const nlohmann::json devices = server.admin().call("GET", "/v1/admin/devices").at("devices");
  REQUIRE(devices.size() == 1);
  CHECK(devices.front().at("device_id") == first.device_id.to_string());

  // Guessing from another address meets the limit (10 failures by default) ...
  int guesses_refused = 0;
  RawAnswer answer;
  for (int guess = 0; guess < 11 && answer.status != 429; ++guess) {
    RawConnection guesser(server.process().port(), "127.0.0.2");
    // Well-formed guesses: 24 characters of the codes' alphabet.
    const std::string guessed = "ABCDEFGHJKMNPQRSTVWXYZ2" + std::string(1, "3456789ABCD"[guess]);
    const std::string body = nlohmann::json{{"code", guessed}}.dump();
    guesser.send(
        RawConnection::post_head("/v1/enrol", {{"Content-Type", "application/json"},
                                               {"Content-Length", std::to_string(body.size())},
                                               {"Connection", "close"}}) +
        body);
    answer = guesser.read_answer(5s);
    if (answer.status == 401) ++guesses_refused;
  }
  CHECK(guesses_refused == 10);
  CHECK(answer.status == 429);
  CHECK_FALSE(answer.header("Retry-After").empty());
  // ... which does not lock anyone else out: a fresh code still works from here.
  CHECK(client::enrol(*transport, server.url(), server.admin().enrolment_code("ben"),
                      {"linux", "itest"})
            .user_id == "ben");
}

TEST_CASE("A revoked device is wiped at its next sync", "[security][wipe]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const RecordId unsynced = amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "Recorded before the loss."));
  const std::string token = amira.token();
  RawDevice other(server, "amira");
  TestDevice maya(server, "maya");

  server.admin().revoke(amira.id(), "reported lost");
  CHECK(amira.sync().outcome == client::SyncOutcome::kWiped);
  CHECK_FALSE(amira.has_store());
  CHECK_FALSE(client::Store::exists(amira.path()));

  // A copy of its token gets the wipe directive and nothing else.
  const WriteGroup attempt = other.new_note(council.jordan, "From the lost phone's token.");
  SyncRequest request;
  request.write_groups.push_back(attempt);
  const platform::HttpResponse answer =
      other.post_as(token, encode_request(request, WireFormat::kBinary));
  REQUIRE(answer.status == 200);
  const SyncResponse response = decode_response(answer.body, WireFormat::kBinary);
  CHECK(response.acks.empty());
  CHECK(response.changes.empty());
  REQUIRE(response.directives.size() == 1);
  CHECK(response.directives.front().kind == DirectiveKind::kWipe);

  // Nothing the revoked phone held went in.
  REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK_FALSE(maya.store().record(unsynced).has_value());
  CHECK_FALSE(maya.store().record(attempt.changes.front().record_id).has_value());
}

TEST_CASE("A retired device has its final push accepted, then is wiped", "[security][wipe]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  TestDevice maya(server, "maya");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const RecordId last_visit = amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "The last visit on this phone."));

  server.admin().retire(amira.id(), "replaced by a new phone");
  const client::SyncReport report = amira.sync();
  CHECK(report.outcome == client::SyncOutcome::kWiped);
  CHECK(report.changes_pushed > 0);
  CHECK_FALSE(client::Store::exists(amira.path()));
  REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(text_of(maya.store(), last_visit, "observations") == "The last visit on this phone.");
}

TEST_CASE("A bare 401 wipes nothing: the store keeps its data", "[security][wipe]") {
  TestServer server;
  const Council council = set_up_council(server.admin());

  SECTION("a store holding a garbage token") {
    TestDevice amira(server, "amira");
    REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
    const RecordId visit = amira.casework().record_visit(
        council.jordan, visit_fields(amira.store(), "Not yet synced."));
    amira.store().set_token(with_wrong_secret(amira.token()));
    const client::SyncReport report = amira.sync();
    CHECK(report.outcome == client::SyncOutcome::kFailed);
    CHECK(report.http_status == 401);
    CHECK(report.server_error == "unauthorized");
    REQUIRE(amira.has_store());
    CHECK(client::Store::exists(amira.path()));
    CHECK(amira.store().state() == client::StoreState::kUnlocked);
    CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan, council.riley});
    CHECK(text_of(amira.store(), visit, "observations") == "Not yet synced.");
    CHECK(amira.store().outbox_change_count() > 0);
  }

  SECTION("a server restored from a backup taken before the device was enrolled") {
    const dev::ScratchDir backup;
    const auto database_files = [](const std::string& dir) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().filename().string().starts_with("fieldsync-server.db"))
          files.push_back(entry.path());
      }
      return files;
    };
    server.process().stop();
    for (const auto& file : database_files(server.data_dir())) {
      std::filesystem::copy_file(file, backup.path() / file.filename());
    }
    server.process().restart();

    TestDevice amira(server, "amira");
    REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
    const RecordId visit =
        amira.casework().record_visit(council.jordan, visit_fields(amira.store(), "Synced once."));
    REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);

    server.process().stop();
    for (const auto& file : database_files(server.data_dir())) std::filesystem::remove(file);
    for (const auto& file : database_files(backup.path().string())) {
      std::filesystem::copy_file(file, std::filesystem::path(server.data_dir()) / file.filename());
    }
    server.process().restart();

    const client::SyncReport report = amira.sync();
    CHECK(report.outcome == client::SyncOutcome::kFailed);
    CHECK(report.http_status == 401);
    REQUIRE(amira.has_store());
    CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan, council.riley});
    CHECK(text_of(amira.store(), visit, "observations") == "Synced once.");
  }
}

TEST_CASE("A device restored from an old backup is refused loudly, then loses nothing",
          "[security][identity]") {
  TestServer server;
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  TestDevice maya(server, "maya");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  const RecordId visit = amira.casework().record_visit(
      council.jordan, visit_fields(amira.store(), "Before the backup."));
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);

  const dev::ScratchDir backup;
  const std::string copy = backup.file("device.db");
  amira.close();
  amira.copy_store_to(copy);
  amira.open();
  amira.store().write_record({"visit",
                              visit,
                              council.jordan,
                              {{"observations", Value::text("After the backup, on the phone.")}}});
  REQUIRE(amira.sync().changes_pushed == 1);
  const Version after_backup = amira.store().field_versions(visit).at("observations");

  // The phone is restored from the backup; its sequence numbers go back, and its next edit
  // reuses one the server accepted with other content.
  amira.close();
  amira.restore_store_from(copy);
  amira.open();
  REQUIRE(text_of(amira.store(), visit, "observations") == "Before the backup.");
  const WriteGroupId edit = amira.store().write_record(
      {"visit", visit, council.jordan,
       {{"observations", Value::text("After the restore: conflicting.")}}});
  const client::SyncReport report = amira.sync();
  CHECK(report.outcome == client::SyncOutcome::kCompleted);
  // Refused, then numbered after the server's highest and sent again: nothing for the worker to
  // redo, and the edit made after the restore is in.
  CHECK(report.groups_renumbered == 1);
  CHECK(report.groups_rejected == 0);
  CHECK(report.changes_pushed == 1);
  CHECK(amira.store().rejections().empty());
  CHECK(amira.store().outbox_change_count() == 0);
  CHECK(text_of(amira.store(), visit, "observations") == "After the restore: conflicting.");
  // It overwrote an edit it never saw (its own, lost with the restore): a conflict, shown.
  const std::vector<client::LocalConflict> conflicts = amira.store().conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts.front().conflict.lost.version == after_backup);
  CHECK(conflicts.front().conflict.lost.value == Value::text("After the backup, on the phone."));
  // Its next edits go through at once.
  amira.store().write_record(
      {"visit", visit, council.jordan, {{"childs_views", Value::text("Likes school.")}}});
  const client::SyncReport next = amira.sync();
  CHECK(next.changes_pushed == 1);
  CHECK(next.groups_renumbered == 0);

  REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(text_of(maya.store(), visit, "observations") == "After the restore: conflicting.");
  REQUIRE(maya.store().conflicts().size() == 1);
  // Loud: the server kept the refusal in its rejected log, and said so in its log.
  const std::string log = dev::read_file(server.data_dir() + "/server.log");
  CHECK(log.find("\"sequence_reused\"") != std::string::npos);
  auto storage = server.stop_and_open_storage();
  auto tx = storage->begin();
  const auto refused = tx->rejected_group(amira.id(), edit);
  REQUIRE(refused);
  CHECK(refused->rejection.code == RejectionCode::kDuplicateMismatch);
  // Both edits are in the history once each, under numbers of their own.
  const std::vector<StoredChange> history = history_of(*tx, visit, {"observations"});
  std::set<std::uint64_t> numbers;
  std::size_t restored_edits = 0;
  for (const StoredChange& stored : history) {
    if (stored.change.version.origin == amira.id()) {
      CHECK(numbers.insert(stored.change.device_seq).second);
    }
    restored_edits += stored.change.value == Value::text("After the restore: conflicting.");
  }
  CHECK(restored_edits == 1);
  CHECK(history.size() == 3);
}

namespace {

// A throwaway CA, and server certificates it signs for 127.0.0.1, made with the openssl tool
// from a configuration file of our own (so the system's openssl.cnf does not matter).
class ThrowawayCa {
 public:
  ThrowawayCa(const dev::ScratchDir& dir, std::string name) : dir_(dir), name_(std::move(name)) {
    std::ofstream(dir_.file(name_ + ".cnf"))
        << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
           "[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign\n"
           "subjectKeyIdentifier = hash\n"
           "[server]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
           "extendedKeyUsage = serverAuth\n";
    new_key_and_certificate(name_, "/CN=fieldsync itest " + name_, "ca", "");
  }

  std::string certificate() const { return dir_.file(name_ + ".pem"); }

  // A certificate for `host` ("IP:127.0.0.1", "DNS:sync.example.org"); returns the certificate's
  // and the key's file names.
  std::pair<std::string, std::string> issue_server_certificate(
      const std::string& host = "IP:127.0.0.1") const {
    const std::string server = name_ + "-server-" + std::to_string(++issued_);
    new_key_and_certificate(
        server, "/CN=fieldsync itest server", "server",
        " -addext subjectAltName=" + host + " -CA " + name_ + ".pem -CAkey " + name_ + ".key");
    return {dir_.file(server + ".pem"), dir_.file(server + ".key")};
  }

 private:
  void new_key_and_certificate(const std::string& stem, const std::string& subject,
                               const std::string& extensions, const std::string& signer) const {
    const std::string command = "cd '" + dir_.path().string() + "' && openssl req -x509 -config " +
                                name_ + ".cnf -extensions " + extensions +
                                " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
                                " -subj '" +
                                subject + "' -keyout " + stem + ".key -out " + stem + ".pem" +
                                signer + " 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl failed: " + command);
  }

  const dev::ScratchDir& dir_;
  std::string name_;
  mutable int issued_ = 0;
};

}  // namespace

TEST_CASE("Over HTTPS, only a client that trusts the server's CA gets through", "[security][tls]") {
  const dev::ScratchDir pki;
  const ThrowawayCa council_ca(pki, "council");
  const ThrowawayCa stranger_ca(pki, "stranger");
  const auto [certificate, key] = council_ca.issue_server_certificate();
  TestServer server({.extra_args = {"--tls-cert", certificate, "--tls-key", key},
                     .scheme = "https",
                     .transport = {.ca_file = council_ca.certificate()}});
  const Council council = set_up_council(server.admin());

  TestDevice amira(server, "amira");
  TestDevice maya(server, "maya");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  CHECK(cases_of(amira.store()) == std::set<CaseId>{council.jordan, council.riley});

  auto stranger = platform::make_curl_transport({.ca_file = stranger_ca.certificate()});
  SECTION("enrolment through a connection that trusts another CA sends nothing") {
    const std::string code = server.admin().enrolment_code("ben");
    try {
      client::enrol(*stranger, server.url(), code, {"linux", "itest"});
      FAIL("enrolment went through a server certificate of another CA");
    } catch (const Error& error) {
      CHECK(error.domain() == ErrorDomain::kNetwork);
    }
    // The code never reached the server: it still works, once.
    auto trusting = platform::make_curl_transport({.ca_file = council_ca.certificate()});
    CHECK(client::enrol(*trusting, server.url(), code, {"linux", "itest"}).user_id == "ben");
  }

  SECTION("a sync through a connection that trusts another CA sends nothing") {
    const RecordId visit = amira.casework().record_visit(
        council.jordan, visit_fields(amira.store(), "Over TLS only."));
    client::SyncSettings once = amira.settings();
    once.retry.max_attempts = 1;
    const client::SyncReport refused = amira.sync(once, 10s, stranger.get());
    CHECK(refused.outcome == client::SyncOutcome::kFailed);
    REQUIRE(refused.error.has_value());
    CHECK(refused.error->domain() == ErrorDomain::kNetwork);
    CHECK(refused.http_status == 0);
    CHECK(refused.changes_pushed == 0);
    REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
    CHECK_FALSE(maya.store().record(visit).has_value());

    CHECK(amira.sync().changes_pushed > 0);
    REQUIRE(maya.sync().outcome == client::SyncOutcome::kCompleted);
    CHECK(text_of(maya.store(), visit, "observations") == "Over TLS only.");
  }
}

TEST_CASE("A certificate from the right CA for another host is refused", "[security][tls]") {
  const dev::ScratchDir pki;
  const ThrowawayCa council_ca(pki, "council");
  const auto [certificate, key] = council_ca.issue_server_certificate("DNS:sync.example.org");
  TestServer server({.extra_args = {"--tls-cert", certificate, "--tls-key", key},
                     .scheme = "https",
                     .transport = {.ca_file = council_ca.certificate()}});
  // The admin's own connection trusts the CA too, and is refused just the same.
  try {
    server.admin().enrolment_code("amira");
    FAIL("a certificate for sync.example.org was accepted for 127.0.0.1");
  } catch (const Error& error) {
    CHECK(error.domain() == ErrorDomain::kNetwork);
  }
}

TEST_CASE("Plain HTTP off loopback needs --allow-plain-http", "[security][tls]") {
  const dev::ScratchDir dir;
  const auto start = [&](std::vector<std::string> args) {
    return std::make_unique<dev::ServerProcess>(dev::ServerProcessOptions{
        .binary = server_binary(), .data_dir = dir.file("server"), .extra_args = std::move(args)});
  };
  CHECK_THROWS_WITH(start({"--listen", "0.0.0.0"}), Catch::Contains("exited with status"));
  CHECK_THAT(dev::read_file(dir.file("server") + "/server.log"), Catch::Contains("plain"));
  // The same server with the flag starts: the refusal was about plain HTTP, nothing else.
  CHECK(start({"--listen", "0.0.0.0", "--allow-plain-http"})->port() > 0);
}
