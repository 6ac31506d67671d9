// The server's counters for GET /metrics, written in the Prometheus text exposition format
// (version 0.0.4): requests and latency per route, requests and connections the HTTP layer refused
// by reason, changes in and out, conflicts, rejections by code, refused authentications; the gauges
// (devices per state, storage size) are read at scrape time and handed to render(). Every sample
// carries the node's name.
//
// Counters survive a restart: counters() and restore() move them to and from the storage, which
// the server does periodically and at a clean stop (server_app.h), never on each request.
//
// Thread-safety: after track_routes(), every member may be called from any thread at once.
// Counting is a relaxed atomic increment on counters fixed at start (no lock, no allocation), so
// a scrape reads each counter at a slightly different moment; a histogram's count is derived from
// its buckets, so the two always agree.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/http_types.h"
#include "reconciler.h"

namespace fieldsync::server {

// Values read at scrape time.
struct MetricsGauges {
  std::vector<std::pair<std::string, std::uint64_t>> devices_per_state;  // state, devices
  std::uint64_t storage_bytes = 0;
};

// What a refused authentication presented.
inline constexpr std::array<std::string_view, 3> kCredentialKinds = {"device", "admin",
                                                                     "enrolment"};

class ServerMetrics {
 public:
  ServerMetrics(std::string node, std::int64_t started_at_ms);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // The routes requests are counted under, by name; requests no route answered count as
  // "unmatched". Called once, before anything is counted.
  void track_routes(const std::vector<std::string>& route_names);

  const std::string& node() const { return node_; }

  // One answered request. An unknown route name counts as "unmatched".
  void count_request(std::string_view route_name, int status, std::chrono::nanoseconds duration);
  // A committed sync.
  void count_sync(const SyncSummary& summary);
  // A refused authentication (kind: one of kCredentialKinds; others are ignored).
  void count_refused_authentication(std::string_view kind);
  // A request or connection the HTTP layer refused before any route saw it.
  void count_http_refusal(http::Refusal refusal);

  // Every counter that is not zero, by a stable name (what the storage keeps).
  std::map<std::string, std::uint64_t> counters() const;
  // Sets counters from saved values; names it does not know (a route since removed) are ignored.
  void restore(const std::map<std::string, std::uint64_t>& saved);

  std::string render(const MetricsGauges& gauges) const;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct RouteCounters;
  using Counter = std::atomic<std::uint64_t>;

  // Calls `visit(name, counter)` for every counter, in a fixed order (const or not with `self`).
  template <class Self, class Visit>
  static void for_each_counter(Self& self, Visit visit);
  RouteCounters& route(std::string_view name);

  const std::string node_;
  const std::int64_t started_at_ms_;
  // Fixed by track_routes(); only the counters inside change afterwards.
  std::vector<std::unique_ptr<RouteCounters>> routes_;
  std::unordered_map<std::string_view, RouteCounters*> routes_by_name_;
  RouteCounters* unmatched_ = nullptr;

  Counter changes_in_{0};
  Counter changes_out_{0};
  Counter conflicts_detected_{0};
  Counter conflicts_resolved_{0};
  std::array<Counter, 8> rejections_{};  // by RejectionCode's number
  std::array<Counter, kCredentialKinds.size()> refused_authentications_{};
  std::array<Counter, http::kRefusalNames.size()> http_refusals_{};
};

}  // namespace fieldsync::server
