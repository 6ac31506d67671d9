// The audit log and its check (admin_audit.h), over GET /v1/admin/audit and
// GET /v1/admin/audit/verify (docs/http-api.md, "Audit log").
#include "admin_audit.h"

#include <cstdio>
#include <string>
#include <vector>

#include "admin_connection.h"
#include "admin_text.h"
#include "fieldsync/cli/plain_output.h"

namespace fieldsync::admin {
namespace {

using nlohmann::json;

// The filters make no sense with --verify, which checks the whole chain.
void refuse_filters_with_verify(const cli::Invocation& invocation) {
  for (const char* name :
       {"--actor", "--action", "--device", "--case", "--since", "--until", "--limit", "--before"}) {
    if (invocation.option(name)) {
      throw cli::UsageError(std::string("--verify checks the whole log: it takes no ") + name);
    }
  }
}

int verify(const cli::Invocation& invocation) {
  refuse_filters_with_verify(invocation);
  AdminConnection connection(invocation);
  const json answer = connection.get("/v1/admin/audit/verify");
  const bool intact = answer.at("intact").get<bool>();
  if (invocation.flag("--json")) {
    cli::print_json(answer);
  } else if (intact) {
    std::printf(
        "the audit log is intact: %s rows checked; head seq %s, hash %s\n"
        "(compare the head with the audit_head lines the server logs when it starts and "
        "stops)\n",
        text_of(answer.at("rows_checked")).c_str(), text_of(answer.at("head").at("seq")).c_str(),
        text_of(answer.at("head").at("hash")).c_str());
  }
  if (!intact) {
    throw cli::CommandFailure(kExitAuditBroken, "the audit log's hash chain is BROKEN at row " +
                                                    text_of(answer.at("first_bad_seq")) + ": " +
                                                    text_of(answer.at("problem")));
  }
  return cli::kExitOk;
}

bool says_nothing(const json& value) {
  if (value.is_string()) return value.get<std::string>().empty();
  return value.is_null() || (value.is_number() && value == 0) ||
         ((value.is_array() || value.is_object()) && value.empty());
}

// The detail object in one short line, leaving out members that say nothing (zero counts, empty
// lists): "status_reason=phone lost" or "cases_pulled=[...], changes_out=13".
std::string detail_text(const json& detail) {
  std::string text;
  for (const auto& [name, value] : detail.items()) {
    if (says_nothing(value)) continue;
    text += (text.empty() ? "" : ", ") + name + "=" +
            (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return text;
}

}  // namespace

int run_audit(const cli::Invocation& invocation) {
  if (invocation.flag("--verify")) return verify(invocation);
  const std::int64_t since = time_option(invocation, "--since");
  const std::int64_t until = time_option(invocation, "--until");
  AdminConnection connection(invocation);
  const json answer =
      connection.get("/v1/admin/audit", QueryString()
                                            .add("actor", invocation.option("--actor"))
                                            .add("action", invocation.option("--action"))
                                            .add("device", invocation.option("--device"))
                                            .add("case", invocation.option("--case"))
                                            .add("from_ms", since ? std::to_string(since) : "")
                                            .add("to_ms", until ? std::to_string(until) : "")
                                            .add("limit", count_option(invocation, "--limit"))
                                            .add("before", count_option(invocation, "--before")));
  if (invocation.flag("--json")) {
    cli::print_json(answer);
    return cli::kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"SEQ", "WHEN (UTC)", "ACTOR", "ACTION", "DEVICE", "USER", "DETAIL"}};
  for (const json& entry : answer.at("entries")) {
    std::string actor = text_of(entry.at("actor"));
    const std::string name = text_of(entry.at("actor_name"));
    if (!name.empty() && name != actor) actor += " (" + name + ")";
    rows.push_back({text_of(entry.at("seq")), utc_text(entry.at("at_ms")), actor,
                    text_of(entry.at("action")), text_of(entry.at("device_id")),
                    text_of(entry.at("user_id")), detail_text(entry.at("detail"))});
  }
  if (rows.size() == 1) {
    std::printf("no audit entries match\n");
    return cli::kExitOk;
  }
  cli::print_table(rows);
  if (!answer.at("next_before").is_null()) {
    std::printf("\nmore: --before %s for the next page\n",
                text_of(answer.at("next_before")).c_str());
  }
  return cli::kExitOk;
}

}  // namespace fieldsync::admin
