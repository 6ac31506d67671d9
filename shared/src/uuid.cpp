// Uuid text and binary forms, and the UUIDv7 generator.
#include "fieldsync/uuid.h"

#include <algorithm>
#include <cstring>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"

namespace fieldsync {
namespace {

void random_bytes(std::uint8_t* out, std::size_t n) {
  const Bytes random = crypto::random_bytes(n);
  std::copy(random.begin(), random.end(), out);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_dash_position(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

std::optional<Uuid> Uuid::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Bytes bytes{};
  std::size_t out = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (is_dash_position(i)) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int high = hex_digit(text[i]);
    const int low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[out++] = static_cast<std::uint8_t>(high << 4 | low);
    i += 2;
  }
  return Uuid(bytes);
}

Uuid Uuid::parse_or_throw(std::string_view text, std::string_view what) {
  if (auto id = parse(text)) return *id;
  throw Error(ErrorCode::kMalformed,
              std::string(what) + ": '" + std::string(text.substr(0, 64)) + "' is not a UUID");
}

Uuid Uuid::random_v4() {
  Uuid::Bytes bytes;
  random_bytes(bytes.data(), bytes.size());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  return Uuid(bytes);
}

std::string Uuid::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    text.push_back(kHex[bytes_[i] >> 4]);
    text.push_back(kHex[bytes_[i] & 0x0F]);
  }
  return text;
}

std::int64_t Uuid::unix_ms() const {
  std::int64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | bytes_[i];
  return ms;
}

Uuid UuidV7Generator::next() {
  Uuid::Bytes random;
  random_bytes(random.data(), random.size());
  std::int64_t ms;
  std::uint16_t counter;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now = clock_.wall_ms();
    if (now > last_ms_) {
      last_ms_ = now;
      // Seed the counter low in its range so that many ids fit in one millisecond.
      counter_ = static_cast<std::uint16_t>(random[0] & 0x01FF);
    } else if (++counter_ > 0x0FFF) {
      ++last_ms_;  // the counter is full: carry into the milliseconds
      counter_ = 0;
    }
    ms = last_ms_;
    counter = counter_;
  }
  Uuid::Bytes bytes;
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  bytes[6] = static_cast<std::uint8_t>(0x70 | (counter >> 8));
  bytes[7] = static_cast<std::uint8_t>(counter & 0xFF);
  std::memcpy(bytes.data() + 8, random.data() + 8, 8);
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);
  return Uuid(bytes);
}

}  // namespace fieldsync

std::size_t std::hash<fieldsync::Uuid>::operator()(const fieldsync::Uuid& id) const noexcept {
  // The last 8 bytes are random in every id we make; mix the front in for foreign ids.
  std::uint64_t front = 0, back = 0;
  std::memcpy(&front, id.bytes().data(), 8);
  std::memcpy(&back, id.bytes().data() + 8, 8);
  return static_cast<std::size_t>(back ^ (front * 0x9E3779B97F4A7C15ull));
}
