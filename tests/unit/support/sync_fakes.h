// Test support for the sync engine: a timer that moves its own time instead of sleeping, and
// helpers that play the server's part over a FakeHttpTransport with real encoded messages (a
// SyncResponse in the binary form, an error answer in the documented JSON form).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "fieldsync/client/sync_engine.h"
#include "fieldsync/content_coding.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::testing {

// Time moves only when the engine waits (or a test advances it); every wait is kept.
class FakeSyncTimer final : public client::SyncTimer {
 public:
  std::chrono::steady_clock::time_point now() override { return now_; }

  void wait(std::chrono::milliseconds duration, const std::atomic<bool>* cancel) override {
    waits_.push_back(duration);
    if (during_wait_) during_wait_();
    if (cancel && cancel->load()) return;  // woken by the cancel before the time is up
    now_ += duration;
  }

  void advance(std::chrono::milliseconds by) { now_ += by; }
  // Runs at the start of each wait (to set a cancel flag while the engine waits, say).
  void on_wait(std::function<void()> action) { during_wait_ = std::move(action); }
  const std::vector<std::chrono::milliseconds>& waits() const { return waits_; }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
  std::vector<std::chrono::milliseconds> waits_;
  std::function<void()> during_wait_;
};

inline platform::HttpResponse sync_answer(const SyncResponse& response,
                                          WireFormat format = WireFormat::kBinary) {
  const std::string type(format == WireFormat::kBinary ? kBinaryContentType : kJsonContentType);
  return {200, {{"Content-Type", type}}, encode_response(response, format)};
}

inline platform::HttpResponse error_answer(int status, const std::string& name,
                                           const std::string& message,
                                           const std::string& retry_after = {}) {
  platform::HttpResponse answer{status,
                                {{"Content-Type", "application/json"}},
                                "{\"error\": \"" + name + "\", \"message\": \"" + message + "\"}"};
  if (!retry_after.empty()) answer.headers.emplace_back("Retry-After", retry_after);
  return answer;
}

// The first header of a request called `name` (as the engine spells it), or empty.
inline std::string header_of(const platform::HttpRequest& http, const std::string& name) {
  for (const auto& [key, value] : http.headers) {
    if (key == name) return value;
  }
  return {};
}

// The request's body as the engine encoded it, inflated when it was sent in gzip.
inline std::string body_of(const platform::HttpRequest& http) {
  return header_of(http, "Content-Encoding") == "gzip" ? gunzip(http.body, 64u << 20) : http.body;
}

inline SyncRequest request_of(const platform::HttpRequest& http,
                              WireFormat format = WireFormat::kBinary) {
  return decode_request(body_of(http), format);
}

// A server that accepts every group it is sent, at `server_time_ms`, and adds `extra` (changes
// to pull, a cursor, `more`, directives) to its answer.
inline platform::FakeHttpTransport::Handler accept_all(std::int64_t server_time_ms,
                                                       SyncResponse extra = {}) {
  return [server_time_ms, extra](const platform::HttpRequest& http) {
    SyncResponse response = extra;
    response.server_time_ms = server_time_ms;
    for (const WriteGroup& group : request_of(http).write_groups) {
      response.acks.push_back(group.id);
    }
    return sync_answer(response);
  };
}

}  // namespace fieldsync::testing
