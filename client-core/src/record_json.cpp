// The C API's JSON forms of records and queues (record_json.h). Values go through json_form.h,
// so the C API and the wire's JSON form write every type the same way.
#include "record_json.h"

#include <optional>
#include <string>

#include "fieldsync/error.h"
#include "fieldsync/json_form.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::client {
namespace {

using nlohmann::json;

[[noreturn]] void throw_invalid(std::string message) {
  throw Error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string member_path(std::string_view parent, std::string_view member) {
  return std::string(parent) + "." + std::string(member);
}

std::string item_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

json conflict_side_to_json(const ConflictSide& side) {
  return {{"value", value_content_to_json(side.value)},
          {"author", side.author},
          {"version", version_to_json(side.version)}};
}

json change_summary_to_json(const Change& change) {
  return {{"collection", change.collection},
          {"record_id", change.record_id.to_string()},
          {"case_id", change.case_id.to_string()},
          {"field", change.field},
          {"value", value_content_to_json(change.value)},
          {"version", version_to_json(change.version)}};
}

}  // namespace

json record_to_json(const Record& record) {
  return {{"id", record.id.to_string()},
          {"case_id", record.case_id.to_string()},
          {"collection", record.collection},
          {"fields", fields_to_json(record.fields)}};
}

std::vector<Casework::ChildVisit> child_visits_from_json(const json& list, const Schema& schema,
                                                         std::string_view argument) {
  if (!list.is_array() || list.empty()) {
    throw_invalid(std::string(argument) +
                  " must be a non-empty JSON array of {\"case_id\": \"...\", \"fields\": {...}}");
  }
  std::vector<Casework::ChildVisit> children;
  for (std::size_t index = 0; index < list.size(); ++index) {
    const std::string path = item_path(argument, index);
    const json& item = list[index];
    if (!item.is_object()) throw_invalid(path + " must be a JSON object");
    Casework::ChildVisit child;
    bool has_case_id = false;
    for (const auto& [member, value] : item.items()) {
      if (member == "case_id") {
        const auto case_id = value.is_string() ? Uuid::parse(value.get_ref<const std::string&>())
                                               : std::nullopt;
        if (!case_id) throw_invalid(path + ".case_id must be a case id (UUID text)");
        child.case_id = *case_id;
        has_case_id = true;
      } else if (member == "fields") {
        child.fields = fields_from_json(value, "visit", schema, member_path(path, "fields"));
      } else {
        throw_invalid(path + " has an unknown member \"" + member +
                      "\" (expected \"case_id\" and \"fields\")");
      }
    }
    if (!has_case_id) throw_invalid(path + ".case_id is missing");
    children.push_back(std::move(child));
  }
  return children;
}

Version version_from_json_argument(const json& json_version, std::string_view argument) {
  try {
    return version_from_json(json_version);
  } catch (const Error& error) {
    if (!error.is(ErrorCode::kMalformed)) throw;
    throw_invalid(std::string(argument) +
                  " must be a version {\"ms\": n, \"counter\": n, \"origin\": \"uuid\"} (" +
                  error.what() + ")");
  }
}

json outbox_entry_to_json(const OutboxEntry& entry) {
  return {{"write_group", entry.group.id.to_string()},
          {"queued_at", format_timestamp(Timestamp{entry.queued_at_ms})},
          {"changes", entry.group.changes.size()}};
}

json local_conflict_to_json(const LocalConflict& local) {
  const Conflict& conflict = local.conflict;
  return {{"record_id", conflict.record_id.to_string()},
          {"collection", conflict.collection},
          {"case_id", conflict.case_id.to_string()},
          {"field", conflict.field},
          {"local_edit", local.local_edit},
          {"lost", conflict_side_to_json(conflict.lost)},
          {"winner", conflict_side_to_json(conflict.winner)}};
}

json rejected_group_to_json(const RejectedGroup& rejected) {
  return {{"write_group", rejected.group.id.to_string()},
          {"code", to_string(rejected.rejection.code)},
          {"message", rejected.rejection.message},
          {"rejected_at", format_timestamp(Timestamp{rejected.rejected_at_ms})},
          {"changes", list_to_json(rejected.group.changes, change_summary_to_json)}};
}

}  // namespace fieldsync::client
