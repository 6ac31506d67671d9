// gzip for sync bodies: round trips, the decision not to compress, the cap on inflating
// (decompression bombs), corrupt input, and reading Accept-Encoding and Content-Encoding.
#include <catch2/catch.hpp>

#include <functional>
#include <random>

#include "fieldsync/content_coding.h"
#include "fieldsync/error.h"

using namespace fieldsync;

namespace {

std::string case_note_text(std::size_t bytes) {
  std::string text;
  while (text.size() < bytes) {
    text += "Jo showed me her room and talked about school; the kitchen was warm. ";
  }
  text.resize(bytes);
  return text;
}

std::string random_bytes(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(count, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xFF);
  return bytes;
}

bool throws_code(ErrorCode code, const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.is(code);
  }
  return false;
}

}  // namespace

TEST_CASE("gzip round-trips a body, and compresses text well", "[content_coding]") {
  const std::string body = case_note_text(200'000);
  const std::string compressed = gzip(body);
  CHECK(compressed.size() < body.size() / 10);
  CHECK(gunzip(compressed, body.size()) == body);
  CHECK(gunzip(gzip(""), 0).empty());
}

TEST_CASE("Only bodies that shrink by an eighth are compressed", "[content_coding]") {
  CHECK_FALSE(gzip_if_worthwhile(case_note_text(kMinCompressibleBytes - 1)).has_value());
  const auto text = gzip_if_worthwhile(case_note_text(300'000));
  REQUIRE(text.has_value());
  CHECK(gunzip(*text, 300'000) == case_note_text(300'000));
  CHECK_FALSE(gzip_if_worthwhile(random_bytes(300'000, 1)).has_value());  // judged by a sample
  CHECK_FALSE(gzip_if_worthwhile(random_bytes(20'000, 2)).has_value());   // judged whole
}

TEST_CASE("Inflating stops at the cap: a small bomb cannot fill memory", "[content_coding]") {
  const std::string bomb = gzip(std::string(50u << 20, '\0'));  // 50 MB of zeros
  REQUIRE(bomb.size() < (50u << 20) / 100);
  CHECK(throws_code(ErrorCode::kTooLarge, [&] { gunzip(bomb, 1u << 20); }));
  const std::string exact = gzip(std::string(1000, 'a'));
  CHECK(gunzip(exact, 1000).size() == 1000);  // exactly at the cap is allowed
  CHECK(throws_code(ErrorCode::kTooLarge, [&] { gunzip(exact, 999); }));
}

TEST_CASE("Corrupt, truncated or padded gzip is malformed", "[content_coding]") {
  const std::string good = gzip(case_note_text(5000));
  CHECK(throws_code(ErrorCode::kMalformed, [&] { gunzip("not gzip at all", 1000); }));
  CHECK(throws_code(ErrorCode::kMalformed, [&] { gunzip("", 1000); }));
  CHECK(throws_code(ErrorCode::kMalformed,
                    [&] { gunzip(std::string_view(good).substr(0, good.size() / 2), 10'000); }));
  CHECK(throws_code(ErrorCode::kMalformed, [&] { gunzip(good + "x", 10'000); }));
  std::string flipped = good;
  flipped[good.size() - 6] = static_cast<char>(flipped[good.size() - 6] ^ 0x01);  // the checksum
  CHECK(throws_code(ErrorCode::kMalformed, [&] { gunzip(flipped, 10'000); }));
}

TEST_CASE("Accept-Encoding and Content-Encoding are read as RFC 9110 says", "[content_coding]") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("deflate, GZIP;q=0.5"));
  CHECK(accepts_gzip("br, *"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip; q=0.000, br"));
  CHECK_FALSE(accepts_gzip("gzipped"));
  CHECK(is_gzip_coding(" Gzip "));
  CHECK(is_gzip_coding("x-gzip"));
  CHECK_FALSE(is_gzip_coding("br"));
  CHECK(is_identity_coding(""));
  CHECK(is_identity_coding("identity"));
  CHECK_FALSE(is_identity_coding("gzip"));
}
