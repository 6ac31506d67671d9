// The stored byte forms of values and bases. See stored_value_codec.h.
#include "stored_value_codec.h"

#include <cctype>

#include <algorithm>
#include <bit>
#include <cstring>

#include <nlohmann/json.hpp>

#include "fieldsync/error.h"
#include "fieldsync/wire_codec.h"

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

std::string encode_stored_telemetry(const Telemetry& telemetry) {
  const nlohmann::json json = {{"app_version", telemetry.app_version},
                               {"core_version", telemetry.core_version},
                               {"platform", telemetry.platform},
                               {"pending_count", telemetry.pending_count},
                               {"oldest_pending_age_ms", telemetry.oldest_pending_age_ms},
                               {"last_error_code", telemetry.last_error_code},
                               {"last_error_message", telemetry.last_error_message},
                               {"device_clock_ms", telemetry.device_clock_ms}};
  // Devices report what they like: bytes that are not UTF-8 are kept as U+FFFD, not refused.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Telemetry decode_stored_telemetry(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Telemetry telemetry;
  if (!json.is_object()) return telemetry;
  telemetry.app_version = json.value("app_version", "");
  telemetry.core_version = json.value("core_version", "");
  telemetry.platform = json.value("platform", "");
  telemetry.pending_count = json.value("pending_count", std::uint64_t{0});
  telemetry.oldest_pending_age_ms = json.value("oldest_pending_age_ms", std::int64_t{0});
  telemetry.last_error_code = json.value("last_error_code", "");
  telemetry.last_error_message = json.value("last_error_message", "");
  telemetry.device_clock_ms = json.value("device_clock_ms", std::int64_t{0});
  return telemetry;
}

std::string encode_stored_roles(const std::vector<std::string>& roles) {
  std::string joined;
  for (const std::string& role : roles) joined += (joined.empty() ? "" : ",") + role;
  return joined;
}

std::vector<std::string> decode_stored_roles(const std::string& joined) {
  std::vector<std::string> roles;
  std::size_t start = 0;
  while (start < joined.size()) {
    const std::size_t comma = std::min(joined.find(',', start), joined.size());
    roles.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return roles;
}

Bytes encode_stored_rejection(const Rejection& rejection) {
  SyncResponse holder;
  holder.rejections.push_back(rejection);
  const std::string encoded = encode_response(holder, WireFormat::kBinary);
  return Bytes(encoded.begin(), encoded.end());
}

Rejection decode_stored_rejection(std::span<const std::uint8_t> bytes) {
  SyncResponse holder = decode_response(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), WireFormat::kBinary);
  if (holder.rejections.size() != 1) corrupt("rejection");
  return std::move(holder.rejections.front());
}

std::string like_pattern(std::string_view text, bool prefix_only) {
  std::string pattern = prefix_only ? "" : "%";
  for (const char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
    pattern.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return pattern + "%";
}

std::string without(std::string_view text, char dropped) {
  std::string kept;
  for (const char c : text) {
    if (c != dropped) kept.push_back(c);
  }
  return kept;
}

}  // namespace fieldsync::server
