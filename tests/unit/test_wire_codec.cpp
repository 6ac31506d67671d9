// The wire codecs: exact round trips of every message in both forms, the binary form's size, the
// JSON form's conventions, protocol and class versions, the caps, and the sync cursor.
#include <catch2/catch.hpp>

#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fieldsync/error.h"
#include "fieldsync/json_form.h"
#include "fieldsync/wire_codec.h"
#include "wire_samples.h"

using namespace fieldsync;
using namespace fieldsync::wire_samples;
using nlohmann::json;

namespace Catch {
// Mismatches print as JSON, which names every member.
template <>
struct StringMaker<Change> {
  static std::string convert(const Change& change) { return change_to_json(change).dump(); }
};
}  // namespace Catch

namespace {

// The Error that `action` throws; the test fails when it throws none.
template <class Action>
Error error_of(Action&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error;
  }
  FAIL("expected an Error");
  throw std::logic_error("unreachable");
}

void check_same(const SyncRequest& actual, const SyncRequest& expected) {
  CHECK(actual.protocol == expected.protocol);
  CHECK(actual.cursor == expected.cursor);
  REQUIRE(actual.write_groups.size() == expected.write_groups.size());
  for (std::size_t i = 0; i < expected.write_groups.size(); ++i) {
    CHECK(actual.write_groups[i].id == expected.write_groups[i].id);
    CHECK(actual.write_groups[i].changes == expected.write_groups[i].changes);
  }
  CHECK(actual.directive_acks == expected.directive_acks);
  CHECK(actual.telemetry == expected.telemetry);
  CHECK(actual == expected);
}

void check_same(const SyncResponse& actual, const SyncResponse& expected) {
  CHECK(actual.protocol == expected.protocol);
  CHECK(actual.acks == expected.acks);
  REQUIRE(actual.rejections.size() == expected.rejections.size());
  for (std::size_t i = 0; i < expected.rejections.size(); ++i) {
    CHECK(actual.rejections[i].server_values == expected.rejections[i].server_values);
    CHECK(actual.rejections[i] == expected.rejections[i]);
  }
  CHECK(actual.changes == expected.changes);
  CHECK(actual.conflicts == expected.conflicts);
  CHECK(actual.resolutions == expected.resolutions);
  CHECK(actual.next_cursor == expected.next_cursor);
  CHECK(actual.more == expected.more);
  CHECK(actual.server_time_ms == expected.server_time_ms);
  CHECK(actual.directives == expected.directives);
  CHECK(actual == expected);
}

std::size_t payload_bytes(const WriteGroup& group) {
  return std::accumulate(
      group.changes.begin(), group.changes.end(), std::size_t{0},
      [](std::size_t sum, const Change& change) { return sum + change.value.payload_size(); });
}

}  // namespace

TEST_CASE("Every message round-trips exactly in both wire forms", "[wire]") {
  const WireFormat format = GENERATE(WireFormat::kBinary, WireFormat::kJson);
  CAPTURE(format_name(format));

  SECTION("a request with every member and every kind of value") {
    const SyncRequest request = full_request();
    check_same(decode_request(encode_request(request, format), format), request);
  }
  SECTION("a response with every member and every kind of value") {
    const SyncResponse response = full_response();
    check_same(decode_response(encode_response(response, format), format), response);
  }
  SECTION("empty messages") {
    CHECK(decode_request(encode_request(SyncRequest{}, format), format) == SyncRequest{});
    CHECK(decode_response(encode_response(SyncResponse{}, format), format) == SyncResponse{});
  }
  SECTION("encoding is deterministic: a decoded message encodes to the same bytes") {
    const std::string body = encode_response(full_response(), format);
    CHECK(encode_response(decode_response(body, format), format) == body);
  }
}

TEST_CASE("Fields travel as schema indexes, or as names the schema does not know", "[wire]") {
  const auto schema_of = [](std::vector<std::string> fields) {
    CollectionSpec visit{"visit", {}};
    for (auto& field : fields) {
      FieldSpec spec;
      spec.name = std::move(field);
      visit.fields.push_back(std::move(spec));
    }
    return Schema({visit});
  };
  const Schema older = schema_of({"child_seen"});
  const Schema newer = schema_of({"child_seen", "seen_alone"});
  SyncRequest request;
  request.write_groups.push_back(visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 1));

  const std::string by_name = encode_request(request, WireFormat::kBinary, older);
  CHECK(decode_request(by_name, WireFormat::kBinary, {}, newer) == request);

  const std::string by_index = encode_request(request, WireFormat::kBinary, newer);
  CHECK(by_index.size() < by_name.size());
  CHECK(decode_request(by_index, WireFormat::kBinary, {}, newer) == request);
  // An index the reader's schema lacks means the peer's schema is newer: say so.
  const Error error = error_of([&] { decode_request(by_index, WireFormat::kBinary, {}, older); });
  CHECK(error.is(ErrorCode::kUnsupportedVersion));
  CHECK_THAT(error.what(), Catch::Contains("field index 1"));
}

TEST_CASE("A visit costs tens of bytes beyond its values in the binary form", "[wire]") {
  SyncRequest request;
  request.cursor = encode_cursor(SyncCursor{sample_id(4, 1), 5'000});
  request.telemetry =
      Telemetry{"2.4.1", "0.1.0", "android 14", 8, 60'000, "", "", 1'709'285'401'000};
  const std::size_t empty = encode_request(request, WireFormat::kBinary).size();

  const WriteGroup first = visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 41);
  request.write_groups.push_back(first);
  const std::size_t with_one = encode_request(request, WireFormat::kBinary).size();
  REQUIRE(first.changes.size() == 8);
  REQUIRE(payload_bytes(first) > 1024);
  // Its ids alone (write group, record, case, device origin) take 64 bytes. Measured: 94.
  const std::size_t first_overhead = with_one - empty - payload_bytes(first);
  CAPTURE(empty, with_one, payload_bytes(first), first_overhead);
  CHECK(first_overhead <= 100);

  // A second visit from the same device shares the origin and continues the stamps.
  Hlc next_stamp = first.changes.back().version.hlc.successor();
  const WriteGroup second = visit_group(sample_id(5, 2), sample_id(6, 2), next_stamp, 49);
  request.write_groups.push_back(second);
  const std::size_t second_overhead =
      encode_request(request, WireFormat::kBinary).size() - with_one - payload_bytes(second);
  CAPTURE(second_overhead);
  CHECK(second_overhead <= 60);  // measured: 52
}

TEST_CASE("An unknown protocol major version is refused with a clear error", "[wire]") {
  const WireFormat format = GENERATE(WireFormat::kBinary, WireFormat::kJson);
  CAPTURE(format_name(format));

  SECTION("a newer major") {
    SyncRequest request = full_request();
    request.protocol = ProtocolVersion{2, 0};
    SyncResponse response = full_response();
    response.protocol = ProtocolVersion{2, 1};
    const Error request_error =
        error_of([&] { decode_request(encode_request(request, format), format); });
    CHECK(request_error.is(ErrorCode::kUnsupportedVersion));
    CHECK_THAT(request_error.what(), Catch::Contains("2.0") && Catch::Contains("1.x"));
    const Error response_error =
        error_of([&] { decode_response(encode_response(response, format), format); });
    CHECK(response_error.is(ErrorCode::kUnsupportedVersion));
  }
  SECTION("a newer minor is read") {
    SyncRequest request;
    request.protocol = ProtocolVersion{1, 9};
    CHECK(decode_request(encode_request(request, format), format).protocol == request.protocol);
  }
}

TEST_CASE("A binary part with a newer class version is refused", "[wire]") {
  std::string body = encode_request(SyncRequest{}, WireFormat::kBinary);
  // After the protocol version (4 bytes) and cereal's endianness byte: the request's class version.
  REQUIRE(body[5] == 2);
  body[5] = 3;
  const Error error = error_of([&] { decode_request(body, WireFormat::kBinary); });
  CHECK(error.is(ErrorCode::kUnsupportedVersion));
  CHECK_THAT(error.what(), Catch::Contains("class version 3"));
}

// Protocol 1.0 wrote no group flags and no highest accepted sequence number: such messages decode
// with the defaults (not restored, 0).
TEST_CASE("Binary messages of protocol 1.0 still decode", "[wire]") {
  SECTION("a request: class version 1, no flags byte after a group's id") {
    SyncRequest request;
    request.write_groups.push_back(visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 41));
    request.write_groups.front().restored = true;
    std::string body = encode_request(request, WireFormat::kBinary);
    // protocol (4), endianness (1), class version (4), empty cursor (1), one group (1), its id.
    constexpr std::size_t kFlagsAt = 4 + 1 + 4 + 1 + 1 + 16;
    REQUIRE(body[5] == 2);
    REQUIRE(body[kFlagsAt] == 1);
    body[5] = 1;
    body.erase(kFlagsAt, 1);
    const SyncRequest old = decode_request(body, WireFormat::kBinary);
    request.write_groups.front().restored = false;
    CHECK(old == request);
  }
  SECTION("a response: a rejection of class version 1 ends with its server values") {
    SyncResponse response;
    response.rejections.push_back(
        Rejection{sample_id(5, 2), RejectionCode::kDuplicateMismatch, "reused", {}, 300});
    std::string body = encode_response(response, WireFormat::kBinary);
    // protocol (4), endianness (1), response class version (4), no acks (1), one rejection (1),
    // then the rejection's class version.
    constexpr std::size_t kVersionAt = 4 + 1 + 4 + 1 + 1;
    REQUIRE(body[kVersionAt] == 2);
    body[kVersionAt] = 1;
    // The rejection's last bytes: no server values (a count of 0), then 300 as a varint.
    const std::size_t seq_at = body.find(std::string("\x00\xAC\x02", 3), kVersionAt);
    REQUIRE(seq_at != std::string::npos);
    body.erase(seq_at + 1, 2);
    const SyncResponse old = decode_response(body, WireFormat::kBinary);
    response.rejections.front().highest_accepted_seq = 0;
    CHECK(old == response);
  }
}

TEST_CASE("JSON messages of protocol 1.0 still decode", "[wire]") {
  json request = json::parse(encode_request(full_request(), WireFormat::kJson));
  for (json& group : request["write_groups"]) group.erase("restored");
  for (const WriteGroup& group : decode_request(request.dump(), WireFormat::kJson).write_groups) {
    CHECK_FALSE(group.restored);
  }
  json response = json::parse(encode_response(full_response(), WireFormat::kJson));
  for (json& rejection : response["rejections"]) rejection.erase("highest_accepted_seq");
  for (const Rejection& rejection :
       decode_response(response.dump(), WireFormat::kJson).rejections) {
    CHECK(rejection.highest_accepted_seq == 0);
  }
}

TEST_CASE("Bytes after a whole message are refused", "[wire]") {
  const WireFormat format = GENERATE(WireFormat::kBinary, WireFormat::kJson);
  CAPTURE(format_name(format));
  const std::string body = encode_request(full_request(), format) + "x";
  CHECK(error_of([&] { decode_request(body, format); }).is(ErrorCode::kMalformed));
}

TEST_CASE("Decoders refuse what is over the caps", "[wire]") {
  const WireFormat format = GENERATE(WireFormat::kBinary, WireFormat::kJson);
  CAPTURE(format_name(format));
  const SyncRequest request = full_request();
  const std::string body = encode_request(request, format);
  DecodeLimits limits;

  SECTION("changes") {
    limits.max_changes = 19;
  }
  SECTION("write groups") {
    limits.max_write_groups = 2;
  }
  SECTION("a string") {
    limits.max_string_bytes = 1023;
  }
  SECTION("a base") {
    limits.max_base_versions = 1;
  }
  SECTION("another list") {
    limits.max_list_items = 2;
  }
  SECTION("the body") {
    limits.max_body_bytes = body.size() - 1;
  }
  SECTION("nesting, for JSON") {
    if (format == WireFormat::kBinary) return;
    limits.max_json_depth = 4;
  }
  const Error error = error_of([&] { decode_request(body, format, limits); });
  CAPTURE(error.what());
  CHECK(error.is(ErrorCode::kTooLarge));
}

TEST_CASE("The decoders accept exactly their caps", "[wire]") {
  const WireFormat format = GENERATE(WireFormat::kBinary, WireFormat::kJson);
  CAPTURE(format_name(format));
  const SyncRequest request = full_request();
  const std::string body = encode_request(request, format);
  DecodeLimits limits;
  limits.max_changes = 20;
  limits.max_write_groups = 3;
  limits.max_string_bytes = 1024;
  limits.max_base_versions = 2;
  limits.max_list_items = 4;  // binary: the origins table holds the nil origin and three devices
  limits.max_body_bytes = body.size();
  CHECK(decode_request(body, format, limits) == request);
}

TEST_CASE("The JSON form follows the project's JSON conventions", "[wire]") {
  const json request = json::parse(encode_request(full_request(), WireFormat::kJson));
  CHECK(request["protocol"] == json{{"major", 1}, {"minor", 3}});
  CHECK(request["cursor"].is_string());
  CHECK(request["directive_acks"] == json{1, 2, "1152921504606846976"});

  const json& visit = request["write_groups"][0]["changes"];
  CHECK(visit[3]["value"] == json{{"type", "timestamp"}, {"value", "2024-03-01T09:30:00.000Z"}});
  CHECK(visit[5]["value"] == json{{"type", "bool"}, {"value", true}});
  CHECK(visit[0]["version"] ==
        json{{"ms", 1'709'285'400'123}, {"counter", 0}, {"origin", kDevice.to_string()}});
  CHECK(visit[0]["record_id"] == sample_id(6, 1).to_string());
  CHECK(visit[0]["base"] == json::array());

  const json& assorted = request["write_groups"][1]["changes"];
  CHECK(assorted[0]["value"] == json{{"type", "null"}});
  CHECK(assorted[1]["value"] == json{{"type", "date"}, {"value", "2016-02-29"}});
  CHECK(assorted[3]["value"] == json{{"type", "int"}, {"value", "9007199254740993"}});
  CHECK(assorted[8]["value"] == json{{"type", "bytes"}, {"value", "AAEC/wCA"}});
  CHECK(assorted[2]["base"].size() == 2);

  const json response = json::parse(encode_response(full_response(), WireFormat::kJson));
  CHECK(response["directives"][0]["kind"] == "purge_case");
  CHECK(response["directives"][1]["id"] == "18014398509481984");
  CHECK(response["rejections"][0]["code"] == "frozen");
  CHECK(response["more"] == true);
}

TEST_CASE("JSON messages may leave out their empty members, but not the protocol", "[wire]") {
  SyncRequest empty;
  empty.protocol = {1, 0};
  CHECK(decode_request(R"({"protocol":{"major":1,"minor":0}})", WireFormat::kJson) == empty);
  CHECK(decode_response(R"({"protocol":{"major":1,"minor":0},"more":true,"extra":[1]})",
                        WireFormat::kJson)
            .more);
  const Error missing = error_of([] { decode_request(R"({"cursor":""})", WireFormat::kJson); });
  CHECK(missing.is(ErrorCode::kMalformed));
  CHECK_THAT(missing.what(), Catch::Contains("request.protocol"));
}

TEST_CASE("JSON errors say where, without quoting content", "[wire]") {
  json request = json::parse(encode_request(full_request(), WireFormat::kJson));
  request["write_groups"][1]["changes"][4]["version"]["ms"] = "secret";
  const Error error = error_of([&] { decode_request(request.dump(), WireFormat::kJson); });
  CHECK(error.is(ErrorCode::kMalformed));
  CHECK_THAT(error.what(), Catch::Contains("request.write_groups[1].changes[4].version.ms"));
  CHECK_THAT(error.what(), !Catch::Contains("secret"));
}

TEST_CASE("JSON values and changes convert on their own, for the C API", "[wire]") {
  const auto round_trip = [](const Value& value) { return value_from_json(value_to_json(value)); };
  for (const Change& change : assorted_changes(sample_id(5, 1), "worker-1")) {
    CHECK(round_trip(change.value) == change.value);
    CHECK(json(change).get<Change>() == change);
  }
  CHECK(int_to_json(kMaxJsonSafeInteger) == json(kMaxJsonSafeInteger));
  CHECK(int_to_json(-kMaxJsonSafeInteger - 1) == json("-9007199254740993"));
  CHECK(int_from_json(json("-42"), "n") == -42);
  CHECK(uint_from_json(json("18446744073709551615"), "n") ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(error_of([] { uint_from_json(json(-1), "n"); }).is(ErrorCode::kMalformed));
  CHECK(error_of([] { int_from_json(json("12a"), "n"); }).is(ErrorCode::kMalformed));
  CHECK(error_of([] { int_from_json(json(1.5), "n"); }).is(ErrorCode::kMalformed));
  CHECK(value_content_from_json(json("2024-03-01T10:30:00+01:00"), ValueType::kTimestamp) ==
        Value::timestamp(*parse_timestamp("2024-03-01T09:30:00Z")));
  CHECK(error_of([] {
          value_from_json(json{{"type", "date"}, {"value", "2024-02-30"}});
        }).is(ErrorCode::kMalformed));
  const json infinite = {{"type", "double"}, {"value", std::numeric_limits<double>::infinity()}};
  CHECK(error_of([&] { value_from_json(infinite); }).is(ErrorCode::kMalformed));
}

TEST_CASE("Dates and timestamps cross the wire only within the years 0001-9999", "[wire]") {
  const Date first = date_from_civil(1, 1, 1);
  const Date last = date_from_civil(9999, 12, 31);
  const std::int64_t kMsPerDay = 86'400'000;
  const auto request_with = [](Value value) {
    SyncRequest request;
    request.write_groups.push_back(visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 1));
    request.write_groups[0].changes[3].value = std::move(value);
    return request;
  };
  for (const Value& value :
       {Value::date(first), Value::date(last),
        Value::timestamp(Timestamp{first.days_since_epoch * kMsPerDay}),
        Value::timestamp(Timestamp{(last.days_since_epoch + 1) * kMsPerDay - 1})}) {
    CAPTURE(value.describe());
    for (const WireFormat format : {WireFormat::kBinary, WireFormat::kJson}) {
      const SyncRequest request = request_with(value);
      CHECK(decode_request(encode_request(request, format), format) == request);
    }
  }
  for (const Value& value :
       {Value::date(Date{first.days_since_epoch - 1}), Value::date(Date{last.days_since_epoch + 1}),
        Value::timestamp(Timestamp{first.days_since_epoch * kMsPerDay - 1}),
        Value::timestamp(Timestamp{(last.days_since_epoch + 1) * kMsPerDay})}) {
    CAPTURE(value.describe());
    const SyncRequest request = request_with(value);
    CHECK(error_of([&] {
            encode_request(request, WireFormat::kJson);
          }).is(ErrorCode::kInvalidArgument));
    const std::string body = encode_request(request, WireFormat::kBinary);
    CHECK(error_of([&] { decode_request(body, WireFormat::kBinary); }).is(ErrorCode::kMalformed));
  }
  // An offset can move a timestamp that is written in range out of it.
  CHECK(error_of([] {
          value_content_from_json(json("0001-01-01T00:30:00+01:00"), ValueType::kTimestamp);
        }).is(ErrorCode::kMalformed));
}

TEST_CASE("Base64 is standard, padded and strict", "[wire]") {
  CHECK(to_base64("") == "");
  CHECK(to_base64("f") == "Zg==");
  CHECK(to_base64("fo") == "Zm8=");
  CHECK(to_base64("foo") == "Zm9v");
  CHECK(to_base64("\xFF\xFE") == "//4=");
  CHECK(from_base64("Zm9vYg==") == "foob");
  CHECK(from_base64("") == "");
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zh==", "Zm9=v", "Zm9v\n", "Z-8=", "=Zm9"}) {
    CAPTURE(bad);
    CHECK_FALSE(from_base64(bad));
  }
}

TEST_CASE("A text that is not UTF-8 cannot cross the wire", "[wire]") {
  SyncRequest request;
  request.telemetry.last_error_message = "\xFF";
  CHECK(error_of([&] {
          encode_request(request, WireFormat::kJson);
        }).is(ErrorCode::kInvalidArgument));
  const std::string body = encode_request(request, WireFormat::kBinary);
  CHECK(error_of([&] { decode_request(body, WireFormat::kBinary); }).is(ErrorCode::kMalformed));
}

TEST_CASE("Sync cursors round-trip, and nothing else passes for one", "[wire]") {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (const std::uint64_t position : {std::uint64_t{0}, std::uint64_t{300}, kMax}) {
    // A delivery mark is a random 64-bit number, so its varint is several bytes long.
    for (const std::uint64_t delivery : {std::uint64_t{0}, std::uint64_t{1} << 40, kMax}) {
      // The own range: none, one number, the widest, the last number alone.
      for (const auto& [own_first, own_last] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
               {0, 0}, {5, 5}, {1, kMax}, {kMax, kMax}}) {
        const SyncCursor cursor{sample_id(4, 1), position, delivery, own_first, own_last};
        const std::string bytes = encode_cursor(cursor);
        CAPTURE(position, delivery, own_first, own_last);
        CHECK(decode_cursor(bytes) == cursor);
        CHECK_FALSE(decode_cursor(bytes.substr(0, bytes.size() - 1)));
        CHECK_FALSE(decode_cursor(bytes + '\0'));
        std::string other_format = bytes;
        other_format[0] = 2;
        CHECK_FALSE(decode_cursor(other_format));
      }
    }
  }
  // A range whose end would pass the largest number is no cursor.
  std::string past_the_end = encode_cursor({sample_id(4, 1), 1, 0, 1, kMax});
  REQUIRE(past_the_end[1 + 16 + 2] == '\x01');  // the range's first number, after position and mark
  past_the_end[1 + 16 + 2] = '\x02';
  CHECK_FALSE(decode_cursor(past_the_end));
  CHECK_FALSE(decode_cursor(""));
  const std::string overlong = std::string(1, '\x01') + std::string(16, '\0') +
                               std::string(10, '\xFF') + std::string(1, '\x01');
  CHECK_FALSE(decode_cursor(overlong));
}

TEST_CASE("Rejection codes and directive kinds have stable names", "[wire]") {
  for (int code = 1; code <= 6; ++code) {
    const auto rejection = static_cast<RejectionCode>(code);
    CHECK(rejection_code_from_string(to_string(rejection)) == rejection);
  }
  for (int kind = 1; kind <= 4; ++kind) {
    const auto directive = static_cast<DirectiveKind>(kind);
    CHECK(directive_kind_from_string(to_string(directive)) == directive);
  }
  CHECK(to_string(RejectionCode::kDuplicateMismatch) == "duplicate_mismatch");
  CHECK(to_string(DirectiveKind::kUpgradeRequired) == "upgrade_required");
  CHECK(to_string(static_cast<RejectionCode>(0)) == "unknown");
  CHECK_FALSE(rejection_code_from_string("Validation"));
  CHECK_FALSE(directive_kind_from_string(""));
}
