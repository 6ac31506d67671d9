// How the fieldsync tool writes case data for people: values in full, records as field lists (the
// times, tables and JSON every tool writes are in fieldsync/cli/plain_output.h). Case data is
// shown in full: this is the worker's own device, behind their passcode.
//
// Single-threaded, like the whole tool.
#pragma once

#include <string>

#include "fieldsync/cli/plain_output.h"
#include "fieldsync/schema.h"
#include "fieldsync/value.h"

namespace fieldsync::cli {

// A value as a person reads it: text in full and unquoted, other types in their text form.
std::string value_text(const Value& value);

// A record as "<collection> <id>" and then one "  field  value" line per field set, in the
// schema's order (fields it does not know after them).
void print_record(const Record& record);

}  // namespace fieldsync::cli
