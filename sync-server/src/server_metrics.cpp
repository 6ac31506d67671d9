// ServerMetrics: lock-free counters and their Prometheus text form. See server_metrics.h.
#include "server_metrics.h"

#include <algorithm>
#include <cstdio>

#include "fieldsync/error.h"

namespace fieldsync::server {
namespace {

constexpr std::string_view kUnmatchedRoute = "unmatched";
constexpr int kLowestStatus = 100;
constexpr int kHighestStatus = 599;

// Upper bounds of the latency buckets, in seconds, as written in the `le` label; a last bucket
// takes everything slower (+Inf).
constexpr std::array<std::string_view, 13> kBucketLabels = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};
constexpr std::array<std::int64_t, 13> kBucketMicroseconds = {
    1'000,   2'500,   5'000,     10'000,    25'000,    50'000,    100'000,
    250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

constexpr std::array<RejectionCode, 6> kRejectionCodes = {RejectionCode::kValidation,
                                                          RejectionCode::kScope,
                                                          RejectionCode::kFrozen,
                                                          RejectionCode::kClockSkew,
                                                          RejectionCode::kDuplicateMismatch,
                                                          RejectionCode::kMalformed};

std::uint64_t load(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

void add(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
  counter.fetch_add(amount, std::memory_order_relaxed);
}

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escaped(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

std::string seconds_text(std::uint64_t microseconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%06llu",
                static_cast<unsigned long long>(microseconds / 1'000'000),
                static_cast<unsigned long long>(microseconds % 1'000'000));
  return text;
}

// Writes metric families: a HELP and TYPE header, then samples with the node's label first.
class ExpositionWriter {
 public:
  explicit ExpositionWriter(const std::string& node)
      : node_label_("node=\"" + escaped(node) + "\"") {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels`: pairs of name and (unescaped) value.
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              std::string_view value) {
    out_ += name;
    out_ += '{';
    out_ += node_label_;
    for (const auto& [label, label_value] : labels) {
      out_ += ',';
      out_ += label;
      out_ += "=\"";
      out_ += escaped(label_value);
      out_ += '"';
    }
    out_ += "} ";
    out_ += value;
    out_ += '\n';
  }

  std::string take() { return std::move(out_); }

 private:
  const std::string node_label_;
  std::string out_;
};

}  // namespace

struct ServerMetrics::RouteCounters {
  explicit RouteCounters(std::string route_name) : name(std::move(route_name)) {}

  const std::string name;
  std::array<Counter, kHighestStatus - kLowestStatus + 1> by_status{};
  std::array<Counter, kBucketLabels.size() + 1> latency_buckets{};  // not cumulative; last: +Inf
  Counter latency_sum_us{0};
};

ServerMetrics::ServerMetrics(std::string node, std::int64_t started_at_ms)
    : node_(std::move(node)), started_at_ms_(started_at_ms) {}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::track_routes(const std::vector<std::string>& route_names) {
  if (unmatched_) throw Error(ErrorCode::kInvalidArgument, "the metrics already track routes");
  std::vector<std::string> names = route_names;
  names.emplace_back(kUnmatchedRoute);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (std::string& name : names) {
    routes_.push_back(std::make_unique<RouteCounters>(std::move(name)));
    routes_by_name_.emplace(routes_.back()->name, routes_.back().get());
  }
  unmatched_ = routes_by_name_.at(kUnmatchedRoute);
}

ServerMetrics::RouteCounters& ServerMetrics::route(std::string_view name) {
  const auto found = routes_by_name_.find(name);
  return found == routes_by_name_.end() ? *unmatched_ : *found->second;
}

void ServerMetrics::count_request(std::string_view route_name, int status,
                                  std::chrono::nanoseconds duration) {
  if (!unmatched_) return;  // not serving yet
  RouteCounters& counters = route(route_name);
  const int clamped = std::clamp(status, kLowestStatus, kHighestStatus);
  add(counters.by_status[static_cast<std::size_t>(clamped - kLowestStatus)], 1);
  const std::int64_t microseconds =
      std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  const auto bucket =
      std::lower_bound(kBucketMicroseconds.begin(), kBucketMicroseconds.end(), microseconds) -
      kBucketMicroseconds.begin();
  add(counters.latency_buckets[static_cast<std::size_t>(bucket)], 1);
  add(counters.latency_sum_us, static_cast<std::uint64_t>(std::max<std::int64_t>(microseconds, 0)));
}

void ServerMetrics::count_sync(const SyncSummary& summary) {
  add(changes_in_, summary.changes_accepted);
  add(changes_out_, summary.changes_sent);
  add(conflicts_detected_, summary.conflicts_detected);
  add(conflicts_resolved_, summary.conflicts_resolved);
  for (const auto& [code, count] : summary.rejections) {
    const auto index = static_cast<std::size_t>(code);
    if (index < rejections_.size()) add(rejections_[index], count);
  }
}

void ServerMetrics::count_refused_authentication(std::string_view kind) {
  const auto found = std::find(kCredentialKinds.begin(), kCredentialKinds.end(), kind);
  if (found != kCredentialKinds.end()) {
    add(refused_authentications_[static_cast<std::size_t>(found - kCredentialKinds.begin())], 1);
  }
}

void ServerMetrics::count_http_refusal(http::Refusal refusal) {
  const auto index = static_cast<std::size_t>(refusal);
  if (index < http_refusals_.size()) add(http_refusals_[index], 1);
}

template <class Self, class Visit>
void ServerMetrics::for_each_counter(Self& self, Visit visit) {
  for (const auto& route : self.routes_) {
    for (int status = kLowestStatus; status <= kHighestStatus; ++status) {
      visit("requests|" + route->name + "|" + std::to_string(status),
            route->by_status[static_cast<std::size_t>(status - kLowestStatus)]);
    }
    for (std::size_t i = 0; i < route->latency_buckets.size(); ++i) {
      const std::string_view bound = i < kBucketLabels.size() ? kBucketLabels[i] : "+Inf";
      visit("latency_bucket|" + route->name + "|" + std::string(bound), route->latency_buckets[i]);
    }
    visit("latency_sum_us|" + route->name, route->latency_sum_us);
  }
  visit("changes_in", self.changes_in_);
  visit("changes_out", self.changes_out_);
  visit("conflicts_detected", self.conflicts_detected_);
  visit("conflicts_resolved", self.conflicts_resolved_);
  for (const RejectionCode code : kRejectionCodes) {
    visit("rejections|" + std::string(to_string(code)),
          self.rejections_[static_cast<std::size_t>(code)]);
  }
  for (std::size_t i = 0; i < kCredentialKinds.size(); ++i) {
    visit("refused_authentications|" + std::string(kCredentialKinds[i]),
          self.refused_authentications_[i]);
  }
  for (std::size_t i = 0; i < http::kRefusalNames.size(); ++i) {
    visit("http_refusals|" + std::string(http::kRefusalNames[i]), self.http_refusals_[i]);
  }
}

std::map<std::string, std::uint64_t> ServerMetrics::counters() const {
  std::map<std::string, std::uint64_t> values;
  for_each_counter(*this, [&](const std::string& name, const Counter& counter) {
    if (const std::uint64_t value = load(counter); value != 0) values.emplace(name, value);
  });
  return values;
}

void ServerMetrics::restore(const std::map<std::string, std::uint64_t>& saved) {
  for_each_counter(*this, [&](const std::string& name, Counter& counter) {
    const auto found = saved.find(name);
    if (found != saved.end()) counter.store(found->second, std::memory_order_relaxed);
  });
}

std::string ServerMetrics::render(const MetricsGauges& gauges) const {
  ExpositionWriter writer(node_);

  writer.family("fieldsync_http_requests_total", "counter",
                "HTTP requests answered, by route and status.");
  for (const auto& route : routes_) {
    for (std::size_t i = 0; i < route->by_status.size(); ++i) {
      if (const std::uint64_t count = load(route->by_status[i]); count != 0) {
        const std::string status = std::to_string(kLowestStatus + static_cast<int>(i));
        writer.sample("fieldsync_http_requests_total", {{"route", route->name}, {"status", status}},
                      std::to_string(count));
      }
    }
  }

  writer.family("fieldsync_http_request_duration_seconds", "histogram",
                "Time from a request read whole to its answer ready, by route.");
  for (const auto& route : routes_) {
    std::array<std::uint64_t, kBucketLabels.size() + 1> buckets{};
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      buckets[i] = load(route->latency_buckets[i]);
      total += buckets[i];
    }
    if (total == 0) continue;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBucketLabels.size(); ++i) {
      cumulative += buckets[i];
      writer.sample("fieldsync_http_request_duration_seconds_bucket",
                    {{"route", route->name}, {"le", kBucketLabels[i]}}, std::to_string(cumulative));
    }
    writer.sample("fieldsync_http_request_duration_seconds_bucket",
                  {{"route", route->name}, {"le", "+Inf"}}, std::to_string(total));
    writer.sample("fieldsync_http_request_duration_seconds_sum", {{"route", route->name}},
                  seconds_text(load(route->latency_sum_us)));
    writer.sample("fieldsync_http_request_duration_seconds_count", {{"route", route->name}},
                  std::to_string(total));
  }

  const auto counter_family = [&](std::string_view name, std::string_view help,
                                  const Counter& counter) {
    writer.family(name, "counter", help);
    writer.sample(name, {}, std::to_string(load(counter)));
  };
  counter_family("fieldsync_changes_in_total", "Changes accepted from devices.", changes_in_);
  counter_family("fieldsync_changes_out_total", "Changes sent to devices.", changes_out_);
  counter_family("fieldsync_conflicts_detected_total",
                 "Values overwritten by someone who never saw them, added to the conflict log.",
                 conflicts_detected_);
  counter_family("fieldsync_conflicts_resolved_total",
                 "Conflict-log entries closed by a later change.", conflicts_resolved_);

  writer.family("fieldsync_rejections_total", "counter", "Write groups rejected, by code.");
  for (const RejectionCode code : kRejectionCodes) {
    writer.sample("fieldsync_rejections_total", {{"code", to_string(code)}},
                  std::to_string(load(rejections_[static_cast<std::size_t>(code)])));
  }

  writer.family("fieldsync_refused_authentications_total", "counter",
                "Authentications refused (wrong, expired or rate-limited), by credential.");
  for (std::size_t i = 0; i < kCredentialKinds.size(); ++i) {
    writer.sample("fieldsync_refused_authentications_total", {{"credential", kCredentialKinds[i]}},
                  std::to_string(load(refused_authentications_[i])));
  }

  writer.family("fieldsync_http_refused_total", "counter",
                "Requests and connections the HTTP layer refused before any route, by reason.");
  for (std::size_t i = 0; i < http::kRefusalNames.size(); ++i) {
    writer.sample("fieldsync_http_refused_total", {{"reason", http::kRefusalNames[i]}},
                  std::to_string(load(http_refusals_[i])));
  }

  writer.family("fieldsync_devices", "gauge", "Enrolled devices, by state.");
  for (const auto& [state, count] : gauges.devices_per_state) {
    writer.sample("fieldsync_devices", {{"state", state}}, std::to_string(count));
  }
  writer.family("fieldsync_storage_bytes", "gauge", "Bytes the server's storage occupies.");
  writer.sample("fieldsync_storage_bytes", {}, std::to_string(gauges.storage_bytes));
  writer.family("fieldsync_start_time_seconds", "gauge",
                "When this server process started, in seconds since the Unix epoch.");
  writer.sample("fieldsync_start_time_seconds", {},
                seconds_text(static_cast<std::uint64_t>(started_at_ms_) * 1000));
  return writer.take();
}

}  // namespace fieldsync::server
