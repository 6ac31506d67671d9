// Bad input across real processes (DESIGN.md section 4): truncated, oversized (sent, or only
// claimed by a Content-Length or a chunk size), bit-flipped, future-protocol and malformed-JSON
// sync bodies sent to a real fieldsync-server process each get a 4xx with a JSON error, and a
// request whose body never completes is dropped at --request-timeout-s while others are served;
// after each, the server goes on serving a normal sync.
#include <catch2/catch.hpp>

#include "device_fixture.h"
#include "raw_connection.h"

using namespace fieldsync;
using namespace fieldsync::itest;

namespace {

constexpr std::size_t kBodyCapBytes = 1u << 20;  // --max-body-mb 1

void check_refused(const platform::HttpResponse& answer, int status, const std::string& error) {
  CHECK(answer.status == status);
  const nlohmann::json body = error_body(answer);
  CHECK(body.value("error", "") == error);
}

}  // namespace

TEST_CASE("Bad sync bodies get a 4xx with a JSON message, and the server keeps serving",
          "[security][input]") {
  TestServer server({.extra_args = {"--max-body-mb", "1"}});
  const Council council = set_up_council(server.admin());
  TestDevice amira(server, "amira");
  RawDevice raw(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);
  SyncRequest request;
  request.write_groups.push_back(raw.new_note(council.jordan, "A short case note."));
  const std::string valid = encode_request(request, WireFormat::kBinary);

  SECTION("truncated") {
    for (const std::size_t length :
         {std::size_t{0}, std::size_t{3}, std::size_t{5}, valid.size() / 2, valid.size() - 1}) {
      INFO("the first " << length << " of " << valid.size() << " bytes");
      check_refused(raw.post(valid.substr(0, length)), 400, "malformed");
    }
    const std::string json = encode_request(request, WireFormat::kJson);
    check_refused(raw.post(json.substr(0, json.size() / 2), kJsonContentType), 400, "malformed");
  }

  SECTION("over --max-body-mb") {
    std::string oversized = valid;
    oversized.resize(kBodyCapBytes + 1, '\0');
    check_refused(raw.post(oversized), 413, "too_large");
    check_refused(raw.post(std::string(kBodyCapBytes + 1, ' ') + "{}", kJsonContentType), 413,
                  "too_large");
  }

  SECTION("a length over --max-body-mb, claimed before any of the body is sent") {
    const auto head = [&](const std::string& framing, const std::string& value) {
      return RawConnection::post_head("/v1/sync",
                                      {{"Authorization", "Bearer " + raw.token()},
                                       {"Content-Type", std::string(kBinaryContentType)},
                                       {framing, value}});
    };
    RawConnection lying(server.process().port());
    lying.send(head("Content-Length", "2000000000") + valid);
    const RawAnswer at_once = lying.read_answer(3s);
    CHECK(at_once.status == 413);
    CHECK(error_body({413, {}, at_once.body}).value("error", "") == "too_large");

    RawConnection chunked(server.process().port());
    chunked.send(head("Transfer-Encoding", "chunked") + "100001\r\n" + valid);
    const RawAnswer chunk_refused = chunked.read_answer(3s);
    CHECK(chunk_refused.status == 413);
    CHECK(error_body({413, {}, chunk_refused.body}).value("error", "") == "too_large");
  }

  SECTION("bit-flipped") {
    // The byte after the protocol version says the byte order; no flip of its top bit decodes.
    std::string flipped = valid;
    flipped[4] = static_cast<char>(flipped[4] ^ 0x80);
    check_refused(raw.post(flipped), 400, "malformed");
    // Every byte in turn: a flip either still makes a message the server judges (200, the group
    // then accepted or rejected on its merits) or is refused with a 4xx and a JSON error; never a
    // server fault, never a dropped connection.
    std::size_t refused = 0;
    for (std::size_t at = 0; at < valid.size(); ++at) {
      flipped = valid;
      flipped[at] = static_cast<char>(flipped[at] ^ (1 << (at % 8)));
      const platform::HttpResponse answer = raw.post(flipped);
      INFO("bit " << at % 8 << " of byte " << at << " flipped: " << answer.status << " "
                  << answer.body);
      if (answer.status == 200) {
        CHECK_NOTHROW(decode_response(answer.body, WireFormat::kBinary));
      } else {
        CHECK(answer.status >= 400);
        CHECK(answer.status < 500);
        CHECK_FALSE(error_body(answer).is_null());
        ++refused;
      }
    }
    CHECK(refused > 0);
  }

  SECTION("a protocol major version from the future") {
    SyncRequest future = request;
    future.protocol.major = kProtocolVersion.major + 1;
    check_refused(raw.post(encode_request(future, WireFormat::kBinary)), 400,
                  "unsupported_version");
    check_refused(raw.post(encode_request(future, WireFormat::kJson), kJsonContentType), 400,
                  "unsupported_version");
  }

  SECTION("malformed JSON") {
    for (const char* body : {"", "not JSON at all", "[1, 2, 3]", "{\"protocol\": {\"major\": 1",
                             "{\"protocol\": {\"major\": 1, \"minor\": 0}, \"write_groups\": 7}"}) {
      INFO("body: " << body);
      check_refused(raw.post(body, kJsonContentType), 400, "malformed");
    }
  }

  // The server goes on serving: a normal sync right after goes through.
  const RecordId note = amira.casework().write_note(
      council.jordan,
      {{"content", Value::text("After the bad input.")}, {"note_type", Value::text("case_note")}});
  const client::SyncReport report = amira.sync();
  CHECK(report.outcome == client::SyncOutcome::kCompleted);
  CHECK(report.changes_pushed > 0);
  CHECK(amira.store().outbox_change_count() == 0);
  CHECK(text_of(amira.store(), note, "content") == "After the bad input.");
}

TEST_CASE("A request body that never completes is dropped at --request-timeout-s",
          "[security][input]") {
  TestServer server({.extra_args = {"--request-timeout-s", "1"}});
  set_up_council(server.admin());
  TestDevice amira(server, "amira");
  REQUIRE(amira.sync().outcome == client::SyncOutcome::kCompleted);

  RawConnection stalled(server.process().port());
  const std::string body = encode_request(SyncRequest{}, WireFormat::kBinary);
  stalled.send(RawConnection::post_head("/v1/sync",
                                        {{"Authorization", "Bearer " + amira.token()},
                                         {"Content-Type", std::string(kBinaryContentType)},
                                         {"Content-Length", std::to_string(body.size() + 1000)}}) +
               body);
  // And one whose headers never end (the slow-headers attack).
  RawConnection stalled_head(server.process().port());
  stalled_head.send("POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty");
  const auto sent_at = std::chrono::steady_clock::now();

  // While that request hangs, others are served.
  CHECK(amira.sync().outcome == client::SyncOutcome::kCompleted);

  const RawAnswer answer = stalled.read_answer(5s);
  const auto waited = std::chrono::steady_clock::now() - sent_at;
  CHECK(answer.status == 408);
  CHECK_FALSE(error_body({408, {}, answer.body}).is_null());
  CHECK(waited >= 900ms);
  CHECK(waited < 5s);
  stalled.stop_sending();
  CHECK(stalled.closed_within(3s));
  const RawAnswer head_answer = stalled_head.read_answer(5s);
  CHECK(head_answer.status == 408);
  stalled_head.stop_sending();
  CHECK(stalled_head.closed_within(3s));

  CHECK(amira.sync().outcome == client::SyncOutcome::kCompleted);
}
