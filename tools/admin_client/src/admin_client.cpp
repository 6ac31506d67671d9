// The admin API's calls (fieldsync/admin/admin_client.h): one request builder and one place that
// turns a refusal into AdminError.
#include "fieldsync/admin/admin_client.h"

#include <utility>

namespace fieldsync::admin {

using nlohmann::json;

namespace {

constexpr std::size_t kQuotedBodyChars = 200;

}  // namespace

AdminError::AdminError(int status, std::string error, const std::string& message)
    : std::runtime_error("admin API answered " + std::to_string(status) + " " + error + ": " +
                         message),
      status_(status),
      error_(std::move(error)),
      message_(message) {}

AdminClient::AdminClient(platform::HttpTransport& transport, std::string base_url,
                         std::string token)
    : transport_(transport), base_url_(std::move(base_url)), token_(std::move(token)) {}

json AdminClient::call(const std::string& method, const std::string& path, const json& body) {
  platform::HttpRequest request;
  request.method = method;
  request.url = base_url_ + path;
  request.headers = {{"Authorization", "Bearer " + token_}};
  if (!body.is_null()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body.dump();
  }
  const platform::HttpResponse response = transport_.send(request);
  json answer = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (response.status < 200 || response.status >= 300) {
    const bool has_error = answer.is_object() && answer.contains("error");
    throw AdminError(
        response.status, has_error ? answer.value("error", "") : "unknown",
        has_error ? answer.value("message", "") : response.body.substr(0, kQuotedBodyChars));
  }
  return answer;
}

void AdminClient::create_team(const std::string& team_id, const std::string& name) {
  call("POST", "/v1/admin/teams", {{"team_id", team_id}, {"name", name}});
}

void AdminClient::create_user(const std::string& user_id, const std::string& team_id,
                              const std::string& role, const std::string& name) {
  call("POST", "/v1/admin/users",
       {{"user_id", user_id}, {"team_id", team_id}, {"role", role}, {"name", name}});
}

CaseId AdminClient::create_case(const std::string& user_id, const json& fields) {
  const json answer = call("POST", "/v1/admin/cases", {{"user_id", user_id}, {"fields", fields}});
  return Uuid::parse_or_throw(answer.at("case_id").get<std::string>(), "case_id");
}

void AdminClient::allocate(const CaseId& case_id, const std::string& user_id) {
  call("POST", "/v1/admin/allocations", {{"case_id", case_id.to_string()}, {"user_id", user_id}});
}

std::string AdminClient::enrolment_code(const std::string& user_id) {
  return call("POST", "/v1/admin/enrolment-codes", {{"user_id", user_id}})
      .at("code")
      .get<std::string>();
}

void AdminClient::revoke(const OriginId& device, const std::string& reason) {
  call("POST", "/v1/admin/devices/" + device.to_string() + "/revoke", {{"reason", reason}});
}

void AdminClient::retire(const OriginId& device, const std::string& reason) {
  call("POST", "/v1/admin/devices/" + device.to_string() + "/retire", {{"reason", reason}});
}

}  // namespace fieldsync::admin
