// The audit log's routes, for admins holding the monitor role: GET /v1/admin/audit lists entries
// with filters (actor, action, device, case, time range), newest first and paged;
// GET /v1/admin/audit/verify walks the hash chain and names the first row where it breaks.
// Entries carry metadata only (audit_trail.h). See docs/http-api.md ("Audit log").
#include <charconv>

#include "audit_chain.h"
#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "http/query_params.h"
#include "route_access.h"
#include "server_app.h"

namespace fieldsync::server {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

constexpr std::size_t kDefaultPage = 100;
constexpr std::size_t kLargestPage = 1000;
constexpr std::string_view kRole = "monitor";

std::int64_t whole_number(const std::string& name, const std::string& text, std::int64_t low) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < low) {
    throw Error(ErrorCode::kInvalidArgument,
                "\"" + name + "\" must be a whole number of at least " + std::to_string(low));
  }
  return value;
}

AuditQuery query_of(const Request& request) {
  AuditQuery query;
  query.limit = kDefaultPage;
  for (const auto& [name, value] : http::parse_query(request.query)) {
    if (name == "actor")
      query.actor = value;
    else if (name == "action")
      query.action = value;
    else if (name == "device")
      query.device = Uuid::parse_or_throw(value, "device");
    else if (name == "case")
      query.case_id = Uuid::parse_or_throw(value, "case");
    else if (name == "from_ms")
      query.from_ms = whole_number(name, value, 0);
    else if (name == "to_ms")
      query.to_ms = whole_number(name, value, 0);
    else if (name == "before")
      query.before_seq = static_cast<std::uint64_t>(whole_number(name, value, 1));
    else if (name == "limit") {
      query.limit = static_cast<std::size_t>(whole_number(name, value, 1));
      if (query.limit > kLargestPage) {
        throw Error(ErrorCode::kInvalidArgument,
                    "\"limit\" is at most " + std::to_string(kLargestPage));
      }
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown filter; the audit log takes actor, action, device, case, from_ms, "
                  "to_ms, before and limit");
    }
  }
  return query;
}

json entry_json(const AuditRecord& record) {
  const AuditEntry& entry = record.entry;
  json case_ids = json::array();
  for (const CaseId& case_id : entry.case_ids) case_ids.push_back(case_id.to_string());
  json detail = json::parse(entry.detail, nullptr, /*allow_exceptions=*/false);
  return {{"seq", record.seq},
          {"at_ms", entry.at_ms},
          {"node", entry.node},
          {"actor", entry.actor},
          {"actor_name", entry.actor_name},
          {"action", entry.action},
          {"address", entry.address},
          {"device_id", entry.device ? json(entry.device->to_string()) : json(nullptr)},
          {"user_id", entry.user_id},
          {"case_ids", std::move(case_ids)},
          {"detail", detail.is_discarded() ? json::object() : std::move(detail)},
          {"hash", crypto::to_hex(record.hash)}};
}

Response list_entries(ServerContext& context, const Request& request) {
  const AuditQuery query = retry_lost_races([&] {
    auto tx = context.storage.begin();
    authorize_admin(context, tx, request, kRole, "admin.audit.list");
    return query_of(request);
  });
  context.storage.seal_audit();  // every committed entry is listed
  const std::vector<AuditRecord> records = run_transaction(
      context.storage, [&](StorageTransaction& tx) { return tx.audit_entries(query); });
  json entries = json::array();
  for (const AuditRecord& record : records) entries.push_back(entry_json(record));
  const bool full_page = records.size() == query.limit;
  return http::json_response(
      200, {{"entries", std::move(entries)},
            {"next_before", full_page ? json(records.back().seq) : json(nullptr)}});
}

Response verify(ServerContext& context, const Request& request) {
  retry_lost_races([&] {
    auto tx = context.storage.begin();
    authorize_admin(context, tx, request, kRole, "admin.audit.verify");
  });
  const AuditVerification result = verify_audit_chain(context.storage);
  if (!result.intact) {
    context.log.error("audit_chain_broken",
                      {{"first_bad_seq", *result.first_bad_seq}, {"problem", result.problem}});
  }
  return http::json_response(
      200, {{"intact", result.intact},
            {"rows_checked", result.rows_checked},
            {"head", {{"seq", result.head.seq}, {"hash", crypto::to_hex(result.head.hash)}}},
            {"first_bad_seq", result.first_bad_seq ? json(*result.first_bad_seq) : json(nullptr)},
            {"problem", result.intact ? json(nullptr) : json(result.problem)},
            {"pending",
             {{"rows", result.pending.rows},
              {"oldest_at", result.pending.oldest_at_ms ? json(*result.pending.oldest_at_ms)
                                                        : json(nullptr)}}}});
}

}  // namespace

void add_audit_routes(http::Router& router, ServerContext& context) {
  router.add({"GET", "/v1/admin/audit", "admin.audit.list",
              [&context](const Request& request, const http::PathParams&) {
                return list_entries(context, request);
              }});
  router.add({"GET", "/v1/admin/audit/verify", "admin.audit.verify",
              [&context](const Request& request, const http::PathParams&) {
                return verify(context, request);
              }});
}

}  // namespace fieldsync::server
