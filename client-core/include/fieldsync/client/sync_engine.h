// The client's conversation with the server (DESIGN.md sections 4 and 5, docs/http-api.md):
// enrolment, which turns a one-time code into this device's identity and token, and the sync
// loop, which repeats round trips (push outbox groups, pull a page, apply it in one transaction)
// until there is nothing left to do, the deadline comes, or the caller cancels.
//
// The engine starts no threads: it runs on the caller's thread, calls on_progress there, and
// waits (between retries) on that thread too, in slices short enough to notice a cancel. A sync
// stops only between transactions, never while applying a response.
//
// Threading: enrol() and sync_with_server() may run on any thread. One Store may be synced by one
// call at a time (the UI may keep recording meanwhile); a transport serves one call at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/client/retry_policy.h"
#include "fieldsync/client/store.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::client {

// This library's version ("0.1.0"), sent to the server as the core version.
std::string_view core_version();

// What the shell says of itself to the server (telemetry; the admins' device registry).
struct ClientInfo {
  std::string platform;     // "ios 17.4", "android 14", "linux"
  std::string app_version;  // the shell's own version
};

// --- Enrolment ---

struct Enrolment {
  OriginId device_id;
  std::string user_id;
  std::string token;  // the device's secret: give it to Store::set_token, keep it nowhere else
  std::int64_t server_time_ms = 0;
};

// POST /v1/enrol. A refusal from the server throws Error with its code ("unauthorized" for a
// wrong, used or expired code; "rate_limited", whose message says how long to wait); a network
// failure throws Error(ErrorDomain::kNetwork). `server_url` is "https://host[:port]"; plain http
// is accepted only to a loopback address (tests, the demo). No retries: a person is waiting.
Enrolment enrol(platform::HttpTransport& transport, std::string_view server_url,
                std::string_view code, const ClientInfo& client,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// --- Sync ---

// Where a sync stands, after each round trip applied and before each wait to retry.
struct SyncProgress {
  int round = 0;                     // round trips applied so far
  std::size_t changes_pushed = 0;    // accepted by the server so far in this sync
  std::size_t changes_pulled = 0;    // received so far in this sync
  std::size_t outbox_remaining = 0;  // changes still to push
  // Non-zero: a temporary failure (network, 5xx, 429); the next attempt comes after this wait.
  std::chrono::milliseconds retry_in{0};
  std::vector<RecordId> conflicted_records;  // records that got a conflict in this round
};

enum class SyncOutcome {
  kCompleted,          // nothing left to push, and the server has nothing more to send
  kDeadlineReached,    // stopped between round trips; sync again in the next window
  kCancelled,          // the cancel flag was set; stopped between round trips
  kRoundLimitReached,  // max_rounds round trips made and more to do: sync again later
  kFailed,             // SyncReport::error says why (an HTTP error, a store error, ...)
  kWiped,              // a wipe or retire directive destroyed the store: discard it
  kUpgradeRequired,    // the server requires a newer core (SyncReport::minimum_core_version)
};
std::string_view to_string(SyncOutcome outcome);

struct SyncReport {
  SyncOutcome outcome = SyncOutcome::kCompleted;
  // kFailed: why. kDeadlineReached and kCancelled: the temporary failure being retried, if any.
  std::optional<Error> error;
  int http_status = 0;               // the status of the error answer behind `error`, if any
  std::string server_error;          // the server's name for it ("unauthorized"), if it gave one
  std::string minimum_core_version;  // kUpgradeRequired: what the server asks for
  int rounds = 0;                    // round trips applied
  int requests = 0;                  // requests sent, retries included
  std::size_t changes_pushed = 0;
  std::size_t groups_acked = 0;
  std::size_t groups_rejected = 0;  // now in the store's rejection queue
  std::size_t changes_pulled = 0;
  std::size_t conflicts_queued = 0;
  std::size_t restamped_changes = 0;  // after a clock-skew refusal (then sent again)
  // The server was restored from a backup: groups of this device's own changes sent back to it.
  std::size_t groups_restored = 0;
  // Refused because this store was restored from an old backup and reused sequence numbers the
  // server had accepted with other content: numbered after them and sent again (nothing lost).
  std::size_t groups_renumbered = 0;
  std::size_t outbox_remaining = 0;
};

// How the engine reads time and waits. The system one uses std::chrono::steady_clock and sleeps
// in slices of at most 50 ms, so a cancel is noticed within them; tests use a fake that moves
// its own time instead of sleeping.
class SyncTimer {
 public:
  virtual ~SyncTimer() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Returns after `duration`, or sooner once *cancel (if given) is true.
  virtual void wait(std::chrono::milliseconds duration, const std::atomic<bool>* cancel) = 0;
  static SyncTimer& system();  // thread-safe
};

struct SyncSettings {
  std::string server_url;  // "https://host[:port]"; plain http only to a loopback address
  ClientInfo client;
  WireFormat format = WireFormat::kBinary;  // kJson for debugging
  // Whole groups, at least one group. 5,000 changes is about 600 visits of eight fields: at most
  // one round trip per 500 records pushed, with room for longer visits.
  std::size_t max_changes_per_request = 5'000;
  // gzip on the wire both ways when it pays (docs/http-api.md, "Compression"): answers are asked
  // for with Accept-Encoding; requests are sent compressed, and sent plain for the rest of the sync
  // if the server refuses the coding with 415.
  bool compress = true;
  // Round trips in one call: a guard against a server that keeps saying `more`.
  int max_rounds = 100;
  RetryPolicy retry;
  std::chrono::milliseconds request_timeout{30'000};  // shortened to fit the deadline
  // Called on the calling thread between transactions. An exception it throws ends the sync: an
  // Error becomes the report's failure, anything else leaves sync_with_server.
  std::function<void(const SyncProgress&)> on_progress;
  SyncTimer* timer = nullptr;     // nullptr: SyncTimer::system(); not owned
  std::uint64_t jitter_seed = 0;  // 0: a random seed (tests fix it)
};

// Syncs `store` with the server until done, or until `deadline` or `*cancel` (may be null) stops
// it between round trips. Every outcome comes back in the report, failures included: network
// failures, 5xx and 429 are retried with backoff (never sooner than Retry-After, never past the
// deadline); any other 4xx stops at once. A failure is kept in the store and sent as telemetry
// with the next sync. Throws Error(kInvalidArgument) only for unusable settings.
SyncReport sync_with_server(Store& store, platform::HttpTransport& transport,
                            const SyncSettings& settings,
                            std::chrono::steady_clock::time_point deadline,
                            const std::atomic<bool>* cancel = nullptr);

}  // namespace fieldsync::client
