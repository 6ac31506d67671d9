// The admin API (docs/http-api.md) as C++ calls over a platform::HttpTransport, for the demo, the
// integration tests and the benchmarks: teams, users, cases, allocations, enrolment codes,
// revoke and retire. An answer other than 2xx throws AdminError with the status and the server's
// error name and message. `call` is also fieldsync-admin's way to the API (it adds the command
// line and the readable output). One thread at a time per object.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldsync/platform/http_transport.h"
#include "fieldsync/uuid.h"

namespace fieldsync::dev {

class AdminError : public std::runtime_error {
 public:
  AdminError(int status, std::string error, const std::string& message)
      : std::runtime_error("admin API answered " + std::to_string(status) + " " + error + ": " + message),
        status_(status), error_(std::move(error)), message_(message) {}
  int status() const { return status_; }
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
  AdminClient(platform::HttpTransport& transport, std::string base_url, std::string token)
      : transport_(transport), base_url_(std::move(base_url)), token_(std::move(token)) {}

  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) {
    platform::HttpRequest request;
    request.method = method;
    request.url = base_url_ + path;
    request.headers = {{"Authorization", "Bearer " + token_}};
    if (!body.is_null()) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = body.dump();
    }
    const platform::HttpResponse response = transport_.send(request);
    nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (response.status < 200 || response.status >= 300) {
      const bool has_error = answer.is_object() && answer.contains("error");
      throw AdminError(response.status, has_error ? answer.value("error", "") : "unknown",
                       has_error ? answer.value("message", "") : response.body.substr(0, 200));
    }
    return answer;
  }

  void create_team(const std::string& team_id, const std::string& name) {
    call("POST", "/v1/admin/teams", {{"team_id", team_id}, {"name", name}});
  }
  void create_user(const std::string& user_id, const std::string& team_id, const std::string& role,
                   const std::string& name) {
    call("POST", "/v1/admin/users",
         {{"user_id", user_id}, {"team_id", team_id}, {"role", role}, {"name", name}});
  }
  // A case allocated to `user_id` (a worker's own, or a manager's team's), with `fields` of the
  // case schema (child_name at least). Returns its id.
  CaseId create_case(const std::string& user_id, const nlohmann::json& fields) {
    const nlohmann::json answer =
        call("POST", "/v1/admin/cases", {{"user_id", user_id}, {"fields", fields}});
    return Uuid::parse_or_throw(answer.at("case_id").get<std::string>(), "case_id");
  }
  // Moves the case to `user_id` (and to their team).
  void allocate(const CaseId& case_id, const std::string& user_id) {
    call("POST", "/v1/admin/allocations", {{"case_id", case_id.to_string()}, {"user_id", user_id}});
  }
  std::string enrolment_code(const std::string& user_id) {
    return call("POST", "/v1/admin/enrolment-codes", {{"user_id", user_id}}).at("code").get<std::string>();
  }
  void revoke(const OriginId& device, const std::string& reason) {
    call("POST", "/v1/admin/devices/" + device.to_string() + "/revoke", {{"reason", reason}});
  }
  void retire(const OriginId& device, const std::string& reason) {
    call("POST", "/v1/admin/devices/" + device.to_string() + "/retire", {{"reason", reason}});
  }

 private:
  platform::HttpTransport& transport_;
  std::string base_url_;
  std::string token_;
};

}  // namespace fieldsync::dev
