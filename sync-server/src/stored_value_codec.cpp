// The stored byte forms of values and bases. See stored_value_codec.h.
#include "stored_value_codec.h"

#include <bit>
#include <cstring>

#include "fieldsync/error.h"

namespace fieldsync::server {
namespace {

constexpr std::size_t kVersionBytes = 8 + 16;

void put_u64(Bytes& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

std::uint64_t get_u64(std::span<const std::uint8_t> bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value = (value << 8) | bytes[i];
  return value;
}

[[noreturn]] void corrupt(const char* what) {
  throw Error(ErrorCode::kIntegrity, std::string("stored ") + what + " is corrupt");
}

void require_size(std::span<const std::uint8_t> payload, std::size_t size) {
  if (payload.size() != size) corrupt("value");
}

}  // namespace

Bytes encode_stored_value(const Value& value) {
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(value.type()));
  switch (value.type()) {
    case ValueType::kNull: break;
    case ValueType::kBool: out.push_back(value.as_bool() ? 1 : 0); break;
    case ValueType::kInt: put_u64(out, static_cast<std::uint64_t>(value.as_int())); break;
    case ValueType::kDouble: put_u64(out, std::bit_cast<std::uint64_t>(value.as_double())); break;
    case ValueType::kText: out.insert(out.end(), value.as_text().begin(), value.as_text().end()); break;
    case ValueType::kDate:
      put_u64(out, static_cast<std::uint64_t>(std::int64_t{value.as_date().days_since_epoch}));
      break;
    case ValueType::kTimestamp:
      put_u64(out, static_cast<std::uint64_t>(value.as_timestamp().unix_ms));
      break;
    case ValueType::kBytes: out.insert(out.end(), value.as_bytes().begin(), value.as_bytes().end()); break;
  }
  return out;
}

Value decode_stored_value(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || bytes[0] >= kValueTypeCount) corrupt("value");
  const auto payload = bytes.subspan(1);
  switch (static_cast<ValueType>(bytes[0])) {
    case ValueType::kNull: require_size(payload, 0); return Value::null();
    case ValueType::kBool: require_size(payload, 1); return Value::boolean(payload[0] != 0);
    case ValueType::kInt:
      require_size(payload, 8);
      return Value::integer(static_cast<std::int64_t>(get_u64(payload)));
    case ValueType::kDouble:
      require_size(payload, 8);
      return Value::real(std::bit_cast<double>(get_u64(payload)));
    case ValueType::kText: return Value::text(std::string(payload.begin(), payload.end()));
    case ValueType::kDate:
      require_size(payload, 8);
      return Value::date(Date{static_cast<std::int32_t>(static_cast<std::int64_t>(get_u64(payload)))});
    case ValueType::kTimestamp:
      require_size(payload, 8);
      return Value::timestamp(Timestamp{static_cast<std::int64_t>(get_u64(payload))});
    case ValueType::kBytes: return Value::bytes(Bytes(payload.begin(), payload.end()));
  }
  corrupt("value");
}

Bytes encode_stored_base(const VersionSet& base) {
  Bytes out;
  out.reserve(base.size() * kVersionBytes);
  for (const Version& version : base) {
    put_u64(out, version.hlc.packed());
    out.insert(out.end(), version.origin.bytes().begin(), version.origin.bytes().end());
  }
  return out;
}

VersionSet decode_stored_base(std::span<const std::uint8_t> bytes) {
  if (bytes.size() % kVersionBytes != 0) corrupt("base");
  std::vector<Version> versions;
  versions.reserve(bytes.size() / kVersionBytes);
  for (std::size_t at = 0; at < bytes.size(); at += kVersionBytes) {
    Uuid::Bytes origin{};
    std::memcpy(origin.data(), bytes.data() + at + 8, origin.size());
    versions.push_back({Hlc::from_packed(get_u64(bytes.subspan(at, 8))), OriginId(origin)});
  }
  return VersionSet(std::move(versions));
}

}  // namespace fieldsync::server
