// enrol(): POST /v1/enrol, a one-time code in, this device's identity and token out
// (docs/http-api.md). Thread-safe: no state.
#include <nlohmann/json.hpp>

#include "fieldsync/client/sync_engine.h"
#include "server_http.h"

namespace fieldsync::client {
namespace {

using nlohmann::json;

[[noreturn]] void throw_malformed(const std::string& what) {
  throw Error(ErrorCode::kMalformed, "the server's enrolment answer " + what);
}

std::string required_text(const json& answer, const char* member) {
  const auto found = answer.find(member);
  if (found == answer.end() || !found->is_string() || found->get<std::string>().empty()) {
    throw_malformed(std::string("has no ") + member);
  }
  return found->get<std::string>();
}

Enrolment enrolment_from(const platform::HttpResponse& response) {
  const json answer = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object()) throw_malformed("is not a JSON object");
  Enrolment enrolment;
  const auto device_id = Uuid::parse(required_text(answer, "device_id"));
  if (!device_id) throw_malformed("has a device_id that is not a UUID");
  enrolment.device_id = *device_id;
  enrolment.user_id = required_text(answer, "user_id");
  enrolment.token = required_text(answer, "token");
  const auto time = answer.find("server_time_ms");
  if (time == answer.end() || !time->is_number_integer()) throw_malformed("has no server_time_ms");
  enrolment.server_time_ms = time->get<std::int64_t>();
  return enrolment;
}

}  // namespace

Enrolment enrol(platform::HttpTransport& transport, std::string_view server_url,
                std::string_view code, const ClientInfo& client,
                std::chrono::milliseconds timeout) {
  if (code.empty()) throw Error(ErrorCode::kInvalidArgument, "the enrolment code is empty");
  platform::HttpRequest request;
  request.url = server_endpoint(server_url, "/v1/enrol");
  request.headers = {{"Content-Type", std::string(kJsonContentType)},
                     {"Accept", std::string(kJsonContentType)}};
  request.body = json{{"code", code},
                      {"platform", client.platform},
                      {"app_version", client.app_version},
                      {"core_version", core_version()}}
                     .dump(-1, ' ', false, json::error_handler_t::replace);
  request.timeout = timeout;
  const platform::HttpResponse response = transport.send(request);
  if (response.status < 200 || response.status > 299) {
    throw read_error_answer(response, std::chrono::system_clock::now()).to_error();
  }
  return enrolment_from(response);
}

}  // namespace fieldsync::client
