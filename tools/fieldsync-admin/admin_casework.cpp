// Teams, users, cases, allocations and enrolment codes (admin_casework.h), over the manage and
// enrol routes of the admin API (docs/http-api.md). Lists are metadata only: no case content.
#include "admin_casework.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "admin_connection.h"
#include "admin_text.h"
#include "fieldsync/cli/plain_output.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/schema.h"

namespace fieldsync::admin {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

constexpr int kLongestCodeHours = 30 * 24;  // the server's own limit

// Prints the JSON and returns true when --json was asked for.
bool printed_as_json(const cli::Invocation& invocation, const json& answer) {
  if (!invocation.flag("--json")) return false;
  cli::print_json(answer);
  return true;
}

// A list answer ({"<items>": [...], "total": N}) as a table of `columns` (member, heading).
int print_list(const cli::Invocation& invocation, const char* path, const char* items,
               const std::vector<std::pair<const char*, const char*>>& columns) {
  AdminConnection connection(invocation);
  const json answer = connection.get(path);
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  Rows rows(1);
  for (const auto& [member, heading] : columns) rows[0].push_back(heading);
  for (const json& item : answer.at(items)) {
    std::vector<std::string> row;
    for (const auto& [member, heading] : columns) row.push_back(text_of(item.at(member)));
    rows.push_back(std::move(row));
  }
  if (rows.size() > 1) cli::print_table(rows);
  std::printf("%s%s %s\n", rows.size() > 1 ? "\n" : "", text_of(answer.at("total")).c_str(), items);
  return cli::kExitOk;
}

std::string operand(const cli::Invocation& invocation) {
  return invocation.operands().at(0);
}

// Where a case goes, from --to USER or --team TEAM (exactly one), as the API's members.
void add_allocation_target(const cli::Invocation& invocation, json& body) {
  const auto user = invocation.option("--to");
  const auto team = invocation.option("--team");
  if (user.has_value() == team.has_value()) {
    throw cli::UsageError(
        "give one of --to USER (a worker, or a manager: their team) and "
        "--team TEAM (the team's, no worker)");
  }
  if (user) body["user_id"] = *user;
  if (team) body["team_id"] = *team;
}

std::string case_field_names(const CollectionSpec& spec) {
  std::string names;
  for (const FieldSpec& field : spec.fields) names += (names.empty() ? "" : ", ") + field.name;
  return names;
}

// The JSON object in --fields-file (`-`: standard input).
json fields_from_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw cli::UsageError("cannot read the fields file " + path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  json object;
  try {
    object = parse_json_argument(text, "--fields-file");
  } catch (const Error& error) {
    throw cli::UsageError(error.what());
  }
  if (!object.is_object()) throw cli::UsageError("--fields-file must hold a JSON object");
  return object;
}

// The case's fields: --fields-file, then FIELD=VALUE operands (which win). A field the case
// schema does not know is a typo; a yes/no field takes true or false; the server checks the rest.
json case_fields(const cli::Invocation& invocation) {
  const CollectionSpec& spec = *Schema::domain().collection("case");
  json fields = json::object();
  if (const auto file = invocation.option("--fields-file")) fields = fields_from_file(*file);
  for (const std::string& assignment : invocation.operands()) {
    const std::size_t equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw cli::UsageError("expected FIELD=VALUE, not \"" + assignment + "\"");
    }
    const std::string name = assignment.substr(0, equals);
    const std::string value = assignment.substr(equals + 1);
    const FieldSpec* field = spec.field(name);
    if (field && field->type == ValueType::kBool && value != "true" && value != "false") {
      throw cli::UsageError(name + " takes true or false");
    }
    fields[name] = field && field->type == ValueType::kBool ? json(value == "true") : json(value);
  }
  for (const auto& [name, value] : fields.items()) {
    if (!spec.field(name)) {
      throw cli::UsageError("unknown case field: " + name +
                            " (the case fields are: " + case_field_names(spec) + ")");
    }
  }
  if (!fields.contains("child_name")) {
    throw cli::UsageError("a case needs child_name (child_name=NAME, or in --fields-file)");
  }
  return fields;
}

// "case ID is now with team T, worker W" (or no worker), for cases add and allocate.
void print_allocation(const char* verb, const json& answer) {
  const std::string worker = text_of(answer.at("worker_id"));
  std::printf(
      "case %s %s team %s, %s\n", text_of(answer.at("case_id")).c_str(), verb,
      text_of(answer.at("team_id")).c_str(),
      worker.empty() ? "no worker (the team's managers see it)" : ("worker " + worker).c_str());
}

}  // namespace

int run_teams(const cli::Invocation& invocation) {
  return print_list(invocation, "/v1/admin/teams", "teams",
                    {{"team_id", "TEAM"}, {"name", "NAME"}});
}

int run_teams_add(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer = connection.post(
      "/v1/admin/teams",
      {{"team_id", operand(invocation)}, {"name", invocation.option("--name").value_or("")}});
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  std::printf("team %s (%s) added\n", text_of(answer.at("team_id")).c_str(),
              text_of(answer.at("name")).c_str());
  return cli::kExitOk;
}

int run_users(const cli::Invocation& invocation) {
  return print_list(invocation, "/v1/admin/users", "users",
                    {{"user_id", "USER"}, {"name", "NAME"}, {"team_id", "TEAM"}, {"role", "ROLE"}});
}

int run_users_add(const cli::Invocation& invocation) {
  const std::string role = invocation.option("--role").value_or("worker");
  if (role != "worker" && role != "manager") {
    throw cli::UsageError("--role is worker or manager, not \"" + role + "\"");
  }
  AdminConnection connection(invocation);
  const json answer =
      connection.post("/v1/admin/users", {{"user_id", operand(invocation)},
                                          {"team_id", invocation.required_option("--team")},
                                          {"role", role},
                                          {"name", invocation.option("--name").value_or("")}});
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  std::printf("user %s (%s) added to team %s as a %s\n", text_of(answer.at("user_id")).c_str(),
              text_of(answer.at("name")).c_str(), text_of(answer.at("team_id")).c_str(),
              text_of(answer.at("role")).c_str());
  return cli::kExitOk;
}

int run_cases(const cli::Invocation& invocation) {
  return print_list(invocation, "/v1/admin/cases", "cases",
                    {{"case_id", "CASE"}, {"team_id", "TEAM"}, {"worker_id", "WORKER"}});
}

int run_cases_add(const cli::Invocation& invocation) {
  json body = {{"fields", case_fields(invocation)}};
  add_allocation_target(invocation, body);
  if (const auto id = invocation.option("--case-id")) body["case_id"] = *id;
  AdminConnection connection(invocation);
  const json answer = connection.post("/v1/admin/cases", body);
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  print_allocation("added, with", answer);
  return cli::kExitOk;
}

int run_allocate(const cli::Invocation& invocation) {
  json body = {{"case_id", operand(invocation)}};
  add_allocation_target(invocation, body);
  AdminConnection connection(invocation);
  const json answer = connection.post("/v1/admin/allocations", body);
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  print_allocation("is now with", answer);
  return cli::kExitOk;
}

int run_enrol(const cli::Invocation& invocation) {
  json body = {{"user_id", operand(invocation)}};
  if (const std::string hours = count_option(invocation, "--valid-hours"); !hours.empty()) {
    if (hours.size() > 3 || std::stoi(hours) < 1 || std::stoi(hours) > kLongestCodeHours) {
      throw cli::UsageError("--valid-hours takes 1 to " + std::to_string(kLongestCodeHours));
    }
    body["expires_in_s"] = std::stoi(hours) * 3600;
  }
  AdminConnection connection(invocation);
  const json answer = connection.post("/v1/admin/enrolment-codes", body);
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  std::printf("%s\n", text_of(answer.at("code")).c_str());
  std::fprintf(stderr,
               "enrolment code for %s: works once, until %s. Give it to the worker in person or "
               "by phone, not by email.\n",
               text_of(answer.at("user_id")).c_str(), utc_text(answer.at("expires_at_ms")).c_str());
  return cli::kExitOk;
}

}  // namespace fieldsync::admin
