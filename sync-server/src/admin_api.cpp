// The admin routes that run a council's casework: teams, users, cases, allocations (role
// manage) and enrolment codes (role enrol); the lists of teams, users and cases are open to
// monitor and manage. JSON in and out; no answer carries case content. Each call that changes
// something is written to the audit log in the same transaction as the change (admin_routes.h,
// audit_trail.h). See docs/http-api.md.
#include "admin_routes.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/schema.h"

namespace fieldsync::server {
namespace {

using nlohmann::json;

Uuid id_member(const json& body, const char* name) {
  return Uuid::parse_or_throw(text_member(body, name, true), name);
}

json team_json(const Team& team) {
  return {{"team_id", team.id}, {"name", team.name}};
}
json user_json(const User& user) {
  return {{"user_id", user.id},
          {"team_id", user.team_id},
          {"role", to_string(user.role)},
          {"name", user.name}};
}
json allocation_json(const CaseAllocation& allocation) {
  return {{"case_id", allocation.case_id.to_string()},
          {"team_id", allocation.team_id},
          {"worker_id", allocation.worker_id}};
}

// Every list of the admin API has this shape: the items under their name, and how many.
template <class Item, class ToJson>
json list_json(const char* name, const std::vector<Item>& items, ToJson to_json_item) {
  json list = json::array();
  for (const Item& item : items) list.push_back(to_json_item(item));
  return {{name, std::move(list)}, {"total", items.size()}};
}

Team require_team(StorageTransaction& tx, const std::string& id) {
  auto team = tx.team(id);
  if (!team) throw Error(ErrorCode::kNotFound, "no team '" + id + "'");
  return *team;
}

User require_user(StorageTransaction& tx, const std::string& id) {
  auto user = tx.user(id);
  if (!user) throw Error(ErrorCode::kNotFound, "no user '" + id + "'");
  return *user;
}

json create_team(const AdminCall& call) {
  Team team{text_member(call.body, "team_id", true), text_member(call.body, "name", false)};
  if (team.name.empty()) team.name = team.id;
  call.tx.put_team(team);
  return team_json(team);
}

json create_user(const AdminCall& call) {
  const std::string role_name = text_member(call.body, "role", false);
  const auto role = role_name.empty() ? std::optional(Role::kWorker) : role_from_string(role_name);
  if (!role) throw Error(ErrorCode::kInvalidArgument, "\"role\" must be \"worker\" or \"manager\"");
  User user{text_member(call.body, "user_id", true), text_member(call.body, "team_id", true), *role,
            text_member(call.body, "name", false)};
  require_team(call.tx, user.team_id);
  if (user.name.empty()) user.name = user.id;
  call.tx.put_user(user);
  return user_json(user);
}

// Where a case goes: to a user (their team; a worker's own caseload) or to a team, unallocated.
CaseAllocation allocation_from(StorageTransaction& tx, const CaseId& case_id, const json& body) {
  const std::string user_id = text_member(body, "user_id", false);
  if (!user_id.empty()) {
    const User user = require_user(tx, user_id);
    return {case_id, user.team_id, user.role == Role::kWorker ? user.id : ""};
  }
  return {case_id, require_team(tx, text_member(body, "team_id", true)).id, ""};
}

json create_case(const AdminCall& call) {
  const json& body = call.body;
  const CaseId case_id = body.contains("case_id") ? id_member(body, "case_id") : Uuid::random_v4();
  if (call.tx.allocation(case_id))
    throw Error(ErrorCode::kConflict, "case " + case_id.to_string() + " already exists");
  const auto fields_json = body.find("fields");
  if (fields_json == body.end()) throw Error(ErrorCode::kInvalidArgument, "\"fields\" is required");
  auto fields = fields_from_json(*fields_json, "case", Schema::domain(), "fields");
  fields.try_emplace("status", Value::text("open"));
  const CaseAllocation allocation = allocation_from(call.tx, case_id, body);
  call.server.reconciler.write_as_server(call.tx, "case", case_id, case_id, fields,
                                         "admin:" + call.admin.token.name);
  call.tx.put_allocation(allocation);
  return allocation_json(allocation);
}

json allocate(const AdminCall& call) {
  const CaseId case_id = id_member(call.body, "case_id");
  if (!call.tx.allocation(case_id))
    throw Error(ErrorCode::kNotFound, "no case " + case_id.to_string());
  const CaseAllocation allocation = allocation_from(call.tx, case_id, call.body);
  call.tx.put_allocation(allocation);
  return allocation_json(allocation);
}

json issue_code(const AdminCall& call) {
  const std::string user_id = text_member(call.body, "user_id", true);
  std::int64_t lifetime_ms = 0;
  if (auto found = call.body.find("expires_in_s"); found != call.body.end()) {
    if (!found->is_number_integer() || found->get<std::int64_t>() <= 0 ||
        found->get<std::int64_t>() > 30LL * 24 * 3600) {
      throw Error(ErrorCode::kInvalidArgument,
                  "\"expires_in_s\" must be a whole number of seconds, at most 30 days");
    }
    lifetime_ms = found->get<std::int64_t>() * 1000;
  }
  std::int64_t expires_at_ms = 0;
  const std::string code =
      call.server.credentials.issue_enrolment_code(call.tx, user_id, lifetime_ms, expires_at_ms);
  return {{"code", code}, {"user_id", user_id}, {"expires_at_ms", expires_at_ms}};
}

const std::vector<AdminRoute>& casework_routes() {
  static const std::vector<AdminRoute> kRoutes = {
      {"POST", "/v1/admin/teams", "admin.teams.create", {"manage"}, create_team},
      {"GET",
       "/v1/admin/teams",
       "admin.teams.list",
       {"monitor", "manage"},
       [](const AdminCall& call) { return list_json("teams", call.tx.teams(), team_json); }},
      {"POST", "/v1/admin/users", "admin.users.create", {"manage"}, create_user},
      {"GET",
       "/v1/admin/users",
       "admin.users.list",
       {"monitor", "manage"},
       [](const AdminCall& call) { return list_json("users", call.tx.users(), user_json); }},
      {"POST", "/v1/admin/cases", "admin.cases.create", {"manage"}, create_case},
      {"GET",
       "/v1/admin/cases",
       "admin.cases.list",
       {"monitor", "manage"},
       [](const AdminCall& call) {
         return list_json("cases", call.tx.allocations(), allocation_json);
       }},
      {"POST", "/v1/admin/allocations", "admin.allocations.set", {"manage"}, allocate},
      {"POST", "/v1/admin/enrolment-codes", "admin.enrolment_codes.create", {"enrol"}, issue_code},
  };
  return kRoutes;
}

}  // namespace

void add_admin_routes(http::Router& router, ServerContext& context) {
  add_admin_route_table(router, context, casework_routes());
}

}  // namespace fieldsync::server
