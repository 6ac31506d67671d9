// sync_with_server: the sync loop of sync_engine.h. One SyncSession holds the state of one call;
// what must outlive it (the cursor, the outbox, the last error) is in the store. Runs entirely on
// the caller's thread.
#include "fieldsync/client/sync_engine.h"

#include <algorithm>
#include <random>
#include <thread>

#include "fieldsync/content_coding.h"
#include "server_http.h"

namespace fieldsync::client {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Re-stamps allowed in one call. Once anchored to the server's time, fresh stamps cannot be too
// far ahead again unless something is badly wrong (a server whose clock jumps); an error then
// says so, instead of a loop.
constexpr int kMaxRestampsPerSync = 2;

// What a server that cannot inflate a gzip request answers (RFC 7694).
constexpr int kUnsupportedMediaType = 415;

// How long the system timer sleeps at most before looking at the cancel flag again.
constexpr milliseconds kWaitSlice{50};

class SystemSyncTimer final : public SyncTimer {
 public:
  Clock::time_point now() override { return Clock::now(); }

  void wait(milliseconds duration, const std::atomic<bool>* cancel) override {
    const Clock::time_point until = Clock::now() + duration;
    while (!(cancel && cancel->load())) {
      const Clock::duration left = until - Clock::now();
      if (left <= Clock::duration::zero()) return;
      std::this_thread::sleep_for(std::min<Clock::duration>(left, kWaitSlice));
    }
  }
};

// An error as telemetry shows it: fieldsync's name for it, or "<domain>:<code>" ("network:7",
// "http:502").
std::string telemetry_code(const Error& error) {
  if (error.domain() == ErrorDomain::kFieldsync) {
    return std::string(to_string(static_cast<ErrorCode>(error.code())));
  }
  return std::string(to_string(error.domain())) + ":" + std::to_string(error.code());
}

void check_settings(const SyncSettings& settings) {
  if (settings.max_rounds < 1) throw Error(ErrorCode::kInvalidArgument, "max_rounds is below 1");
  if (settings.max_changes_per_request < 1) {
    throw Error(ErrorCode::kInvalidArgument, "max_changes_per_request is 0");
  }
  if (settings.retry.max_attempts < 1) {
    throw Error(ErrorCode::kInvalidArgument, "retry.max_attempts is below 1");
  }
  if (settings.request_timeout <= milliseconds(0)) {
    throw Error(ErrorCode::kInvalidArgument, "request_timeout is not positive");
  }
}

// The outcome of one attempt at a round trip: a response, or why not.
struct Attempt {
  std::optional<SyncResponse> response;
  std::optional<Error> error;
  bool temporary = false;  // worth another attempt after a wait
  std::optional<milliseconds> retry_after;
  int http_status = 0;
  std::string server_error;

  static Attempt answered(SyncResponse response) {
    Attempt attempt;
    attempt.response = std::move(response);
    return attempt;
  }
  static Attempt network_failure(const Error& error) {
    Attempt attempt;
    attempt.error = error;
    attempt.temporary = true;
    return attempt;
  }
  static Attempt refused(const ErrorAnswer& answer) {
    Attempt attempt;
    attempt.error = answer.to_error();
    attempt.temporary = is_temporary_status(answer.status);
    attempt.retry_after = answer.retry_after;
    attempt.http_status = answer.status;
    attempt.server_error = answer.name;
    return attempt;
  }
};

class SyncSession {
 public:
  SyncSession(Store& store, platform::HttpTransport& transport, const SyncSettings& settings,
              Clock::time_point deadline, const std::atomic<bool>* cancel)
      : store_(store),
        transport_(transport),
        settings_(settings),
        timer_(settings.timer ? *settings.timer : SyncTimer::system()),
        deadline_(deadline),
        cancel_(cancel),
        compress_requests_(settings.compress),
        sync_url_(server_endpoint(settings.server_url, "/v1/sync")),
        random_(settings.jitter_seed != 0 ? settings.jitter_seed : std::random_device{}()) {
    check_settings(settings);
    telemetry_.app_version = settings.client.app_version;
    telemetry_.platform = settings.client.platform;
    telemetry_.core_version = core_version();
  }

  SyncReport run() {
    try {
      token_ = store_.token().value_or("");
      if (token_.empty()) {
        fail(Error(ErrorCode::kUnauthorized, "this device has no token: enrol it first"));
      } else {
        run_rounds();
      }
    } catch (const Error& error) {
      fail(error);
    }
    keep_last_error();
    return report_;
  }

 private:
  void run_rounds() {
    while (!stop_requested()) {
      if (report_.rounds >= settings_.max_rounds) {
        report_.outcome = SyncOutcome::kRoundLimitReached;
        return;
      }
      const std::optional<SyncResponse> response = round_trip();
      if (!response || !apply(*response)) return;
    }
  }

  // Deadline or cancel: sets the outcome and says so.
  bool stop_requested() {
    if (cancel_ && cancel_->load()) {
      report_.outcome = SyncOutcome::kCancelled;
      return true;
    }
    if (timer_.now() >= deadline_) {
      report_.outcome = SyncOutcome::kDeadlineReached;
      return true;
    }
    return false;
  }

  // One round trip with its retries; nullopt when the sync stops (the report says why).
  std::optional<SyncResponse> round_trip() {
    for (int attempt_number = 1;; ++attempt_number) {
      if (stop_requested()) return std::nullopt;
      Attempt result = attempt();
      if (result.response) {
        forget_failure();  // a retried failure that then went through is no failure
        return std::move(result.response);
      }
      if (cancel_ && cancel_->load()) {
        report_.outcome = SyncOutcome::kCancelled;  // the failure was the cancel itself
        return std::nullopt;
      }
      note_failure(result);
      if (!result.temporary || attempt_number >= settings_.retry.max_attempts) {
        report_.outcome = SyncOutcome::kFailed;
        return std::nullopt;
      }
      if (!wait_before_retry(attempt_number, result)) return std::nullopt;
    }
  }

  Attempt attempt() {
    // Prepared afresh each time: a retry carries what the UI recorded meanwhile.
    const SyncRequest request = store_.prepare_sync(settings_.max_changes_per_request, telemetry_);
    platform::HttpResponse response;
    try {
      bool sent_compressed = false;
      ++report_.requests;
      response = transport_.send(http_request(request, sent_compressed));
      if (response.status == kUnsupportedMediaType && sent_compressed) {
        compress_requests_ = false;  // a server that takes no gzip: plain from now on
        ++report_.requests;
        response = transport_.send(http_request(request, sent_compressed));
      }
    } catch (const Error& error) {
      if (error.domain() != ErrorDomain::kNetwork) throw;
      return Attempt::network_failure(error);
    }
    if (response.status >= 200 && response.status <= 299) {
      const WireFormat format = answer_format(response);
      return Attempt::answered(decode_response(inflated_body(response), format));
    }
    return Attempt::refused(read_error_answer(response, std::chrono::system_clock::now()));
  }

  // The answer's body as the server encoded it: a gzip body is inflated under the decoder's cap.
  static std::string inflated_body(platform::HttpResponse& response) {
    const std::string coding = response.header("Content-Encoding");
    if (is_identity_coding(coding)) return std::move(response.body);
    if (is_gzip_coding(coding)) return gunzip(response.body, DecodeLimits{}.max_body_bytes);
    throw Error(ErrorCode::kMalformed,
                "the server answered in a content coding this device does not know");
  }

  platform::HttpRequest http_request(const SyncRequest& request, bool& compressed) const {
    platform::HttpRequest http;
    http.url = sync_url_;
    const std::string content_type(content_type_of(settings_.format));
    http.headers = {{"Authorization", "Bearer " + token_},
                    {"Content-Type", content_type},
                    {"Accept", content_type}};
    http.body = encode_request(request, settings_.format);
    compressed = false;
    if (settings_.compress) {
      http.headers.emplace_back("Accept-Encoding", kGzipCoding);
      if (compress_requests_) {
        if (std::optional<std::string> gzipped = gzip_if_worthwhile(http.body)) {
          http.body = std::move(*gzipped);
          http.headers.emplace_back("Content-Encoding", kGzipCoding);
          compressed = true;
        }
      }
    }
    // A request never outlasts the deadline: it is cut short, then retried in the next window.
    const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - timer_.now());
    http.timeout = std::clamp(left, milliseconds(1), settings_.request_timeout);
    http.cancel = cancel_;
    return http;
  }

  // Waits before retry number `retry`; false when the wait would end past the deadline (the
  // sync stops now instead: sleeping through the window gains nothing).
  bool wait_before_retry(int retry, const Attempt& failed) {
    const milliseconds delay =
        settings_.retry.delay(retry, unit_random_(random_), failed.retry_after);
    if (timer_.now() + delay >= deadline_) {
      report_.outcome = SyncOutcome::kDeadlineReached;
      return false;
    }
    report_progress(delay, {});
    timer_.wait(delay, cancel_);
    return true;
  }

  // Applies a response; false when the sync is over (the report says why).
  bool apply(const SyncResponse& response) {
    const SyncApplied applied = store_.apply_sync(response);
    ++report_.rounds;
    report_.changes_pushed += applied.acked_changes;
    report_.groups_acked += applied.acked_groups;
    report_.groups_rejected += applied.rejected_groups;
    report_.changes_pulled += response.changes.size();
    report_.conflicts_queued += applied.conflicts_queued;
    report_.restamped_changes += applied.restamped_changes;
    report_.groups_restored += applied.restored_groups;
    report_.groups_renumbered += applied.renumbered_groups;
    if (applied.wiped) {
      report_.outbox_remaining = 0;
      report_.outcome = SyncOutcome::kWiped;
      return false;
    }
    report_.outbox_remaining = store_.outbox_change_count();
    report_progress(milliseconds(0), applied.conflicted_records);
    for (const Directive& directive : applied.directives) {
      if (directive.kind == DirectiveKind::kUpgradeRequired) {
        report_.minimum_core_version = directive.detail;
        report_.outcome = SyncOutcome::kUpgradeRequired;
        return false;
      }
    }
    if (applied.restamped_changes > 0 && ++restamps_ > kMaxRestampsPerSync) {
      fail(Error(ErrorCode::kClockSkew,
                 "the server refused this device's stamps as too far ahead of its time again, "
                 "after they were re-stamped from its own time: is the server's clock jumping?"));
      return false;
    }
    if (!response.more && report_.outbox_remaining == 0) {
      report_.outcome = SyncOutcome::kCompleted;
      return false;
    }
    return true;
  }

  void report_progress(milliseconds retry_in, std::vector<RecordId> conflicted) {
    if (!settings_.on_progress) return;
    settings_.on_progress(SyncProgress{report_.rounds, report_.changes_pushed,
                                       report_.changes_pulled, report_.outbox_remaining, retry_in,
                                       std::move(conflicted)});
  }

  void note_failure(const Attempt& failed) {
    report_.error = failed.error;
    report_.http_status = failed.http_status;
    report_.server_error = failed.server_error;
  }

  void forget_failure() {
    report_.error.reset();
    report_.http_status = 0;
    report_.server_error.clear();
  }

  void fail(const Error& error) {
    report_.outcome = SyncOutcome::kFailed;
    report_.error = error;
  }

  // The failure goes to the server with the next sync's telemetry. A store that cannot keep it
  // (locked, wiped) is the failure itself; there is nobody to tell.
  void keep_last_error() {
    if (!report_.error || report_.outcome == SyncOutcome::kWiped) return;
    try {
      store_.set_last_sync_error(telemetry_code(*report_.error), report_.error->what());
    } catch (const Error&) {
    }
  }

  Store& store_;
  platform::HttpTransport& transport_;
  const SyncSettings& settings_;
  SyncTimer& timer_;
  const Clock::time_point deadline_;
  const std::atomic<bool>* const cancel_;
  bool compress_requests_;  // false once the server refused a gzip request
  const std::string sync_url_;
  Telemetry telemetry_;
  std::string token_;
  std::mt19937_64 random_;
  std::uniform_real_distribution<double> unit_random_{0.0, 1.0};
  int restamps_ = 0;
  SyncReport report_;
};

}  // namespace

std::string_view core_version() {
  return FIELDSYNC_PROJECT_VERSION;
}

std::string_view to_string(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::kCompleted:
      return "completed";
    case SyncOutcome::kDeadlineReached:
      return "deadline_reached";
    case SyncOutcome::kCancelled:
      return "cancelled";
    case SyncOutcome::kRoundLimitReached:
      return "round_limit_reached";
    case SyncOutcome::kFailed:
      return "failed";
    case SyncOutcome::kWiped:
      return "wiped";
    case SyncOutcome::kUpgradeRequired:
      return "upgrade_required";
  }
  return "unknown";
}

SyncTimer& SyncTimer::system() {
  static SystemSyncTimer timer;
  return timer;
}

SyncReport sync_with_server(Store& store, platform::HttpTransport& transport,
                            const SyncSettings& settings, Clock::time_point deadline,
                            const std::atomic<bool>* cancel) {
  return SyncSession(store, transport, settings, deadline, cancel).run();
}

}  // namespace fieldsync::client
