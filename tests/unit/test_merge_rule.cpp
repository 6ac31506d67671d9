// The merge rule on hand-made histories: winners, lost versions, resolution, duplicates.
#include <catch2/catch.hpp>

#include "fieldsync/merge_rule.h"

using namespace fieldsync;

namespace {

const OriginId kAlice = *Uuid::parse("00000000-0000-4000-8000-00000000000a");
const OriginId kBob = *Uuid::parse("00000000-0000-4000-8000-00000000000b");

Change edit(std::uint64_t ms, const OriginId& origin, std::string value, VersionSet base = {}) {
  Change change;
  change.collection = "visit";
  change.field = "observations";
  change.value = Value::text(std::move(value));
  change.version = {Hlc(ms, 0), origin};
  change.base = std::move(base);
  change.author = origin == kAlice ? "alice" : "bob";
  return change;
}

std::vector<Version> versions_of(const std::vector<const Change*>& changes) {
  std::vector<Version> out;
  for (const Change* change : changes) out.push_back(change->version);
  return out;
}

}  // namespace

TEST_CASE("The greatest version wins, origin breaks a tie of stamps", "[merge]") {
  const std::vector<Change> history = {edit(10, kAlice, "a"), edit(12, kBob, "b"),
                                       edit(12, kAlice, "c")};
  CHECK(merge_winner(history)->value == Value::text("b"));  // same hlc: kBob > kAlice
  CHECK(merge_winner(std::span<const Change>{}) == nullptr);
}

TEST_CASE("An overwritten value that nobody saw is lost, one that was seen is not", "[merge]") {
  const Change first = edit(10, kAlice, "child seen in kitchen");
  const Change seen_and_edited = edit(20, kBob, "child seen in garden", {first.version});
  const Change blind = edit(15, kAlice, "mother present");  // made offline, never seen by Bob

  SECTION("an edit chain loses nothing") {
    const std::vector<Change> history = {first, seen_and_edited};
    CHECK(lost_changes(history).empty());
  }
  SECTION("a concurrent edit loses the older value, with both sides in the entry") {
    const std::vector<Change> history = {first, seen_and_edited, blind};
    CHECK(versions_of(lost_changes(history)) == std::vector<Version>{blind.version});
    const auto conflicts = field_conflicts(history);
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].lost->value == Value::text("mother present"));
    CHECK(conflicts[0].lost->author == "alice");
    CHECK(conflicts[0].winner->value == Value::text("child seen in garden"));
    CHECK(conflicts[0].winner->author == "bob");
  }
  SECTION("a resolution names both versions and clears the conflict") {
    const Change resolution =
        edit(30, kAlice, "mother present; child seen in garden",
             {seen_and_edited.version, blind.version});
    const std::vector<Change> history = {first, seen_and_edited, blind, resolution};
    CHECK(lost_changes(history).empty());
    CHECK(merge_winner(history)->version == resolution.version);
  }
}

TEST_CASE("FieldMerge reports what each change did", "[merge]") {
  const Change first = edit(10, kAlice, "x");
  const Change blind = edit(20, kBob, "y");
  const Change resolution = edit(30, kAlice, "z", {first.version, blind.version});

  FieldMerge merge;
  auto applied = merge.apply(blind);
  CHECK(applied.was_new);
  CHECK(applied.became_winner);

  applied = merge.apply(first);  // older and unseen: lost at once
  CHECK_FALSE(applied.became_winner);
  CHECK(applied.newly_lost == std::vector<Version>{first.version});
  CHECK(merge.is_lost(first.version));

  applied = merge.apply(first);  // a duplicate changes nothing
  CHECK_FALSE(applied.was_new);
  CHECK(merge.size() == 2);

  applied = merge.apply(resolution);
  CHECK(applied.became_winner);
  CHECK(applied.newly_resolved == std::vector<Version>{first.version});
  CHECK(merge.lost().empty());
  CHECK(merge.winner()->value == Value::text("z"));
}

TEST_CASE("A change arriving before the change its base names still counts as seeing it",
          "[merge]") {
  const Change first = edit(10, kAlice, "x");
  const Change second = edit(20, kBob, "y", {first.version});
  FieldMerge merge;
  merge.apply(second);
  const auto applied = merge.apply(first);
  CHECK(applied.newly_lost.empty());
  CHECK(merge.lost().empty());
}

TEST_CASE("Two contents under one version converge on the greater content", "[merge]") {
  Change one = edit(10, kAlice, "a");
  Change two = one;
  two.value = Value::text("b");
  FieldMerge forward, backward;
  forward.apply(one);
  forward.apply(two);
  backward.apply(two);
  backward.apply(one);
  CHECK(forward.winner()->value == Value::text("b"));
  CHECK(backward.winner()->value == Value::text("b"));
  const std::vector<Change> history = {one, two};
  CHECK(merge_winner(history)->value == Value::text("b"));
}
