// Where the fieldsync tool gets the worker's passcode, in this order: --passcode-file FILE (its
// first line), then $FIELDSYNC_PASSCODE (both for tests and scripts), then the terminal without
// echo when standard input is one, else the first line of standard input.
//
// The passcode is held in a buffer that wipes itself; no copy is left in a std::string.
// Single-threaded: the terminal prompt changes the terminal's settings while it waits.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fieldsync/crypto.h"

namespace fieldsync::cli {

class Passcode {
 public:
  explicit Passcode(crypto::SecretBytes bytes) : bytes_(std::move(bytes)) {}
  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

 private:
  crypto::SecretBytes bytes_;
};

// A new passcode is at least this long (DOMAIN.md: a PIN of 4 or more digits).
inline constexpr std::size_t kMinPasscodeLength = 4;

struct PasscodeSource {
  std::optional<std::string> file;  // --passcode-file
};

// The passcode of an existing store. Throws Error(kInvalidArgument) when none can be read.
Passcode read_passcode(const PasscodeSource& source);
// A new passcode (enrolment): asked twice on a terminal, and refused when shorter than
// kMinPasscodeLength.
Passcode read_new_passcode(const PasscodeSource& source);

}  // namespace fieldsync::cli
