// The admin routes that watch the fleet (role monitor): the overview, sync activity over time,
// the device registry (list with filters, sorting and paging; one device with its recent syncs),
// and the conflict log and rejected groups as metadata. Revoke and retire (role enrol) live here
// too, since they answer with the device's registry entry. Nothing here reads a field value: the
// storage methods behind these routes never select one. See docs/http-api.md.
#include <algorithm>
#include <charconv>
#include <map>

#include "admin_routes.h"
#include "device_registry.h"
#include "fieldsync/error.h"
#include "http/query_params.h"

namespace fieldsync::server {
namespace {

using nlohmann::json;

constexpr std::size_t kDefaultPageSize = 50;
constexpr std::size_t kMaxPageSize = 500;
constexpr std::int64_t kHourMs = 60 * 60 * 1000;

// The query parameters of a GET route: names it does not know are refused, so a misspelt filter
// is an error rather than a silently unfiltered list.
class Query {
 public:
  Query(const http::Request& request, std::initializer_list<std::string_view> known)
      : params_(http::parse_query(request.query)) {
    for (const auto& [name, value] : params_) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string names;
        for (const std::string_view each : known)
          names += (names.empty() ? "" : ", ") + std::string(each);
        throw Error(ErrorCode::kInvalidArgument,
                    "unknown query parameter '" + name + "' (this route takes " + names + ")");
      }
    }
  }

  std::string text(std::string_view name) const {
    const auto found = params_.find(name);
    return found == params_.end() ? std::string() : found->second;
  }

  std::int64_t number(std::string_view name, std::int64_t fallback, std::int64_t low,
                      std::int64_t high) const {
    const std::string value = text(name);
    if (value.empty()) return fallback;
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size() || number < low ||
        number > high) {
      throw Error(ErrorCode::kInvalidArgument,
                  "'" + std::string(name) + "' must be a whole number from " + std::to_string(low) +
                      " to " + std::to_string(high));
    }
    return number;
  }

  std::size_t limit() const {
    return static_cast<std::size_t>(number("limit", kDefaultPageSize, 0, kMaxPageSize));
  }
  std::size_t offset() const {
    return static_cast<std::size_t>(
        number("offset", 0, 0, std::numeric_limits<std::int32_t>::max()));
  }
  std::optional<OriginId> device() const {
    const std::string id = text("device");
    if (id.empty()) return std::nullopt;
    return Uuid::parse_or_throw(id, "device");
  }

 private:
  http::QueryParams params_;
};

json or_null(std::int64_t ms) {
  return ms == 0 ? json(nullptr) : json(ms);
}

json page_json(const char* name, json items, std::uint64_t total, const Query& query) {
  return {{name, std::move(items)},
          {"total", total},
          {"limit", query.limit()},
          {"offset", query.offset()}};
}

// --- Devices ---

json device_json(const Device& device, const std::map<std::string, User>& users,
                 DeviceState state) {
  const auto user = users.find(device.user_id);
  const DeviceActivity& activity = device.activity;
  const Telemetry& telemetry = device.telemetry;
  json entry = {
      {"device_id", device.id.to_string()},
      {"user_id", device.user_id},
      {"user_name", user == users.end() ? "" : user->second.name},
      {"team_id", user == users.end() ? "" : user->second.team_id},
      {"state", to_string(state)},
      {"status", to_string(device.status)},
      {"status_reason", device.status_reason},
      {"platform", telemetry.platform},
      {"app_version", telemetry.app_version},
      {"core_version", telemetry.core_version},
      {"enrolled_at_ms", device.enrolled_at_ms},
      {"last_seen_ms", or_null(device.last_seen_ms)},
      {"last_sync_ms", or_null(device.last_sync_ms)},
      {"last_attempt_ms", or_null(activity.last_attempt_ms)},
      {"pending_changes", activity.pending_changes},
      {"oldest_pending_at_ms", or_null(activity.oldest_pending_at_ms)},
      {"clock_offset_ms", activity.clock_offset_ms},
      {"failed_in_a_row", activity.failed_in_a_row},
      {"last_error", nullptr},
      {"device_error", nullptr},
      {"totals",
       {{"syncs", activity.syncs},
        {"failed_syncs", activity.failed_syncs},
        {"changes_pushed", activity.changes_pushed},
        {"changes_pulled", activity.changes_pulled},
        {"conflicts", activity.conflicts},
        {"rejections", activity.rejections},
        {"bytes_in", activity.bytes_in},
        {"bytes_out", activity.bytes_out}}},
  };
  if (!activity.last_error_code.empty()) {
    entry["last_error"] = {{"code", activity.last_error_code},
                           {"message", activity.last_error_message},
                           {"at_ms", activity.last_error_ms}};
  }
  if (!telemetry.last_error_code.empty()) {
    entry["device_error"] = {{"code", telemetry.last_error_code},
                             {"message", telemetry.last_error_message}};
  }
  return entry;
}

std::map<std::string, User> users_by_id(StorageTransaction& tx) {
  std::map<std::string, User> users;
  for (User& user : tx.users()) users.emplace(user.id, std::move(user));
  return users;
}

// Worst first: what needs an admin's attention comes to the top of the default sort.
int severity(DeviceState state) {
  switch (state) {
    case DeviceState::kAtRisk:
      return 0;
    case DeviceState::kStale:
      return 1;
    case DeviceState::kHealthy:
      return 2;
    case DeviceState::kRevoked:
      return 3;
    case DeviceState::kRetired:
      return 4;
  }
  return 5;
}

struct ListedDevice {
  Device device;
  DeviceState state;
};

using DeviceOrder = bool (*)(const ListedDevice&, const ListedDevice&);

// Sort keys: each compares by its value, then the device id, so paging is stable.
template <auto key>
bool by(const ListedDevice& a, const ListedDevice& b) {
  const auto ka = key(a);
  const auto kb = key(b);
  if (ka != kb) return ka < kb;
  return a.device.id < b.device.id;
}

const std::map<std::string, DeviceOrder, std::less<>>& device_orders() {
  static const std::map<std::string, DeviceOrder, std::less<>> kOrders = {
      {"state", by<[](const ListedDevice& d) {
         return std::pair(severity(d.state), d.device.last_sync_ms);
       }>},
      {"last_sync", by<[](const ListedDevice& d) { return d.device.last_sync_ms; }>},
      {"last_seen", by<[](const ListedDevice& d) { return d.device.last_seen_ms; }>},
      {"enrolled", by<[](const ListedDevice& d) { return d.device.enrolled_at_ms; }>},
      {"user", by<[](const ListedDevice& d) { return d.device.user_id; }>},
      {"platform", by<[](const ListedDevice& d) { return d.device.telemetry.platform; }>},
      {"app_version", by<[](const ListedDevice& d) { return d.device.telemetry.app_version; }>},
      {"pending", by<[](const ListedDevice& d) { return d.device.activity.pending_changes; }>},
      {"failed_in_a_row",
       by<[](const ListedDevice& d) { return d.device.activity.failed_in_a_row; }>},
      {"device_id", by<[](const ListedDevice& d) { return d.device.id; }>},
  };
  return kOrders;
}

std::vector<DeviceState> states_in(const std::string& list) {
  std::vector<DeviceState> states;
  std::size_t start = 0;
  while (start < list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    start = comma + 1;
    const auto state = device_state_from_string(name);
    if (!state) {
      throw Error(
          ErrorCode::kInvalidArgument,
          "'state' takes healthy, stale, at_risk, revoked or retired (several with commas)");
    }
    states.push_back(*state);
  }
  return states;
}

json list_devices(const AdminCall& call) {
  const Query query(call.request,
                    {"state", "user", "team", "platform", "q", "sort", "limit", "offset"});
  std::string sort = query.text("sort");
  const bool descending = sort.starts_with('-');
  if (descending) sort.erase(0, 1);
  if (sort.empty()) sort = "state";
  const auto order = device_orders().find(sort);
  if (order == device_orders().end()) {
    std::string keys;
    for (const auto& [name, compare] : device_orders()) keys += (keys.empty() ? "" : ", ") + name;
    throw Error(ErrorCode::kInvalidArgument,
                "'sort' takes " + keys + " (a leading '-' for descending)");
  }
  const std::vector<DeviceState> wanted = states_in(query.text("state"));

  const DeviceFilter filter{query.text("user"), query.text("team"), query.text("platform"),
                            query.text("q")};
  const std::int64_t now = call.server.clock.wall_ms();
  std::vector<ListedDevice> listed;
  for (Device& device : call.tx.devices(filter)) {
    const DeviceState state = call.server.registry.state_of(device, now);
    if (wanted.empty() || std::ranges::find(wanted, state) != wanted.end()) {
      listed.push_back({std::move(device), state});
    }
  }
  std::ranges::sort(listed, [&](const ListedDevice& a, const ListedDevice& b) {
    return descending ? order->second(b, a) : order->second(a, b);
  });

  const std::map<std::string, User> users = users_by_id(call.tx);
  json items = json::array();
  const std::size_t first = std::min(query.offset(), listed.size());
  const std::size_t last = std::min(first + query.limit(), listed.size());
  for (std::size_t i = first; i < last; ++i)
    items.push_back(device_json(listed[i].device, users, listed[i].state));
  return page_json("devices", std::move(items), listed.size(), query);
}

Device require_device(StorageTransaction& tx, const http::PathParams& params) {
  const OriginId id = Uuid::parse_or_throw(params.at("id"), "device id");
  auto device = tx.device(id);
  if (!device) throw Error(ErrorCode::kNotFound, "no device " + id.to_string());
  return *device;
}

json registry_entry(const AdminCall& call, const Device& device) {
  return device_json(device, users_by_id(call.tx),
                     call.server.registry.state_of(device, call.server.clock.wall_ms()));
}

json sync_event_json(const SyncEvent& event) {
  json entry = {{"at_ms", event.at_ms},
                {"outcome", to_string(event.outcome)},
                {"duration_ms", event.duration_ms},
                {"changes_pushed", event.changes_pushed},
                {"changes_pulled", event.changes_pulled},
                {"groups_rejected", event.groups_rejected},
                {"conflicts", event.conflicts},
                {"bytes_in", event.bytes_in},
                {"bytes_out", event.bytes_out},
                {"error", nullptr}};
  if (!event.error_code.empty())
    entry["error"] = {{"code", event.error_code}, {"message", event.error_message}};
  return entry;
}

json show_device(const AdminCall& call) {
  const Query query(call.request, {"history"});
  const auto history = static_cast<std::size_t>(
      query.number("history", 20, 1,
                   static_cast<std::int64_t>(call.server.registry.limits().events_per_device)));
  const Device device = require_device(call.tx, call.params);
  json entry = registry_entry(call, device);
  json syncs = json::array();
  for (const SyncEvent& event : call.tx.sync_events(device.id, history))
    syncs.push_back(sync_event_json(event));
  entry["recent_syncs"] = std::move(syncs);
  return entry;
}

// Asking again for what is already so is refused (409), not repeated: the first request's reason
// and its audit entry stay the record of why, and the admin learns that nothing changed.
json change_device_status(const AdminCall& call, DeviceStatus to) {
  Device device = require_device(call.tx, call.params);
  const std::string nothing_changed = "; nothing was changed";
  if (device.status == DeviceStatus::kWiped || device.status == DeviceStatus::kRetired) {
    throw Error(ErrorCode::kConflict,
                "the device is already " + std::string(to_string(device.status)) + nothing_changed);
  }
  if (device.status == to) {
    throw Error(
        ErrorCode::kConflict,
        to == DeviceStatus::kRevoked
            ? "the device is already revoked: it is wiped at its next sync" + nothing_changed
            : "the device is already being retired: it is wiped after its next sync" +
                  nothing_changed);
  }
  if (device.status == DeviceStatus::kRevoked && to == DeviceStatus::kRetiring) {
    throw Error(ErrorCode::kConflict,
                "a revoked device cannot be retired: it is wiped at its next sync");
  }
  device.status = to;
  device.status_reason = text_member(call.body, "reason", false);
  call.tx.put_device(device);
  return registry_entry(call, device);
}

// --- Activity and the overview ---

// The fleet's syncs from `from_ms` on, in buckets of `bucket_ms` (a multiple of
// kActivityBucketMs) starting at `from_ms` (a multiple of `bucket_ms`); every bucket is listed.
std::vector<SyncActivity> activity_in(StorageTransaction& tx, std::int64_t from_ms,
                                      std::int64_t bucket_ms, std::size_t buckets) {
  std::vector<SyncActivity> totals(buckets);
  for (std::size_t i = 0; i < buckets; ++i)
    totals[i].start_ms = from_ms + static_cast<std::int64_t>(i) * bucket_ms;
  for (const SyncActivity& stored : tx.sync_activity(from_ms)) {
    const auto index = static_cast<std::size_t>((stored.start_ms - from_ms) / bucket_ms);
    if (index >= buckets) continue;
    add_sync_counts(totals[index], stored);
  }
  return totals;
}

json activity_json(const SyncActivity& activity) {
  return {{"syncs", activity.syncs},
          {"failed_syncs", activity.failed_syncs},
          {"error_rate", activity.syncs == 0 ? 0.0
                                             : static_cast<double>(activity.failed_syncs) /
                                                   static_cast<double>(activity.syncs)},
          {"rejections", activity.rejections},
          {"changes_pushed", activity.changes_pushed},
          {"changes_pulled", activity.changes_pulled},
          {"conflicts", activity.conflicts},
          {"bytes_in", activity.bytes_in},
          {"bytes_out", activity.bytes_out}};
}

// The fleet's syncs in the last `window_ms`, counted in whole 5-minute buckets (the one holding
// the window's start included).
json recent_activity(StorageTransaction& tx, std::int64_t now, std::int64_t window_ms) {
  const std::int64_t from = (now - window_ms) - (now - window_ms) % kActivityBucketMs;
  const std::vector<SyncActivity> total = activity_in(tx, from, now - from + kActivityBucketMs, 1);
  return activity_json(total.front());
}

json show_activity(const AdminCall& call) {
  const Query query(call.request, {"hours", "bucket_minutes"});
  const std::int64_t hours = query.number("hours", 24, 1, 192);
  const std::int64_t minutes = query.number("bucket_minutes", 60, 5, 1440);
  if (minutes % 5 != 0)
    throw Error(ErrorCode::kInvalidArgument, "'bucket_minutes' must be a multiple of 5");
  const std::int64_t bucket_ms = minutes * 60 * 1000;
  const std::int64_t now = call.server.clock.wall_ms();
  const std::int64_t end = now - now % bucket_ms + bucket_ms;  // the end of the bucket holding now
  const auto buckets = static_cast<std::size_t>((hours * kHourMs + bucket_ms - 1) / bucket_ms);
  const std::int64_t from = end - static_cast<std::int64_t>(buckets) * bucket_ms;
  json list = json::array();
  for (const SyncActivity& bucket : activity_in(call.tx, from, bucket_ms, buckets)) {
    json entry = activity_json(bucket);
    entry["start_ms"] = bucket.start_ms;
    list.push_back(std::move(entry));
  }
  return {
      {"from_ms", from}, {"to_ms", end}, {"bucket_minutes", minutes}, {"buckets", std::move(list)}};
}

json show_overview(const AdminCall& call) {
  const Query no_parameters(call.request, {});
  ServerContext& server = call.server;
  const std::int64_t now = server.clock.wall_ms();
  json devices = json::object();
  std::uint64_t total = 0;
  for (const auto& [state, count] : server.registry.count_by_state(call.tx, now)) {
    devices[std::string(to_string(state))] = count;
    total += count;
  }
  devices["total"] = total;
  const DeviceHealthRules& rules = server.registry.rules();
  return {{"server_time_ms", now},
          {"uptime_s", (server.clock.monotonic_ms() - server.started_monotonic_ms) / 1000},
          {"storage_bytes", server.storage.size_bytes()},
          {"devices", std::move(devices)},
          {"last_hour", recent_activity(call.tx, now, kHourMs)},
          {"last_day", recent_activity(call.tx, now, 24 * kHourMs)},
          {"open_conflicts",
           call.tx.conflict_log({ConflictState::kOpen, std::nullopt, "", 0, 0}).total},
          {"rules",
           {{"stale_after_h", static_cast<double>(rules.stale_after_ms) / kHourMs},
            {"failing_after", rules.failing_after}}}};
}

// --- Conflicts and rejections, as metadata ---

// A side of a conflict: the device (null for a change the server made itself, through the admin
// API), its author, and when it was made.
json side_json(const Version& version, const std::string& author, const OriginId& server_origin) {
  return {{"device_id",
           version.origin == server_origin ? json(nullptr) : json(version.origin.to_string())},
          {"user_id", author},
          {"made_at_ms", static_cast<std::int64_t>(version.hlc.ms())}};
}

json list_conflicts(const AdminCall& call) {
  const Query query(call.request, {"state", "device", "user", "limit", "offset"});
  ConflictFilter filter;
  const std::string state = query.text("state");
  if (state == "open") {
    filter.state = ConflictState::kOpen;
  } else if (state == "resolved") {
    filter.state = ConflictState::kResolved;
  } else if (!state.empty() && state != "all") {
    throw Error(ErrorCode::kInvalidArgument, "'state' takes open, resolved or all");
  }
  filter.device = query.device();
  filter.user_id = query.text("user");
  filter.limit = query.limit();
  filter.offset = query.offset();
  const Page<ConflictMetadata> page = call.tx.conflict_log(filter);
  const OriginId server_origin = call.tx.server_origin();
  json items = json::array();
  for (const ConflictMetadata& entry : page.items) {
    json lost = side_json(entry.lost, entry.lost_author, server_origin);
    lost["received_at_ms"] = entry.lost_received_ms;
    items.push_back(
        {{"record_id", entry.record_id.to_string()},
         {"collection", entry.collection},
         {"field", entry.field},
         {"case_id", entry.case_id.to_string()},
         {"lost", std::move(lost)},
         {"winner", entry.winner ? side_json(*entry.winner, entry.winner_author, server_origin)
                                 : json(nullptr)},
         {"resolved", entry.resolved_by.has_value()},
         {"updated_at_ms", entry.updated_ms}});
  }
  return page_json("conflicts", std::move(items), page.total, query);
}

json list_rejections(const AdminCall& call) {
  const Query query(call.request, {"device", "user", "code", "since_ms", "limit", "offset"});
  RejectionFilter filter;
  filter.device = query.device();
  filter.user_id = query.text("user");
  if (const std::string code = query.text("code"); !code.empty()) {
    filter.code = rejection_code_from_string(code);
    if (!filter.code) {
      throw Error(
          ErrorCode::kInvalidArgument,
          "'code' takes validation, scope, frozen, clock_skew, duplicate_mismatch or malformed");
    }
  }
  filter.since_ms = query.number("since_ms", 0, 0, std::numeric_limits<std::int64_t>::max());
  filter.limit = query.limit();
  filter.offset = query.offset();
  const Page<RejectionMetadata> page = call.tx.rejections(filter);
  json items = json::array();
  for (const RejectionMetadata& rejection : page.items) {
    items.push_back(
        {{"device_id", rejection.device.to_string()},
         {"user_id", rejection.user_id},
         {"write_group", rejection.write_group.to_string()},
         {"code", to_string(rejection.code)},
         {"message", rejection.message},
         {"record_id",
          rejection.record_id.is_nil() ? json(nullptr) : json(rejection.record_id.to_string())},
         {"field", rejection.field.empty() ? json(nullptr) : json(rejection.field)},
         {"change_count", rejection.change_count},
         {"rejected_at_ms", rejection.rejected_at_ms}});
  }
  return page_json("rejections", std::move(items), page.total, query);
}

const std::vector<AdminRoute>& monitor_routes() {
  static const std::vector<AdminRoute> kRoutes = {
      {"GET", "/v1/admin/overview", "admin.overview", {"monitor"}, show_overview},
      {"GET", "/v1/admin/activity", "admin.activity", {"monitor"}, show_activity},
      {"GET", "/v1/admin/devices", "admin.devices.list", {"monitor"}, list_devices},
      {"GET", "/v1/admin/devices/{id}", "admin.devices.show", {"monitor"}, show_device},
      {"POST",
       "/v1/admin/devices/{id}/revoke",
       "admin.devices.revoke",
       {"enrol"},
       [](const AdminCall& call) { return change_device_status(call, DeviceStatus::kRevoked); }},
      {"POST",
       "/v1/admin/devices/{id}/retire",
       "admin.devices.retire",
       {"enrol"},
       [](const AdminCall& call) { return change_device_status(call, DeviceStatus::kRetiring); }},
      {"GET", "/v1/admin/conflicts", "admin.conflicts.list", {"monitor"}, list_conflicts},
      {"GET", "/v1/admin/rejections", "admin.rejections.list", {"monitor"}, list_rejections},
  };
  return kRoutes;
}

}  // namespace

void add_monitor_routes(http::Router& router, ServerContext& context) {
  add_admin_route_table(router, context, monitor_routes());
}

}  // namespace fieldsync::server
