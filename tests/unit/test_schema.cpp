// Tests of the domain schema: good records of every collection pass; each rule refuses its bad
// case with a problem on the right field whose message names that field; submitted notes stay
// frozen; unknown fields and collections pass; wire indexes never move.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "fieldsync/error.h"
#include "fieldsync/schema.h"
#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

namespace fieldsync {
namespace {

using Catch::Matchers::Contains;

constexpr const char* kFamilyId = "0190f1a2-7b3c-7d4e-8f50-123456789abc";
constexpr const char* kHouseholdVisitId = "0190f1a2-7b3c-7d4e-8f50-23456789abcd";
constexpr const char* kAmendedNoteId = "0190f1a2-7b3c-7d4e-8f50-3456789abcde";

Value text(std::string value) {
  return Value::text(std::move(value));
}
Value yes() {
  return Value::boolean(true);
}
Value no() {
  return Value::boolean(false);
}

Value date(std::string_view yyyy_mm_dd) {
  const std::optional<Date> parsed = parse_date(yyyy_mm_dd);
  REQUIRE(parsed);
  return Value::date(*parsed);
}

Value timestamp(std::string_view rfc3339) {
  const std::optional<Timestamp> parsed = parse_timestamp(rfc3339);
  REQUIRE(parsed);
  return Value::timestamp(*parsed);
}

Record make_record(std::string collection, std::map<std::string, Value> fields) {
  Record record;
  record.collection = std::move(collection);
  record.id = Uuid::random_v4();
  record.case_id = Uuid::random_v4();
  record.fields = std::move(fields);
  return record;
}

Record open_case() {
  return make_record("case", {{"child_name", text("Amira Khan")},
                              {"date_of_birth", date("2016-05-04")},
                              {"gender", text("female")},
                              {"family_id", text(kFamilyId)},
                              {"referral_date", date("2024-01-10")},
                              {"referrer", text("School nurse")},
                              {"plan_type", text("child_in_need")},
                              {"status", text("open")}});
}

Record closed_case() {
  Record record = open_case();
  record.fields["status"] = text("closed");
  record.fields["closed_on"] = date("2024-09-30");
  record.fields["closure_summary"] = text("Plan carried out: school attendance now above 95%.");
  record.fields["referrer_informed_on"] = date("2024-10-02");
  return record;
}

Record visit_seen_alone() {
  return make_record("visit", {{"household_visit_id", text(kHouseholdVisitId)},
                               {"visit_type", text("statutory_child_protection")},
                               {"unannounced", no()},
                               {"location_type", text("home")},
                               {"planned_start", timestamp("2024-03-01T09:30:00Z")},
                               {"planned_end", timestamp("2024-03-01T10:30:00Z")},
                               {"actual_start", timestamp("2024-03-01T09:42:00Z")},
                               {"actual_end", timestamp("2024-03-01T10:35:00Z")},
                               {"people_present", text("Ms K (mother)\nAmira (child)")},
                               {"child_seen", yes()},
                               {"seen_alone", yes()},
                               {"observations", text("Home warm and tidy; food in the fridge.")},
                               {"childs_views", text("Amira said she likes her new school.")},
                               {"worker_analysis", text("Risks reducing; plan on track.")}});
}

Record visit_not_seen() {
  Record record = visit_seen_alone();
  record.fields.erase("seen_alone");
  record.fields["child_seen"] = no();
  record.fields["reason_not_seen"] = text("child_not_home");
  return record;
}

Record visit_seen_not_alone() {
  Record record = visit_seen_alone();
  record.fields["seen_alone"] = no();
  record.fields["reason_not_seen_alone"] = text("child_too_young");
  return record;
}

Record completed_assessment() {
  return make_record("assessment", {{"assessment_type", text("single")},
                                    {"started_on", date("2024-01-11")},
                                    {"due_on", date("2024-03-14")},
                                    {"due_rule", text("single-2013-45wd")},
                                    {"status", text("completed")},
                                    {"completed_on", date("2024-03-01")},
                                    {"outcome", text("Child in need plan")},
                                    {"outcome_reported_to_referrer_on", date("2024-03-04")},
                                    {"signed_off_by", text("Team manager")},
                                    {"signed_off_on", date("2024-03-02")}});
}

Record draft_note() {
  return make_record("note", {{"status", text("draft")},
                              {"content", text("Spoke to the class teacher about attendance.")},
                              {"note_type", text("case_note")},
                              {"event_time", timestamp("2024-03-01T14:00:00Z")}});
}

Record submitted_note() {
  Record record = draft_note();
  record.fields["status"] = text("submitted");
  record.fields["submitted_at"] = timestamp("2024-03-01T15:10:00Z");
  return record;
}

Record amending_note() {
  Record record = submitted_note();
  record.fields["amends"] = text(kAmendedNoteId);
  record.fields["amendment_reason"] = text("The date of the meeting was wrong.");
  return record;
}

std::string all_messages(const std::vector<ValidationProblem>& problems) {
  std::string joined;
  for (const ValidationProblem& problem : problems) joined += problem.message + "\n";
  return joined;
}

// The record's only problem is on `field`, with `code`, and its message names the field.
void require_only_problem(const std::vector<ValidationProblem>& problems, const Record& record,
                          const std::string& field, ErrorCode code = ErrorCode::kValidation) {
  INFO(all_messages(problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems.front().field == field);
  CHECK(problems.front().code == code);
  CHECK_THAT(problems.front().message, Contains(record.collection + "." + field + ":"));
}

void require_refused(const Record& record, const std::string& field) {
  require_only_problem(Schema::domain().validate(record), record, field);
}

void require_valid(const Record& record) {
  const std::vector<ValidationProblem> problems = Schema::domain().validate(record);
  INFO(all_messages(problems));
  CHECK(problems.empty());
}

TEST_CASE("good records of every collection pass", "[schema]") {
  SECTION("case") {
    require_valid(open_case());
    require_valid(closed_case());
  }
  SECTION("visit") {
    require_valid(visit_seen_alone());
    require_valid(visit_not_seen());
    require_valid(visit_seen_not_alone());
  }
  SECTION("assessment") {
    require_valid(completed_assessment());
    Record in_progress = completed_assessment();
    in_progress.fields = {{"assessment_type", text("initial")},
                          {"started_on", date("2024-01-11")},
                          {"status", text("in_progress")}};
    require_valid(in_progress);
  }
  SECTION("note") {
    require_valid(draft_note());
    require_valid(submitted_note());
    require_valid(amending_note());
    Record empty_draft = draft_note();
    empty_draft.fields = {{"status", text("draft")}};
    require_valid(empty_draft);
  }
}

TEST_CASE("a visit answers seen and seen alone without contradiction", "[schema]") {
  SECTION("seen alone cannot be true when the child was not seen") {
    Record record = visit_not_seen();
    record.fields["seen_alone"] = yes();
    require_refused(record, "seen_alone");
    CHECK_THAT(all_messages(Schema::domain().validate(record)),
               Contains("visit.seen_alone: cannot be true when child_seen is false"));
  }
  SECTION("a child not seen needs a reason") {
    Record record = visit_not_seen();
    record.fields.erase("reason_not_seen");
    require_refused(record, "reason_not_seen");
  }
  SECTION("a reason not seen cannot stand beside a child seen") {
    Record record = visit_seen_alone();
    record.fields["reason_not_seen"] = text("refused_access");
    require_refused(record, "reason_not_seen");
  }
  SECTION("a child seen must be answered for seen alone") {
    Record record = visit_seen_alone();
    record.fields.erase("seen_alone");
    require_refused(record, "seen_alone");
  }
  SECTION("a child seen but not alone needs a reason") {
    Record record = visit_seen_not_alone();
    record.fields.erase("reason_not_seen_alone");
    require_refused(record, "reason_not_seen_alone");
  }
  SECTION("a reason not seen alone cannot stand beside seen alone") {
    Record record = visit_seen_alone();
    record.fields["reason_not_seen_alone"] = text("child_declined");
    require_refused(record, "reason_not_seen_alone");
  }
  SECTION("a visit cannot end before it starts") {
    Record record = visit_seen_alone();
    record.fields["actual_end"] = timestamp("2024-03-01T09:00:00Z");
    require_refused(record, "actual_end");
    record = visit_seen_alone();
    record.fields["planned_end"] = timestamp("2024-03-01T09:00:00Z");
    require_refused(record, "planned_end");
  }
  SECTION("a household visit id is a canonical uuid") {
    Record record = visit_seen_alone();
    record.fields["household_visit_id"] = text("not-a-uuid");
    require_refused(record, "household_visit_id");
  }
}

TEST_CASE("case rules", "[schema]") {
  SECTION("a closed case needs its closing date and summary") {
    for (const char* field : {"closed_on", "closure_summary"}) {
      Record record = closed_case();
      record.fields.erase(field);
      require_refused(record, field);
    }
  }
  SECTION("a blank closure summary does not count") {
    Record record = closed_case();
    record.fields["closure_summary"] = text(" \n\t");
    require_refused(record, "closure_summary");
  }
  SECTION("a case cannot close before its referral") {
    Record record = closed_case();
    record.fields["closed_on"] = date("2023-12-31");
    require_refused(record, "closed_on");
  }
  SECTION("a family id is a non-nil lower-case uuid") {
    for (const char* bad : {"0190F1A2-7B3C-7D4E-8F50-123456789ABC",
                            "00000000-0000-0000-0000-000000000000", "family 7", ""}) {
      Record record = open_case();
      record.fields["family_id"] = text(bad);
      require_refused(record, "family_id");
    }
  }
}

TEST_CASE("assessment rules", "[schema]") {
  SECTION("a completed assessment needs its completion date and outcome") {
    for (const char* field : {"completed_on", "outcome"}) {
      Record record = completed_assessment();
      record.fields.erase(field);
      require_refused(record, field);
    }
  }
  SECTION("an assessment cannot complete before it starts") {
    Record record = completed_assessment();
    record.fields["completed_on"] = date("2024-01-10");
    require_refused(record, "completed_on");
  }
  SECTION("a due date states the rule behind it") {
    Record record = completed_assessment();
    record.fields.erase("due_rule");
    require_refused(record, "due_rule");
  }
  SECTION("a sign-off names both who and when") {
    Record record = completed_assessment();
    record.fields.erase("signed_off_by");
    require_refused(record, "signed_off_by");
    record = completed_assessment();
    record.fields.erase("signed_off_on");
    require_refused(record, "signed_off_on");
  }
}

TEST_CASE("note rules", "[schema]") {
  SECTION("a submitted note has content and a submission time") {
    for (const char* field : {"content", "submitted_at"}) {
      Record record = submitted_note();
      record.fields.erase(field);
      require_refused(record, field);
    }
    Record blank = submitted_note();
    blank.fields["content"] = text("   ");
    require_refused(blank, "content");
  }
  SECTION("an amendment names the note it amends and why") {
    Record without_reason = amending_note();
    without_reason.fields.erase("amendment_reason");
    require_refused(without_reason, "amendment_reason");
    Record without_target = amending_note();
    without_target.fields.erase("amends");
    require_refused(without_target, "amends");
    Record bad_target = amending_note();
    bad_target.fields["amends"] = text("the note from Tuesday");
    require_refused(bad_target, "amends");
  }
}

TEST_CASE("a submitted note is frozen", "[schema]") {
  const Schema& schema = Schema::domain();
  const Record before = submitted_note();

  SECTION("its content cannot change, nor be unset") {
    Record after = before;
    after.fields["content"] = text("Spoke to the head teacher about attendance.");
    require_only_problem(schema.validate_edit(before, after), after, "content", ErrorCode::kFrozen);
    after.fields["content"] = Value::null();
    const auto problems = schema.validate_edit(before, after);
    REQUIRE_FALSE(problems.empty());
    CHECK(problems.front().field == "content");
    CHECK(problems.front().code == ErrorCode::kFrozen);
  }
  SECTION("every frozen field is held") {
    for (const char* field : {"note_type", "event_time", "submitted_at"}) {
      Record after = before;
      after.fields.erase(field);
      const auto problems = schema.validate_edit(before, after);
      INFO(all_messages(problems));
      REQUIRE_FALSE(problems.empty());
      CHECK(problems.front().field == field);
      CHECK(problems.front().code == ErrorCode::kFrozen);
      CHECK_THAT(problems.front().message, Contains(std::string("note.") + field));
    }
  }
  SECTION("it cannot go back to draft") {
    Record after = before;
    after.fields["status"] = text("draft");
    require_only_problem(schema.validate_edit(before, after), after, "status", ErrorCode::kFrozen);
  }
  SECTION("it can still be marked recorded in error") {
    Record after = before;
    after.fields["recorded_in_error"] = yes();
    after.fields["recorded_in_error_reason"] = text("Filed on the sibling's case.");
    CHECK(schema.validate_edit(before, after).empty());
  }
  SECTION("a draft changes freely and can be submitted") {
    Record edited = draft_note();
    edited.fields["content"] = text("Rewritten before submission.");
    CHECK(schema.validate_edit(draft_note(), edited).empty());
    CHECK(schema.validate_edit(draft_note(), submitted_note()).empty());
  }
  SECTION("check_edit throws the code of the first problem") {
    Record frozen = before;
    frozen.fields["content"] = text("changed");
    try {
      schema.check_edit(before, frozen);
      FAIL("check_edit accepted an edit of a frozen field");
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kFrozen));
      CHECK_THAT(std::string(error.what()), Contains("note.content"));
    }
    Record invalid = draft_note();
    invalid.fields["note_type"] = text("gossip");
    try {
      schema.check_edit(draft_note(), invalid);
      FAIL("check_edit accepted an invalid record");
    } catch (const Error& error) {
      CHECK(error.is(ErrorCode::kValidation));
      CHECK_THAT(std::string(error.what()), Contains("note.note_type"));
    }
    CHECK_NOTHROW(schema.check_edit(before, before));
  }
}

TEST_CASE("every field is checked against its spec", "[schema]") {
  SECTION("a known field of the wrong type is refused") {
    Record record = visit_seen_alone();
    record.fields["child_seen"] = text("yes");
    require_refused(record, "child_seen");
    CHECK_THAT(all_messages(Schema::domain().validate(record)), Contains("must be bool, not text"));
    Record bad_date = open_case();
    bad_date.fields["date_of_birth"] = text("2016-02-30");
    require_refused(bad_date, "date_of_birth");
  }
  SECTION("a required field must be set, and null counts as not set") {
    Record missing = open_case();
    missing.fields.erase("child_name");
    require_refused(missing, "child_name");
    Record null_value = open_case();
    null_value.fields["child_name"] = Value::null();
    require_refused(null_value, "child_name");
    Record blank = open_case();
    blank.fields["child_name"] = text("");
    require_refused(blank, "child_name");
    Record null_optional = open_case();
    null_optional.fields["date_of_birth"] = Value::null();
    require_valid(null_optional);
  }
  SECTION("a coded field takes only its codes, and the message does not echo the value") {
    Record record = visit_seen_alone();
    record.fields["visit_type"] = text("Visited about the Khan allegation");
    require_refused(record, "visit_type");
    CHECK_THAT(all_messages(Schema::domain().validate(record)),
               !Contains("Khan") && Contains("statutory_child_protection"));
  }
  SECTION("text must be valid UTF-8") {
    Record record = visit_seen_alone();
    record.fields["observations"] = text(std::string("caf\xC3", 4));
    require_refused(record, "observations");
  }
  SECTION("text is capped") {
    Record record = draft_note();
    record.fields["content"] = text(std::string(256 * 1024, 'a'));
    require_valid(record);
    record.fields["content"] = text(std::string(256 * 1024 + 1, 'a'));
    require_refused(record, "content");
  }
  SECTION("dates fall in the years 1900 to 2200") {
    Record record = open_case();
    for (const char* good : {"1900-01-01", "2200-12-31"}) {
      record.fields["date_of_birth"] = date(good);
      require_valid(record);
    }
    for (const char* bad : {"1899-12-31", "2201-01-01", "0224-05-04"}) {
      record.fields["date_of_birth"] = date(bad);
      require_refused(record, "date_of_birth");
    }
    record.fields["date_of_birth"] = Value::date(Date{std::numeric_limits<std::int32_t>::max()});
    require_refused(record, "date_of_birth");
  }
  SECTION("timestamps fall in the years 1900 to 2200") {
    Record record = draft_note();
    for (const char* good : {"1900-01-01T00:00:00Z", "2200-12-31T23:59:59.999Z"}) {
      record.fields["event_time"] = timestamp(good);
      require_valid(record);
    }
    for (const char* bad : {"1899-12-31T23:59:59.999Z", "2201-01-01T00:00:00Z"}) {
      record.fields["event_time"] = timestamp(bad);
      require_refused(record, "event_time");
    }
    record.fields["event_time"] =
        Value::timestamp(Timestamp{std::numeric_limits<std::int64_t>::min()});
    require_refused(record, "event_time");
  }
}

TEST_CASE("a record marked recorded in error gives a reason", "[schema]") {
  for (const Record& good :
       {closed_case(), visit_seen_alone(), completed_assessment(), submitted_note()}) {
    DYNAMIC_SECTION(good.collection) {
      Record record = good;
      record.fields["recorded_in_error"] = yes();
      require_refused(record, "recorded_in_error_reason");
      record.fields["recorded_in_error_reason"] = text(" ");
      require_refused(record, "recorded_in_error_reason");
      record.fields["recorded_in_error_reason"] = text("Filed on the wrong child's case.");
      require_valid(record);
    }
  }
}

TEST_CASE("unknown fields and collections pass", "[schema]") {
  const Schema& schema = Schema::domain();
  SECTION("an unknown field of any type is kept and not refused") {
    Record record = visit_seen_alone();
    record.fields["pets_present"] = Value::integer(2);
    record.fields["interpreter_used"] = Value::bytes({0xff, 0x00});
    require_valid(record);
    CHECK(record.get("pets_present") != nullptr);
    CHECK(schema.validate_edit(visit_seen_alone(), record).empty());
  }
  SECTION("an unknown collection passes, whatever its fields") {
    Record record = make_record(
        "placement", {{"status", text("submitted")}, {"child_seen", text("not a bool")}});
    CHECK(schema.validate(record).empty());
    Record after = record;
    after.fields["status"] = text("draft");
    CHECK(schema.validate_edit(record, after).empty());
    CHECK_FALSE(schema.collection_index("placement"));
  }
}

TEST_CASE("wire indexes never move", "[schema]") {
  const Schema& schema = Schema::domain();
  // Positions are written to the wire and to stores: a reorder or removal must fail here.
  // Appending a field is allowed (these lists are prefixes of the schema's).
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"case",
       {"child_name", "date_of_birth", "gender", "family_id", "referral_date", "referrer",
        "plan_type", "status", "closed_on", "closure_summary", "referrer_informed_on",
        "recorded_in_error", "recorded_in_error_reason"}},
      {"visit",
       {"household_visit_id", "visit_type", "unannounced", "location_type", "planned_start",
        "planned_end", "actual_start", "actual_end", "people_present", "child_seen", "seen_alone",
        "reason_not_seen", "reason_not_seen_alone", "observations", "childs_views",
        "worker_analysis", "recorded_in_error", "recorded_in_error_reason"}},
      {"assessment",
       {"assessment_type", "started_on", "due_on", "due_rule", "status", "completed_on", "outcome",
        "outcome_reported_to_referrer_on", "signed_off_by", "signed_off_on", "recorded_in_error",
        "recorded_in_error_reason"}},
      {"note",
       {"status", "content", "note_type", "subject_record_id", "event_time", "submitted_at",
        "amends", "amendment_reason", "recorded_in_error", "recorded_in_error_reason"}},
  };
  REQUIRE(schema.collections().size() >= expected.size());
  for (std::size_t c = 0; c < expected.size(); ++c) {
    const auto& [collection_name, field_names] = expected[c];
    CHECK(schema.collection_index(collection_name) == c);
    const CollectionSpec& spec = schema.collections()[c];
    REQUIRE(spec.fields.size() >= field_names.size());
    for (std::size_t f = 0; f < field_names.size(); ++f) {
      INFO(collection_name << " field " << f);
      CHECK(spec.fields[f].name == field_names[f]);
      CHECK(spec.field_index(field_names[f]) == f);
    }
  }
  SECTION("a few positions spelled out") {
    CHECK(schema.collection_index("case") == 0u);
    CHECK(schema.collection_index("note") == 3u);
    CHECK(schema.collection("visit")->field_index("child_seen") == 9u);
    CHECK(schema.collection("visit")->field_index("seen_alone") == 10u);
    CHECK(schema.collection("note")->field_index("content") == 1u);
    CHECK(schema.collection("case")->field_index("status") == 7u);
    CHECK_FALSE(schema.collection("case")->field_index("no_such_field"));
  }
  SECTION("types and freezing never change") {
    CHECK(schema.collection("visit")->field("child_seen")->type == ValueType::kBool);
    CHECK(schema.collection("visit")->field("actual_start")->type == ValueType::kTimestamp);
    CHECK(schema.collection("case")->field("date_of_birth")->type == ValueType::kDate);
    CHECK(schema.collection("note")->field("content")->frozen_on_submit);
    CHECK_FALSE(schema.collection("note")->field("recorded_in_error")->frozen_on_submit);
  }
}

TEST_CASE("a schema with a repeated name is refused", "[schema]") {
  FieldSpec field;
  field.name = "status";
  CHECK_THROWS_AS(Schema({CollectionSpec{"x", {field, field}}}), Error);
  CHECK_THROWS_AS(Schema({CollectionSpec{"x", {field}}, CollectionSpec{"x", {}}}), Error);
  FieldSpec coded_bool = field;
  coded_bool.type = ValueType::kBool;
  coded_bool.codes = {"yes"};
  CHECK_THROWS_AS(Schema({CollectionSpec{"x", {coded_bool}}}), Error);
}

}  // namespace
}  // namespace fieldsync
