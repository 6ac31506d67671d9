// The key hierarchy of a device's store (DESIGN.md section 5), apart from where its blobs are
// kept (the store persists them):
//
//   passcode --PBKDF2-HMAC-SHA256--> passcode secret --+
//   platform secret (unwrapped inside the platform) ----+--HKDF-SHA256--> key-encryption key
//   key-encryption key seals the store key; the store key seals each case's data key.
//
// Neither the passcode nor the platform alone opens the store: a stolen store file needs the
// device's key store, and the device needs the passcode. Destroying the platform key makes
// every copy of the store unreadable, whatever passcode is known.
//
// Counting wrong passcodes, wiping after too many, auto-lock and the offline grace period are
// the store's business, not this file's. Private to client-core.
//
// Threading: stateless; safe from any thread, given a thread-safe KeyWrapper. create(),
// unlock() and change_passcode() run PBKDF2 (about a quarter of a second at the default count
// on a desktop core; more on a phone), so keep them off the UI thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "fieldsync/crypto.h"
#include "fieldsync/platform/key_wrapper.h"
#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

namespace fieldsync::client {

// How the passcode secret is derived. Stored with a version so that the parameters (or the
// function) can change for new stores while old stores still open.
struct KdfParams {
  // Version 1: PBKDF2-HMAC-SHA256(passcode, salt, iterations), then HKDF-SHA256 with the salt.
  static constexpr std::uint32_t kPbkdf2HkdfV1 = 1;

  std::uint32_t version = kPbkdf2HkdfV1;
  std::uint32_t iterations = crypto::kPbkdf2DefaultIterations;
  Bytes salt;
};

// What the store persists to open itself again. None of it is secret on its own.
struct VaultRecord {
  KdfParams kdf;
  Bytes wrapped_platform_secret;  // by the KeyWrapper; only this device's platform opens it
  Bytes wrapped_store_key;        // sealed with the key-encryption key
};

struct CreatedVault {
  VaultRecord record;
  crypto::SecretKey store_key;
};

class KeyVault {
 public:
  KeyVault() = delete;

  // A new store key and the record that opens it again: a fresh random salt, a fresh platform
  // secret wrapped by `wrapper`. `iterations` below the default are for tests only.
  static CreatedVault create(std::string_view passcode, platform::KeyWrapper& wrapper,
                             std::uint32_t iterations = crypto::kPbkdf2DefaultIterations);

  // The store key, or nullopt for a wrong passcode: an expected miss that the store counts.
  // A wrapped store key or KDF parameters that were damaged look the same as a wrong passcode
  // (both merely fail to authenticate). Throws Error(kIntegrity) when the platform cannot
  // unwrap its secret (its key was destroyed, or the record was altered),
  // Error(kUnsupportedVersion) for KDF parameters of an unknown version, and whatever the
  // KeyWrapper throws when the platform cannot be reached.
  static std::optional<crypto::SecretKey> unlock(std::string_view passcode,
                                                 platform::KeyWrapper& wrapper,
                                                 const VaultRecord& record);

  // A record that opens the same store key with `new_passcode`, under a fresh salt. The caller
  // proves the old passcode first, by unlock() (which counts a wrong one), and passes the key
  // that unlock() gave: a different key here would lock the store's data away for good.
  // Throws as unlock() does when the platform secret cannot be unwrapped.
  static VaultRecord change_passcode(const crypto::SecretKey& store_key,
                                     std::string_view new_passcode, platform::KeyWrapper& wrapper,
                                     const VaultRecord& current,
                                     std::uint32_t iterations = crypto::kPbkdf2DefaultIterations);

  // A case's data key sealed with the store key, bound to the store and the case: a wrapped key
  // copied to another case or another store does not open.
  static Bytes wrap_case_key(const crypto::SecretKey& store_key, const Uuid& store_id,
                             const CaseId& case_id, const crypto::SecretKey& case_key);
  // Throws Error(kIntegrity) when `wrapped` is not this case's key in this store.
  static crypto::SecretKey unwrap_case_key(const crypto::SecretKey& store_key, const Uuid& store_id,
                                           const CaseId& case_id,
                                           std::span<const std::uint8_t> wrapped);
};

}  // namespace fieldsync::client
