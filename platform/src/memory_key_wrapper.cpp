// The in-memory key wrapper that tests use in place of the platform's key store.
#include "fieldsync/platform/key_wrapper.h"
#include "local_key_sealing.h"

namespace fieldsync::platform {

Bytes MemoryKeyWrapper::wrap(std::span<const std::uint8_t> secret) {
  ++wrap_calls_;
  std::lock_guard lock(mutex_);
  if (!key_) key_ = crypto::SecretKey::random();
  return seal_with_platform_key(*key_, secret);
}

crypto::SecretBytes MemoryKeyWrapper::unwrap(std::span<const std::uint8_t> wrapped) {
  ++unwrap_calls_;
  std::lock_guard lock(mutex_);
  if (!key_) throw_missing_platform_key("in memory");
  return open_with_platform_key(*key_, wrapped);
}

void MemoryKeyWrapper::destroy() {
  std::lock_guard lock(mutex_);
  key_.reset();
}

}  // namespace fieldsync::platform
