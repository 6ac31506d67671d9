// DemoHub: accept, merge, answer. See demo_hub.h for what it leaves to the real server.
#include "demo_hub.h"

#include "fieldsync/dev/make_change.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::demo {

DemoHub::DemoHub(ClockSource& clock) : clock_(clock), hlc_(clock), origin_(Uuid::random_v4()) {}

void DemoHub::accept(const Change& change) {
  hlc_.observe(change.version.hlc);
  if (fields_[{change.record_id, change.field}].apply(change).was_new) log_.push_back(change);
}

void DemoHub::create_case(const CaseId& case_id,
                          const std::vector<std::pair<std::string, Value>>& fields) {
  const WriteGroupId group = Uuid::random_v4();
  for (const auto& [name, value] : fields) {
    accept(dev::make_change("case", case_id, case_id, name, value, {hlc_.now(), origin_}, group,
                            "admin"));
  }
}

std::vector<Conflict> DemoHub::current_conflicts() const {
  std::vector<Conflict> conflicts;
  for (const auto& [key, merge] : fields_) {
    const Change* winner = merge.winner();
    for (const Change* lost : merge.lost()) {
      conflicts.push_back({lost->collection, lost->record_id, lost->case_id, lost->field,
                           {lost->value, lost->version, lost->author},
                           {winner->value, winner->version, winner->author}});
    }
  }
  return conflicts;
}

std::size_t DemoHub::conflict_count() const { return current_conflicts().size(); }

std::string DemoHub::round_trip(const std::string& body, const std::string& user) {
  const SyncRequest request = decode_request(body, WireFormat::kBinary);
  SyncResponse response;
  for (const WriteGroup& group : request.write_groups) {
    for (Change change : group.changes) {
      change.author = user;  // identity comes from the token, never from the body
      accept(change);
    }
    response.acks.push_back(group.id);
  }
  const std::size_t from = request.cursor.empty() ? 0 : std::stoul(request.cursor);
  for (std::size_t i = from; i < log_.size(); ++i) response.changes.push_back(log_[i]);
  response.next_cursor = std::to_string(log_.size());

  std::set<Version>& reported = reported_[user];
  std::set<Version> still_lost;
  for (const Conflict& conflict : current_conflicts()) {
    still_lost.insert(conflict.lost.version);
    if (!reported.contains(conflict.lost.version)) response.conflicts.push_back(conflict);
  }
  for (const Version& version : reported) {
    if (!still_lost.contains(version)) {
      for (const Change& change : log_) {
        if (change.base.contains(version)) {
          response.resolutions.push_back({change.record_id, change.field, version, change.version});
          break;
        }
      }
    }
  }
  reported = still_lost;
  response.server_time_ms = clock_.wall_ms();
  return encode_response(response, WireFormat::kBinary);
}

}  // namespace fieldsync::demo
