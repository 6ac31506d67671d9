// Tests of the store's key hierarchy: creating, unlocking, changing the passcode, destroying the
// platform key, and case data keys bound to their case.
#include <catch2/catch.hpp>

#include "crypto_test_support.h"
#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "key_vault.h"

using namespace fieldsync;
using client::KeyVault;
using testing::copy_bytes;
using testing::throws_code;

namespace {

// PBKDF2 at the real count takes a noticeable fraction of a second; tests that are not about the
// count use a token one.
constexpr std::uint32_t kTestIterations = 1000;

}  // namespace

TEST_CASE("a vault unlocks with its passcode and the platform", "[keys]") {
  platform::MemoryKeyWrapper wrapper;
  const client::CreatedVault vault = KeyVault::create("4821 blue kite", wrapper, kTestIterations);
  const client::VaultRecord& record = vault.record;

  REQUIRE(record.kdf.version == client::KdfParams::kPbkdf2HkdfV1);
  REQUIRE(record.kdf.iterations == kTestIterations);
  REQUIRE(record.kdf.salt.size() >= 16);
  REQUIRE(wrapper.wrap_calls() == 1);

  SECTION("the right passcode gives the same store key") {
    const auto key = KeyVault::unlock("4821 blue kite", wrapper, record);
    REQUIRE(key);
    REQUIRE(copy_bytes(key->bytes()) == copy_bytes(vault.store_key.bytes()));
    REQUIRE(wrapper.unwrap_calls() == 1);
  }
  SECTION("a wrong passcode is a miss, not an error") {
    REQUIRE_FALSE(KeyVault::unlock("4821 blue kitE", wrapper, record));
    REQUIRE_FALSE(KeyVault::unlock("", wrapper, record));
  }
  SECTION("a damaged wrapped store key reads as a wrong passcode") {
    client::VaultRecord damaged = record;
    damaged.wrapped_store_key.back() ^= 1;
    REQUIRE_FALSE(KeyVault::unlock("4821 blue kite", wrapper, damaged));
  }
  SECTION("a damaged wrapped platform secret is an integrity error") {
    client::VaultRecord damaged = record;
    damaged.wrapped_platform_secret.back() ^= 1;
    REQUIRE(throws_code(ErrorCode::kIntegrity,
                        [&] { KeyVault::unlock("4821 blue kite", wrapper, damaged); }));
  }
  SECTION("an unknown KDF version is refused") {
    client::VaultRecord future = record;
    future.kdf.version = 2;
    REQUIRE(throws_code(ErrorCode::kUnsupportedVersion,
                        [&] { KeyVault::unlock("4821 blue kite", wrapper, future); }));
  }
  SECTION("two vaults of the same passcode have different salts and keys") {
    const client::CreatedVault other = KeyVault::create("4821 blue kite", wrapper, kTestIterations);
    REQUIRE(other.record.kdf.salt != record.kdf.salt);
    REQUIRE(copy_bytes(other.store_key.bytes()) != copy_bytes(vault.store_key.bytes()));
  }
}

TEST_CASE("after the platform key is destroyed no copy of a vault unlocks", "[keys]") {
  platform::MemoryKeyWrapper wrapper;
  const client::CreatedVault vault = KeyVault::create("passcode", wrapper, kTestIterations);
  const client::VaultRecord copied = vault.record;

  wrapper.destroy();

  REQUIRE(
      throws_code(ErrorCode::kIntegrity, [&] { KeyVault::unlock("passcode", wrapper, copied); }));
  SECTION("not even once the platform has a new key") {
    KeyVault::create("passcode", wrapper, kTestIterations);
    REQUIRE(
        throws_code(ErrorCode::kIntegrity, [&] { KeyVault::unlock("passcode", wrapper, copied); }));
  }
}

TEST_CASE("changing the passcode keeps the store key", "[keys]") {
  platform::MemoryKeyWrapper wrapper;
  const client::CreatedVault vault = KeyVault::create("old passcode", wrapper, kTestIterations);
  const auto unlocked = KeyVault::unlock("old passcode", wrapper, vault.record);
  REQUIRE(unlocked);

  const client::VaultRecord changed =
      KeyVault::change_passcode(*unlocked, "new passcode", wrapper, vault.record, kTestIterations);

  REQUIRE(changed.kdf.salt != vault.record.kdf.salt);
  REQUIRE(changed.wrapped_store_key != vault.record.wrapped_store_key);
  const auto reopened = KeyVault::unlock("new passcode", wrapper, changed);
  REQUIRE(reopened);
  REQUIRE(copy_bytes(reopened->bytes()) == copy_bytes(vault.store_key.bytes()));
  REQUIRE_FALSE(KeyVault::unlock("old passcode", wrapper, changed));
}

TEST_CASE("the default key derivation meets DESIGN.md's floor", "[keys]") {
  REQUIRE(crypto::kPbkdf2DefaultIterations >= 600'000);
  REQUIRE(client::KdfParams{}.iterations >= 600'000);
  platform::MemoryKeyWrapper wrapper;
  const client::CreatedVault vault = KeyVault::create("passcode", wrapper);
  REQUIRE(vault.record.kdf.iterations >= 600'000);
}

TEST_CASE("a case key opens only for its own case and store", "[keys]") {
  const crypto::SecretKey store_key = crypto::SecretKey::random();
  const crypto::SecretKey case_key = crypto::SecretKey::random();
  const Uuid store_id = Uuid::random_v4();
  const CaseId case_id = Uuid::random_v4();
  const Bytes wrapped = KeyVault::wrap_case_key(store_key, store_id, case_id, case_key);

  REQUIRE(copy_bytes(KeyVault::unwrap_case_key(store_key, store_id, case_id, wrapped).bytes()) ==
          copy_bytes(case_key.bytes()));
  SECTION("moved to another case") {
    REQUIRE(throws_code(ErrorCode::kIntegrity, [&] {
      KeyVault::unwrap_case_key(store_key, store_id, Uuid::random_v4(), wrapped);
    }));
  }
  SECTION("moved to another store") {
    REQUIRE(throws_code(ErrorCode::kIntegrity, [&] {
      KeyVault::unwrap_case_key(store_key, Uuid::random_v4(), case_id, wrapped);
    }));
  }
  SECTION("under another store key") {
    REQUIRE(throws_code(ErrorCode::kIntegrity, [&] {
      KeyVault::unwrap_case_key(crypto::SecretKey::random(), store_id, case_id, wrapped);
    }));
  }
}
