// The encrypted store's promises: nothing readable at rest, keys that die with lock, purge and
// wipe, tampering detected, passcode lockout, auto-lock, the offline grace period, migrations.
#include <catch2/catch.hpp>

#include <filesystem>

#include "fieldsync/error.h"
#include "fieldsync/sqlite_db.h"
#include "store_fixture.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using client::Store;
using client::StoreState;
using client::UnlockOutcome;

namespace {

std::string all_store_bytes(const std::string& path) {
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) bytes += read_file(path + suffix);
  return bytes;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("No plaintext reaches the database, its WAL or a journal", "[store][security]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  const CaseId case_id = fixture.receive_case("SENTINEL-CHILD-NAME");
  client::Casework casework(*fixture.store);
  casework.record_visit(case_id, seen_alone_visit("SENTINEL-OBSERVATION kitchen was cold"));
  const RecordId note = casework.write_note(case_id, {{"content", Value::text("SENTINEL-NOTE")}});
  casework.submit_note(note);
  fixture.store->set_token("SENTINEL-TOKEN-0123456789");

  const std::string raw = all_store_bytes(path);
  REQUIRE(raw.size() > 4096);
  for (const char* sentinel : {"SENTINEL", "kitchen", "statutory_child_protection",
                               "seen_alone", "reason_not_seen", "child_name"}) {
    INFO(sentinel);
    CHECK_FALSE(contains(raw, sentinel));
  }
  // ...while the store still reads it all back.
  CHECK(casework.visits(case_id).at(0).get("observations")->as_text() ==
        "SENTINEL-OBSERVATION kitchen was cold");
  CHECK(fixture.store->token() == "SENTINEL-TOKEN-0123456789");
}

TEST_CASE("Ciphertexts do not reveal which optional fields a record holds", "[store][security]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Jo");
  client::Casework casework(*fixture.store);
  client::Fields alone = seen_alone_visit("x");
  client::Fields not_alone = alone;
  not_alone["seen_alone"] = Value::boolean(false);
  not_alone["reason_not_seen_alone"] = Value::text("parent_refused");
  const RecordId a = casework.record_visit(case_id, alone);
  const RecordId b = casework.record_visit(case_id, not_alone);

  sqlite::Database db(fixture.options().path, sqlite::Database::Mode::kReadOnly);
  auto size_of = [&](const RecordId& id) {
    auto select = db.prepare("SELECT length(sealed) FROM records WHERE record_id = ?");
    select.bind(1, id);
    REQUIRE(select.step());
    return select.column_int(0);
  };
  CHECK(size_of(a) == size_of(b));
}

TEST_CASE("Keys are unusable after lock(), and unlock brings them back", "[store][keys]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Sam");
  client::Casework casework(*fixture.store);
  const RecordId visit = casework.record_visit(case_id, seen_alone_visit("before lock"));

  fixture.store->lock();
  CHECK(fixture.store->state() == StoreState::kLocked);
  CHECK_THROWS_MATCHES(fixture.store->record(visit), Error,
                       Catch::Predicate<Error>([](const Error& e) { return e.is(ErrorCode::kLocked); }));
  CHECK_THROWS_AS(casework.record_visit(case_id, seen_alone_visit("while locked")), Error);
  CHECK_THROWS_AS(fixture.store->token(), Error);

  CHECK(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kUnlocked);
  CHECK(fixture.store->record(visit)->get("observations")->as_text() == "before lock");
}

TEST_CASE("Wrong passcodes are counted and too many wipe the store", "[store][keys]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  fixture.store->lock();

  SECTION("a right passcode resets the count") {
    CHECK(fixture.store->unlock("0000").attempts_left == 4);
    CHECK(fixture.store->unlock("1111").attempts_left == 3);
    CHECK(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kUnlocked);
    fixture.store->lock();
    CHECK(fixture.store->unlock("2222").attempts_left == 4);
  }
  SECTION("the count survives a restart") {
    fixture.store->unlock("0000");
    fixture.store->unlock("0001");
    fixture.reopen();
    CHECK(fixture.store->unlock("0002").attempts_left == 2);
  }
  SECTION("the fifth wrong passcode wipes") {
    for (int i = 0; i < 4; ++i) {
      CHECK(fixture.store->unlock("9999").outcome == UnlockOutcome::kWrongPasscode);
    }
    CHECK(fixture.store->unlock("9999").outcome == UnlockOutcome::kWiped);
    CHECK(fixture.store->state() == StoreState::kWiped);
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kWiped);
  }
}

TEST_CASE("A copy taken before wipe() cannot be opened afterwards", "[store][keys]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  const CaseId case_id = fixture.receive_case("Ali");
  client::Casework(*fixture.store).record_visit(case_id, seen_alone_visit("copied"));
  fixture.store.reset();  // close, so the copy is consistent
  const std::string copy = fixture.dir.file("stolen.db");
  std::filesystem::copy_file(path, copy);
  fixture.store = Store::open(fixture.options());
  REQUIRE(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kUnlocked);

  fixture.store->wipe();
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));

  client::StoreOptions stolen = fixture.options();
  stolen.path = copy;
  auto reopened = Store::open(stolen);
  CHECK_THROWS_AS(reopened->unlock(StoreFixture::kPasscode), Error);
  CHECK(reopened->state() != StoreState::kUnlocked);
}

TEST_CASE("Tampering with stored ciphertext gives an integrity error, never garbage",
          "[store][security]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  const CaseId case_id = fixture.receive_case("Kim");
  client::Casework casework(*fixture.store);
  const RecordId first = casework.record_visit(case_id, seen_alone_visit("first"));
  const RecordId second = casework.record_visit(case_id, seen_alone_visit("second"));
  fixture.store.reset();

  auto is_integrity = Catch::Predicate<Error>([](const Error& e) {
    return e.is(ErrorCode::kIntegrity);
  });

  SECTION("a flipped byte anywhere in a record's ciphertext") {
    // Flipping the same bit twice restores the row, so each offset starts from a clean store.
    auto flip = [&](int offset) {
      sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
      auto select = db.prepare("SELECT sealed FROM records WHERE record_id = ?");
      select.bind(1, first);
      REQUIRE(select.step());
      Bytes sealed = select.column_bytes(0);
      const std::size_t at = offset >= 0 ? static_cast<std::size_t>(offset)
                                         : sealed.size() - static_cast<std::size_t>(-offset);
      sealed[at] ^= 0x01;
      auto update = db.prepare("UPDATE records SET sealed = ? WHERE record_id = ?");
      update.bind_blob(1, sealed).bind(2, first).run();
    };
    for (int offset : {0, 1, 5, 13, 40, 100, -1, -10, -17}) {
      INFO("offset " << offset);
      flip(offset);
      fixture.store = Store::open(fixture.options());
      fixture.store->unlock(StoreFixture::kPasscode);
      CHECK_THROWS_MATCHES(fixture.store->record(first), Error, is_integrity);
      CHECK(fixture.store->record(second)->get("observations")->as_text() == "second");
      fixture.store.reset();
      flip(offset);
    }
  }
  SECTION("a ciphertext moved to another record's row") {
    {
      sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
      auto select = db.prepare("SELECT sealed FROM records WHERE record_id = ?");
      select.bind(1, second);
      REQUIRE(select.step());
      const Bytes other = select.column_bytes(0);
      auto update = db.prepare("UPDATE records SET sealed = ? WHERE record_id = ?");
      update.bind_blob(1, other).bind(2, first).run();
    }
    fixture.store = Store::open(fixture.options());
    fixture.store->unlock(StoreFixture::kPasscode);
    CHECK_THROWS_MATCHES(fixture.store->record(first), Error, is_integrity);
  }
  SECTION("a case key moved to another case") {
    {
      sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
      auto insert = db.prepare(
          "INSERT INTO case_keys(case_id, wrapped_key) "
          "SELECT ?, wrapped_key FROM case_keys WHERE case_id = ?");
      const CaseId other_case = Uuid::random_v4();
      insert.bind(1, other_case).bind(2, case_id).run();
      auto move = db.prepare("UPDATE records SET case_id = ? WHERE record_id = ?");
      move.bind(1, other_case).bind(2, first).run();
    }
    fixture.store = Store::open(fixture.options());
    fixture.store->unlock(StoreFixture::kPasscode);
    CHECK_THROWS_MATCHES(fixture.store->record(first), Error, is_integrity);
  }
}

TEST_CASE("The store locks itself after the idle time", "[store][keys]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Lee");
  client::Casework casework(*fixture.store);
  casework.record_visit(case_id, seen_alone_visit("a"));
  fixture.clock.advance(4 * 60 * 1000);
  CHECK(fixture.store->state() == StoreState::kUnlocked);
  casework.visits(case_id);  // activity restarts the idle timer
  fixture.clock.advance(4 * 60 * 1000);
  CHECK(fixture.store->state() == StoreState::kUnlocked);
  fixture.store->prepare_sync(100, {});  // a background sync is not the worker's activity
  fixture.clock.advance(60 * 1000 + 1);
  CHECK(fixture.store->state() == StoreState::kLocked);
  CHECK_THROWS_AS(casework.visits(case_id), Error);
}

TEST_CASE("After the offline grace period, unlock needs a check-in first", "[store][keys]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Noor");
  fixture.store->lock();
  fixture.clock.advance(15LL * 24 * 60 * 60 * 1000);

  const auto result = fixture.store->unlock(StoreFixture::kPasscode);
  CHECK(result.outcome == UnlockOutcome::kCheckInRequired);
  CHECK(fixture.store->state() == StoreState::kCheckInRequired);
  client::Casework casework(*fixture.store);
  CHECK_THROWS_AS(casework.visits(case_id), Error);
  // Sync still works: the device checks in, and everything opens again.
  const SyncRequest request = fixture.store->prepare_sync(1000, {});
  CHECK(request.write_groups.empty());
  SyncResponse response;
  response.server_time_ms = fixture.clock.wall_ms();
  fixture.store->apply_sync(response);
  CHECK(fixture.store->state() == StoreState::kUnlocked);
  CHECK(casework.visits(case_id).empty());

}

TEST_CASE("change_passcode keeps the data and retires the old passcode", "[store][keys]") {
  StoreFixture fixture;
  const CaseId case_id = fixture.receive_case("Ola");
  client::Casework(*fixture.store).record_visit(case_id, seen_alone_visit("kept"));
  CHECK_THROWS_AS(fixture.store->change_passcode("0000", "9876"), Error);
  fixture.store->change_passcode(StoreFixture::kPasscode, "9876");
  fixture.reopen();
  CHECK(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kWrongPasscode);
  CHECK(fixture.store->unlock("9876").outcome == UnlockOutcome::kUnlocked);
  CHECK(client::Casework(*fixture.store).visits(case_id).size() == 1);
}

TEST_CASE("A store from a newer version is refused with a clear error", "[store]") {
  StoreFixture fixture;
  const std::string path = fixture.options().path;
  fixture.store.reset();
  {
    sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
    db.set_user_version(99);
  }
  CHECK_THROWS_MATCHES(Store::open(fixture.options()), Error,
                       Catch::Predicate<Error>([](const Error& e) {
                         return e.is(ErrorCode::kUnsupportedVersion) &&
                                std::string(e.what()).find("newer") != std::string::npos;
                       }));
}

TEST_CASE("Creating over an existing store, or opening a missing one, fails clearly", "[store]") {
  StoreFixture fixture;
  CHECK_THROWS_AS(Store::create(fixture.options(), "1234", {Uuid::random_v4(), "x"}), Error);
  client::StoreOptions missing = fixture.options();
  missing.path = fixture.dir.file("absent.db");
  CHECK_THROWS_AS(Store::open(missing), Error);
}

namespace {

// A platform key store that can be made to fail, as a Keychain or Keystore sometimes does.
class FlakyKeyWrapper final : public platform::KeyWrapper {
 public:
  Bytes wrap(std::span<const std::uint8_t> secret) override {
    if (failing) throw Error(ErrorCode::kIo, "key store unavailable");
    return inner.wrap(secret);
  }
  crypto::SecretBytes unwrap(std::span<const std::uint8_t> wrapped) override {
    if (failing) throw Error(ErrorCode::kIo, "key store unavailable");
    return inner.unwrap(wrapped);
  }
  void destroy() override { inner.destroy(); }

  bool failing = false;
  platform::MemoryKeyWrapper inner;
};

}  // namespace

TEST_CASE("A platform outage during unlock does not count as a wrong passcode", "[store][keys]") {
  TempDir dir;
  FakeClockSource clock;
  FlakyKeyWrapper wrapper;
  client::StoreOptions options;
  options.path = dir.file("device.db");
  options.key_wrapper = &wrapper;
  options.clock = &clock;
  options.kdf_iterations = 1000;
  options.max_failed_unlocks = 3;
  auto store = Store::create(options, "2468", {Uuid::random_v4(), "amira"});
  store->lock();
  wrapper.failing = true;
  for (int i = 0; i < 5; ++i) CHECK_THROWS_AS(store->unlock("2468"), Error);
  wrapper.failing = false;
  CHECK(store->unlock("0000").attempts_left == 2);
  CHECK(store->unlock("2468").outcome == UnlockOutcome::kUnlocked);
}

TEST_CASE("A store whose creation failed leaves nothing behind to block a retry", "[store]") {
  TempDir dir;
  FlakyKeyWrapper wrapper;
  client::StoreOptions options;
  options.path = dir.file("device.db");
  options.key_wrapper = &wrapper;
  options.kdf_iterations = 1000;
  wrapper.failing = true;
  CHECK_THROWS_AS(Store::create(options, "2468", {Uuid::random_v4(), "amira"}), Error);
  CHECK_FALSE(std::filesystem::exists(options.path));
  wrapper.failing = false;
  CHECK(Store::create(options, "2468", {Uuid::random_v4(), "amira"})->state() ==
        StoreState::kUnlocked);
}

TEST_CASE("A wiped store refuses every call with an error, never a crash", "[store]") {
  StoreFixture fixture;
  fixture.store->wipe();
  CHECK_THROWS_AS(fixture.store->outbox_change_count(), Error);
  CHECK_THROWS_AS(fixture.store->last_sync_ms(), Error);
  CHECK_THROWS_AS(fixture.store->outbox(), Error);
  CHECK_THROWS_AS(fixture.store->prepare_sync(10, {}), Error);
  CHECK_THROWS_AS(fixture.store->cases(), Error);
  CHECK(fixture.store->unlock(StoreFixture::kPasscode).outcome == UnlockOutcome::kWiped);
}
