// AuditTrail: the entries the server writes. See audit_trail.h.
#include "audit_trail.h"

#include <algorithm>
#include <array>

namespace fieldsync::server {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDetailText = 200;

// An admin route that changes something: the action it is recorded as, and the members of its
// answer that make the entry's subject ("device_id", "user_id" and "case_id" fill the entry's
// own columns; the others go to its detail).
struct AuditedAdminRoute {
  std::string_view route_name;
  std::string_view action;
  std::array<std::string_view, 3> members;
};

constexpr std::array<AuditedAdminRoute, 9> kAuditedAdminRoutes = {{
    {"admin.session.open", "session.login", {}},
    {"admin.session.close", "session.logout", {}},
    {"admin.teams.create", "team.created", {"team_id", "name"}},
    {"admin.users.create", "user.created", {"user_id", "team_id", "role"}},
    {"admin.cases.create", "case.created", {"case_id", "team_id", "worker_id"}},
    {"admin.allocations.set", "allocation.changed", {"case_id", "team_id", "worker_id"}},
    {"admin.enrolment_codes.create", "enrolment_code.issued", {"user_id", "expires_at_ms"}},
    {"admin.devices.revoke", "device.revoked", {"device_id", "user_id", "status_reason"}},
    {"admin.devices.retire", "device.retired", {"device_id", "user_id", "status_reason"}},
}};

const AuditedAdminRoute* audited_admin_route(std::string_view route_name) {
  const auto found =
      std::find_if(kAuditedAdminRoutes.begin(), kAuditedAdminRoutes.end(),
                   [&](const AuditedAdminRoute& route) { return route.route_name == route_name; });
  return found == kAuditedAdminRoutes.end() ? nullptr : &*found;
}

std::optional<Uuid> uuid_member(const json& answer, std::string_view name) {
  const auto found = answer.find(name);
  if (found == answer.end() || !found->is_string()) return std::nullopt;
  return Uuid::parse(found->get<std::string>());
}

AuditSubject subject_from_answer(const AuditedAdminRoute& route, const json& answer) {
  AuditSubject subject;
  for (const std::string_view member : route.members) {
    if (member.empty() || !answer.is_object() || !answer.contains(member)) continue;
    if (member == "device_id") {
      subject.device = uuid_member(answer, member);
    } else if (member == "case_id") {
      if (auto case_id = uuid_member(answer, member)) subject.case_ids.push_back(*case_id);
    } else if (member == "user_id" && answer.at(member).is_string()) {
      subject.user_id = answer.at(member).get<std::string>();
    } else {
      subject.detail[std::string(member)] = answer.at(member);
    }
  }
  return subject;
}

std::string bounded(std::string_view text) {
  return std::string(text.substr(0, kMaxDetailText));
}

json case_list(const std::set<CaseId>& cases) {
  json list = json::array();
  for (const CaseId& case_id : cases) list.push_back(case_id.to_string());
  return list;
}

json directive_detail(const Directive& directive) {
  return {{"directive_id", directive.id}, {"kind", to_string(directive.kind)}};
}

std::vector<CaseId> case_of(const Directive& directive) {
  if (directive.kind != DirectiveKind::kPurgeCase) return {};
  return {directive.case_id};
}

}  // namespace

AuditTrail::AuditTrail(ClockSource& clock, std::string node)
    : clock_(clock), node_(std::move(node)) {}

std::optional<std::string_view> AuditTrail::action_of_admin_route(std::string_view route_name) {
  const AuditedAdminRoute* route = audited_admin_route(route_name);
  if (!route) return std::nullopt;
  return route->action;
}

void AuditTrail::admin_route(StorageTransaction& tx, const AdminIdentity& admin,
                             const std::string& address, std::string_view route_name,
                             const json& answer) const {
  const AuditedAdminRoute* route = audited_admin_route(route_name);
  if (!route) return;
  admin_event(tx, admin, address, route->action, subject_from_answer(*route, answer));
}

void AuditTrail::admin_event(StorageTransaction& tx, const AdminIdentity& admin,
                             const std::string& address, std::string_view action,
                             AuditSubject subject) const {
  append(tx, "admin:" + admin.token.id, admin.token.name, action, address, std::move(subject));
}

void AuditTrail::admin_token_created(StorageTransaction& tx, const std::string& token_id,
                                     const std::string& name, const std::vector<std::string>& roles,
                                     std::int64_t expires_at_ms) const {
  AuditSubject subject;
  subject.detail = {{"token_id", token_id},
                    {"name", bounded(name)},
                    {"roles", roles},
                    {"expires_at_ms", expires_at_ms}};
  append(tx, "console", "server console", "admin_token.created", "", std::move(subject));
}

void AuditTrail::device_enrolled(StorageTransaction& tx, const Device& device,
                                 const std::string& address) const {
  AuditSubject subject;
  subject.device = device.id;
  subject.user_id = device.user_id;
  subject.detail = {{"platform", bounded(device.telemetry.platform)},
                    {"app_version", bounded(device.telemetry.app_version)},
                    {"core_version", bounded(device.telemetry.core_version)}};
  append(tx, "device:" + device.id.to_string(), device.user_id, "device.enrolled", address,
         std::move(subject));
}

void AuditTrail::sync(StorageTransaction& tx, const OriginId& device, const std::string& user_id,
                      const std::string& address, const SyncSummary& summary) const {
  const std::string actor = "device:" + device.to_string();
  const auto subject_of = [&](std::vector<CaseId> cases, json detail) {
    return AuditSubject{device, user_id, std::move(cases), std::move(detail)};
  };
  if (summary.exchanged_data()) {
    std::set<CaseId> touched = summary.cases_pushed;
    touched.insert(summary.cases_refused.begin(), summary.cases_refused.end());
    touched.insert(summary.cases_pulled.begin(), summary.cases_pulled.end());
    json rejections = json::object();
    for (const auto& [code, count] : summary.rejections)
      rejections[std::string(to_string(code))] = count;
    json detail = {{"groups_accepted", summary.groups_accepted},
                   {"groups_rejected", summary.groups_rejected},
                   {"changes_in", summary.changes_accepted},
                   {"changes_out", summary.changes_sent},
                   {"conflicts_detected", summary.conflicts_detected},
                   {"conflicts_resolved", summary.conflicts_resolved},
                   {"conflicts_out", summary.conflicts_sent},
                   {"rejections", std::move(rejections)},
                   {"cases_pushed", case_list(summary.cases_pushed)},
                   {"cases_refused", case_list(summary.cases_refused)},
                   {"cases_pulled", case_list(summary.cases_pulled)}};
    append(tx, actor, user_id, "sync", address,
           subject_of({touched.begin(), touched.end()}, std::move(detail)));
  }
  for (const Directive& directive : summary.directives_acknowledged) {
    append(tx, actor, user_id, "directive.acknowledged", address,
           subject_of(case_of(directive), directive_detail(directive)));
  }
  for (const Directive& directive : summary.directives_issued) {
    append(tx, "server", "server", "directive.issued", address,
           subject_of(case_of(directive), directive_detail(directive)));
  }
}

void AuditTrail::authentication_failed(StorageTransaction& tx, std::string_view kind,
                                       const std::string& claimed_account,
                                       const std::string& address, std::string_view reason) const {
  AuditSubject subject;
  subject.detail = {{"credential", kind}, {"reason", bounded(reason)}};
  if (!claimed_account.empty()) subject.detail["claimed_account"] = claimed_account;
  append(tx, "anonymous", "", "auth.failed", address, std::move(subject));
}

void AuditTrail::access_denied(StorageTransaction& tx, const AdminIdentity& admin,
                               const std::string& address, std::string_view role,
                               std::string_view route_name) const {
  AuditSubject subject;
  subject.detail = {{"role_needed", role}, {"route", route_name}};
  admin_event(tx, admin, address, "access.denied", std::move(subject));
}

void AuditTrail::append(StorageTransaction& tx, std::string actor, std::string actor_name,
                        std::string_view action, const std::string& address,
                        AuditSubject subject) const {
  AuditEntry entry;
  entry.at_ms = clock_.wall_ms();
  entry.node = node_;
  entry.actor = std::move(actor);
  entry.actor_name = std::move(actor_name);
  entry.action = std::string(action);
  entry.address = address;
  entry.device = subject.device;
  entry.user_id = std::move(subject.user_id);
  entry.case_ids = std::move(subject.case_ids);
  entry.detail = subject.detail.dump(-1, ' ', false, json::error_handler_t::replace);
  tx.append_audit(entry);
}

}  // namespace fieldsync::server
