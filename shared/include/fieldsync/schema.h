// The domain schema as data (DESIGN.md section 2, DOMAIN.md): per collection its fields, their
// types, which are required, which freeze when a record is submitted, and the rules a whole
// merged record must satisfy. Client and server validate with this same code.
//
// Field and collection positions are their wire indexes: lists are append-only, never reordered.
// Fields a schema does not know are kept and passed on, never validated away.
// The schema is immutable after construction: safe to share between threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/error.h"
#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

namespace fieldsync {

struct FieldSpec {
  std::string name;
  ValueType type = ValueType::kText;
  bool required = false;                // must be set in every record: not null, and text not blank
  bool frozen_on_submit = false;        // cannot change once the record's status is "submitted"
  std::vector<std::string> codes = {};  // for coded text: the allowed values (empty: free text)
  std::size_t max_length = 0;           // for text and bytes: the cap in bytes (0: no cap)
};

// A record as merged: the current winning value of each field.
struct Record {
  std::string collection;
  RecordId id;
  CaseId case_id;
  std::map<std::string, Value> fields;  // absent and null both mean "not set"

  const Value* get(std::string_view field) const;  // nullptr when not set (absent or null)
};

struct ValidationProblem {
  std::string field;  // the field at fault (for a rule across fields: the one to fix)
  ErrorCode code = ErrorCode::kValidation;  // kValidation or kFrozen
  std::string message;                      // names the field and says what is wrong
};

// A rule across the fields of one record: appends a problem for each breach it finds. Rules see
// the record as merged, may meet any field unset or of the wrong type (the per-field checks
// report those), and must never throw.
using RecordRule = std::function<void(const Record&, std::vector<ValidationProblem>&)>;

struct CollectionSpec {
  std::string name;
  std::vector<FieldSpec> fields;       // position = wire index
  std::vector<RecordRule> rules = {};  // checked after the per-field checks; not on the wire
  std::optional<std::uint32_t> field_index(std::string_view field) const;
  const FieldSpec* field(std::string_view field) const;
};

class Schema {
 public:
  explicit Schema(std::vector<CollectionSpec> collections);
  // The built-in domain schema: case, visit, assessment, note.
  static const Schema& domain();

  const std::vector<CollectionSpec>& collections() const { return collections_; }
  const CollectionSpec* collection(std::string_view name) const;
  std::optional<std::uint32_t> collection_index(std::string_view name) const;

  // Problems of a merged record on its own (types, required fields, codes, cross-field rules).
  // A collection the schema does not know passes (a newer version may know it).
  std::vector<ValidationProblem> validate(const Record& merged) const;
  // Problems of an edit: `after` on its own, plus the freeze rules against `before` (a record
  // submitted in `before` may not change a frozen field, nor leave "submitted").
  std::vector<ValidationProblem> validate_edit(const Record& before, const Record& after) const;
  // Throws Error(kValidation or kFrozen) with the first problem's message, if any.
  void check_edit(const Record& before, const Record& after) const;

 private:
  std::vector<CollectionSpec> collections_;
};

}  // namespace fieldsync
