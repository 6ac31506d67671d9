// Casework: the domain's user actions as write groups over Store::write_record(s).
#include "fieldsync/client/casework.h"

#include <algorithm>
#include <tuple>

#include "fieldsync/error.h"

namespace fieldsync::client {
namespace {

bool is_recorded_in_error(const Record& record) {
  const Value* flag = record.get("recorded_in_error");
  return flag && flag->type() == ValueType::kBool && flag->as_bool();
}

// The value a record is ordered by in its case's timeline; records without one sort by id
// (creation time), after those with one.
std::optional<std::int64_t> event_key(const Record& record) {
  for (const char* field : {"actual_start", "event_time", "submitted_at"}) {
    if (const Value* value = record.get(field); value && value->type() == ValueType::kTimestamp) {
      return value->as_timestamp().unix_ms;
    }
  }
  if (const Value* started = record.get("started_on");
      started && started->type() == ValueType::kDate) {
    return std::int64_t{started->as_date().days_since_epoch} * 86'400'000;
  }
  return std::nullopt;
}

Fields with(Fields fields, const std::string& name, Value value) {
  fields[name] = std::move(value);
  return fields;
}

}  // namespace

std::vector<Record> Casework::caseload() {
  std::vector<Record> cases;
  for (const CaseId& case_id : store_.cases()) {
    if (auto record = store_.record(case_id); record && record->collection == "case" &&
                                              !is_recorded_in_error(*record)) {
      cases.push_back(std::move(*record));
    }
  }
  // Named cases first, by name; a case whose name has not arrived yet after them, by id.
  const auto sort_key = [](const Record& record) {
    const Value* name = record.get("child_name");
    return std::tuple(name == nullptr, name ? *name : Value(), record.id);
  };
  std::sort(cases.begin(), cases.end(),
            [&](const Record& a, const Record& b) { return sort_key(a) < sort_key(b); });
  return cases;
}

RecordId Casework::new_record_id() { return store_.new_record_id(); }

RecordId Casework::record_visit(const CaseId& case_id, const Fields& visit) {
  const RecordId id = new_record_id();
  store_.write_record({"visit", id, case_id, visit});
  return id;
}

std::vector<RecordId> Casework::record_household_visit(const Fields& shared,
                                                       const std::vector<ChildVisit>& per_child) {
  if (per_child.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "a household visit needs at least one child's case");
  }
  const std::string household_id = new_record_id().to_string();
  std::vector<Store::RecordWrite> writes;
  std::vector<RecordId> ids;
  for (const ChildVisit& child : per_child) {
    Fields fields = shared;
    for (const auto& [name, value] : child.fields) fields[name] = value;
    fields["household_visit_id"] = Value::text(household_id);
    ids.push_back(new_record_id());
    writes.push_back({"visit", ids.back(), child.case_id, std::move(fields)});
  }
  store_.write_records(writes);
  return ids;
}

RecordId Casework::start_assessment(const CaseId& case_id, const Fields& assessment) {
  const RecordId id = new_record_id();
  store_.write_record(
      {"assessment", id, case_id, with(assessment, "status", Value::text("in_progress"))});
  return id;
}

void Casework::complete_assessment(const RecordId& assessment_id, const Fields& completion) {
  const Record assessment = require_record(assessment_id, "assessment");
  store_.write_record({"assessment", assessment_id, assessment.case_id,
                       with(completion, "status", Value::text("completed"))});
}

RecordId Casework::write_note(const CaseId& case_id, const Fields& note) {
  const RecordId id = new_record_id();
  store_.write_record({"note", id, case_id, with(note, "status", Value::text("draft"))});
  return id;
}

void Casework::edit_note(const RecordId& note_id, const Fields& changes) {
  const Record note = require_record(note_id, "note");
  store_.write_record({"note", note_id, note.case_id, changes});
}

void Casework::submit_note(const RecordId& note_id) {
  const Record note = require_record(note_id, "note");
  store_.write_record({"note", note_id, note.case_id,
                       {{"status", Value::text("submitted")},
                        {"submitted_at", Value::timestamp(store_.now())}}});
}

RecordId Casework::amend_note(const RecordId& note_id, const std::string& content,
                              const std::string& reason) {
  const Record original = require_record(note_id, "note");
  const Value* status = original.get("status");
  if (!status || *status != Value::text("submitted")) {
    throw Error(ErrorCode::kInvalidArgument,
                "note.amends: only a submitted note is amended; edit the draft instead");
  }
  Fields amendment = {{"status", Value::text("submitted")},
                      {"content", Value::text(content)},
                      {"amends", Value::text(note_id.to_string())},
                      {"amendment_reason", Value::text(reason)},
                      {"submitted_at", Value::timestamp(store_.now())}};
  for (const char* carried : {"note_type", "subject_record_id", "event_time"}) {
    if (const Value* value = original.get(carried)) amendment[carried] = *value;
  }
  const RecordId id = new_record_id();
  store_.write_record({"note", id, original.case_id, amendment});
  return id;
}

void Casework::mark_recorded_in_error(const RecordId& record_id, const std::string& reason) {
  const auto record = store_.record(record_id);
  if (!record) throw Error(ErrorCode::kNotFound, "no record " + record_id.to_string());
  store_.write_record({record->collection, record_id, record->case_id,
                       {{"recorded_in_error", Value::boolean(true)},
                        {"recorded_in_error_reason", Value::text(reason)}}});
}

std::vector<Record> Casework::visits(const CaseId& case_id, bool include_in_error) {
  return in_event_order(case_id, "visit", include_in_error);
}
std::vector<Record> Casework::assessments(const CaseId& case_id, bool include_in_error) {
  return in_event_order(case_id, "assessment", include_in_error);
}
std::vector<Record> Casework::notes(const CaseId& case_id, bool include_in_error) {
  return in_event_order(case_id, "note", include_in_error);
}

Record Casework::require_record(const RecordId& id, std::string_view collection) {
  auto record = store_.record(id);
  if (!record || record->collection != collection) {
    throw Error(ErrorCode::kNotFound,
                "no " + std::string(collection) + " record " + id.to_string());
  }
  return std::move(*record);
}

std::vector<Record> Casework::in_event_order(const CaseId& case_id, std::string_view collection,
                                             bool include_in_error) {
  std::vector<Record> records = store_.records(case_id, collection);
  if (!include_in_error) std::erase_if(records, is_recorded_in_error);
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    const auto key_a = event_key(a), key_b = event_key(b);
    if (key_a && key_b && *key_a != *key_b) return *key_a < *key_b;
    if (key_a.has_value() != key_b.has_value()) return key_a.has_value();
    return a.id < b.id;
  });
  return records;
}

}  // namespace fieldsync::client
