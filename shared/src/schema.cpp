// The schema machinery: lookups by name and wire index, the per-field checks every FieldSpec
// implies, the freeze rule of submitted records, and the builders of cross-field rules
// (record_rules.h). The domain's own collections are in domain_schema.cpp.
//
// Problem messages name the collection and field and say what is wrong, but never quote what the
// field holds: they reach logs, the rejected log and the admin's error views, where case content
// must not appear (DESIGN.md section 5).
#include "fieldsync/schema.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include "record_rules.h"

namespace fieldsync {
namespace {

constexpr std::string_view kStatusField = "status";
constexpr std::string_view kSubmitted = "submitted";

// Every date and timestamp in the domain is an event in a child's life or a deadline within it
// (the birth dates of parents and carers included), so one outside these years is a slip: a
// mistyped year (0224 for 2024) or a unit mix-up (milliseconds taken for days). The range still
// holds retention deadlines decades ahead (DOMAIN.md: to the 75th birthday). It may only ever
// widen: a record accepted once must stay valid for as long as it is kept.
constexpr int kEarliestYear = 1900;
constexpr int kLatestYear = 2200;
constexpr std::int64_t kMsPerDay = 86'400'000;

ValidationProblem problem(const Record& record, std::string_view field, std::string_view what,
                          ErrorCode code = ErrorCode::kValidation) {
  std::string message = record.collection;
  message += '.';
  message += field;
  message += ": ";
  message += what;
  return ValidationProblem{std::string(field), code, std::move(message)};
}

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

// Whether a field says anything: set, and for text not blank (a blank answer records nothing).
bool has_content(const Value* value) {
  return value != nullptr && (value->type() != ValueType::kText || !is_blank(value->as_text()));
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

bool in_year_range(Date date) {
  static const Date kEarliest = date_from_civil(kEarliestYear, 1, 1);
  static const Date kLatest = date_from_civil(kLatestYear, 12, 31);
  return kEarliest <= date && date <= kLatest;
}

bool in_year_range(Timestamp ts) {
  static const std::int64_t kEarliestMs =
      date_from_civil(kEarliestYear, 1, 1).days_since_epoch * kMsPerDay;
  static const std::int64_t kEndMs =
      (date_from_civil(kLatestYear, 12, 31).days_since_epoch + std::int64_t{1}) * kMsPerDay;
  return kEarliestMs <= ts.unix_ms && ts.unix_ms < kEndMs;
}

const std::string& out_of_range_message() {
  static const std::string kMessage = "must fall in the years " + std::to_string(kEarliestYear) +
                                      " to " + std::to_string(kLatestYear);
  return kMessage;
}

void check_length(const FieldSpec& spec, const Record& record, std::size_t length,
                  std::vector<ValidationProblem>& problems) {
  if (spec.max_length == 0 || length <= spec.max_length) return;
  problems.push_back(problem(record, spec.name,
                             "is " + std::to_string(length) + " bytes, over the cap of " +
                                 std::to_string(spec.max_length) + " bytes"));
}

void check_text(const FieldSpec& spec, const Record& record, const std::string& text,
                std::vector<ValidationProblem>& problems) {
  check_length(spec, record, text.size(), problems);
  if (!is_valid_utf8(text)) {
    problems.push_back(problem(record, spec.name, "is not valid UTF-8"));
  } else if (!spec.codes.empty() &&
             std::find(spec.codes.begin(), spec.codes.end(), text) == spec.codes.end()) {
    problems.push_back(
        problem(record, spec.name, "is not one of the allowed codes: " + join(spec.codes, ", ")));
  }
}

void check_field(const FieldSpec& spec, const Record& record,
                 std::vector<ValidationProblem>& problems) {
  const Value* value = record.get(spec.name);
  if (!has_content(value)) {
    if (spec.required) {
      problems.push_back(problem(record, spec.name, "is required"));
      return;
    }
    if (value == nullptr) return;
  }
  if (value->type() != spec.type) {
    problems.push_back(problem(record, spec.name,
                               "must be " + std::string(to_string(spec.type)) + ", not " +
                                   std::string(to_string(value->type()))));
    return;
  }
  switch (spec.type) {
    case ValueType::kText:
      check_text(spec, record, value->as_text(), problems);
      break;
    case ValueType::kBytes:
      check_length(spec, record, value->as_bytes().size(), problems);
      break;
    case ValueType::kDate:
      if (!in_year_range(value->as_date())) {
        problems.push_back(problem(record, spec.name, out_of_range_message()));
      }
      break;
    case ValueType::kTimestamp:
      if (!in_year_range(value->as_timestamp())) {
        problems.push_back(problem(record, spec.name, out_of_range_message()));
      }
      break;
    default:
      break;
  }
}

bool is_submitted(const Record& record) {
  const Value* status = record.get(kStatusField);
  return status != nullptr && status->type() == ValueType::kText && status->as_text() == kSubmitted;
}

bool same_value(const Value* a, const Value* b) {
  if (a == nullptr || b == nullptr) return a == nullptr && b == nullptr;
  return *a == *b;
}

// Once a record is submitted its frozen fields are final, and so is its status: leaving
// "submitted" would reopen the frozen fields to edits.
void check_freeze(const CollectionSpec& spec, const Record& before, const Record& after,
                  std::vector<ValidationProblem>& problems) {
  if (!is_submitted(before)) return;
  for (const FieldSpec& field : spec.fields) {
    const bool frozen = field.frozen_on_submit || field.name == kStatusField;
    if (frozen && !same_value(before.get(field.name), after.get(field.name))) {
      problems.push_back(problem(after, field.name,
                                 "cannot change once the " + after.collection + " is submitted",
                                 ErrorCode::kFrozen));
    }
  }
}

// A repeated name would give one field (or collection) two wire indexes.
void check_spec(const CollectionSpec& spec) {
  if (spec.name.empty())
    throw Error(ErrorCode::kInvalidArgument, "schema: a collection has no name");
  std::set<std::string_view> names;
  for (const FieldSpec& field : spec.fields) {
    if (field.name.empty() || !names.insert(field.name).second) {
      throw Error(ErrorCode::kInvalidArgument,
                  "schema: " + spec.name + " has an empty or repeated field name");
    }
    if (!field.codes.empty() && field.type != ValueType::kText) {
      throw Error(ErrorCode::kInvalidArgument,
                  "schema: " + spec.name + "." + field.name + " has codes but is not text");
    }
  }
}

template <typename Named>
std::optional<std::uint32_t> position_of(const std::vector<Named>& items, std::string_view name) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].name == name) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint32_t> CollectionSpec::field_index(std::string_view field_name) const {
  return position_of(fields, field_name);
}

const FieldSpec* CollectionSpec::field(std::string_view field_name) const {
  const auto index = field_index(field_name);
  return index ? &fields[*index] : nullptr;
}

const Value* Record::get(std::string_view field) const {
  const auto found = fields.find(std::string(field));
  if (found == fields.end() || found->second.is_null()) return nullptr;
  return &found->second;
}

Schema::Schema(std::vector<CollectionSpec> collections) : collections_(std::move(collections)) {
  std::set<std::string_view> names;
  for (const CollectionSpec& spec : collections_) {
    check_spec(spec);
    if (!names.insert(spec.name).second) {
      throw Error(ErrorCode::kInvalidArgument, "schema: collection " + spec.name + " is repeated");
    }
  }
}

const CollectionSpec* Schema::collection(std::string_view name) const {
  const auto index = collection_index(name);
  return index ? &collections_[*index] : nullptr;
}

std::optional<std::uint32_t> Schema::collection_index(std::string_view name) const {
  return position_of(collections_, name);
}

std::vector<ValidationProblem> Schema::validate(const Record& merged) const {
  std::vector<ValidationProblem> problems;
  const CollectionSpec* spec = collection(merged.collection);
  if (spec == nullptr) return problems;
  for (const FieldSpec& field : spec->fields) check_field(field, merged, problems);
  for (const RecordRule& rule : spec->rules) rule(merged, problems);
  return problems;
}

// Freeze problems come first, so check_edit reports the one that no added data can fix.
std::vector<ValidationProblem> Schema::validate_edit(const Record& before,
                                                     const Record& after) const {
  std::vector<ValidationProblem> problems;
  const CollectionSpec* spec = collection(after.collection);
  if (spec == nullptr) return problems;
  check_freeze(*spec, before, after, problems);
  std::vector<ValidationProblem> own = validate(after);
  problems.insert(problems.end(), std::make_move_iterator(own.begin()),
                  std::make_move_iterator(own.end()));
  return problems;
}

void Schema::check_edit(const Record& before, const Record& after) const {
  const std::vector<ValidationProblem> problems = validate_edit(before, after);
  if (!problems.empty()) throw Error(problems.front().code, problems.front().message);
}

namespace record_rules {
namespace {

bool holds(const Condition& condition, const Record& record) {
  const Value* value = record.get(condition.field);
  if (!condition.value) return has_content(value);
  return value != nullptr && *value == *condition.value;
}

bool all_hold(const std::vector<Condition>& conditions, const Record& record) {
  return std::all_of(conditions.begin(), conditions.end(),
                     [&record](const Condition& condition) { return holds(condition, record); });
}

// Condition values are the schema's own constants (codes, booleans), never case content, so
// naming them in a message is safe.
std::string state_of(const Condition& condition) {
  if (!condition.value) return "set";
  switch (condition.value->type()) {
    case ValueType::kBool:
      return condition.value->as_bool() ? "true" : "false";
    case ValueType::kText:
      return condition.value->as_text();
    default:
      return condition.value->describe();
  }
}

std::string describe(const std::vector<Condition>& conditions) {
  std::vector<std::string> parts;
  for (const Condition& condition : conditions) {
    parts.push_back(condition.field + " is " + state_of(condition));
  }
  return join(parts, " and ");
}

}  // namespace

Condition equals(std::string field, Value value) {
  return {std::move(field), std::move(value)};
}

Condition is_set(std::string field) {
  return {std::move(field), std::nullopt};
}

RecordRule required_when(std::string field, std::vector<Condition> when) {
  return [field = std::move(field), when = std::move(when)](
             const Record& record, std::vector<ValidationProblem>& problems) {
    if (all_hold(when, record) && !has_content(record.get(field))) {
      problems.push_back(problem(record, field, "is required when " + describe(when)));
    }
  };
}

RecordRule forbidden_when(Condition forbidden, std::vector<Condition> when) {
  return [forbidden = std::move(forbidden), when = std::move(when)](
             const Record& record, std::vector<ValidationProblem>& problems) {
    if (all_hold(when, record) && holds(forbidden, record)) {
      problems.push_back(problem(record, forbidden.field,
                                 "cannot be " + state_of(forbidden) + " when " + describe(when)));
    }
  };
}

RecordRule not_before(std::string later, std::string earlier) {
  return [later = std::move(later), earlier = std::move(earlier)](
             const Record& record, std::vector<ValidationProblem>& problems) {
    const Value* late = record.get(later);
    const Value* early = record.get(earlier);
    if (late == nullptr || early == nullptr || late->type() != early->type()) return;
    const bool is_moment =
        late->type() == ValueType::kDate || late->type() == ValueType::kTimestamp;
    if (is_moment && *late < *early) {
      problems.push_back(problem(record, later, "cannot be before " + earlier));
    }
  };
}

RecordRule canonical_uuid(std::string field) {
  return
      [field = std::move(field)](const Record& record, std::vector<ValidationProblem>& problems) {
        const Value* value = record.get(field);
        if (value == nullptr || value->type() != ValueType::kText) return;
        const std::optional<Uuid> id = Uuid::parse(value->as_text());
        if (!id || id->is_nil() || id->to_string() != value->as_text()) {
          problems.push_back(
              problem(record, field, "must be a non-nil UUID in lower-case 8-4-4-4-12 hex form"));
        }
      };
}

}  // namespace record_rules
}  // namespace fieldsync
