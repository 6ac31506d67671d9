// Sync messages with every member and every kind of value set: what the wire codec's tests round
// trip, cut and corrupt, and what the fuzz targets start from.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fieldsync/dev/make_change.h"
#include "fieldsync/sync_messages.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::wire_samples {

inline const char* format_name(WireFormat format) {
  return format == WireFormat::kBinary ? "binary" : "json";
}

// A distinct, recognisable id per (kind, number), shaped like a UUIDv7.
inline Uuid sample_id(std::uint8_t kind, std::uint64_t number) {
  Uuid::Bytes bytes{0x01, 0x8e, 0x00, 0x00, 0x00, 0x00, 0x70, kind, 0x80};
  for (int i = 0; i < 7; ++i) bytes[15 - i] = static_cast<std::uint8_t>(number >> (8 * i));
  return Uuid(bytes);
}

inline const OriginId kDevice = sample_id(1, 1);
inline const OriginId kOtherDevice = sample_id(1, 2);
inline const OriginId kServer = sample_id(1, 3);
inline const CaseId kCase = sample_id(2, 1);
inline constexpr Hlc kVisitStamp{1'709'285'400'123, 0};  // 2024-03-01T09:30:00.123Z

inline Change make_change(std::string collection, RecordId record, CaseId case_id,
                          std::string field, Value value, Version version, std::uint64_t seq,
                          WriteGroupId group, std::string author = {}) {
  return dev::make_change(std::move(collection), record, case_id, std::move(field),
                          std::move(value), version, group, std::move(author), {}, seq);
}

// A new visit as a device records it: 8 fields, one a 1 KB observation, stamped in a row.
inline WriteGroup visit_group(WriteGroupId group_id, RecordId visit_id, Hlc first_stamp,
                              std::uint64_t first_seq) {
  const auto at = [](int year, unsigned month, unsigned day, std::int64_t ms_of_day) {
    return Value::timestamp(Timestamp{
        std::int64_t{date_from_civil(year, month, day).days_since_epoch} * 86'400'000 + ms_of_day});
  };
  const std::vector<std::pair<std::string, Value>> fields = {
      {"household_visit_id", Value::text(sample_id(9, 7).to_string())},
      {"visit_type", Value::text("statutory_child_in_need")},
      {"location_type", Value::text("home")},
      {"actual_start", at(2024, 3, 1, 34'200'000)},
      {"actual_end", at(2024, 3, 1, 37'800'000)},
      {"child_seen", Value::boolean(true)},
      {"seen_alone", Value::boolean(true)},
      {"observations", Value::text(std::string(1024, 'o'))},
  };
  WriteGroup group{group_id, {}};
  Hlc stamp = first_stamp;
  std::uint64_t seq = first_seq;
  for (const auto& [field, value] : fields) {
    group.changes.push_back(make_change("visit", visit_id, kCase, field, value,
                                        Version{stamp, kDevice}, seq++, group_id));
    stamp = stamp.successor();
  }
  return group;
}

// Every kind of value, in known and unknown fields and collections, with bases of several versions.
inline std::vector<Change> assorted_changes(WriteGroupId group, std::string author) {
  const RecordId case_record = kCase;
  const RecordId note = sample_id(3, 1);
  const RecordId flag = sample_id(3, 2);
  const Version earlier{Hlc(1'709'000'000'000, 7), kOtherDevice};
  const Version server{Hlc(1'709'100'000'000, 0), kServer};
  std::vector<Change> changes;
  const auto add = [&](std::string collection, RecordId record, std::string field, Value value,
                       Version version, std::uint64_t seq, VersionSet base = {}) {
    Change change = make_change(std::move(collection), record, kCase, std::move(field),
                                std::move(value), version, seq, group, author);
    change.base = std::move(base);
    changes.push_back(std::move(change));
  };
  const Hlc stamp(1'709'300'000'000, 65'535);
  add("case", case_record, "plan_type", Value::null(), {stamp, kDevice}, 100);
  add("case", case_record, "date_of_birth", Value::date(*parse_date("2016-02-29")),
      {stamp.successor(), kDevice}, 101, VersionSet{earlier});
  add("note", note, "content",
      Value::text("Met \xC3\xA9lodie and her foster carer \xF0\x9F\x8F\xA0."),
      {Hlc(1'709'200'000'000, 3), kOtherDevice}, 7, VersionSet{earlier, server});
  add("note", note, "future_field", Value::integer((std::int64_t{1} << 53) + 1),
      {Hlc(1'709'200'000'000, 3), kOtherDevice}, 9);
  add("note", note, "count", Value::integer(-(std::int64_t{1} << 62)), {Hlc(5, 0), kServer},
      std::uint64_t{1} << 63);
  add("note", note, "min", Value::integer(std::numeric_limits<std::int64_t>::min()),
      {Hlc(Hlc::kMaxMs, 0xFFFF), kServer}, 0);
  add("safeguarding_flag", flag, "score", Value::real(-0.1), {Hlc(1, 1), kDevice}, 1,
      VersionSet{Version{Hlc(Hlc::kMaxMs, 0), kServer}, Version{Hlc(0, 0), OriginId()}});
  add("safeguarding_flag", flag, "raised_at", Value::timestamp(Timestamp{-62'135'596'800'000}),
      {Hlc(2, 0), kDevice}, 2);
  add("safeguarding_flag", flag, "photo", Value::bytes({0, 1, 2, 0xFF, 0, 0x80}),
      {Hlc(3, 0), kDevice}, 3);
  add("safeguarding_flag", flag, "", Value::bytes({}), {Hlc(3, 0), kDevice}, 4);
  add("safeguarding_flag", flag, "ok", Value::boolean(false), {Hlc(3, 0), kDevice}, 5);
  add("safeguarding_flag", flag, "", Value::text(""), {Hlc(3, 0), kDevice}, 6);
  return changes;
}

inline SyncRequest full_request() {
  SyncRequest request;
  request.protocol = ProtocolVersion{1, 3};
  request.cursor = encode_cursor(SyncCursor{sample_id(4, 1), 123'456'789});
  request.write_groups.push_back(visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 41));
  request.write_groups.push_back(
      WriteGroup{sample_id(5, 2), assorted_changes(sample_id(5, 2), "")});
  // A change that names another write group than its own: kept as it is, like all the rest.
  request.write_groups.back().changes.back().write_group = sample_id(5, 9);
  request.write_groups.push_back(WriteGroup{sample_id(5, 3), {}, /*restored=*/true});
  request.directive_acks = {1, 2, std::uint64_t{1} << 60};
  request.telemetry = Telemetry{"2.4.1 (ios)",
                                "0.1.0",
                                "ios 17.4",
                                42,
                                3'600'000,
                                "network",
                                "The server could not be reached.",
                                -1};
  return request;
}

inline SyncResponse full_response() {
  SyncResponse response;
  response.acks = {sample_id(5, 1), sample_id(5, 3)};
  Rejection rejection;
  rejection.write_group = sample_id(5, 2);
  rejection.code = RejectionCode::kFrozen;
  rejection.message = "note.content: cannot change once submitted";
  rejection.server_values = assorted_changes(sample_id(5, 7), "worker-17");
  response.rejections.push_back(rejection);
  response.rejections.push_back(Rejection{sample_id(5, 4), RejectionCode::kClockSkew, "", {}});
  response.rejections.push_back(Rejection{sample_id(5, 8), RejectionCode::kDuplicateMismatch,
                                          "sequence numbers reused", {}, std::uint64_t{1} << 40});
  response.changes = visit_group(sample_id(5, 5), sample_id(6, 2), kVisitStamp, 7).changes;
  for (Change& change : response.changes) change.author = "worker-9";
  const auto more = assorted_changes(sample_id(5, 6), "manager-2");
  response.changes.insert(response.changes.end(), more.begin(), more.end());

  const Version lost{Hlc(1'709'000'000'000, 1), kOtherDevice};
  const Version winner{Hlc(1'709'000'000'500, 0), kDevice};
  response.conflicts.push_back(Conflict{"visit", sample_id(6, 2), kCase, "observations",
                                        ConflictSide{Value::text("first"), lost, "worker-9"},
                                        ConflictSide{Value::text("second"), winner, "worker-17"}});
  response.conflicts.push_back(Conflict{"safeguarding_flag", sample_id(3, 2), kCase, "score",
                                        ConflictSide{Value::real(1.5), lost, ""},
                                        ConflictSide{Value::null(), winner, "worker-17"}});
  response.conflicts.push_back(Conflict{"visit", sample_id(6, 2), kCase, "future_field",
                                        ConflictSide{Value::integer(1), winner, "a"},
                                        ConflictSide{Value::date(Date{-719'162}), lost, "b"}});
  response.resolutions.push_back(Resolution{sample_id(6, 2), "observations", lost,
                                            Version{Hlc(1'709'000'001'000, 0), kServer}});
  response.resolutions.push_back(Resolution{sample_id(3, 2), "unknown_field", winner, lost});
  response.next_cursor = encode_cursor(SyncCursor{sample_id(4, 2), 1});
  response.more = true;
  response.server_time_ms = 1'709'285'999'999;
  response.directives = {
      Directive{1, DirectiveKind::kPurgeCase, sample_id(2, 5), "case moved to another team"},
      Directive{std::uint64_t{1} << 54, DirectiveKind::kWipe, CaseId(), "device revoked"},
      Directive{3, DirectiveKind::kRetire, CaseId(), ""},
      Directive{4, DirectiveKind::kUpgradeRequired, CaseId(), "0.2.0"},
      Directive{5, DirectiveKind::kRepush, CaseId(), "the server was restored from a backup"},
  };
  return response;
}

}  // namespace fieldsync::wire_samples
