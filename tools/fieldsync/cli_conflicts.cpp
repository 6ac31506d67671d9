// `conflicts`, `resolve`, `rejections` and `rejections dismiss` (cli_conflicts.h).
#include "cli_conflicts.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "cli_device.h"
#include "cli_json.h"
#include "cli_output.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"

namespace fieldsync::cli {
namespace {

using nlohmann::json;

constexpr const char* kVersionForm = "MS.COUNTER@ORIGIN, as `fieldsync conflicts` shows it";

template <class Number>
std::optional<Number> whole_number(std::string_view text) {
  Number number{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

// The inverse of Version::to_string: "1709285400000.3@0190f3c2-...".
std::optional<Version> version_from_text(std::string_view text) {
  const std::size_t at = text.find('@');
  const std::size_t dot = text.find('.');
  if (at == std::string_view::npos || dot == std::string_view::npos || dot > at)
    return std::nullopt;
  const auto ms = whole_number<std::uint64_t>(text.substr(0, dot));
  const auto counter = whole_number<std::uint16_t>(text.substr(dot + 1, at - dot - 1));
  const auto origin = Uuid::parse(text.substr(at + 1));
  if (!ms || *ms > Hlc::kMaxMs || !counter || !origin) return std::nullopt;
  return Version{Hlc(*ms, *counter), *origin};
}

Version lost_version_argument(const std::string& text) {
  if (text.starts_with("{")) {
    return version_from_json_text(parse_json_argument(text, "--lost"), "--lost");
  }
  const auto version = version_from_text(text);
  if (!version) throw UsageError("--lost must be a version: " + std::string(kVersionForm));
  return *version;
}

client::Store::Resolve resolution_choice(const Invocation& invocation) {
  const bool keep = invocation.flag("--keep-current");
  const bool restore = invocation.flag("--restore-lost");
  if (keep == restore) throw UsageError("choose one of --keep-current and --restore-lost");
  return keep ? client::Store::Resolve::kKeepCurrent : client::Store::Resolve::kRestoreLost;
}

std::string child_name(client::Store& store, const CaseId& case_id) {
  const auto record = store.record(case_id);
  const Value* name = record ? record->get("child_name") : nullptr;
  return name && name->type() == ValueType::kText ? name->as_text() : "name not on this device";
}

// "value", then who made it, on which device, and when.
// Text in quotes, so that spaces at its ends show.
std::string quoted_value(const Value& value) {
  if (value.is_null()) return "(no value)";
  if (value.type() == ValueType::kText) return "\"" + value.as_text() + "\"";
  return value_text(value);
}

std::string side_text(const ConflictSide& side, const OriginId& this_device) {
  const std::string device = side.version.origin == this_device
                                 ? "this device"
                                 : "device " + side.version.origin.to_string();
  const std::string author = side.author.empty() ? "" : side.author + " on ";
  return quoted_value(side.value) + "\n            by " + author + device + " at " +
         time_text(static_cast<std::int64_t>(side.version.hlc.ms()));
}

void print_conflict(client::Store& store, const client::LocalConflict& local) {
  const Conflict& conflict = local.conflict;
  const OriginId this_device = store.identity().device_id;
  const std::string lost = conflict.lost.version.to_string();
  std::printf("%s %s, field %s\n  case      %s (%s)\n", conflict.collection.c_str(),
              conflict.record_id.to_string().c_str(), conflict.field.c_str(),
              conflict.case_id.to_string().c_str(), child_name(store, conflict.case_id).c_str());
  std::printf("  lost      %s%s\n", side_text(conflict.lost, this_device).c_str(),
              local.local_edit ? " (not yet synced)" : "");
  std::printf("  current   %s\n", side_text(conflict.winner, this_device).c_str());
  std::printf("  resolve   fieldsync resolve --lost %s --keep-current\n", lost.c_str());
  std::printf("            fieldsync resolve --lost %s --restore-lost\n", lost.c_str());
}

void print_rejection(const client::RejectedGroup& rejected) {
  std::printf("write group %s, refused %s: %s\n  %s\n", rejected.group.id.to_string().c_str(),
              time_text(rejected.rejected_at_ms).c_str(),
              std::string(to_string(rejected.rejection.code)).c_str(),
              rejected.rejection.message.c_str());
  for (const Change& change : rejected.group.changes) {
    std::printf("  sent      %s %s: %s = %s\n", change.collection.c_str(),
                change.record_id.to_string().c_str(), change.field.c_str(),
                value_text(change.value).c_str());
  }
  std::printf("  dismiss   fieldsync rejections dismiss %s\n",
              rejected.group.id.to_string().c_str());
}

}  // namespace

int run_conflicts(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const std::vector<client::LocalConflict> conflicts = session.store().conflicts();
  if (invocation.flag("--json")) {
    json list = json::array();
    for (const client::LocalConflict& conflict : conflicts) list.push_back(conflict_json(conflict));
    print_json(list);
    return kExitOk;
  }
  if (conflicts.empty()) {
    std::printf("no conflicts\n");
    return kExitOk;
  }
  std::printf("%zu %s: values overwritten by someone who had not seen them\n", conflicts.size(),
              conflicts.size() == 1 ? "conflict" : "conflicts");
  for (const client::LocalConflict& conflict : conflicts) {
    std::printf("\n");
    print_conflict(session.store(), conflict);
  }
  return kExitOk;
}

int run_resolve(const Invocation& invocation) {
  const Version lost = lost_version_argument(invocation.required_option("--lost"));
  const client::Store::Resolve choice = resolution_choice(invocation);
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  session.store().resolve_conflict(lost, choice);
  std::printf("conflict %s resolved: %s; `fieldsync sync` sends the resolution\n",
              lost.to_string().c_str(),
              choice == client::Store::Resolve::kKeepCurrent ? "the current value stays"
                                                             : "the lost value is restored");
  return kExitOk;
}

int run_rejections(const Invocation& invocation) {
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const std::vector<client::RejectedGroup> rejections = session.store().rejections();
  if (invocation.flag("--json")) {
    json list = json::array();
    for (const client::RejectedGroup& rejected : rejections)
      list.push_back(rejection_json(rejected));
    print_json(list);
    return kExitOk;
  }
  if (rejections.empty()) {
    std::printf("no rejections\n");
    return kExitOk;
  }
  std::printf(
      "%zu write %s refused by the server; the records show the server's values again, so "
      "record anew what still matters\n",
      rejections.size(), rejections.size() == 1 ? "group" : "groups");
  for (const client::RejectedGroup& rejected : rejections) {
    std::printf("\n");
    print_rejection(rejected);
  }
  return kExitOk;
}

int run_rejections_dismiss(const Invocation& invocation) {
  const auto group = Uuid::parse(invocation.operands().at(0));
  if (!group) throw UsageError("WRITE_GROUP must be an id (UUID text)");
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kRecords);
  const std::vector<client::RejectedGroup> rejections = session.store().rejections();
  const bool queued = std::any_of(
      rejections.begin(), rejections.end(),
      [&](const client::RejectedGroup& rejected) { return rejected.group.id == *group; });
  if (!queued) {
    throw Error(ErrorCode::kNotFound, "no rejection of write group " + group->to_string() +
                                          ": `fieldsync rejections` lists them");
  }
  session.store().dismiss_rejection(*group);
  std::printf("rejection %s dismissed\n", group->to_string().c_str());
  return kExitOk;
}

}  // namespace fieldsync::cli
