// What the fuzz targets check of every input: a decoder either refuses it with a fieldsync Error,
// or returns a message that survives a round trip through both wire forms unchanged. Anything
// else (a crash, another exception, a changed message) aborts, which libFuzzer reports.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "fieldsync/error.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::fuzz {

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline std::string encode(const SyncRequest& request, WireFormat format) {
  return encode_request(request, format);
}
inline std::string encode(const SyncResponse& response, WireFormat format) {
  return encode_response(response, format);
}

template <class Message>
Message decode(std::string_view body, WireFormat format) {
  if constexpr (std::is_same_v<Message, SyncRequest>) {
    return decode_request(body, format);
  } else {
    return decode_response(body, format);
  }
}

template <class Message>
void require_round_trips(const Message& message) {
  for (const WireFormat format : {WireFormat::kBinary, WireFormat::kJson}) {
    const char* form = format == WireFormat::kBinary ? "binary" : "json";
    try {
      if (decode<Message>(encode(message, format), format) != message) {
        fail(std::string("a decoded message changed in a round trip through ") + form);
      }
    } catch (const Error& error) {
      fail(std::string("a decoded message failed a round trip through ") + form + ": " +
           error.what());
    }
  }
}

template <class Message>
void check_decoder(std::string_view body, WireFormat format) {
  std::optional<Message> message;
  try {
    message = decode<Message>(body, format);
  } catch (const Error&) {
    return;  // refused: the expected end of most inputs
  }
  require_round_trips(*message);
}

// Both messages, from the same bytes.
inline void check_decoders(const std::uint8_t* data, std::size_t size, WireFormat format) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check_decoder<SyncRequest>(body, format);
  check_decoder<SyncResponse>(body, format);
}

}  // namespace fieldsync::fuzz
