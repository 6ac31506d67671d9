// The admin routes needed to run a council's casework: teams, users, cases, allocations,
// enrolment codes, revoke and retire, and metadata lists. JSON in and out; every call needs an
// admin token with the route's role (monitor, manage or enrol). No answer carries case content.
// Each call that changes something is written to the audit log in the same transaction as the
// change (audit_trail.h). See docs/http-api.md.
#include <algorithm>

#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/schema.h"
#include "http/error_mapping.h"
#include "route_access.h"
#include "server_app.h"

namespace fieldsync::server {
namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr std::size_t kMaxNameBytes = 200;

json body_of(const Request& request) {
  json body = request.body.empty() ? json::object() : parse_json_argument(request.body, "the request body");
  if (!body.is_object()) throw Error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  return body;
}

std::string text_member(const json& body, const char* name, bool required) {
  const auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required) throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" is required");
    return {};
  }
  if (!found->is_string()) throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" must be a string");
  const auto& text = found->get_ref<const std::string&>();
  if (text.size() > kMaxNameBytes) {
    throw Error(ErrorCode::kTooLarge, std::string("\"") + name + "\" is longer than " +
                                          std::to_string(kMaxNameBytes) + " bytes");
  }
  if (required && text.empty()) throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" is empty");
  return text;
}

Uuid id_member(const json& body, const char* name) {
  return Uuid::parse_or_throw(text_member(body, name, true), name);
}

// Runs `work` in one transaction for an admin holding `role`, with its audit entry.
template <class Work>
Response as_admin(ServerContext& context, const Request& request, std::string_view route_name,
                  std::string_view role, Work work) {
  auto tx = context.storage.begin();
  const AdminIdentity admin = authorize_admin(context, tx, request, role, route_name);
  json answer = work(*tx, admin);
  context.audit.admin_route(*tx, admin, request.remote_address, route_name, answer);
  tx->commit();
  context.log.info("admin_action", {{"admin", admin.token.name}, {"path", request.path}});
  return http::json_response(200, answer);
}

json team_json(const Team& team) { return {{"team_id", team.id}, {"name", team.name}}; }
json user_json(const User& user) {
  return {{"user_id", user.id}, {"team_id", user.team_id}, {"role", to_string(user.role)}, {"name", user.name}};
}
json allocation_json(const CaseAllocation& allocation) {
  return {{"case_id", allocation.case_id.to_string()},
          {"team_id", allocation.team_id},
          {"worker_id", allocation.worker_id}};
}
json device_json(const Device& device) {
  return {{"device_id", device.id.to_string()},
          {"user_id", device.user_id},
          {"status", to_string(device.status)},
          {"status_reason", device.status_reason},
          {"enrolled_at_ms", device.enrolled_at_ms},
          {"last_seen_ms", device.last_seen_ms},
          {"last_sync_ms", device.last_sync_ms},
          {"platform", device.telemetry.platform},
          {"app_version", device.telemetry.app_version},
          {"core_version", device.telemetry.core_version},
          {"pending_count", device.telemetry.pending_count}};
}

template <class Item, class ToJson>
json list_json(const std::vector<Item>& items, ToJson to_json_item) {
  json list = json::array();
  for (const Item& item : items) list.push_back(to_json_item(item));
  return list;
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

json create_team(StorageTransaction& tx, const json& body) {
  Team team{text_member(body, "team_id", true), text_member(body, "name", false)};
  if (team.name.empty()) team.name = team.id;
  tx.put_team(team);
  return team_json(team);
}

json create_user(StorageTransaction& tx, const json& body) {
  const std::string role_name = text_member(body, "role", false);
  const auto role = role_name.empty() ? std::optional(Role::kWorker) : role_from_string(role_name);
  if (!role) throw Error(ErrorCode::kInvalidArgument, "\"role\" must be \"worker\" or \"manager\"");
  User user{text_member(body, "user_id", true), text_member(body, "team_id", true), *role,
            text_member(body, "name", false)};
  require_team(tx, user.team_id);
  if (user.name.empty()) user.name = user.id;
  tx.put_user(user);
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

json create_case(ServerContext& context, StorageTransaction& tx, const AdminIdentity& admin,
                 const json& body) {
  const CaseId case_id = body.contains("case_id") ? id_member(body, "case_id") : Uuid::random_v4();
  if (tx.allocation(case_id)) throw Error(ErrorCode::kConflict, "case " + case_id.to_string() + " already exists");
  const auto fields_json = body.find("fields");
  if (fields_json == body.end()) throw Error(ErrorCode::kInvalidArgument, "\"fields\" is required");
  auto fields = fields_from_json(*fields_json, "case", Schema::domain(), "fields");
  fields.try_emplace("status", Value::text("open"));
  const CaseAllocation allocation = allocation_from(tx, case_id, body);
  context.reconciler.write_as_server(tx, "case", case_id, case_id, fields, "admin:" + admin.token.name);
  tx.put_allocation(allocation);
  return allocation_json(allocation);
}

json allocate(StorageTransaction& tx, const json& body) {
  const CaseId case_id = id_member(body, "case_id");
  if (!tx.allocation(case_id)) throw Error(ErrorCode::kNotFound, "no case " + case_id.to_string());
  const CaseAllocation allocation = allocation_from(tx, case_id, body);
  tx.put_allocation(allocation);
  return allocation_json(allocation);
}

json issue_code(ServerContext& context, StorageTransaction& tx, const json& body) {
  const std::string user_id = text_member(body, "user_id", true);
  std::int64_t lifetime_ms = 0;
  if (auto found = body.find("expires_in_s"); found != body.end()) {
    if (!found->is_number_integer() || found->get<std::int64_t>() <= 0 ||
        found->get<std::int64_t>() > 30LL * 24 * 3600) {
      throw Error(ErrorCode::kInvalidArgument, "\"expires_in_s\" must be a whole number of seconds, at most 30 days");
    }
    lifetime_ms = found->get<std::int64_t>() * 1000;
  }
  std::int64_t expires_at_ms = 0;
  const std::string code = context.credentials.issue_enrolment_code(tx, user_id, lifetime_ms, expires_at_ms);
  return {{"code", code}, {"user_id", user_id}, {"expires_at_ms", expires_at_ms}};
}

json change_device_status(StorageTransaction& tx, const PathParams& params, const json& body,
                          DeviceStatus to) {
  const OriginId id = Uuid::parse_or_throw(params.at("id"), "device id");
  auto device = tx.device(id);
  if (!device) throw Error(ErrorCode::kNotFound, "no device " + id.to_string());
  if (device->status == DeviceStatus::kWiped || device->status == DeviceStatus::kRetired) {
    throw Error(ErrorCode::kConflict, "the device is already " + std::string(to_string(device->status)));
  }
  if (device->status == DeviceStatus::kRevoked && to == DeviceStatus::kRetiring) {
    throw Error(ErrorCode::kConflict, "a revoked device cannot be retired: it is wiped at its next sync");
  }
  device->status = to;
  device->status_reason = text_member(body, "reason", false);
  tx.put_device(*device);
  return device_json(*device);
}

}  // namespace

void add_admin_routes(http::Router& router, ServerContext& context) {
  using Handler = json (*)(ServerContext&, StorageTransaction&, const AdminIdentity&, const json&,
                           const PathParams&);
  struct AdminRoute {
    const char* method;
    const char* pattern;
    const char* name;
    const char* role;
    Handler handler;
  };
  static const AdminRoute kRoutes[] = {
      {"POST", "/v1/admin/teams", "admin.teams.create", "manage",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams&) { return create_team(tx, body); }},
      {"GET", "/v1/admin/teams", "admin.teams.list", "monitor",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json&,
          const PathParams&) { return list_json(tx.teams(), team_json); }},
      {"POST", "/v1/admin/users", "admin.users.create", "manage",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams&) { return create_user(tx, body); }},
      {"GET", "/v1/admin/users", "admin.users.list", "monitor",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json&,
          const PathParams&) { return list_json(tx.users(), user_json); }},
      {"POST", "/v1/admin/cases", "admin.cases.create", "manage",
       [](ServerContext& server, StorageTransaction& tx, const AdminIdentity& admin,
          const json& body, const PathParams&) { return create_case(server, tx, admin, body); }},
      {"GET", "/v1/admin/cases", "admin.cases.list", "monitor",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json&,
          const PathParams&) { return list_json(tx.allocations(), allocation_json); }},
      {"POST", "/v1/admin/allocations", "admin.allocations.set", "manage",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams&) { return allocate(tx, body); }},
      {"POST", "/v1/admin/enrolment-codes", "admin.enrolment_codes.create", "enrol",
       [](ServerContext& server, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams&) { return issue_code(server, tx, body); }},
      {"GET", "/v1/admin/devices", "admin.devices.list", "monitor",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json&,
          const PathParams&) { return list_json(tx.devices(), device_json); }},
      {"POST", "/v1/admin/devices/{id}/revoke", "admin.devices.revoke", "enrol",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams& params) { return change_device_status(tx, params, body, DeviceStatus::kRevoked); }},
      {"POST", "/v1/admin/devices/{id}/retire", "admin.devices.retire", "enrol",
       [](ServerContext&, StorageTransaction& tx, const AdminIdentity&, const json& body,
          const PathParams& params) { return change_device_status(tx, params, body, DeviceStatus::kRetiring); }},
  };
  for (const AdminRoute& route : kRoutes) {
    const bool has_body = std::string_view(route.method) == "POST";
    router.add({route.method, route.pattern, route.name,
                [&context, &route](const Request& request, const PathParams& params) {
                  return as_admin(context, request, route.name, route.role,
                                  [&](StorageTransaction& tx, const AdminIdentity& admin) {
                                    return route.handler(context, tx, admin, body_of(request), params);
                                  });
                },
                has_body ? std::vector<std::string>{"application/json"} : std::vector<std::string>{}});
  }
}

}  // namespace fieldsync::server
