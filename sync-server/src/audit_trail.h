// What the server writes to the audit log (DESIGN.md section 5), and in which words: every admin
// action, enrolment, sync that moved data, directive issued or acknowledged, refused
// authentication and refused admin right. Each entry is appended in the transaction of the action
// it records, so an action and its entry commit together or not at all; a refusal, whose own
// transaction rolls back, is written in one of its own (route_access.h does that).
//
// Entries hold metadata only: ids, counts, codes, the reasons admins type; never a field value,
// a rejection's message, a token or an enrolment code. The actions are listed in
// docs/http-api.md ("Audit log").
//
// Thread-safety: immutable after construction; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "credentials.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/server/server_storage.h"
#include "reconciler.h"

namespace fieldsync::server {

// What an entry is about, besides who did it.
struct AuditSubject {
  std::optional<OriginId> device;
  std::string user_id;
  std::vector<CaseId> case_ids;
  nlohmann::json detail = nlohmann::json::object();
};

class AuditTrail {
 public:
  AuditTrail(ClockSource& clock, std::string node);

  // The action an admin route is recorded as, by the route's name; nullopt for routes that
  // change nothing (lists), which are not recorded.
  static std::optional<std::string_view> action_of_admin_route(std::string_view route_name);

  // An admin route's action, its subject taken from the route's answer (only the members the
  // action names: never an enrolment code). Nothing for routes that are not recorded.
  void admin_route(StorageTransaction& tx, const AdminIdentity& admin, const std::string& address,
                   std::string_view route_name, const nlohmann::json& answer) const;
  // Any other admin event ("session.login", "session.logout", ...).
  void admin_event(StorageTransaction& tx, const AdminIdentity& admin, const std::string& address,
                   std::string_view action, AuditSubject subject = {}) const;
  // A token made on the server machine (`fieldsync-server admin create-token`).
  void admin_token_created(StorageTransaction& tx, const std::string& token_id,
                           const std::string& name, const std::vector<std::string>& roles,
                           std::int64_t expires_at_ms) const;
  void device_enrolled(StorageTransaction& tx, const Device& device,
                       const std::string& address) const;
  // A sync: one "sync" entry when data moved either way, one entry per directive issued or
  // acknowledged; nothing for a sync that did neither.
  void sync(StorageTransaction& tx, const OriginId& device, const std::string& user_id,
            const std::string& address, const SyncSummary& summary) const;
  // `kind`: one of kCredentialKinds; `claimed_account`: what the token named, if anything.
  void authentication_failed(StorageTransaction& tx, std::string_view kind,
                             const std::string& claimed_account, const std::string& address,
                             std::string_view reason) const;
  void access_denied(StorageTransaction& tx, const AdminIdentity& admin, const std::string& address,
                     std::string_view role, std::string_view route_name) const;

 private:
  void append(StorageTransaction& tx, std::string actor, std::string actor_name,
              std::string_view action, const std::string& address, AuditSubject subject) const;

  ClockSource& clock_;
  const std::string node_;
};

}  // namespace fieldsync::server
