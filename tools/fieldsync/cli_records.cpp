// The casework commands (cli_records.h). Values typed on the command line become the JSON form of
// the schema's fields, so they go through the same reader (json_fields.h) as the C API's records,
// with the same messages naming the field at fault.
#include "cli_records.h"

#include <charconv>
#include <cstdio>
#include <set>
#include <sstream>

#include "cli_device.h"
#include "cli_json.h"
#include "cli_output.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"

namespace fieldsync::cli {
namespace {

using nlohmann::json;

const CollectionSpec& collection_spec(std::string_view collection) {
  return *Schema::domain().collection(collection);
}

Uuid id_argument(const std::string& text, std::string_view what) {
  const auto id = Uuid::parse(text);
  if (!id) throw UsageError(std::string(what) + " must be an id (UUID text), not \"" + text + "\"");
  return *id;
}

// The case named by --case, which must be on this device (allocated to this user).
CaseId case_on_device(client::Store& store, const Invocation& invocation) {
  const CaseId case_id = id_argument(invocation.required_option("--case"), "--case");
  const auto record = store.record(case_id);
  if (!record || record->collection != "case") {
    throw Error(ErrorCode::kNotFound,
                "no case " + case_id.to_string() + " on this device: `fieldsync cases` lists them");
  }
  return case_id;
}

// Text typed for a field, as that field's JSON form; what does not fit is passed on as text, for
// the schema's reader to refuse with its message. "now" stands for the current time.
json typed_json(const FieldSpec& field, const std::string& text, client::Store& store) {
  switch (field.type) {
    case ValueType::kBool:
      if (text == "true" || text == "yes") return true;
      if (text == "false" || text == "no") return false;
      break;
    case ValueType::kDouble: {
      double number = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error == std::errc() && end == text.data() + text.size()) return number;
      break;
    }
    case ValueType::kTimestamp:
      if (text == "now") return format_timestamp(store.now());
      break;
    default:
      break;  // integers are read from decimal text by the schema's reader too
  }
  return text;
}

std::string field_names(const CollectionSpec& spec) {
  std::string names;
  for (const FieldSpec& field : spec.fields) names += (names.empty() ? "" : ", ") + field.name;
  return names;
}

// The command line does not pass on fields the schema does not know: there they are typos.
void check_known_fields(const CollectionSpec& spec, const json& object) {
  for (const auto& [name, value] : object.items()) {
    if (!spec.field(name)) {
      throw UsageError("unknown " + spec.name + " field: " + name + " (the " + spec.name +
                       " fields are: " + field_names(spec) + ")");
    }
  }
}

json assignments_to_json(const CollectionSpec& spec, const std::vector<std::string>& assignments,
                         json object, client::Store& store) {
  for (const std::string& assignment : assignments) {
    const std::size_t equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw UsageError("expected FIELD=VALUE, not \"" + assignment + "\"");
    }
    const std::string name = assignment.substr(0, equals);
    const FieldSpec* field = spec.field(name);
    object[name] = field ? typed_json(*field, assignment.substr(equals + 1), store)
                         : json(assignment.substr(equals + 1));
  }
  return object;
}

client::Fields visit_fields(const Invocation& invocation, client::Store& store) {
  const CollectionSpec& spec = collection_spec("visit");
  json object = json::object();
  if (auto text = invocation.option("--fields")) {
    object = parse_json_argument(*text, "--fields");
    if (!object.is_object()) throw UsageError("--fields must be a JSON object");
  }
  object = assignments_to_json(spec, invocation.operands(), std::move(object), store);
  check_known_fields(spec, object);
  return fields_from_json(object, "visit", Schema::domain(), "visit");
}

client::Fields note_fields(const Invocation& invocation, client::Store& store) {
  json object = {{"content", invocation.required_option("--content")}};
  if (auto type = invocation.option("--type")) object["note_type"] = *type;
  if (auto about = invocation.option("--about")) {
    object["subject_record_id"] = id_argument(*about, "--about").to_string();
  }
  if (auto time = invocation.option("--event-time")) {
    object["event_time"] = typed_json(*collection_spec("note").field("event_time"), *time, store);
  }
  return fields_from_json(object, "note", Schema::domain(), "note");
}

std::string text_field(const Record& record, std::string_view field) {
  const Value* value = record.get(field);
  return value ? value_text(*value) : "";
}

void print_records(const std::vector<Record>& records, bool as_json, const char* none) {
  if (as_json) {
    json list = json::array();
    for (const Record& record : records) list.push_back(record_json(record));
    print_json(list);
    return;
  }
  if (records.empty()) std::printf("%s\n", none);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) std::printf("\n");
    print_record(records[i]);
  }
}

std::string form_of(const FieldSpec& field) {
  if (!field.codes.empty()) {
    std::string codes;
    for (const std::string& code : field.codes) codes += (codes.empty() ? "" : " | ") + code;
    return codes;
  }
  switch (field.type) {
    case ValueType::kBool:
      return "yes | no";
    case ValueType::kDate:
      return "YYYY-MM-DD";
    case ValueType::kTimestamp:
      return "now | RFC 3339 time (2024-03-01T09:30:00Z)";
    case ValueType::kText:
      return "text";
    default:
      return std::string(to_string(field.type));
  }
}

}  // namespace

int run_cases(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const std::vector<Record> cases = session.casework().caseload();
  if (invocation.flag("--json")) {
    print_records(cases, true, "");
    return kExitOk;
  }
  if (cases.empty()) {
    std::printf("no cases on this device yet: `fieldsync sync` brings your caseload\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"CHILD", "CASE ID", "STATUS", "PLAN"}};
  for (const Record& record : cases) {
    rows.push_back({text_field(record, "child_name"), record.id.to_string(),
                    text_field(record, "status"), text_field(record, "plan_type")});
  }
  print_table(rows);
  return kExitOk;
}

int run_visit_record(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const CaseId case_id = case_on_device(session.store(), invocation);
  const client::Fields fields = visit_fields(invocation, session.store());
  const RecordId visit_id = session.casework().record_visit(case_id, fields);
  std::printf("%s\n", visit_id.to_string().c_str());
  return kExitOk;
}

int run_visit_list(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const CaseId case_id = case_on_device(session.store(), invocation);
  print_records(session.casework().visits(case_id), invocation.flag("--json"),
                "no visits recorded on this case");
  return kExitOk;
}

int run_note_draft(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const CaseId case_id = case_on_device(session.store(), invocation);
  const RecordId note_id =
      session.casework().write_note(case_id, note_fields(invocation, session.store()));
  std::printf("%s\n", note_id.to_string().c_str());
  return kExitOk;
}

int run_note_edit(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const RecordId note_id = id_argument(invocation.operands().at(0), "NOTE_ID");
  session.casework().edit_note(note_id,
                               {{"content", Value::text(invocation.required_option("--content"))}});
  std::printf("note %s edited (still a draft)\n", note_id.to_string().c_str());
  return kExitOk;
}

int run_note_submit(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const RecordId note_id = id_argument(invocation.operands().at(0), "NOTE_ID");
  session.casework().submit_note(note_id);
  std::printf("note %s submitted: its content is now fixed (`fieldsync note amend` corrects it)\n",
              note_id.to_string().c_str());
  return kExitOk;
}

int run_note_amend(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const RecordId note_id = id_argument(invocation.operands().at(0), "NOTE_ID");
  const RecordId amendment_id = session.casework().amend_note(
      note_id, invocation.required_option("--content"), invocation.required_option("--reason"));
  std::printf("%s\n", amendment_id.to_string().c_str());
  return kExitOk;
}

int run_note_list(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const CaseId case_id = case_on_device(session.store(), invocation);
  print_records(session.casework().notes(case_id), invocation.flag("--json"),
                "no notes on this case");
  return kExitOk;
}

std::string visit_fields_help() {
  // Set by other actions: a household visit, marking a record as recorded in error.
  const std::set<std::string, std::less<>> set_elsewhere = {
      "household_visit_id", "recorded_in_error", "recorded_in_error_reason"};
  std::ostringstream out;
  out << "visit fields (* required):\n";
  for (const FieldSpec& field : collection_spec("visit").fields) {
    if (set_elsewhere.contains(field.name)) continue;
    const std::string name = field.name + (field.required ? "*" : "");
    out << "  " << name << std::string(name.size() < 24 ? 24 - name.size() : 1, ' ')
        << form_of(field) << "\n";
  }
  return out.str();
}

}  // namespace fieldsync::cli
