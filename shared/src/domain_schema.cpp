// The built-in domain schema (DESIGN.md section 2, DOMAIN.md): the collections case, visit,
// assessment and note, their fields, and the rules a merged record of each must satisfy.
//
// !!! WIRE INDEXES: a collection's position in Schema::domain(), and a field's position in its
// !!! collection, are written to the wire and to stores that are kept for decades. Append only.
// !!! Never reorder, remove, rename or retype an entry; retire a field by ceasing to write it.
#include <string>
#include <utility>
#include <vector>

#include "fieldsync/schema.h"
#include "record_rules.h"

namespace fieldsync {
namespace {

using record_rules::canonical_uuid;
using record_rules::equals;
using record_rules::forbidden_when;
using record_rules::is_set;
using record_rules::not_before;
using record_rules::required_when;

// Short answers (names, reasons, rule ids) and narrative text (observations, notes, summaries).
// The narrative cap leaves room for a long note while keeping every value far below the wire's
// own per-value limit.
constexpr std::size_t kShortTextCap = 4 * 1024;
constexpr std::size_t kNarrativeCap = 256 * 1024;

FieldSpec typed(std::string name, ValueType type) {
  FieldSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  return spec;
}

FieldSpec text(std::string name, std::size_t cap) {
  FieldSpec spec = typed(std::move(name), ValueType::kText);
  spec.max_length = cap;
  return spec;
}

FieldSpec coded(std::string name, std::vector<std::string> codes) {
  FieldSpec spec = typed(std::move(name), ValueType::kText);
  spec.codes = std::move(codes);
  return spec;
}

// Holds the text form of another record's or group's id; its form is checked by canonical_uuid.
FieldSpec uuid_text(std::string name) {
  return typed(std::move(name), ValueType::kText);
}

FieldSpec required(FieldSpec spec) {
  spec.required = true;
  return spec;
}

FieldSpec frozen(FieldSpec spec) {
  spec.frozen_on_submit = true;
  return spec;
}

// Every collection has these two: a record filed on the wrong child's case is never deleted, only
// marked (DOMAIN.md, record-keeping rules). They are never frozen, so that a submitted note can
// still be marked.
FieldSpec recorded_in_error() {
  return typed("recorded_in_error", ValueType::kBool);
}
FieldSpec recorded_in_error_reason() {
  return text("recorded_in_error_reason", kShortTextCap);
}
RecordRule recorded_in_error_needs_reason() {
  return required_when("recorded_in_error_reason",
                       {equals("recorded_in_error", Value::boolean(true))});
}

Value code(std::string value) {
  return Value::text(std::move(value));
}

CollectionSpec case_collection() {
  CollectionSpec spec;
  spec.name = "case";
  spec.fields = {
      required(text("child_name", kShortTextCap)),                        // 0
      typed("date_of_birth", ValueType::kDate),                           // 1
      coded("gender", {"female", "male", "not_known", "indeterminate"}),  // 2
      uuid_text("family_id"),                    // 3: links the cases of siblings
      typed("referral_date", ValueType::kDate),  // 4
      text("referrer", kShortTextCap),           // 5
      coded("plan_type", {"none", "child_in_need", "child_protection", "looked_after"}),  // 6
      required(coded("status", {"open", "closed"})),                                      // 7
      typed("closed_on", ValueType::kDate),                                               // 8
      text("closure_summary", kNarrativeCap),                                             // 9
      typed("referrer_informed_on", ValueType::kDate),                                    // 10
      recorded_in_error(),                                                                // 11
      recorded_in_error_reason(),                                                         // 12
  };
  // A date of birth after the referral is normal (pre-birth referrals), so it has no rule.
  spec.rules = {
      canonical_uuid("family_id"),
      required_when("closed_on", {equals("status", code("closed"))}),
      // Ofsted: closure summaries must show that the plans were carried out.
      required_when("closure_summary", {equals("status", code("closed"))}),
      not_before("closed_on", "referral_date"),
      not_before("referrer_informed_on", "referral_date"),
      recorded_in_error_needs_reason(),
  };
  return spec;
}

CollectionSpec visit_collection() {
  CollectionSpec spec;
  spec.name = "visit";
  spec.fields = {
      uuid_text("household_visit_id"),  // 0: shared by the visits of one household's children
      required(coded("visit_type", {"statutory_child_protection", "statutory_child_in_need",
                                    "statutory_looked_after", "assessment", "other"})),  // 1
      // Not a visit type: an unannounced statutory visit still counts as statutory.
      typed("unannounced", ValueType::kBool),                                      // 2
      coded("location_type", {"home", "school", "placement", "office", "other"}),  // 3
      typed("planned_start", ValueType::kTimestamp),                               // 4
      typed("planned_end", ValueType::kTimestamp),                                 // 5
      required(typed("actual_start", ValueType::kTimestamp)),  // 6: the event time of the visit
      typed("actual_end", ValueType::kTimestamp),              // 7
      text("people_present", kNarrativeCap),                   // 8: one "name (role)" per line
      required(typed("child_seen", ValueType::kBool)),         // 9
      typed("seen_alone", ValueType::kBool),                   // 10: seen or spoken to alone
      coded("reason_not_seen", {"child_not_home", "no_answer", "refused_access",
                                "child_asleep_or_unwell", "other"}),  // 11
      coded("reason_not_seen_alone", {"child_too_young", "child_declined", "parent_refused",
                                      "no_private_space", "other"}),  // 12
      text("observations", kNarrativeCap),                            // 13
      text("childs_views", kNarrativeCap),                            // 14
      text("worker_analysis", kNarrativeCap),                         // 15
      recorded_in_error(),                                            // 16
      recorded_in_error_reason(),                                     // 17
  };
  // "Seen" and "seen alone" are counted for managers and inspectors, so each visit must answer
  // both questions without contradiction, with a coded reason for every "no".
  const auto seen = equals("child_seen", Value::boolean(true));
  const auto not_seen = equals("child_seen", Value::boolean(false));
  const auto seen_alone = equals("seen_alone", Value::boolean(true));
  const auto not_seen_alone = equals("seen_alone", Value::boolean(false));
  spec.rules = {
      canonical_uuid("household_visit_id"),
      forbidden_when(seen_alone, {not_seen}),
      required_when("reason_not_seen", {not_seen}),
      forbidden_when(is_set("reason_not_seen"), {seen}),
      required_when("seen_alone", {seen}),
      required_when("reason_not_seen_alone", {seen, not_seen_alone}),
      forbidden_when(is_set("reason_not_seen_alone"), {seen_alone}),
      not_before("planned_end", "planned_start"),
      not_before("actual_end", "actual_start"),
      recorded_in_error_needs_reason(),
  };
  return spec;
}

CollectionSpec assessment_collection() {
  CollectionSpec spec;
  spec.name = "assessment";
  spec.fields = {
      required(coded("assessment_type", {"initial", "core", "single"})),  // 0
      required(typed("started_on", ValueType::kDate)),                    // 1
      typed("due_on", ValueType::kDate),                                  // 2
      text("due_rule", kShortTextCap),  // 3: the rule version behind due_on, e.g. single-2013-45wd
      required(coded("status", {"in_progress", "completed"})),     // 4
      typed("completed_on", ValueType::kDate),                     // 5
      text("outcome", kNarrativeCap),                              // 6
      typed("outcome_reported_to_referrer_on", ValueType::kDate),  // 7
      text("signed_off_by", kShortTextCap),                        // 8
      typed("signed_off_on", ValueType::kDate),                    // 9
      recorded_in_error(),                                         // 10
      recorded_in_error_reason(),                                  // 11
  };
  spec.rules = {
      required_when("completed_on", {equals("status", code("completed"))}),
      required_when("outcome", {equals("status", code("completed"))}),
      not_before("completed_on", "started_on"),
      // DOMAIN.md: store the rule version behind every computed due date.
      required_when("due_rule", {is_set("due_on")}),
      required_when("signed_off_by", {is_set("signed_off_on")}),
      required_when("signed_off_on", {is_set("signed_off_by")}),
      not_before("signed_off_on", "completed_on"),
      not_before("outcome_reported_to_referrer_on", "started_on"),
      recorded_in_error_needs_reason(),
  };
  return spec;
}

CollectionSpec note_collection() {
  CollectionSpec spec;
  spec.name = "note";
  // Notes are contemporaneous and append-only: everything a submitted note says is frozen; a
  // correction is a new note that amends it.
  spec.fields = {
      required(coded("status", {"draft", "submitted"})),  // 0
      frozen(text("content", kNarrativeCap)),             // 1
      frozen(coded("note_type", {"case_note", "assessment_note", "supervision",
                                 "management_oversight", "other"})),  // 2
      frozen(uuid_text("subject_record_id")),              // 3: the visit or assessment it is about
      frozen(typed("event_time", ValueType::kTimestamp)),  // 4: when it happened
      frozen(typed("submitted_at", ValueType::kTimestamp)),  // 5
      frozen(uuid_text("amends")),                           // 6: the note it corrects
      frozen(text("amendment_reason", kShortTextCap)),       // 7
      recorded_in_error(),                                   // 8
      recorded_in_error_reason(),                            // 9
  };
  spec.rules = {
      required_when("content", {equals("status", code("submitted"))}),
      required_when("submitted_at", {equals("status", code("submitted"))}),
      canonical_uuid("subject_record_id"),
      canonical_uuid("amends"),
      required_when("amendment_reason", {is_set("amends")}),
      required_when("amends", {is_set("amendment_reason")}),
      recorded_in_error_needs_reason(),
  };
  return spec;
}

}  // namespace

const Schema& Schema::domain() {
  // Positions are wire indexes: append only (see the top of this file).
  static const Schema kDomain({
      case_collection(),        // 0
      visit_collection(),       // 1
      assessment_collection(),  // 2
      note_collection(),        // 3
  });
  return kDomain;
}

}  // namespace fieldsync
