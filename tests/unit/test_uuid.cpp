// Record ids: UUIDv7 generation, ordering and the two forms.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "fieldsync/error.h"
#include "fieldsync/uuid.h"

using namespace fieldsync;

TEST_CASE("UUIDv7 ids carry their time, version and variant", "[uuid]") {
  FakeClockSource clock(1'732'600'000'123);
  UuidV7Generator generator(clock);
  const Uuid id = generator.next();
  CHECK(id.version() == 7);
  CHECK((id.bytes()[8] & 0xC0) == 0x80);
  CHECK(id.unix_ms() == 1'732'600'000'123);
}

TEST_CASE("UUIDv7 ids sort by creation, even when the clock stands still or steps back",
          "[uuid]") {
  FakeClockSource clock;
  UuidV7Generator generator(clock);
  std::vector<Uuid> ids;
  for (int i = 0; i < 10'000; ++i) {
    if (i % 1000 == 999) clock.set_wall(clock.wall_ms() - 5000);  // the user fiddles with it
    if (i % 7 == 0) clock.advance(1);
    ids.push_back(generator.next());
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    INFO("id " << i);
    REQUIRE(ids[i - 1] < ids[i]);
  }
}

TEST_CASE("UUIDv7 generation is thread-safe and unique", "[uuid]") {
  FakeClockSource clock;
  UuidV7Generator generator(clock);
  std::vector<std::vector<Uuid>> made(4);
  std::vector<std::thread> threads;
  for (auto& out : made) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) out.push_back(generator.next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<Uuid> all;
  for (const auto& out : made) {
    all.insert(out.begin(), out.end());
    for (std::size_t i = 1; i < out.size(); ++i) REQUIRE(out[i - 1] < out[i]);
  }
  CHECK(all.size() == 20'000);
}

TEST_CASE("UUID text form round-trips and refuses garbage", "[uuid]") {
  const Uuid id = Uuid::random_v4();
  CHECK(id.version() == 4);
  const std::string text = id.to_string();
  CHECK(text.size() == 36);
  CHECK(Uuid::parse(text) == id);

  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(Uuid::parse(upper) == id);

  CHECK(Uuid::parse("0190f1a2-3b4c-7d5e-8f60-718293a4b5c6")->to_string() ==
        "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6");
  CHECK_FALSE(Uuid::parse(""));
  CHECK_FALSE(Uuid::parse("0190f1a2-3b4c-7d5e-8f60-718293a4b5c"));    // short
  CHECK_FALSE(Uuid::parse("0190f1a2x3b4c-7d5e-8f60-718293a4b5c6"));   // dash misplaced
  CHECK_FALSE(Uuid::parse("0190f1a2-3b4c-7d5e-8f60-718293a4b5cg"));   // not hex
  CHECK_THROWS_AS(Uuid::parse_or_throw("nope", "record id"), Error);
  CHECK(Uuid().is_nil());
}
