// LEB128 varints and zigzag-mapped signed integers: how the binary wire format and the sync
// cursor write integers, so that the small numbers that dominate (counts, deltas, indexes) take
// one byte and no number takes more than ten. Private to shared/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace fieldsync::varint {

inline constexpr std::size_t kMaxBytes = 10;

// Maps signed to unsigned so that numbers near zero, of either sign, stay small.
constexpr std::uint64_t zigzag(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}
constexpr std::int64_t unzigzag(std::uint64_t value) {
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

constexpr std::size_t size(std::uint64_t value) {
  std::size_t bytes = 1;
  for (; value >= 0x80; value >>= 7) ++bytes;
  return bytes;
}

// Writes `value` seven bits at a time, low bits first, through put_byte(std::uint8_t).
template <class PutByte>
void put(std::uint64_t value, PutByte&& put_byte) {
  for (; value >= 0x80; value >>= 7) put_byte(static_cast<std::uint8_t>(value | 0x80));
  put_byte(static_cast<std::uint8_t>(value));
}

// Reads one varint through get_byte() -> std::optional<std::uint8_t>. nullopt when the bytes end
// first or the number does not fit 64 bits.
template <class GetByte>
std::optional<std::uint64_t> get(GetByte&& get_byte) {
  std::uint64_t value = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    const std::optional<std::uint8_t> byte = get_byte();
    if (!byte) return std::nullopt;
    if (shift == 63 && *byte > 1) return std::nullopt;  // bits beyond the 64th
    value |= std::uint64_t{*byte & 0x7Fu} << shift;
    if ((*byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

}  // namespace fieldsync::varint
