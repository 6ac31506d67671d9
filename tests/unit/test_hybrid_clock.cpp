// HybridClock: monotonic stamps, counter carry, server anchoring, re-stamping an outbox.
#include <catch2/catch.hpp>

#include "fieldsync/error.h"
#include "fieldsync/hybrid_clock.h"
#include "fieldsync/restamp.h"

using namespace fieldsync;

TEST_CASE("HLC stamps never go backwards when the wall clock jumps back", "[hlc]") {
  FakeClockSource source(1'700'000'000'000);
  HybridClock clock(source);
  Hlc previous = clock.now();
  CHECK(previous.ms() == 1'700'000'000'000u);
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 == 50) source.set_wall(source.wall_ms() - 3'600'000);  // an hour back
    if (i % 3 == 0) source.advance(1);
    const Hlc next = clock.now();
    REQUIRE(next > previous);
    previous = next;
  }
}

TEST_CASE("HLC counter carries into the milliseconds when full", "[hlc]") {
  FakeClockSource source(1000);
  HybridClock clock(source, Hlc(1000, Hlc::kMaxCounter - 1));
  CHECK(clock.now() == Hlc(1000, Hlc::kMaxCounter));
  const Hlc carried = clock.now();
  CHECK(carried == Hlc(1001, 0));
  CHECK(Hlc(5, 0xFFFF).successor() == Hlc(6, 0));
}

TEST_CASE("HLC observe makes later stamps greater than the remote one", "[hlc]") {
  FakeClockSource source(1000);
  HybridClock clock(source);
  clock.observe(Hlc(50'000, 7));
  CHECK(clock.now() == Hlc(50'000, 8));
  clock.observe(Hlc(10, 0));  // an older stamp lowers nothing
  CHECK(clock.now() == Hlc(50'000, 9));
}

TEST_CASE("HLC physical time follows the server, not a wrong device clock", "[hlc]") {
  FakeClockSource source(/*wall=*/5'000'000'000'000, /*monotonic=*/100);  // the device is years ahead
  HybridClock clock(source);
  CHECK_FALSE(clock.has_server_anchor());
  CHECK(clock.physical_ms() == 5'000'000'000'000);

  clock.anchor_to_server(1'700'000'000'000);
  source.advance(2500);
  CHECK(clock.physical_ms() == 1'700'000'002'500);
  source.set_wall(0);  // the wall clock no longer matters
  CHECK(clock.physical_ms() == 1'700'000'002'500);

  SECTION("after a reboot the device clock is used, never below the highest stamp") {
    clock.rewind_to(Hlc(1'700'000'002'500, 0));
    source.reboot(5);
    source.set_wall(1'600'000'000'000);  // and the device clock is now behind
    CHECK(clock.physical_ms() == 1'600'000'000'000);
    CHECK(clock.now() == Hlc(1'700'000'002'500, 1));
  }
}

TEST_CASE("The server refuses stamps too far ahead of its time", "[hlc]") {
  const std::int64_t server = 1'700'000'000'000;
  CHECK_FALSE(is_too_far_ahead(Hlc(server + 300'000, 0), server, 300'000));
  CHECK(is_too_far_ahead(Hlc(server + 300'001, 0), server, 300'000));
  CHECK_FALSE(is_too_far_ahead(Hlc(server - 10'000'000, 0), server, 300'000));
}

TEST_CASE("Re-stamping an outbox keeps its order and rewrites bases", "[hlc][restamp]") {
  const OriginId device = Uuid::random_v4();
  const OriginId other = Uuid::random_v4();
  FakeClockSource source(/*wall=*/1'700'003'600'000);  // an hour ahead of the server
  HybridClock clock(source);

  const Version from_server{Hlc(1'699'999'000'000, 3), other};
  clock.observe(from_server.hlc);
  auto make = [&](std::string field, VersionSet base) {
    Change change;
    change.field = std::move(field);
    change.version = {clock.now(), device};
    change.base = std::move(base);
    return change;
  };
  std::vector<Change> outbox;
  outbox.push_back(make("observations", {from_server}));          // edits the server's value
  outbox.push_back(make("child_seen", {}));
  outbox.push_back(make("observations", {outbox[0].version}));  // edits its own earlier edit
  const std::vector<Change> before = outbox;

  // The server refused: it is really 1'700'000'000'000.
  clock.anchor_to_server(1'700'000'000'000);
  clock.rewind_to(from_server.hlc);
  const auto mapping = restamp_outbox(outbox, clock, device);

  REQUIRE(mapping.size() == 3);
  for (std::size_t i = 0; i < outbox.size(); ++i) {
    CHECK(mapping[i].from == before[i].version);
    CHECK(mapping[i].to == outbox[i].version);
    CHECK(outbox[i].version.hlc.ms() >= 1'700'000'000'000u);
    CHECK(outbox[i].version.hlc.ms() < 1'700'000'001'000u);  // no longer an hour ahead
    CHECK(outbox[i].version.hlc > from_server.hlc);
    if (i > 0) CHECK(outbox[i - 1].version < outbox[i].version);
  }
  CHECK(outbox[0].base == VersionSet{from_server});  // the server's version is kept as is
  CHECK(outbox[1].base.empty());
  CHECK(outbox[2].base == VersionSet{outbox[0].version});  // the chain now names the new stamp

  Change foreign;
  foreign.version = {clock.now(), other};
  std::vector<Change> wrong{foreign};
  CHECK_THROWS_AS(restamp_outbox(wrong, clock, device), Error);
}
