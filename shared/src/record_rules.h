// Builders of the cross-field rules a CollectionSpec lists (private to shared/): each rule is data
// (the fields it reads and the values it compares), so a schema states its rules as a short list
// rather than as code. Every problem a rule reports names the field the user has to fix.
// Rules are immutable once built: safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fieldsync/schema.h"
#include "fieldsync/value.h"

namespace fieldsync::record_rules {

// A fact about one field of a record: it holds `value`, or, without one, it is set at all (not
// null, and text not blank).
struct Condition {
  std::string field;
  std::optional<Value> value;
};
Condition equals(std::string field, Value value);
Condition is_set(std::string field);

// `field` must be set whenever every condition in `when` holds.
RecordRule required_when(std::string field, std::vector<Condition> when);
// `forbidden` must not hold whenever every condition in `when` holds; the problem is reported on
// the forbidden condition's field.
RecordRule forbidden_when(Condition forbidden, std::vector<Condition> when);
// When both are set, the date or timestamp in `later` must not be before the one in `earlier`.
RecordRule not_before(std::string later, std::string earlier);
// When set, `field` must hold a non-nil UUID in its canonical lower-case text form, so that
// records linked by it (siblings, one household's visits) match as plain text everywhere, and a
// nil id cannot link every unlinked record together.
RecordRule canonical_uuid(std::string field);

}  // namespace fieldsync::record_rules
