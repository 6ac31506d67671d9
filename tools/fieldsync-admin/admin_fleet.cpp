// Watching the fleet and acting on devices (admin_fleet.h), over the monitor and enrol routes of
// the admin API (docs/http-api.md). The tables show metadata only, as the API does.
#include "admin_fleet.h"

#include <cstdio>
#include <string>
#include <vector>

#include "admin_connection.h"
#include "admin_text.h"
#include "fieldsync/cli/plain_output.h"

namespace fieldsync::admin {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

std::string number_text(const json& value) {
  return value.is_number() ? value.dump() : "-";
}

std::string percent_text(const json& rate) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.1f%%", rate.get<double>() * 100.0);
  return buffer;
}

// "1-50 of 120 devices; --offset 50 for the next page" under a paged table.
void print_page_footer(const json& answer, std::size_t shown, const char* what) {
  const auto total = answer.at("total").get<unsigned long long>();
  const auto offset = answer.at("offset").get<unsigned long long>();
  if (shown == 0) {
    std::printf("no %s%s\n", what, total > 0 ? " on this page (see --offset)" : "");
    return;
  }
  std::printf("\n%llu-%llu of %llu %s", offset + 1, offset + shown, total, what);
  if (offset + shown < total) std::printf("; --offset %llu for the next page", offset + shown);
  std::printf("\n");
}

// Prints the JSON and returns true when --json was asked for.
bool printed_as_json(const cli::Invocation& invocation, const json& answer) {
  if (!invocation.flag("--json")) return false;
  cli::print_json(answer);
  return true;
}

std::string error_text(const json& error) {
  if (!error.is_object()) return "";
  return text_of(error.at("code")) + ": " + text_of(error.at("message"));
}

// --- overview and activity ---

void print_activity_line(Rows& rows, const char* span, const json& activity) {
  rows.push_back({span, number_text(activity.at("syncs")), number_text(activity.at("failed_syncs")),
                  percent_text(activity.at("error_rate")), number_text(activity.at("rejections")),
                  number_text(activity.at("changes_pushed")),
                  number_text(activity.at("changes_pulled")), number_text(activity.at("conflicts")),
                  size_text(activity.at("bytes_in").get<std::uint64_t>()),
                  size_text(activity.at("bytes_out").get<std::uint64_t>())});
}

Rows activity_header() {
  return {{"", "SYNCS", "FAILED", "ERROR RATE", "REJECTED", "PUSHED", "PULLED", "CONFLICTS", "IN",
           "OUT"}};
}

}  // namespace

int run_overview(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer = connection.get("/v1/admin/overview");
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  const json& devices = answer.at("devices");
  const json& rules = answer.at("rules");
  const auto uptime_s = answer.at("uptime_s").get<std::int64_t>();
  std::printf("server       %s, up %lld h %lld min, storage %s\n", connection.server_url().c_str(),
              static_cast<long long>(uptime_s / 3600), static_cast<long long>(uptime_s / 60 % 60),
              size_text(answer.at("storage_bytes").get<std::uint64_t>()).c_str());
  std::printf("devices      %s in all: %s healthy, %s stale, %s at risk, %s revoked, %s retired\n",
              number_text(devices.at("total")).c_str(),
              number_text(devices.value("healthy", json(0))).c_str(),
              number_text(devices.value("stale", json(0))).c_str(),
              number_text(devices.value("at_risk", json(0))).c_str(),
              number_text(devices.value("revoked", json(0))).c_str(),
              number_text(devices.value("retired", json(0))).c_str());
  std::printf(
      "rules        stale after %s h without a sync; at risk when stale with unsynced\n"
      "             work, or after %s failed syncs in a row\n",
      number_text(rules.at("stale_after_h")).c_str(),
      number_text(rules.at("failing_after")).c_str());
  std::printf("conflicts    %s open (values overwritten by someone who had not seen them)\n\n",
              number_text(answer.at("open_conflicts")).c_str());
  Rows rows = activity_header();
  print_activity_line(rows, "last hour", answer.at("last_hour"));
  print_activity_line(rows, "last day", answer.at("last_day"));
  cli::print_table(rows);
  return cli::kExitOk;
}

int run_activity(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer =
      connection.get("/v1/admin/activity",
                     QueryString()
                         .add("hours", count_option(invocation, "--hours"))
                         .add("bucket_minutes", count_option(invocation, "--bucket-minutes")));
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  Rows rows = activity_header();
  rows[0][0] = "FROM (UTC)";
  for (const json& bucket : answer.at("buckets")) {
    std::string start = cli::time_text(bucket.at("start_ms").get<std::int64_t>());
    start = start.substr(0, 16);  // 2026-11-26T09:00
    print_activity_line(rows, start.c_str(), bucket);
  }
  cli::print_table(rows);
  return cli::kExitOk;
}

int run_devices(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer =
      connection.get("/v1/admin/devices", QueryString()
                                              .add("state", invocation.option("--state"))
                                              .add("user", invocation.option("--user"))
                                              .add("team", invocation.option("--team"))
                                              .add("platform", invocation.option("--platform"))
                                              .add("q", invocation.option("--search"))
                                              .add("sort", invocation.option("--sort"))
                                              .add("limit", count_option(invocation, "--limit"))
                                              .add("offset", count_option(invocation, "--offset")));
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  Rows rows = {{"DEVICE", "USER", "STATE", "LAST SYNC", "PENDING", "FAILED", "PLATFORM", "APP"}};
  for (const json& device : answer.at("devices")) {
    rows.push_back(
        {text_of(device.at("device_id")), text_of(device.at("user_id")),
         state_label(text_of(device.at("state"))), moment_text(device.at("last_sync_ms")),
         number_text(device.at("pending_changes")), number_text(device.at("failed_in_a_row")),
         text_of(device.at("platform")), text_of(device.at("app_version"))});
  }
  if (rows.size() > 1) cli::print_table(rows);
  print_page_footer(answer, rows.size() - 1, "devices");
  return cli::kExitOk;
}

namespace {

void print_fact(const char* name, const std::string& value) {
  std::printf("%-20s%s\n", name, value.c_str());
}

void print_device(const json& device) {
  const json& totals = device.at("totals");
  print_fact("device", text_of(device.at("device_id")));
  print_fact("user", text_of(device.at("user_id")) + " (" + text_of(device.at("user_name")) +
                         "), team " + text_of(device.at("team_id")));
  std::string state = state_label(text_of(device.at("state")));
  if (!text_of(device.at("status_reason")).empty()) {
    state += " (" + text_of(device.at("status")) + ": " + text_of(device.at("status_reason")) + ")";
  }
  print_fact("state", state);
  print_fact("platform", text_of(device.at("platform")) + ", app " +
                             text_of(device.at("app_version")) + ", core " +
                             text_of(device.at("core_version")));
  print_fact("enrolled", moment_text(device.at("enrolled_at_ms")));
  print_fact("last sync", moment_text(device.at("last_sync_ms")));
  print_fact("last attempt", moment_text(device.at("last_attempt_ms")));
  print_fact("last seen", moment_text(device.at("last_seen_ms")));
  std::string pending =
      number_text(device.at("pending_changes")) + " changes not yet on the server";
  if (!device.at("oldest_pending_at_ms").is_null()) {
    pending += ", the oldest made " + moment_text(device.at("oldest_pending_at_ms"));
  }
  print_fact("unsynced work", pending);
  print_fact("failed in a row", number_text(device.at("failed_in_a_row")));
  if (device.at("last_error").is_object()) {
    print_fact("last error", error_text(device.at("last_error")) + ", " +
                                 moment_text(device.at("last_error").at("at_ms")));
  }
  if (device.at("device_error").is_object()) {
    print_fact("device reports", error_text(device.at("device_error")));
  }
  print_fact("clock offset", number_text(device.at("clock_offset_ms")) + " ms");
  print_fact("since enrolment",
             number_text(totals.at("syncs")) + " syncs (" + number_text(totals.at("failed_syncs")) +
                 " failed), " + number_text(totals.at("changes_pushed")) + " changes pushed, " +
                 number_text(totals.at("changes_pulled")) + " pulled, " +
                 number_text(totals.at("conflicts")) + " conflicts, " +
                 number_text(totals.at("rejections")) + " rejections, " +
                 size_text(totals.at("bytes_in").get<std::uint64_t>()) + " in, " +
                 size_text(totals.at("bytes_out").get<std::uint64_t>()) + " out");
}

void print_recent_syncs(const json& syncs) {
  if (syncs.empty()) {
    std::printf("\nno syncs yet\n");
    return;
  }
  std::printf("\nrecent syncs, newest first:\n");
  Rows rows = {{"WHEN", "OUTCOME", "MS", "PUSHED", "PULLED", "REJECTED", "CONFLICTS", "ERROR"}};
  for (const json& sync : syncs) {
    rows.push_back({moment_text(sync.at("at_ms")), text_of(sync.at("outcome")),
                    number_text(sync.at("duration_ms")), number_text(sync.at("changes_pushed")),
                    number_text(sync.at("changes_pulled")), number_text(sync.at("groups_rejected")),
                    number_text(sync.at("conflicts")), error_text(sync.at("error"))});
  }
  cli::print_table(rows);
}

std::string device_path(const cli::Invocation& invocation) {
  return "/v1/admin/devices/" + path_segment(invocation.operands().at(0));
}

int change_status(const cli::Invocation& invocation, const char* action, const char* outcome) {
  AdminConnection connection(invocation);
  const json answer = connection.post(device_path(invocation) + "/" + action,
                                      {{"reason", invocation.option("--reason").value_or("")}});
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  std::printf("device %s %s\nstate now: %s\n", text_of(answer.at("device_id")).c_str(), outcome,
              state_label(text_of(answer.at("state"))).c_str());
  return cli::kExitOk;
}

}  // namespace

int run_device(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer = connection.get(
      device_path(invocation), QueryString().add("history", count_option(invocation, "--history")));
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  print_device(answer);
  print_recent_syncs(answer.at("recent_syncs"));
  return cli::kExitOk;
}

int run_revoke(const cli::Invocation& invocation) {
  return change_status(invocation, "revoke", "is revoked: it is wiped the next time it connects");
}

int run_retire(const cli::Invocation& invocation) {
  return change_status(invocation, "retire",
                       "is retired: its last changes are accepted, then it is wiped");
}

int run_conflicts(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const json answer = connection.get("/v1/admin/conflicts",
                                     QueryString()
                                         .add("state", invocation.option("--state"))
                                         .add("device", invocation.option("--device"))
                                         .add("user", invocation.option("--user"))
                                         .add("limit", count_option(invocation, "--limit"))
                                         .add("offset", count_option(invocation, "--offset")));
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  Rows rows = {{"WHEN", "CASE", "RECORD", "FIELD", "OVERWRITTEN (USER, DEVICE)", "BY", "STATE"}};
  for (const json& conflict : answer.at("conflicts")) {
    const json& lost = conflict.at("lost");
    const json& winner = conflict.at("winner");
    std::string by = winner.is_object() ? text_of(winner.at("user_id")) : "";
    if (winner.is_object() && winner.at("device_id").is_null()) by += " (admin API)";
    rows.push_back({moment_text(conflict.at("updated_at_ms")), text_of(conflict.at("case_id")),
                    text_of(conflict.at("collection")) + " " + text_of(conflict.at("record_id")),
                    text_of(conflict.at("field")),
                    text_of(lost.at("user_id")) + ", " + text_of(lost.at("device_id")), by,
                    conflict.at("resolved").get<bool>() ? "resolved" : "open"});
  }
  if (rows.size() > 1) cli::print_table(rows);
  print_page_footer(answer, rows.size() - 1, "conflicts");
  return cli::kExitOk;
}

int run_rejections(const cli::Invocation& invocation) {
  AdminConnection connection(invocation);
  const std::int64_t since = time_option(invocation, "--since");
  const json answer = connection.get("/v1/admin/rejections",
                                     QueryString()
                                         .add("device", invocation.option("--device"))
                                         .add("user", invocation.option("--user"))
                                         .add("code", invocation.option("--code"))
                                         .add("since_ms", since ? std::to_string(since) : "")
                                         .add("limit", count_option(invocation, "--limit"))
                                         .add("offset", count_option(invocation, "--offset")));
  if (printed_as_json(invocation, answer)) return cli::kExitOk;
  Rows rows = {{"WHEN", "USER", "DEVICE", "CODE", "CHANGES", "ABOUT", "MESSAGE"}};
  for (const json& rejection : answer.at("rejections")) {
    std::string about = text_of(rejection.at("record_id"));
    if (!rejection.at("field").is_null()) about += " " + text_of(rejection.at("field"));
    rows.push_back({moment_text(rejection.at("rejected_at_ms")), text_of(rejection.at("user_id")),
                    text_of(rejection.at("device_id")), text_of(rejection.at("code")),
                    number_text(rejection.at("change_count")),
                    about.empty() ? "whole group" : about, text_of(rejection.at("message"))});
  }
  if (rows.size() > 1) cli::print_table(rows);
  print_page_footer(answer, rows.size() - 1, "rejections");
  return cli::kExitOk;
}

}  // namespace fieldsync::admin
