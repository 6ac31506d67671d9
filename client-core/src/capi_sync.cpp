// The C API's server half as C++: see capi_sync.h. Also the fieldsync_http_response functions,
// which need no error struct (they answer true or false).
#include "capi_sync.h"

#include <mutex>
#include <string>

#include "fieldsync/error.h"

namespace fieldsync::capi {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

[[noreturn]] void throw_invalid(std::string message) {
  throw Error(ErrorCode::kInvalidArgument, std::move(message));
}

// A KeyWrapper-like adapter for HTTP: calls into the shell one at a time, so the shell's
// callbacks need not be thread-safe; release() comes once, with the adapter's end.
class CallbackTransport final : public platform::HttpTransport {
 public:
  static constexpr std::size_t kErrorCapacity = 512;

  explicit CallbackTransport(const fieldsync_transport_callbacks& callbacks)
      : callbacks_(callbacks) {}
  ~CallbackTransport() override {
    if (callbacks_.release) callbacks_.release(callbacks_.context);
  }
  CallbackTransport(const CallbackTransport&) = delete;
  CallbackTransport& operator=(const CallbackTransport&) = delete;

  platform::HttpResponse send(const platform::HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    std::vector<const char*> names;
    std::vector<const char*> values;
    for (const auto& [name, value] : request.headers) {
      names.push_back(name.c_str());
      values.push_back(value.c_str());
    }
    const fieldsync_http_request c_request{
        .method = request.method.c_str(),
        .url = request.url.c_str(),
        .header_names = names.data(),
        .header_values = values.data(),
        .header_count = names.size(),
        .body = reinterpret_cast<const std::uint8_t*>(request.body.data()),
        .body_len = request.body.size(),
        .timeout_ms = static_cast<std::int64_t>(request.timeout.count()),
    };
    fieldsync_http_response answer;
    std::int32_t error_code = 0;
    char error_message[kErrorCapacity] = {};
    const bool answered = callbacks_.send(callbacks_.context, &c_request, &answer, &error_code,
                                          error_message, sizeof error_message);
    error_message[kErrorCapacity - 1] = '\0';
    if (!answered) {
      throw Error(ErrorDomain::kNetwork, error_code,
                  error_message[0] != '\0' ? std::string(error_message)
                                           : "the app's transport failed without saying why");
    }
    check_answer(answer);
    return std::move(answer.response);
  }

 private:
  static void check_answer(const fieldsync_http_response& answer) {
    if (answer.too_large) {
      throw Error(ErrorCode::kTooLarge, "the server's answer is longer than " +
                                            std::to_string(kMaxShellResponseBytes) + " bytes");
    }
    if (answer.response.status < 100 || answer.response.status > 599) {
      throw_invalid("transport->send returned true without setting an HTTP status (100 to 599)");
    }
  }

  const fieldsync_transport_callbacks callbacks_;
  std::mutex mutex_;  // serialises the calls into the shell
};

std::string text_or_empty(const char* text) {
  return text ? std::string(text) : std::string();
}

// A member of fieldsync_sync_settings: zero means the default, a negative value is refused.
template <class Number>
Number member_or_default(Number given, Number fallback, const char* name) {
  if (given < 0) throw_invalid(std::string("settings->") + name + " is negative");
  return given == 0 ? fallback : given;
}

}  // namespace

std::unique_ptr<platform::HttpTransport> adopt_transport_callbacks(
    const fieldsync_transport_callbacks& callbacks) {
  auto adapter = std::make_unique<CallbackTransport>(callbacks);  // owns release() from here
  if (!callbacks.send) throw_invalid("callbacks->send is NULL");
  return adapter;
}

client::ClientInfo client_info_from(const fieldsync_client_info* client) {
  if (!client) return {};
  return {text_or_empty(client->platform), text_or_empty(client->app_version)};
}

void sync_settings_defaults(fieldsync_sync_settings& settings) {
  const client::SyncSettings defaults;
  settings = fieldsync_sync_settings{};
  settings.max_changes_per_request = static_cast<std::int32_t>(defaults.max_changes_per_request);
  settings.max_rounds = defaults.max_rounds;
  settings.initial_retry_delay_ms = defaults.retry.initial_delay.count();
  settings.max_retry_delay_ms = defaults.retry.max_delay.count();
  settings.max_attempts = defaults.retry.max_attempts;
  settings.request_timeout_ms = defaults.request_timeout.count();
}

client::SyncSettings sync_settings_from(const fieldsync_sync_settings* settings) {
  if (!settings) throw_invalid("settings is NULL");
  if (!settings->server_url) throw_invalid("settings->server_url is NULL");
  client::SyncSettings result;
  result.server_url = settings->server_url;
  result.client = client_info_from(&settings->client);
  result.format = settings->use_json ? WireFormat::kJson : WireFormat::kBinary;
  result.max_changes_per_request = static_cast<std::size_t>(member_or_default(
      settings->max_changes_per_request, static_cast<std::int32_t>(result.max_changes_per_request),
      "max_changes_per_request"));
  result.max_rounds = member_or_default(settings->max_rounds, result.max_rounds, "max_rounds");
  result.retry.initial_delay =
      milliseconds(member_or_default(settings->initial_retry_delay_ms,
                                     result.retry.initial_delay.count(), "initial_retry_delay_ms"));
  result.retry.max_delay = milliseconds(member_or_default(
      settings->max_retry_delay_ms, result.retry.max_delay.count(), "max_retry_delay_ms"));
  result.retry.max_attempts =
      member_or_default(settings->max_attempts, result.retry.max_attempts, "max_attempts");
  result.request_timeout = milliseconds(member_or_default(
      settings->request_timeout_ms, result.request_timeout.count(), "request_timeout_ms"));
  return result;
}

fieldsync_sync_outcome outcome_to_c(client::SyncOutcome outcome) {
  switch (outcome) {
    case client::SyncOutcome::kCompleted:
      return FIELDSYNC_SYNC_COMPLETED;
    case client::SyncOutcome::kDeadlineReached:
      return FIELDSYNC_SYNC_DEADLINE_REACHED;
    case client::SyncOutcome::kCancelled:
      return FIELDSYNC_SYNC_CANCELLED;
    case client::SyncOutcome::kRoundLimitReached:
      return FIELDSYNC_SYNC_ROUND_LIMIT_REACHED;
    case client::SyncOutcome::kFailed:
      return FIELDSYNC_SYNC_FAILED;
    case client::SyncOutcome::kWiped:
      return FIELDSYNC_SYNC_WIPED;
    case client::SyncOutcome::kUpgradeRequired:
      return FIELDSYNC_SYNC_UPGRADE_REQUIRED;
  }
  throw Error(ErrorCode::kInternal, "a sync outcome the C API does not know");
}

json report_to_json(const client::SyncReport& report) {
  json result = {{"outcome", client::to_string(report.outcome)},
                 {"rounds", report.rounds},
                 {"requests", report.requests},
                 {"changes_pushed", report.changes_pushed},
                 {"groups_acked", report.groups_acked},
                 {"groups_rejected", report.groups_rejected},
                 {"changes_pulled", report.changes_pulled},
                 {"conflicts_queued", report.conflicts_queued},
                 {"restamped_changes", report.restamped_changes},
                 {"groups_restored", report.groups_restored},
                 {"groups_renumbered", report.groups_renumbered},
                 {"outbox_remaining", report.outbox_remaining}};
  if (report.error) {
    result["error"] = {{"domain", static_cast<std::int32_t>(report.error->domain())},
                       {"code", report.error->code()},
                       {"message", report.error->what()},
                       {"http_status", report.http_status},
                       {"server_error", report.server_error}};
  }
  if (report.outcome == client::SyncOutcome::kUpgradeRequired) {
    result["minimum_core_version"] = report.minimum_core_version;
  }
  return result;
}

std::vector<json> progress_events(const client::SyncProgress& progress) {
  std::vector<json> events;
  events.push_back({{"event", "sync_progress"},
                    {"round", progress.round},
                    {"changes_pushed", progress.changes_pushed},
                    {"changes_pulled", progress.changes_pulled},
                    {"outbox_remaining", progress.outbox_remaining},
                    {"retry_in_ms", progress.retry_in.count()}});
  for (const RecordId& record : progress.conflicted_records) {
    events.push_back({{"event", "conflict_queued"}, {"record_id", record.to_string()}});
  }
  return events;
}

}  // namespace fieldsync::capi

// --- fieldsync_http_response: filled by the shell's `send` ---

bool fieldsync_http_response_set_status(fieldsync_http_response* response,
                                        int32_t status) noexcept {
  if (!response) return false;
  response->response.status = status;
  return true;
}

bool fieldsync_http_response_add_header(fieldsync_http_response* response, const char* name,
                                        const char* value) noexcept {
  if (!response || !name || !value) return false;
  try {
    response->response.headers.emplace_back(name, value);
    return true;
  } catch (...) {  // std::bad_alloc: the request fails with the missing header's consequences
    return false;
  }
}

bool fieldsync_http_response_append_body(fieldsync_http_response* response, const uint8_t* data,
                                         size_t len) noexcept {
  if (!response || (!data && len > 0)) return false;
  std::string& body = response->response.body;
  if (len > fieldsync::capi::kMaxShellResponseBytes - body.size()) {
    response->too_large = true;
    return false;
  }
  try {
    body.append(reinterpret_cast<const char*>(data), len);
    return true;
  } catch (...) {  // std::bad_alloc
    response->too_large = true;
    return false;
  }
}
