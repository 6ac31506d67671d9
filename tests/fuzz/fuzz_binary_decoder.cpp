// libFuzzer target: the binary wire form's request and response decoders on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fieldsync::fuzz::check_decoders(data, size, fieldsync::WireFormat::kBinary);
  return 0;
}
