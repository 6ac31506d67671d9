// 128-bit identifiers: record ids (UUIDv7, generated offline, sortable by creation time), and the
// ids of cases, write groups and origins (devices and server nodes).
//
// Binary form is 16 bytes (what the wire and the stores hold); text form is the usual
// 8-4-4-4-12 lower-case hex. Uuid is a plain value; UuidV7Generator is thread-safe.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "fieldsync/clock_source.h"

namespace fieldsync {

class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  constexpr Uuid() = default;  // the nil id
  constexpr explicit Uuid(const Bytes& bytes) : bytes_(bytes) {}

  // Parses the 36-character text form (either case); nullopt when it is not one.
  static std::optional<Uuid> parse(std::string_view text);
  // Like parse, but throws Error(kMalformed) naming `what` on bad input.
  static Uuid parse_or_throw(std::string_view text, std::string_view what);
  // A random (version 4) id: for origins and stores, where creation order does not matter.
  static Uuid random_v4();

  const Bytes& bytes() const { return bytes_; }
  std::string to_string() const;
  bool is_nil() const { return bytes_ == Bytes{}; }
  int version() const { return bytes_[6] >> 4; }
  // For a UUIDv7: the Unix milliseconds it was made at.
  std::int64_t unix_ms() const;

  friend constexpr auto operator<=>(const Uuid&, const Uuid&) = default;

 private:
  Bytes bytes_{};
};

using RecordId = Uuid;
using CaseId = Uuid;
using WriteGroupId = Uuid;
using OriginId = Uuid;

// Makes UUIDv7 ids (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter seeded at random
// each millisecond, then 62 random bits. Ids from one generator strictly increase even when the
// wall clock stands still or steps back (the last millisecond is reused and the counter carries
// into it), so a device's records sort in the order they were created.
class UuidV7Generator {
 public:
  explicit UuidV7Generator(ClockSource& clock) : clock_(clock) {}
  Uuid next();

 private:
  ClockSource& clock_;
  std::mutex mutex_;
  // Guarded by mutex_:
  std::int64_t last_ms_ = 0;
  std::uint16_t counter_ = 0;
};

}  // namespace fieldsync

template <>
struct std::hash<fieldsync::Uuid> {
  std::size_t operator()(const fieldsync::Uuid& id) const noexcept;
};
