// The benchmark workload: visits, their server-side form and their plain-row form.
#include "workload.h"

#include <nlohmann/json.hpp>

#include "fieldsync/dev/make_change.h"

namespace fieldsync::bench {
namespace {

constexpr std::int64_t kFirstVisitMs = 1'709'280'000'000;  // 2024-03-01 08:00 UTC
constexpr std::int64_t kMinute = 60'000;

// Different text for every visit, so no two rows are alike.
std::string observations(std::size_t visit_number) {
  std::string text = "Visit " + std::to_string(visit_number) + ". ";
  while (text.size() < kNarrativeBytes) {
    text += "Jo showed me her room and talked about school; the kitchen was warm and stocked. ";
  }
  text.resize(kNarrativeBytes);
  return text;
}

nlohmann::json plain_value(const Value& value) {
  switch (value.type()) {
    case ValueType::kBool:
      return value.as_bool();
    case ValueType::kText:
      return value.as_text();
    case ValueType::kTimestamp:
      return format_timestamp(value.as_timestamp());
    default:
      return value.describe();
  }
}

}  // namespace

VisitWorkload::VisitWorkload(std::size_t case_count)
    : server_(Uuid::random_v4()), server_clock_(static_cast<std::uint64_t>(kFirstVisitMs), 0) {
  for (std::size_t i = 0; i < case_count; ++i) cases_.push_back(Uuid::random_v4());
}

VisitWorkload::Visit VisitWorkload::next_visit() {
  const std::size_t number = visits_made_++;
  const std::int64_t start = kFirstVisitMs + static_cast<std::int64_t>(number) * kMinute;
  const CaseId case_id = cases_[next_case_++ % cases_.size()];
  return {ids_.next(),
          case_id,
          {{"visit_type", Value::text("statutory_child_protection")},
           {"actual_start", Value::timestamp(Timestamp{start})},
           {"actual_end", Value::timestamp(Timestamp{start + 45 * kMinute})},
           {"location_type", Value::text("home")},
           {"people_present", Value::text("Sam Lee (mother)\nJo Lee (child)")},
           {"child_seen", Value::boolean(true)},
           {"seen_alone", Value::boolean(true)},
           {"observations", Value::text(observations(number))}}};
}

PlainRow VisitWorkload::plain_row(const Visit& visit) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [name, value] : visit.fields) body[name] = plain_value(value);
  return {visit.id, visit.case_id, body.dump()};
}

Change VisitWorkload::server_change(const std::string& collection, const RecordId& record,
                                    const CaseId& case_id, const std::string& field, Value value) {
  server_clock_ = server_clock_.successor();
  // One group per record, as the worker wrote it.
  return dev::make_change(collection, record, case_id, field, std::move(value),
                          {server_clock_, server_}, record, "worker");
}

SyncResponse VisitWorkload::caseload_page() {
  SyncResponse response;
  for (std::size_t i = 0; i < cases_.size(); ++i) {
    const CaseId& case_id = cases_[i];
    response.changes.push_back(server_change("case", case_id, case_id, "child_name",
                                             Value::text("Child " + std::to_string(i))));
    response.changes.push_back(
        server_change("case", case_id, case_id, "status", Value::text("open")));
  }
  return response;
}

VisitWorkload::Page VisitWorkload::pull_page(std::size_t count) {
  Page page;
  for (std::size_t i = 0; i < count; ++i) {
    Visit visit = next_visit();
    for (const auto& [name, value] : visit.fields) {
      page.response.changes.push_back(server_change("visit", visit.id, visit.case_id, name, value));
    }
    page.rows.push_back(plain_row(visit));
  }
  page.response.next_cursor = encode_cursor({server_, ++pages_made_});
  page.response.more = true;
  page.response.server_time_ms = SystemClockSource::instance().wall_ms();
  return page;
}

}  // namespace fieldsync::bench
