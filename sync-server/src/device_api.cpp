// The devices' routes: POST /v1/enrol (JSON) and POST /v1/sync (binary or JSON, answered in the
// same form). Each enrolment, and each sync that moved data or directives, is written to the audit
// log in the same transaction; refused credentials are recorded by route_access.h. See
// docs/http-api.md.
#include <cctype>
#include <chrono>

#include "fieldsync/content_coding.h"
#include "fieldsync/error.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/json_form.h"
#include "fieldsync/wire_codec.h"
#include "http/error_mapping.h"
#include "route_access.h"
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

  // Single use across server nodes: of two enrolments racing on one code, one commits and the
  // other runs again (a lost race) and finds the code used.
  const Enrolled enrolled = retry_lost_races([&] {
    auto tx = context.storage.begin();
    Enrolled made = authenticated(context, tx, request, "enrolment", [&](StorageTransaction& open) {
      return context.credentials.enrol(open, code, telemetry, request.remote_address);
    });
    context.audit.device_enrolled(*tx, made.device, request.remote_address);
    tx->commit();
    return made;
  });
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

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

// The error a failed sync was answered with, as its device saw it, in the registry: in a
// transaction of its own, since the sync's was rolled back. Recording is best effort: the
// device's answer does not wait on it, and a failure to record is logged.
void record_failed_sync(ServerContext& context, const SyncIdentity& identity,
                        const Response& answer, const Request& request,
                        std::chrono::steady_clock::time_point started) {
  const nlohmann::json body =
      nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  SyncEvent event;
  event.outcome = SyncOutcome::kFailed;
  event.at_ms = context.clock.wall_ms();
  event.duration_ms = elapsed_ms(started);
  event.bytes_in = request.body.size();
  event.bytes_out = answer.body.size();
  event.error_code = body.is_object() ? body.value("error", "") : "";
  event.error_message = body.is_object() ? body.value("message", "") : "";
  try {
    run_transaction(context.storage, [&](StorageTransaction& tx) {
      context.registry.record_failed_sync(tx, identity.device.id, event);
    });
  } catch (const std::exception& error) {
    context.log.error("sync_failure_not_recorded", {{"device", identity.device.id.to_string()},
                                                    {"cause", http::describe_for_log(error)}});
  }
}

// An authenticated device's sync: decoded, reconciled, recorded in the registry and committed
// together.
Response exchange(ServerContext& context, const Request& request, WireFormat format,
                  const std::string& user_id, std::chrono::steady_clock::time_point started) {
  DecodeLimits limits;
  limits.max_body_bytes = format == WireFormat::kBinary ? context.options.max_binary_body_bytes
                                                        : context.options.max_json_body_bytes;
  // Inflated under the same cap as a plain body: a small bomb is refused as too large.
  const bool gzipped = is_gzip_coding(request.header("Content-Encoding").value_or(""));
  const std::string inflated = gzipped ? gunzip(request.body, limits.max_body_bytes) : std::string();
  const SyncRequest sync_request = decode_request(
      gzipped ? std::string_view(inflated) : std::string_view(request.body), format, limits);

  // Committed, so durable, before any acknowledgement leaves; a lost race runs it all again
  // (reconciler.h says why that is safe). In the user's turn: the user's devices edit the same
  // cases, and their syncs queue rather than race.
  SyncSummary summary;
  SyncIdentity identity;
  auto [sync_response, response] = retry_lost_races([&] {
    auto tx = context.storage.begin_in_turn("sync " + user_id);
    identity = context.credentials.authenticate_device(*tx, authorization_of(request),
                                                       request.remote_address);
    summary = {};
    SyncResponse answer = context.reconciler.sync(*tx, identity, sync_request, summary);
    Response encoded;
    encoded.content_type = format == WireFormat::kBinary ? kBinaryContentType : kJsonContentType;
    encode_body(encoded, encode_response(answer, format), request);
    SyncRecord record;
    record.event.outcome = summary.outcome;
    record.event.at_ms = context.reconciler.now_ms();
    record.event.duration_ms = elapsed_ms(started);
    record.event.changes_pushed = summary.changes_accepted;
    record.event.changes_pulled = summary.changes_sent;
    record.event.groups_rejected = summary.groups_rejected;
    record.event.conflicts = summary.conflicts_detected;
    record.event.bytes_in = request.body.size();
    record.event.bytes_out = encoded.body.size();
    record.event.error_code = summary.error_code;
    record.event.error_message = summary.error_message;
    record.changes_sent_by_device = summary.changes_received;
    context.registry.record_sync(*tx, identity.device, std::move(record));
    context.audit.sync(*tx, identity.device.id, identity.user.id, request.remote_address, summary);
    tx->commit();  // durable (the WAL synced) before any acknowledgement leaves
    return std::pair(std::move(answer), std::move(encoded));
  });
  context.metrics.count_sync(summary);

  context.log.info("sync", {{"device", identity.device.id.to_string()},
                            {"user", identity.user.id},
                            {"outcome", to_string(summary.outcome)},
                            {"groups_accepted", summary.groups_accepted},
                            {"groups_rejected", summary.groups_rejected},
                            {"groups_restored", summary.groups_restored},
                            {"changes_in", summary.changes_accepted},
                            {"changes_out", summary.changes_sent},
                            {"more", sync_response.more},
                            {"directives", sync_response.directives.size()},
                            {"ms", elapsed_ms(started)}});
  if (summary.sequence_reuses > 0) {
    // Loud: the device reused sequence numbers the server accepted with other content, which a
    // device restored from an old backup of its store does. It renumbers and sends again.
    context.log.warning("sequence_reused", {{"device", identity.device.id.to_string()},
                                            {"user", identity.user.id},
                                            {"groups", summary.sequence_reuses}});
  }
  return std::move(response);
}

Response sync(ServerContext& context, const Request& request) {
  const auto started = std::chrono::steady_clock::now();
  // Who is asking comes first: a body is only looked at for a device that may send one, and only
  // a known device's failures go to the registry.
  const SyncIdentity identity = retry_lost_races([&] {
    auto check = context.storage.begin();
    return authenticated(context, check, request, "device", [&](StorageTransaction& open) {
      return context.credentials.authenticate_device(open, authorization_of(request),
                                                     request.remote_address);
    });
  });
  const auto format = format_of(request.header("Content-Type").value_or(""));
  if (!format) {
    Response refused =
        http::error_response(http::ProtocolError::kUnsupportedMediaType,
                             "send the sync request as " + std::string(kBinaryContentType) +
                                 " or " + std::string(kJsonContentType));
    record_failed_sync(context, identity, refused, request, started);
    return refused;
  }
  const std::string_view coding = request.header("Content-Encoding").value_or("");
  if (!is_gzip_coding(coding) && !is_identity_coding(coding)) {
    Response refused = http::error_response(
        http::ProtocolError::kUnsupportedMediaType,
        "send the sync request with Content-Encoding gzip, or none");
    record_failed_sync(context, identity, refused, request, started);
    return refused;
  }
  try {
    return exchange(context, request, *format, identity.user.id, started);
  } catch (const std::exception& error) {
    record_failed_sync(context, identity, http::error_response(error), request, started);
    throw;  // the router answers it (and logs a fault)
  }
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
