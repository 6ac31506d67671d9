// The admin API (docs/http-api.md, docs/openapi.yaml) as C++ calls over a
// platform::HttpTransport: any route through `call`, and the casework and enrolment calls the
// demo, the tests and the benchmarks set a council up with (teams, users, cases, allocations,
// enrolment codes, revoke, retire). fieldsync-admin reaches the API through `call` and adds the
// command line and the readable output.
//
// An answer other than 2xx throws AdminError with the status and the server's error name and
// message; a transport failure throws the transport's Error (domain kNetwork). A 2xx answer that
// is not JSON comes back as a discarded value (`is_discarded()`), for the caller to judge.
//
// Not thread-safe: one thread at a time per object (the transport is shared, not owned).
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldsync/platform/http_transport.h"
#include "fieldsync/uuid.h"

namespace fieldsync::admin {

class AdminError : public std::runtime_error {
 public:
  AdminError(int status, std::string error, const std::string& message);
  int status() const { return status_; }
  // The server's error name ("not_found", "conflict"), or "unknown" for a body that was not an
  // error object.
  const std::string& error() const { return error_; }
  // The server's sentence for a person (or the start of a body that was not an error object).
  const std::string& message() const { return message_; }

 private:
  int status_;
  std::string error_;
  std::string message_;
};

class AdminClient {
 public:
  // `base_url` without a trailing slash ("http://127.0.0.1:8443"); `token` an admin token.
  AdminClient(platform::HttpTransport& transport, std::string base_url, std::string token);

  // `method` on `path` (with its query), with `body` as JSON unless it is null.
  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr);

  void create_team(const std::string& team_id, const std::string& name);
  void create_user(const std::string& user_id, const std::string& team_id, const std::string& role,
                   const std::string& name);
  // A case allocated to `user_id` (a worker's own, or a manager's team's), with `fields` of the
  // case schema (child_name at least). Returns its id.
  CaseId create_case(const std::string& user_id, const nlohmann::json& fields);
  // Moves the case to `user_id` (and to their team).
  void allocate(const CaseId& case_id, const std::string& user_id);
  std::string enrolment_code(const std::string& user_id);
  void revoke(const OriginId& device, const std::string& reason);
  void retire(const OriginId& device, const std::string& reason);

 private:
  platform::HttpTransport& transport_;
  std::string base_url_;
  std::string token_;
};

}  // namespace fieldsync::admin
