// The devices' routes: POST /v1/enrol (JSON) and POST /v1/sync (binary or JSON, answered in the
// same form). See docs/http-api.md.
#include <cctype>
#include <chrono>

#include "fieldsync/content_coding.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/json_form.h"
#include "fieldsync/wire_codec.h"
#include "http/error_mapping.h"
#include "server_app.h"

namespace fieldsync::server {
namespace {

using http::Request;
using http::Response;

std::string authorization_of(const Request& request) {
  return std::string(request.header("Authorization").value_or(""));
}

std::string string_member(const nlohmann::json& body, const char* name, bool required) {
  const auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required) throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" is required");
    return {};
  }
  if (!found->is_string()) throw Error(ErrorCode::kInvalidArgument, std::string("\"") + name + "\" must be a string");
  if (found->get_ref<const std::string&>().size() > 256) {
    throw Error(ErrorCode::kTooLarge, std::string("\"") + name + "\" is longer than 256 bytes");
  }
  return found->get<std::string>();
}

Response enrol(ServerContext& context, const Request& request) {
  const nlohmann::json body = parse_json_argument(request.body, "the enrolment request");
  if (!body.is_object()) throw Error(ErrorCode::kInvalidArgument, "the enrolment request must be a JSON object");
  Telemetry telemetry;
  telemetry.platform = string_member(body, "platform", false);
  telemetry.app_version = string_member(body, "app_version", false);
  telemetry.core_version = string_member(body, "core_version", false);
  const std::string code = string_member(body, "code", true);

  auto tx = context.storage.begin();
  Enrolled enrolled = context.credentials.enrol(*tx, code, telemetry, request.remote_address);
  tx->commit();
  context.log.info("device_enrolled", {{"device", enrolled.device.id.to_string()},
                                       {"user", enrolled.device.user_id},
                                       {"platform", telemetry.platform}});
  return http::json_response(200, {{"device_id", enrolled.device.id.to_string()},
                                   {"user_id", enrolled.device.user_id},
                                   {"token", enrolled.token},
                                   {"server_time_ms", context.clock.wall_ms()}});
}

// The wire form named by a Content-Type: parameters ignored, case-insensitive (RFC 9110).
std::optional<WireFormat> format_of(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  std::erase_if(type, [](char c) { return c == ' ' || c == '\t'; });
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == kBinaryContentType) return WireFormat::kBinary;
  if (type == kJsonContentType) return WireFormat::kJson;
  return std::nullopt;
}

// The answer in gzip when the device accepts it and it is worth it (content_coding.h). Either
// way the answer says that this route takes gzip requests too (RFC 7694).
void encode_body(Response& response, std::string body, const Request& request) {
  response.headers.emplace_back("Accept-Encoding", kGzipCoding);
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (accepts_gzip(request.header("Accept-Encoding").value_or(""))) {
    if (std::optional<std::string> compressed = gzip_if_worthwhile(body)) {
      response.headers.emplace_back("Content-Encoding", kGzipCoding);
      response.body = std::move(*compressed);
      return;
    }
  }
  response.body = std::move(body);
}

Response sync(ServerContext& context, const Request& request) {
  const auto started = std::chrono::steady_clock::now();
  const auto format = format_of(request.header("Content-Type").value_or(""));
  if (!format) {
    return http::error_response(http::ProtocolError::kUnsupportedMediaType,
                                "send the sync request as " + std::string(kBinaryContentType) +
                                    " or " + std::string(kJsonContentType));
  }
  const std::string_view coding = request.header("Content-Encoding").value_or("");
  const bool gzipped = is_gzip_coding(coding);
  if (!gzipped && !is_identity_coding(coding)) {
    return http::error_response(http::ProtocolError::kUnsupportedMediaType,
                                "send the sync request with Content-Encoding gzip, or none");
  }
  DecodeLimits limits;
  limits.max_body_bytes = *format == WireFormat::kBinary ? context.options.max_binary_body_bytes
                                                         : context.options.max_json_body_bytes;
  // Who is asking comes first: a body is only decoded for a device that may send one.
  {
    auto check = context.storage.begin();
    context.credentials.authenticate_device(*check, authorization_of(request), request.remote_address);
  }
  // Inflated under the same cap as a plain body: a small bomb is refused as too large.
  const std::string inflated = gzipped ? gunzip(request.body, limits.max_body_bytes) : std::string();
  const SyncRequest sync_request =
      decode_request(gzipped ? std::string_view(inflated) : std::string_view(request.body), *format,
                     limits);

  auto tx = context.storage.begin();
  SyncIdentity identity =
      context.credentials.authenticate_device(*tx, authorization_of(request), request.remote_address);
  const std::string device = identity.device.id.to_string();
  const std::string user = identity.user.id;
  SyncSummary summary;
  const SyncResponse sync_response = context.reconciler.sync(*tx, std::move(identity), sync_request, summary);
  tx->commit();  // durable (the WAL synced) before any acknowledgement leaves

  Response response;
  response.content_type = *format == WireFormat::kBinary ? kBinaryContentType : kJsonContentType;
  encode_body(response, encode_response(sync_response, *format), request);
  context.log.info(
      "sync", {{"device", device},
               {"user", user},
               {"groups_accepted", summary.groups_accepted},
               {"groups_rejected", summary.groups_rejected},
               {"changes_in", summary.changes_accepted},
               {"changes_out", summary.changes_sent},
               {"more", sync_response.more},
               {"directives", sync_response.directives.size()},
               {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count()}});
  return response;
}

}  // namespace

void add_device_routes(http::Router& router, ServerContext& context) {
  router.add({"POST", "/v1/enrol", "enrol",
              [&context](const Request& request, const http::PathParams&) { return enrol(context, request); },
              {std::string(kJsonContentType)}});
  router.add({"POST", "/v1/sync", "sync",
              [&context](const Request& request, const http::PathParams&) { return sync(context, request); }});
}

}  // namespace fieldsync::server
