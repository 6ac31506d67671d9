// How the key wrappers that hold their platform key in this process (the desktop file wrapper
// and the in-memory fake) seal secrets with it, so that the fake behaves as the default does.
// Stateless; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"

namespace fieldsync::platform {

// Binds every blob to this use and layout: a wrapped secret cannot pass for other ciphertext
// sealed with the same key, and a future layout gets a new label.
inline constexpr std::string_view kKeyWrapperAad = "fieldsync key wrapper v1";

inline Bytes seal_with_platform_key(const crypto::SecretKey& key,
                                    std::span<const std::uint8_t> secret) {
  return crypto::seal(key, crypto::as_bytes(kKeyWrapperAad), secret);
}

inline crypto::SecretBytes open_with_platform_key(const crypto::SecretKey& key,
                                                  std::span<const std::uint8_t> wrapped) {
  try {
    return crypto::open_secret(key, crypto::as_bytes(kKeyWrapperAad), wrapped);
  } catch (const Error& error) {
    if (!error.is(ErrorCode::kIntegrity)) throw;
    throw Error(ErrorCode::kIntegrity,
                "a wrapped secret does not open with this device's platform key: it was altered "
                "or wrapped by a key that has since been destroyed or replaced");
  }
}

[[noreturn]] inline void throw_missing_platform_key(std::string_view where) {
  throw Error(ErrorCode::kIntegrity,
              "there is no platform key " + std::string(where) +
                  ": it was destroyed or never made on this device, so what it wrapped is lost");
}

}  // namespace fieldsync::platform
