// The benchmark workload: visits, their server-side form and their plain-row form.
#include "workload.h"

#include <array>

#include <nlohmann/json.hpp>

#include "fieldsync/dev/make_change.h"

namespace fieldsync::bench {
namespace {

constexpr std::int64_t kFirstVisitMs = 1'709'280'000'000;  // 2024-03-01 08:00 UTC
constexpr std::int64_t kMinute = 60'000;

// Case-note sentences; {c} is a child, {a} an adult, {p} a place, {t} a time, {n} a number.
constexpr std::array<std::string_view, 24> kSentences = {
    "{c} answered the door with {a} and showed me into the living room.",
    "The house was warm and tidy; there was fresh food in the fridge and the {p} was clean.",
    "{c} talked about school and said the new teacher was kind, but maths was hard.",
    "I spoke with {c} alone in the {p} for about {n} minutes.",
    "{a} said things had been difficult since the last visit because of money worries.",
    "{c} showed me the drawings from the weekend and was proud of them.",
    "There were no visible marks or injuries and {c} appeared well and appropriately dressed.",
    "{a} agreed to attend the parenting group on {t} and asked for the address again.",
    "{c} said they sometimes feel worried at night when the shouting starts downstairs.",
    "The bedroom had a bed, clean sheets and a few toys; the window latch is still broken.",
    "I reminded {a} about the health visitor appointment on {t} at the clinic.",
    "{c} was quiet at first but relaxed when we played a card game together.",
    "{a} became upset when we discussed the school's concerns about attendance.",
    "Attendance this term is {n} per cent according to the school office.",
    "{c} said they like staying with their grandmother at weekends and want to keep doing so.",
    "I checked the smoke alarm in the {p}; it works now that the battery has been replaced.",
    "We agreed that {a} would call me if the ex-partner comes to the house again.",
    "{c} ate a snack during the visit and said breakfast had been cereal and toast.",
    "The dog was shut in the garden throughout the visit, as agreed at the last meeting.",
    "{a} showed me the letter from the housing office about the repairs to the {p}.",
    "{c} asked whether I would come back next week and seemed pleased when I said yes.",
    "I will share these observations with the school nurse before the review on {t}.",
    "{a} said {c} has been sleeping better since the new bedtime routine started.",
    "No other adults were present; {a} said the lodger moved out {n} days ago.",
};
constexpr std::array<std::string_view, 8> kChildren = {"Jo", "Sam", "Riley", "Mia",
                                                       "Noah", "Aisha", "Leo", "Ellie"};
constexpr std::array<std::string_view, 6> kAdults = {"Ms Lee", "Mr Patel", "the mother",
                                                     "the father", "Mrs Ellis", "the carer"};
constexpr std::array<std::string_view, 6> kPlaces = {"kitchen", "bathroom", "bedroom",
                                                     "garden", "hallway", "living room"};
constexpr std::array<std::string_view, 5> kDays = {"Monday", "Tuesday", "Thursday",
                                                   "the 14th", "Friday morning"};

template <std::size_t N>
std::string_view pick(const std::array<std::string_view, N>& words, std::mt19937_64& random) {
  return words[random() % N];
}

// Case notes: sentences picked and filled at random, so that no two notes are alike, and gzip
// shrinks them about as much as it shrinks real ones.
std::string case_notes(std::size_t visit_number, std::mt19937_64& random) {
  std::string text = "Visit " + std::to_string(visit_number) + ". ";
  while (text.size() < kNarrativeBytes) {
    const std::string_view sentence = pick(kSentences, random);
    for (std::size_t at = 0; at < sentence.size(); ++at) {
      if (sentence[at] != '{' || at + 2 >= sentence.size()) {
        text += sentence[at];
        continue;
      }
      switch (sentence[at + 1]) {
        case 'c': text += pick(kChildren, random); break;
        case 'a': text += pick(kAdults, random); break;
        case 'p': text += pick(kPlaces, random); break;
        case 't': text += pick(kDays, random); break;
        default: text += std::to_string(5 + random() % 90); break;
      }
      at += 2;  // past "x}"
    }
    text += ' ';
  }
  text.resize(kNarrativeBytes);
  return text;
}

// Valid UTF-8 whose bytes spread almost evenly over the values UTF-8 allows: 60% printable
// ASCII, 30% two-byte and 10% three-byte characters. gzip saves about 4% of it.
std::string random_text(std::mt19937_64& random) {
  std::string text;
  auto append = [&text](std::uint32_t code_point) {
    if (code_point < 0x80) {
      text += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      text += static_cast<char>(0xC0 | (code_point >> 6));
      text += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
      text += static_cast<char>(0xE0 | (code_point >> 12));
      text += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      text += static_cast<char>(0x80 | (code_point & 0x3F));
    }
  };
  while (text.size() + 3 <= kNarrativeBytes) {
    const std::uint64_t draw = random() % 10;
    if (draw < 6) {
      append(0x20 + static_cast<std::uint32_t>(random() % 95));
    } else if (draw < 9) {
      append(0x80 + static_cast<std::uint32_t>(random() % (0x800 - 0x80)));
    } else {
      std::uint32_t code_point = 0x800 + static_cast<std::uint32_t>(random() % (0x10000 - 0x800));
      if (code_point >= 0xD800 && code_point <= 0xDFFF) code_point -= 0x800;  // no surrogates
      append(code_point);
    }
  }
  while (text.size() < kNarrativeBytes) text += static_cast<char>(0x20 + random() % 95);
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

std::string_view to_string(NoteStyle style) {
  return style == NoteStyle::kText ? "text" : "random";
}

VisitWorkload::VisitWorkload(std::size_t case_count, NoteStyle notes)
    : VisitWorkload(std::vector<CaseId>{}, notes) {
  for (std::size_t i = 0; i < case_count; ++i) cases_.push_back(Uuid::random_v4());
}

VisitWorkload::VisitWorkload(std::vector<CaseId> cases, NoteStyle notes)
    : cases_(std::move(cases)),
      notes_(notes),
      server_(Uuid::random_v4()),
      server_clock_(static_cast<std::uint64_t>(kFirstVisitMs), 0) {}

std::string VisitWorkload::narrative(std::size_t visit_number) {
  return notes_ == NoteStyle::kText ? case_notes(visit_number, random_) : random_text(random_);
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
           {"observations", Value::text(narrative(number))}}};
}

PlainRow VisitWorkload::plain_row(const Visit& visit) {
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [name, value] : visit.fields) body[name] = plain_value(value);
  return {visit.id, visit.case_id, body.dump()};
}

std::size_t VisitWorkload::value_bytes(const Visit& visit) {
  std::size_t bytes = 0;
  for (const auto& [name, value] : visit.fields) bytes += value.payload_size();
  return bytes;
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
