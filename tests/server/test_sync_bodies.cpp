// Sync bodies the server must refuse without harm (docs/http-api.md, "Errors"): truncated or
// bit-flipped binary, malformed JSON, an unknown protocol major version: 400 with a message;
// a Content-Type that is neither form: 415; over the body cap: 413. And the JSON form works, so
// the refusals above are about the bodies, not the route.
#include <catch2/catch.hpp>

#include "fieldsync/content_coding.h"
#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

struct BodyWorld {
  explicit BodyWorld(ServerFixture& fixture) : server(fixture) {
    server.create_team("north");
    server.create_user("amira", "north");
    case_a = server.create_case("amira", "Ava");
    phone = server.enrol("amira");
    server.sync_all(phone);
    visit = Uuid::random_v4();
    request = server.sync_request(
        phone, {server.write(phone, "visit", visit, case_a, valid_visit("a long enough text"))});
  }

  http::Response post(std::string body, const std::string& content_type) {
    return server.call("POST", "/v1/sync", std::move(body), content_type, phone.token);
  }
  std::uint64_t last_seq() {
    return server.inspect([](StorageTransaction& tx) { return tx.last_seq(); });
  }

  ServerFixture& server;
  CaseId case_a;
  TestDevice phone;
  RecordId visit;
  SyncRequest request;
};

void check_refused(const http::Response& response, int status, const std::string& name) {
  INFO(response.status << " " << response.body);
  CHECK(response.status == status);
  CHECK(response.content_type == "application/json");
  CHECK(error_name(response) == name);
  CHECK_FALSE(error_message(response).empty());
}

const std::string kBinary(kBinaryContentType);
const std::string kJson(kJsonContentType);

}  // namespace

TEST_CASE("Binary sync bodies that do not decode are refused with 400 and a message",
          "[server][reconcile]") {
  ServerFixture server;
  BodyWorld world(server);
  const std::string body = encode_request(world.request, WireFormat::kBinary);
  const std::uint64_t last_seq = world.last_seq();

  SECTION("every truncation") {
    for (std::size_t size = 0; size < body.size(); ++size) {
      INFO("truncated to " << size << " of " << body.size() << " bytes");
      check_refused(world.post(body.substr(0, size), kBinary), 400, "malformed");
    }
    CHECK(world.last_seq() == last_seq);
  }
  SECTION("trailing bytes") {
    check_refused(world.post(body + std::string("\0\0\0", 3), kBinary), 400, "malformed");
    CHECK(world.last_seq() == last_seq);
  }
  SECTION(
      "a flipped bit anywhere: refused with a 4xx, or taken as another valid request; never "
      "a 5xx") {
    std::size_t refused = 0;
    for (std::size_t at = 0; at < body.size(); ++at) {
      std::string flipped = body;
      flipped[at] = static_cast<char>(flipped[at] ^ (1 << (at % 8)));
      const http::Response response = world.post(flipped, kBinary);
      INFO("bit " << at % 8 << " of byte " << at << ": " << response.status << " " << response.body
                  << "\nserver log:\n"
                  << server.log_text.str());
      REQUIRE(response.status < 500);
      if (response.status != 200) {
        ++refused;
        CHECK(response.status == 400);
        CHECK_FALSE(error_message(response).empty());
      }
    }
    CHECK(refused > 0);
  }
  SECTION("an unknown protocol major version") {
    SyncRequest future = world.request;
    future.protocol = {2, 0};
    const http::Response response =
        world.post(encode_request(future, WireFormat::kBinary), kBinary);
    check_refused(response, 400, "unsupported_version");
    CHECK(error_message(response).find('2') != std::string::npos);
    CHECK(world.last_seq() == last_seq);
  }
  SECTION("a newer minor version of the same major is understood") {
    SyncRequest newer = world.request;
    newer.protocol = {1, 7};
    CHECK(world.post(encode_request(newer, WireFormat::kBinary), kBinary).status == 200);
  }
}

TEST_CASE("JSON sync bodies: the form works, and malformed JSON is refused with 400",
          "[server][reconcile]") {
  ServerFixture server;
  BodyWorld world(server);
  const std::string body = encode_request(world.request, WireFormat::kJson);

  SECTION("a valid JSON request is answered in JSON") {
    const http::Response response = world.post(body, kJson);
    REQUIRE(response.status == 200);
    CHECK(response.content_type == kJson);
    const SyncResponse answer = decode_response(response.body, WireFormat::kJson);
    CHECK(answer.acks.size() == 1);
  }
  SECTION("not JSON") {
    check_refused(world.post("{\"protocol\": {", kJson), 400, "malformed");
  }
  SECTION("JSON of the wrong shape") {
    check_refused(world.post(R"({"protocol": {"major": 1, "minor": 0}, "cursor": 5})", kJson), 400,
                  "malformed");
    check_refused(world.post("[1, 2, 3]", kJson), 400, "malformed");
  }
  SECTION("cut short") {
    check_refused(world.post(body.substr(0, body.size() / 2), kJson), 400, "malformed");
  }
  SECTION("an unknown protocol major version") {
    nlohmann::json future = nlohmann::json::parse(body);
    future["protocol"]["major"] = 9;
    const http::Response response = world.post(future.dump(), kJson);
    check_refused(response, 400, "unsupported_version");
    CHECK(error_message(response).find('9') != std::string::npos);
  }
}

TEST_CASE("A sync body of another Content-Type is 415, one over the cap is 413",
          "[server][reconcile]") {
  SECTION("Content-Type") {
    ServerFixture server;
    BodyWorld world(server);
    const std::string body = encode_request(world.request, WireFormat::kBinary);
    check_refused(world.post(body, "text/plain"), 415, "unsupported_media_type");
    check_refused(world.post(body, ""), 415, "unsupported_media_type");
    check_refused(world.post(body, "application/octet-stream"), 415, "unsupported_media_type");
    // Parameters after the type do not matter.
    CHECK(world.post(body, kBinary + "; charset=binary").status == 200);
  }
  SECTION("size") {
    ServerOptions options;
    options.max_binary_body_bytes = 64;
    ServerFixture server(options);
    BodyWorld world(server);
    const std::string body = encode_request(world.request, WireFormat::kBinary);
    REQUIRE(body.size() > 64);
    check_refused(world.post(body, kBinary), 413, "too_large");
  }
}

namespace {

http::Response post_coded(BodyWorld& world, std::string body, const std::string& content_encoding,
                          const std::string& accept_encoding = {}) {
  http::Request request;
  request.method = "POST";
  request.path = "/v1/sync";
  request.body = std::move(body);
  request.remote_address = "127.0.0.1";
  request.headers = {{"Content-Type", kBinary}, {"Authorization", "Bearer " + world.phone.token}};
  if (!content_encoding.empty()) request.headers.emplace_back("Content-Encoding", content_encoding);
  if (!accept_encoding.empty()) request.headers.emplace_back("Accept-Encoding", accept_encoding);
  return world.server.dispatch(std::move(request));
}

std::string long_notes() {
  std::string notes;
  while (notes.size() < 4000) notes += "Ava showed me her room and talked about school. ";
  return notes;
}

}  // namespace

TEST_CASE("Sync bodies may travel in gzip both ways, a bomb is 413, another coding 415",
          "[server][reconcile][compression]") {
  ServerOptions options;
  options.max_binary_body_bytes = 1u << 20;
  ServerFixture server(options);
  BodyWorld world(server);
  const RecordId visit = Uuid::random_v4();
  const SyncRequest request = server.sync_request(
      world.phone,
      {server.write(world.phone, "visit", visit, world.case_a, valid_visit(long_notes()))});
  const std::string body = encode_request(request, WireFormat::kBinary);

  SECTION("a gzip request is inflated; every answer says gzip requests are taken") {
    const http::Response response = post_coded(world, gzip(body), "gzip");
    INFO(response.body);
    REQUIRE(response.status == 200);
    CHECK(response.header("Accept-Encoding") == "gzip");
    CHECK(decode_response(response.body, WireFormat::kBinary).acks.size() == 1);

    // Another device of the same worker pulls the long visit, in gzip because it asks for it.
    TestDevice tablet = server.enrol("amira");
    http::Request pull;
    pull.method = "POST";
    pull.path = "/v1/sync";
    pull.remote_address = "127.0.0.1";
    pull.body = encode_request(server.sync_request(tablet), WireFormat::kBinary);
    pull.headers = {{"Content-Type", kBinary},
                    {"Authorization", "Bearer " + tablet.token},
                    {"Accept-Encoding", "br, gzip"}};
    const http::Response pulled = server.dispatch(pull);
    REQUIRE(pulled.status == 200);
    REQUIRE(pulled.header("Content-Encoding") == "gzip");
    const SyncResponse answer =
        decode_response(gunzip(pulled.body, 1u << 20), WireFormat::kBinary);
    CHECK(fields_of(answer, visit).at("observations").value.as_text() == long_notes());

    // Without Accept-Encoding the same answer comes plain.
    pull.headers.pop_back();
    const http::Response plain = server.dispatch(pull);
    CHECK_FALSE(plain.header("Content-Encoding").has_value());
  }
  SECTION("refusals") {
    const std::uint64_t last_seq = world.last_seq();
    check_refused(post_coded(world, gzip(std::string(8u << 20, '\0')), "gzip"), 413, "too_large");
    check_refused(post_coded(world, "not gzip", "gzip"), 400, "malformed");
    check_refused(post_coded(world, body, "br"), 415, "unsupported_media_type");
    CHECK(world.last_seq() == last_seq);
    CHECK(post_coded(world, body, "identity").status == 200);
  }
}
