// The C API's server half as C++ (private to client-core): the handles behind fieldsync_transport,
// fieldsync_cancel_flag and fieldsync_http_response, the shell's transport callbacks as an
// HttpTransport, and the conversions of sync settings, reports and progress to and from C.
// capi.cpp's extern "C" functions are built on them; everything here throws, never returns an
// error code. Thread-safety: as documented per type.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/client/sync_engine.h"
#include "fieldsync/fieldsync.h"
#include "fieldsync/platform/http_transport.h"

// A transport handle: the curl transport, or the shell's callbacks. Serialises its calls.
struct fieldsync_transport {
  std::unique_ptr<fieldsync::platform::HttpTransport> transport;
};

// Set from any thread; read by the syncing thread.
struct fieldsync_cancel_flag {
  std::atomic<bool> cancelled{false};
};

// The answer a shell's `send` fills in; lives on the stack of one transport call.
struct fieldsync_http_response {
  fieldsync::platform::HttpResponse response;
  bool too_large = false;  // append_body refused: the answer is past kMaxShellResponseBytes
};

namespace fieldsync::capi {

// An answer longer than this, from a shell's transport, fails the request (as curl's does).
inline constexpr std::size_t kMaxShellResponseBytes = 64u << 20;

// The shell's callbacks as an HttpTransport; release() is called when it is destroyed. Throws
// Error(kInvalidArgument) when `send` is missing (release() is still called, once).
std::unique_ptr<platform::HttpTransport> adopt_transport_callbacks(
    const fieldsync_transport_callbacks& callbacks);

client::ClientInfo client_info_from(const fieldsync_client_info* client);

// The C settings as the engine's, defaults filled in; Error(kInvalidArgument) names a bad member.
client::SyncSettings sync_settings_from(const fieldsync_sync_settings* settings);
void sync_settings_defaults(fieldsync_sync_settings& settings);

fieldsync_sync_outcome outcome_to_c(client::SyncOutcome outcome);
nlohmann::json report_to_json(const client::SyncReport& report);
// The events that announce `progress`: one "sync_progress", one "conflict_queued" per record.
std::vector<nlohmann::json> progress_events(const client::SyncProgress& progress);

}  // namespace fieldsync::capi
