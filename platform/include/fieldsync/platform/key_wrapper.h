// The device's key store as fieldsync sees it: wrap and unwrap small secrets with a key that
// stays inside the platform (Keychain or the Secure Enclave on iOS, Android Keystore), so the
// platform key never enters fieldsync's memory; only the secrets it protects do. The store
// wraps one random secret with it; a copy of the store file taken off the device is useless
// without it, and destroying it makes every copy unreadable (DESIGN.md section 5).
//
// FileKeyWrapper is the desktop default; MemoryKeyWrapper is the fake for tests. Mobile shells
// supply their own implementation through the C API.
//
// Threading: implementations must be thread-safe (the store may call them from the UI thread and
// from a sync thread), and both here are. Calls may block on I/O or on the platform (a
// biometric prompt, say), so make them from a thread that may wait.
//
// Errors: unwrap() of a blob that was altered, that another key wrapped, or whose platform key
// was destroyed or is missing throws Error(kIntegrity): the secret is gone for good and the
// caller should treat its data as unrecoverable. Failures to reach the key store (I/O,
// permissions) throw other errors (ErrorDomain::kPosix for the file wrapper) and may succeed
// later.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>

#include "fieldsync/crypto.h"
#include "fieldsync/value.h"

namespace fieldsync::platform {

class KeyWrapper {
 public:
  virtual ~KeyWrapper() = default;

  // Encrypts and authenticates `secret` with the platform key, first creating that key if
  // there is none. The result is an opaque blob that the caller may store anywhere.
  virtual Bytes wrap(std::span<const std::uint8_t> secret) = 0;
  // The secret that wrap() was given. Throws Error(kIntegrity) as described above.
  virtual crypto::SecretBytes unwrap(std::span<const std::uint8_t> wrapped) = 0;
  // Destroys the platform key: everything it wrapped becomes unreadable, on this device and in
  // every copy. Doing it twice is harmless; a later wrap() starts with a new key.
  virtual void destroy() = 0;
};

// Keeps a random 256-bit key in a file of its own (mode 0600), which must not be backed up with
// the store. Protects a copied store file, not a device whose files can all be read; mobile
// platforms do better with hardware-backed keys. The key is read from the file on each call
// and not kept in memory, so a destroy() by another instance or process takes effect at once.
class FileKeyWrapper final : public KeyWrapper {
 public:
  explicit FileKeyWrapper(std::filesystem::path key_file);

  Bytes wrap(std::span<const std::uint8_t> secret) override;
  crypto::SecretBytes unwrap(std::span<const std::uint8_t> wrapped) override;
  // Overwrites the file, then unlinks it. On flash storage and copy-on-write file systems the
  // overwrite may not reach the old blocks; the unlink is what counts there.
  void destroy() override;

  const std::filesystem::path& key_file() const { return key_file_; }

 private:
  std::optional<crypto::SecretKey> read_key() const;  // nullopt when there is no key file
  crypto::SecretKey create_key() const;

  const std::filesystem::path key_file_;
  std::mutex mutex_;  // serialises this process's use of the file
};

// Keeps the platform key in memory; destroy() forgets it. Counts calls, so tests can check
// when the platform is (and is not) asked.
class MemoryKeyWrapper final : public KeyWrapper {
 public:
  Bytes wrap(std::span<const std::uint8_t> secret) override;
  crypto::SecretBytes unwrap(std::span<const std::uint8_t> wrapped) override;
  void destroy() override;

  int wrap_calls() const { return wrap_calls_.load(); }
  int unwrap_calls() const { return unwrap_calls_.load(); }

 private:
  std::atomic<int> wrap_calls_{0};
  std::atomic<int> unwrap_calls_{0};
  std::mutex mutex_;
  std::optional<crypto::SecretKey> key_;  // guarded by mutex_
};

}  // namespace fieldsync::platform
