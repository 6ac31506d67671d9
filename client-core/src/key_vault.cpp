// The store's key hierarchy: deriving the key-encryption key and sealing the store and case keys.
#include "key_vault.h"

#include <algorithm>
#include <climits>
#include <string>

#include "fieldsync/error.h"

namespace fieldsync::client {
namespace {

// 128 bits, as NIST SP 800-132 asks of a PBKDF2 salt.
constexpr std::size_t kSaltSize = 16;
constexpr std::string_view kKekInfo = "fieldsync store key v1";
// The format version bound into the additional data of the sealed keys below.
constexpr std::uint8_t kKeyFormat = 1;

Bytes store_key_aad() {
  return crypto::AadBuilder("store key", kKeyFormat).bytes();
}

Bytes case_key_aad(const Uuid& store_id, const CaseId& case_id) {
  return crypto::AadBuilder("case key", kKeyFormat).add(store_id).add(case_id).bytes();
}

void check_kdf_params(const KdfParams& kdf) {
  if (kdf.version != KdfParams::kPbkdf2HkdfV1) {
    throw Error(ErrorCode::kUnsupportedVersion,
                "the store's key derivation is version " + std::to_string(kdf.version) +
                    ", which this version of fieldsync does not know");
  }
  if (kdf.iterations == 0 || kdf.iterations > static_cast<std::uint32_t>(INT_MAX) ||
      kdf.salt.empty()) {
    throw Error(ErrorCode::kIntegrity, "the store's key derivation parameters are damaged");
  }
}

crypto::SecretKey derive_key_encryption_key(std::string_view passcode,
                                            std::span<const std::uint8_t> platform_secret,
                                            const KdfParams& kdf) {
  const crypto::SecretBytes passcode_secret =
      crypto::pbkdf2_sha256(passcode, kdf.salt, kdf.iterations);
  crypto::SecretBytes ikm(passcode_secret.size() + platform_secret.size());
  std::copy(platform_secret.begin(), platform_secret.end(),
            std::copy_n(passcode_secret.data(), passcode_secret.size(), ikm.data()));
  return crypto::SecretKey(
      crypto::hkdf_sha256(ikm, kdf.salt, crypto::as_bytes(kKekInfo), crypto::kKeySize));
}

// The one place a record is sealed: both a new store and a new passcode come through here.
VaultRecord seal_vault(std::string_view passcode, std::span<const std::uint8_t> platform_secret,
                       Bytes wrapped_platform_secret, const crypto::SecretKey& store_key,
                       std::uint32_t iterations) {
  VaultRecord record;
  record.kdf.version = KdfParams::kPbkdf2HkdfV1;
  record.kdf.iterations = iterations;
  record.kdf.salt = crypto::random_bytes(kSaltSize);
  check_kdf_params(record.kdf);
  record.wrapped_platform_secret = std::move(wrapped_platform_secret);
  const crypto::SecretKey kek = derive_key_encryption_key(passcode, platform_secret, record.kdf);
  record.wrapped_store_key = crypto::seal(kek, store_key_aad(), store_key.bytes());
  return record;
}

crypto::SecretBytes unwrap_platform_secret(platform::KeyWrapper& wrapper,
                                           const VaultRecord& record) {
  crypto::SecretBytes secret = wrapper.unwrap(record.wrapped_platform_secret);
  if (secret.size() != crypto::kKeySize) {
    throw Error(ErrorCode::kIntegrity, "the platform secret has the wrong size");
  }
  return secret;
}

}  // namespace

CreatedVault KeyVault::create(std::string_view passcode, platform::KeyWrapper& wrapper,
                              std::uint32_t iterations) {
  const crypto::SecretKey platform_secret = crypto::SecretKey::random();
  crypto::SecretKey store_key = crypto::SecretKey::random();
  VaultRecord record = seal_vault(passcode, platform_secret.bytes(),
                                  wrapper.wrap(platform_secret.bytes()), store_key, iterations);
  return {std::move(record), std::move(store_key)};
}

std::optional<crypto::SecretKey> KeyVault::unlock(std::string_view passcode,
                                                  platform::KeyWrapper& wrapper,
                                                  const VaultRecord& record) {
  check_kdf_params(record.kdf);
  const crypto::SecretBytes platform_secret = unwrap_platform_secret(wrapper, record);
  const crypto::SecretKey kek = derive_key_encryption_key(passcode, platform_secret, record.kdf);
  try {
    return crypto::SecretKey(crypto::open_secret(kek, store_key_aad(), record.wrapped_store_key));
  } catch (const Error& error) {
    if (error.is(ErrorCode::kIntegrity)) return std::nullopt;  // the wrong passcode
    throw;
  }
}

VaultRecord KeyVault::change_passcode(const crypto::SecretKey& store_key,
                                      std::string_view new_passcode, platform::KeyWrapper& wrapper,
                                      const VaultRecord& current, std::uint32_t iterations) {
  const crypto::SecretBytes platform_secret = unwrap_platform_secret(wrapper, current);
  return seal_vault(new_passcode, platform_secret, current.wrapped_platform_secret, store_key,
                    iterations);
}

Bytes KeyVault::wrap_case_key(const crypto::SecretKey& store_key, const Uuid& store_id,
                              const CaseId& case_id, const crypto::SecretKey& case_key) {
  return crypto::seal(store_key, case_key_aad(store_id, case_id), case_key.bytes());
}

crypto::SecretKey KeyVault::unwrap_case_key(const crypto::SecretKey& store_key,
                                            const Uuid& store_id, const CaseId& case_id,
                                            std::span<const std::uint8_t> wrapped) {
  return crypto::SecretKey(
      crypto::open_secret(store_key, case_key_aad(store_id, case_id), wrapped));
}

}  // namespace fieldsync::client
