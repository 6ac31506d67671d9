// The sync protocol's messages (DESIGN.md section 4): one POST /v1/sync carries a SyncRequest up
// and a SyncResponse down. Plain data; wire_codec.h turns them into bytes (binary or JSON).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fieldsync/change.h"

namespace fieldsync {

// Every message carries it; a peer refuses an unknown major with a clear error.
struct ProtocolVersion {
  std::uint16_t major = 1;
  std::uint16_t minor = 0;
  friend bool operator==(const ProtocolVersion&, const ProtocolVersion&) = default;
};
// 1.1 added restored write groups, the repush directive and a rejection's highest accepted
// sequence number; 1.0 messages still decode (those members take their defaults).
inline constexpr ProtocolVersion kProtocolVersion{1, 1};

// What the device reports of its own health with every sync (for the admins' registry).
struct Telemetry {
  std::string app_version;
  std::string core_version;
  std::string platform;                  // "ios 17.4", "android 14", ...
  std::uint64_t pending_count = 0;       // changes in the outbox
  std::int64_t oldest_pending_age_ms = 0;
  std::string last_error_code;           // empty when the last sync went well
  std::string last_error_message;
  std::int64_t device_clock_ms = 0;      // the raw wall clock, to measure its offset
  friend bool operator==(const Telemetry&, const Telemetry&) = default;
};

// The server's position in its change sequence, opaque to the device. The epoch changes when a
// server is restored from backup; a cursor from another epoch means "resync from scratch, and
// send back what you hold" (a repush directive).
// `delivery` marks an answer that carried whole cases (backfill): a device that sends the cursor
// back proves it applied that answer; 0 when the answer carried none.
// `own_first`..`own_last` (0 when none) are numbers above `position` that the server gave to
// changes this device pushed and was acknowledged for: a device that sends the cursor back holds
// those of them that are its own, so the next pull need not send them back (see the reconciler).
struct SyncCursor {
  Uuid epoch;
  std::uint64_t position = 0;
  std::uint64_t delivery = 0;
  std::uint64_t own_first = 0;
  std::uint64_t own_last = 0;
  friend bool operator==(const SyncCursor&, const SyncCursor&) = default;
};
std::string encode_cursor(const SyncCursor& cursor);      // opaque bytes
std::optional<SyncCursor> decode_cursor(std::string_view bytes);  // nullopt when not a cursor

struct SyncRequest {
  ProtocolVersion protocol = kProtocolVersion;
  std::string cursor;                       // empty on first sync
  std::vector<WriteGroup> write_groups;     // from the outbox, oldest first
  std::vector<std::uint64_t> directive_acks;  // ids of directives carried out
  Telemetry telemetry;
  friend bool operator==(const SyncRequest&, const SyncRequest&) = default;
};

// Why the server refused a write group. Stable numbers.
enum class RejectionCode : std::uint8_t {
  kValidation = 1,         // the merged record would break a schema rule
  kScope = 2,              // the case is not the user's, or a claim contradicts the store
  kFrozen = 3,             // an edit of a submitted record's frozen field
  kClockSkew = 4,          // stamped too far ahead of the server's time: re-stamp and resend
  kDuplicateMismatch = 5,  // (device, seq) seen before with other content
  kMalformed = 6,          // well-formed bytes, impossible content
};
std::string_view to_string(RejectionCode code);
std::optional<RejectionCode> rejection_code_from_string(std::string_view name);

struct Rejection {
  WriteGroupId write_group;
  RejectionCode code = RejectionCode::kValidation;
  std::string message;
  // The server's current winners for the fields the group touched, so the device can restore them.
  std::vector<Change> server_values;
  // kDuplicateMismatch: the highest sequence number of this device the server has accepted, so a
  // device restored from an old backup can number its work after it (0: not given).
  std::uint64_t highest_accepted_seq = 0;
  friend bool operator==(const Rejection&, const Rejection&) = default;
};

// One side of a conflict: a value with who made it and when.
struct ConflictSide {
  Value value;
  Version version;
  std::string author;
  friend bool operator==(const ConflictSide&, const ConflictSide&) = default;
};

// A value overwritten by someone who never saw it (DESIGN.md section 3), keyed by the lost version.
struct Conflict {
  std::string collection;
  RecordId record_id;
  CaseId case_id;
  std::string field;
  ConflictSide lost;
  ConflictSide winner;
  friend bool operator==(const Conflict&, const Conflict&) = default;
};

// A conflict that is no longer one: a later change named the lost version in its base.
struct Resolution {
  RecordId record_id;
  std::string field;
  Version lost;
  Version resolved_by;
  friend bool operator==(const Resolution&, const Resolution&) = default;
};

enum class DirectiveKind : std::uint8_t {
  kPurgeCase = 1,        // forget the case (after its outbox entries are acknowledged)
  kWipe = 2,             // the device is revoked: destroy the store
  kRetire = 3,           // final push accepted: wipe gently
  kUpgradeRequired = 4,  // core version below the server's minimum
  kRepush = 5,           // the server was restored from a backup: send back what you hold
};
std::string_view to_string(DirectiveKind kind);
std::optional<DirectiveKind> directive_kind_from_string(std::string_view name);

// Repeated in every response until the device acknowledges its id.
struct Directive {
  std::uint64_t id = 0;
  DirectiveKind kind = DirectiveKind::kPurgeCase;
  CaseId case_id;        // for kPurgeCase
  std::string detail;    // for kUpgradeRequired: the minimum version; otherwise a reason
  friend bool operator==(const Directive&, const Directive&) = default;
};

struct SyncResponse {
  ProtocolVersion protocol = kProtocolVersion;
  std::vector<WriteGroupId> acks;     // write groups durably accepted
  std::vector<Rejection> rejections;
  std::vector<Change> changes;        // what the device has not seen, grouped by record
  std::vector<Conflict> conflicts;
  std::vector<Resolution> resolutions;
  std::string next_cursor;
  bool more = false;                  // another page is waiting
  std::int64_t server_time_ms = 0;
  std::vector<Directive> directives;
  friend bool operator==(const SyncResponse&, const SyncResponse&) = default;
};

}  // namespace fieldsync
