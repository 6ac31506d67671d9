// The sync cursor's byte form, the names of rejection codes and directive kinds, and the entry
// points of wire_codec.h, which hand each message to its wire form (wire_forms.h).
//
// A cursor is opaque to the device but outlives a server upgrade (the device stores it), so its
// bytes start with a format number: [format = 1][epoch: 16 bytes][position: varint], then the
// optional parts described at encode_cursor (a server reads every older form).
#include "fieldsync/sync_messages.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "fieldsync/wire_codec.h"
#include "varint.h"
#include "wire_forms.h"

namespace fieldsync {
namespace {

constexpr std::uint8_t kCursorFormat = 1;

constexpr std::array<std::pair<RejectionCode, std::string_view>, 6> kRejectionNames = {{
    {RejectionCode::kValidation, "validation"},
    {RejectionCode::kScope, "scope"},
    {RejectionCode::kFrozen, "frozen"},
    {RejectionCode::kClockSkew, "clock_skew"},
    {RejectionCode::kDuplicateMismatch, "duplicate_mismatch"},
    {RejectionCode::kMalformed, "malformed"},
}};

constexpr std::array<std::pair<DirectiveKind, std::string_view>, 5> kDirectiveNames = {{
    {DirectiveKind::kPurgeCase, "purge_case"},
    {DirectiveKind::kWipe, "wipe"},
    {DirectiveKind::kRetire, "retire"},
    {DirectiveKind::kUpgradeRequired, "upgrade_required"},
    {DirectiveKind::kRepush, "repush"},
}};

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  const auto it = std::find_if(names.begin(), names.end(),
                               [&](const auto& entry) { return entry.first == value; });
  return it == names.end() ? "unknown" : it->second;
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const std::array<std::pair<Enum, std::string_view>, N>& names,
                             std::string_view name) {
  const auto it = std::find_if(names.begin(), names.end(),
                               [&](const auto& entry) { return entry.second == name; });
  if (it == names.end()) return std::nullopt;
  return it->first;
}

}  // namespace

// The format byte and the epoch, then varints: the position; the delivery mark, present when it
// is not 0 or when the own range follows; the own range as its first number and its length - 1,
// present when not empty. Older cursors end after the position or the delivery mark.
std::string encode_cursor(const SyncCursor& cursor) {
  std::string bytes;
  bytes.reserve(1 + cursor.epoch.bytes().size() + 4 * varint::kMaxBytes);
  bytes.push_back(static_cast<char>(kCursorFormat));
  bytes.append(cursor.epoch.bytes().begin(), cursor.epoch.bytes().end());
  const auto append = [&](std::uint8_t byte) { bytes.push_back(static_cast<char>(byte)); };
  varint::put(cursor.position, append);
  const bool has_own = cursor.own_first != 0 && cursor.own_last >= cursor.own_first;
  if (cursor.delivery != 0 || has_own) varint::put(cursor.delivery, append);
  if (has_own) {
    varint::put(cursor.own_first, append);
    varint::put(cursor.own_last - cursor.own_first, append);
  }
  return bytes;
}

std::optional<SyncCursor> decode_cursor(std::string_view bytes) {
  Uuid::Bytes epoch;
  if (bytes.size() < 1 + epoch.size() ||
      static_cast<std::uint8_t>(bytes.front()) != kCursorFormat) {
    return std::nullopt;
  }
  std::copy_n(bytes.begin() + 1, epoch.size(), epoch.begin());
  std::string_view rest = bytes.substr(1 + epoch.size());
  const auto next_byte = [&]() -> std::optional<std::uint8_t> {
    if (rest.empty()) return std::nullopt;
    const auto byte = static_cast<std::uint8_t>(rest.front());
    rest.remove_prefix(1);
    return byte;
  };
  const auto position = varint::get(next_byte);
  if (!position) return std::nullopt;
  SyncCursor cursor{Uuid(epoch), *position};
  if (rest.empty()) return cursor;
  const auto delivery = varint::get(next_byte);
  if (!delivery) return std::nullopt;
  cursor.delivery = *delivery;
  if (rest.empty()) return *delivery == 0 ? std::nullopt : std::optional(cursor);
  const auto own_first = varint::get(next_byte);
  const auto own_length = varint::get(next_byte);
  if (!own_first || !own_length || *own_first == 0 || *own_length > UINT64_MAX - *own_first ||
      !rest.empty()) {
    return std::nullopt;
  }
  cursor.own_first = *own_first;
  cursor.own_last = *own_first + *own_length;
  return cursor;
}

std::string_view to_string(RejectionCode code) {
  return name_of(kRejectionNames, code);
}

std::optional<RejectionCode> rejection_code_from_string(std::string_view name) {
  return value_of(kRejectionNames, name);
}

std::string_view to_string(DirectiveKind kind) {
  return name_of(kDirectiveNames, kind);
}

std::optional<DirectiveKind> directive_kind_from_string(std::string_view name) {
  return value_of(kDirectiveNames, name);
}

std::string encode_request(const SyncRequest& request, WireFormat format, const Schema& schema) {
  return format == WireFormat::kBinary ? wire_binary::encode(request, schema)
                                       : wire_json::encode(request);
}

std::string encode_response(const SyncResponse& response, WireFormat format, const Schema& schema) {
  return format == WireFormat::kBinary ? wire_binary::encode(response, schema)
                                       : wire_json::encode(response);
}

SyncRequest decode_request(std::string_view body, WireFormat format, const DecodeLimits& limits,
                           const Schema& schema) {
  return format == WireFormat::kBinary ? wire_binary::decode_request(body, limits, schema)
                                       : wire_json::decode_request(body, limits);
}

SyncResponse decode_response(std::string_view body, WireFormat format, const DecodeLimits& limits,
                             const Schema& schema) {
  return format == WireFormat::kBinary ? wire_binary::decode_response(body, limits, schema)
                                       : wire_json::decode_response(body, limits);
}

}  // namespace fieldsync
