// `sync` and `status` (cli_sync.h). Ctrl-C during a sync sets the engine's cancel flag: it stops
// between round trips, keeping everything already applied.
#include "cli_sync.h"

#include <signal.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

#include "cli_device.h"
#include "cli_json.h"
#include "cli_output.h"
#include "fieldsync/error.h"

namespace fieldsync::cli {
namespace {

using nlohmann::json;

constexpr int kDefaultTimeoutSeconds = 60;

std::atomic<bool> sync_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void cancel_sync(int) {
  sync_interrupted.store(true);
}

// While it lives, Ctrl-C cancels the sync instead of killing the process mid-request.
class InterruptCancelsSync {
 public:
  InterruptCancelsSync() {
    struct sigaction cancel = {};
    cancel.sa_handler = cancel_sync;
    ::sigaction(SIGINT, &cancel, &previous_);
  }
  ~InterruptCancelsSync() { ::sigaction(SIGINT, &previous_, nullptr); }
  InterruptCancelsSync(const InterruptCancelsSync&) = delete;
  InterruptCancelsSync& operator=(const InterruptCancelsSync&) = delete;

 private:
  struct sigaction previous_ = {};
};

std::chrono::seconds timeout_option(const Invocation& invocation) {
  const auto text = invocation.option("--timeout-s");
  if (!text) return std::chrono::seconds(kDefaultTimeoutSeconds);
  int seconds = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (error != std::errc() || end != text->data() + text->size() || seconds < 1) {
    throw UsageError("--timeout-s must be a whole number of seconds, 1 or more");
  }
  return std::chrono::seconds(seconds);
}

std::string plural(std::size_t count, const char* one, const char* many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

void print_progress(const client::SyncProgress& progress) {
  if (progress.retry_in.count() > 0) {
    std::fprintf(stderr, "sync: no answer from the server, or it is busy: retrying in %.1f s\n",
                 static_cast<double>(progress.retry_in.count()) / 1000.0);
    return;
  }
  std::fprintf(stderr, "sync: round %d: pushed %s, pulled %s, %s left to push\n", progress.round,
               plural(progress.changes_pushed, "change", "changes").c_str(),
               plural(progress.changes_pulled, "change", "changes").c_str(),
               plural(progress.outbox_remaining, "change", "changes").c_str());
  for (const RecordId& record : progress.conflicted_records) {
    std::fprintf(stderr, "sync: a conflict on record %s (`fieldsync conflicts` shows it)\n",
                 record.to_string().c_str());
  }
}

void print_summary(const client::SyncReport& report) {
  std::printf("sync %s after %s\n", std::string(client::to_string(report.outcome)).c_str(),
              plural(static_cast<std::size_t>(report.rounds), "round", "rounds").c_str());
  std::printf("  pushed        %s (%s acknowledged)\n",
              plural(report.changes_pushed, "change", "changes").c_str(),
              plural(report.groups_acked, "group", "groups").c_str());
  std::printf("  pulled        %s\n", plural(report.changes_pulled, "change", "changes").c_str());
  std::printf("  rejected      %s\n", plural(report.groups_rejected, "group", "groups").c_str());
  std::printf("  conflicts     %zu new\n", report.conflicts_queued);
  if (report.restamped_changes > 0) {
    std::printf("  re-stamped    %s (this device's clock was ahead of the server's)\n",
                plural(report.restamped_changes, "change", "changes").c_str());
  }
  if (report.groups_restored > 0) {
    std::printf("  sent back     %s (the server was restored from a backup)\n",
                plural(report.groups_restored, "group", "groups").c_str());
  }
  if (report.groups_renumbered > 0) {
    std::printf("  renumbered    %s (this device was restored from an old backup; sent again)\n",
                plural(report.groups_renumbered, "group", "groups").c_str());
  }
  std::printf("  left to push  %s\n", plural(report.outbox_remaining, "change", "changes").c_str());
}

std::string error_text(const client::SyncReport& report) {
  if (!report.error) return "no reason given";
  std::string text = report.error->what();
  if (report.server_error == "unauthorized") {
    text += " (the server no longer accepts this device's token: ask for a new enrolment)";
  }
  return text;
}

// The exit code: 0 when the sync completed, or stopped at its time limit having made progress
// with nothing failing; otherwise an Error saying what happened.
int sync_exit_code(const client::SyncReport& report) {
  using client::SyncOutcome;
  switch (report.outcome) {
    case SyncOutcome::kCompleted:
      return kExitOk;
    case SyncOutcome::kDeadlineReached:
    case SyncOutcome::kRoundLimitReached:
      if (report.error) {
        throw Error(ErrorCode::kUnavailable,
                    "sync stopped at its time limit: " + error_text(report));
      }
      std::fprintf(stderr, "sync stopped with more to do: run `fieldsync sync` again\n");
      return kExitOk;
    case SyncOutcome::kCancelled:
      throw Error(ErrorCode::kUnavailable, "sync cancelled; what was applied is kept");
    case SyncOutcome::kFailed:
      throw Error(ErrorCode::kUnavailable, "sync failed: " + error_text(report));
    case SyncOutcome::kWiped:
      throw Error(ErrorCode::kLocked,
                  "the server had this device wiped (revoked or retired): its store is gone");
    case SyncOutcome::kUpgradeRequired:
      throw Error(ErrorCode::kUnsupportedVersion, "the server requires fieldsync core " +
                                                      report.minimum_core_version +
                                                      " or newer: upgrade this tool");
  }
  return kExitError;
}

// What `status` reports. Conflicts and rejections are unreadable until a device past its offline
// grace period has checked in.
struct StatusFacts {
  client::DeviceIdentity identity;
  std::string state;
  std::size_t pending_changes = 0;
  std::size_t pending_groups = 0;
  std::optional<std::int64_t> oldest_pending_ms;
  std::optional<std::int64_t> last_sync_ms;
  std::optional<std::size_t> conflicts;
  std::optional<std::size_t> rejections;
};

StatusFacts gather_status(client::Store& store) {
  StatusFacts facts;
  facts.identity = store.identity();
  const client::StoreState state = store.state();
  facts.state = client::to_string(state);
  const std::vector<client::OutboxEntry> outbox = store.outbox();
  for (const client::OutboxEntry& entry : outbox)
    facts.pending_changes += entry.group.changes.size();
  facts.pending_groups = outbox.size();
  if (!outbox.empty()) facts.oldest_pending_ms = outbox.front().queued_at_ms;
  if (const std::int64_t last = store.last_sync_ms(); last > 0) facts.last_sync_ms = last;
  if (state == client::StoreState::kUnlocked) {
    facts.conflicts = store.conflicts().size();
    facts.rejections = store.rejections().size();
  }
  return facts;
}

template <class T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json optional_time_json(const std::optional<std::int64_t>& unix_ms) {
  return unix_ms ? json(time_text(*unix_ms)) : json(nullptr);
}

json status_json(const DeviceProfile& profile, const DeviceSettings& settings,
                 const StatusFacts* facts) {
  json status = {{"profile", profile.dir().string()},
                 {"server_url", settings.server_url},
                 {"enrolled", facts != nullptr}};
  if (!facts) return status;
  status.update({{"device_id", facts->identity.device_id.to_string()},
                 {"user_id", facts->identity.user_id},
                 {"state", facts->state},
                 {"pending_changes", facts->pending_changes},
                 {"pending_groups", facts->pending_groups},
                 {"oldest_pending_at", optional_time_json(facts->oldest_pending_ms)},
                 {"last_sync_at", optional_time_json(facts->last_sync_ms)},
                 {"conflicts", optional_json(facts->conflicts)},
                 {"rejections", optional_json(facts->rejections)}});
  return status;
}

std::string count_or_hidden(const std::optional<std::size_t>& count, const char* command) {
  if (!count) return "unknown until this device checks in (`fieldsync sync`)";
  if (*count == 0) return "none";
  return std::to_string(*count) + " (`fieldsync " + command + "` shows them)";
}

void print_status(const DeviceProfile& profile, const DeviceSettings& settings,
                  const StatusFacts& facts) {
  std::printf("profile     %s\n", profile.dir().string().c_str());
  std::printf("server      %s\n", settings.server_url.c_str());
  std::printf("device      %s (user %s)\n", facts.identity.device_id.to_string().c_str(),
              facts.identity.user_id.c_str());
  std::printf("store       %s\n", facts.state.c_str());
  if (facts.oldest_pending_ms) {
    std::printf("pending     %s in %s, the oldest queued %s (%s)\n",
                plural(facts.pending_changes, "change", "changes").c_str(),
                plural(facts.pending_groups, "group", "groups").c_str(),
                age_text(*facts.oldest_pending_ms).c_str(),
                time_text(*facts.oldest_pending_ms).c_str());
  } else {
    std::printf("pending     none\n");
  }
  if (facts.last_sync_ms) {
    std::printf("last sync   %s (%s)\n", age_text(*facts.last_sync_ms).c_str(),
                time_text(*facts.last_sync_ms).c_str());
  } else {
    std::printf("last sync   never\n");
  }
  std::printf("conflicts   %s\n", count_or_hidden(facts.conflicts, "conflicts").c_str());
  std::printf("rejections  %s\n", count_or_hidden(facts.rejections, "rejections").c_str());
}

}  // namespace

int run_sync(const Invocation& invocation) {
  const std::chrono::seconds timeout = timeout_option(invocation);
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kSync);
  const auto transport = transport_for(session.settings());
  client::SyncSettings settings;
  settings.server_url = session.settings().server_url;
  settings.client = client_info();
  settings.on_progress = print_progress;
  client::SyncReport report;
  {
    InterruptCancelsSync interrupt_cancels;
    report =
        client::sync_with_server(session.store(), *transport, settings,
                                 std::chrono::steady_clock::now() + timeout, &sync_interrupted);
  }
  if (invocation.flag("--json")) {
    print_json(sync_report_json(report));
  } else {
    print_summary(report);
  }
  std::fflush(stdout);
  return sync_exit_code(report);
}

int run_status(const Invocation& invocation) {
  const DeviceProfile profile = DeviceProfile::chosen_by(invocation);
  const DeviceSettings settings = profile.settings();
  const bool as_json = invocation.flag("--json");
  if (!profile.enrolled()) {
    if (as_json) {
      print_json(status_json(profile, settings, nullptr));
    } else {
      std::printf(
          "profile     %s\nserver      %s\ndevice      not enrolled: run `fieldsync enrol "
          "--code CODE`\n",
          profile.dir().string().c_str(), settings.server_url.c_str());
    }
    return kExitOk;
  }
  DeviceSession session = DeviceSession::unlocked(invocation, Access::kSync);
  const StatusFacts facts = gather_status(session.store());
  if (as_json) {
    print_json(status_json(profile, settings, &facts));
  } else {
    print_status(profile, settings, facts);
  }
  return kExitOk;
}

}  // namespace fieldsync::cli
