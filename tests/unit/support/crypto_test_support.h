// Helpers shared by the tests of the crypto building blocks, the key wrappers and the key vault:
// plain byte copies of secret buffers and keys (to compare them), and error-code checks.
#pragma once

#include <functional>
#include <span>
#include <string_view>

#include "fieldsync/error.h"
#include "fieldsync/value.h"

namespace fieldsync::testing {

inline Bytes copy_bytes(std::span<const std::uint8_t> bytes) {
  return Bytes(bytes.begin(), bytes.end());
}

inline Bytes text_bytes(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

// True when `action` throws an Error with `code`; false when it throws another or nothing.
inline bool throws_code(ErrorCode code, const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.is(code);
  }
  return false;
}

}  // namespace fieldsync::testing
