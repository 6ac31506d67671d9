// The writer process of the crash-safety test (test_store_crash.cpp): opens an existing store and
// records casework in a loop (visits, household visits, notes, submissions, and now and then an
// acknowledgement of the whole outbox) until the test kills it. Each group carries a tag that
// describes its shape, and each write is reported once it has returned (store_crash_protocol.h).
//
// Usage: fieldsync_store_crash_writer <store file> <platform key file> <seed> <first serial>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/platform/key_wrapper.h"
#include "store_crash_protocol.h"

namespace {

using namespace fieldsync;
namespace crash = fieldsync::testing::crash;

// One write(2) per line: the test reads the pipe after a SIGKILL, and a line must be whole or
// absent (pipe writes up to PIPE_BUF bytes are atomic).
void report(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t result = ::write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (result < 0 && errno == EINTR) continue;
    if (result < 0) std::_Exit(3);  // the test has gone: nobody is listening
    written += static_cast<std::size_t>(result);
  }
}

std::vector<std::string> names_of(const client::Fields& fields) {
  std::vector<std::string> names;
  for (const auto& [name, value] : fields) names.push_back(name);
  return names;
}

class CaseworkLoop {
 public:
  CaseworkLoop(client::Store& store, std::uint64_t seed, std::uint64_t first_serial)
      : store_(store),
        casework_(store),
        random_(seed),
        next_serial_(first_serial),
        cases_(store.cases()) {
    if (cases_.size() < 3) throw std::runtime_error("the store needs at least three cases");
  }

  [[noreturn]] void run() {
    enum Action { kVisit, kHouseholdVisit, kNote, kSubmit, kAcknowledge };
    std::discrete_distribution<int> pick({40, 20, 20, 15, 5});
    for (;;) {
      switch (pick(random_)) {
        case kVisit:
          record_visit();
          break;
        case kHouseholdVisit:
          record_household_visit();
          break;
        case kNote:
          write_note();
          break;
        case kSubmit:
          submit_note();
          break;
        case kAcknowledge:
          acknowledge_outbox();
          break;
      }
    }
  }

 private:
  void record_visit() {
    const std::uint64_t serial = next_serial_++;
    client::Fields fields = shared_visit_fields();
    fields.merge(child_visit_fields());
    fields[crash::kTagField] = crash::tag_value(serial, 1, names_of(fields));
    report_committed(serial, {casework_.record_visit(any_case(), fields)});
  }

  // One visit per child of two or three cases, as one group spanning several cases.
  void record_household_visit() {
    const std::uint64_t serial = next_serial_++;
    std::vector<CaseId> children = cases_;
    std::shuffle(children.begin(), children.end(), random_);
    children.resize(std::uniform_int_distribution<std::size_t>(2, 3)(random_));
    const client::Fields shared = shared_visit_fields();
    std::vector<client::Casework::ChildVisit> per_child;
    for (const CaseId& child : children) {
      client::Fields fields = child_visit_fields();
      std::vector<std::string> written = names_of(fields);
      for (const auto& [name, value] : shared) written.push_back(name);
      written.push_back("household_visit_id");  // Casework links the visits with it
      fields[crash::kTagField] = crash::tag_value(serial, children.size(), written);
      per_child.push_back({child, std::move(fields)});
    }
    report_committed(serial, casework_.record_household_visit(shared, per_child));
  }

  void write_note() {
    const std::uint64_t serial = next_serial_++;
    client::Fields note = {{"content", Value::text(narrative())},
                           {"note_type", Value::text("case_note")}};
    std::vector<std::string> written = names_of(note);
    written.push_back("status");  // Casework writes a new note as a draft
    note[crash::kTagField] = crash::tag_value(serial, 1, written);
    drafts_.push_back(casework_.write_note(any_case(), note));
    report_committed(serial, {drafts_.back()});
  }

  // Submits a draft of this run, as Casework::submit_note does, with the group's tag.
  void submit_note() {
    if (drafts_.empty()) return write_note();
    const std::uint64_t serial = next_serial_++;
    const std::size_t chosen =
        std::uniform_int_distribution<std::size_t>(0, drafts_.size() - 1)(random_);
    const RecordId note = drafts_[chosen];
    drafts_.erase(drafts_.begin() + static_cast<std::ptrdiff_t>(chosen));
    client::Fields submission = {{"status", Value::text("submitted")},
                                 {"submitted_at", Value::timestamp(store_.now())}};
    submission[crash::kTagField] = crash::tag_value(serial, 1, names_of(submission));
    casework_.edit_note(note, submission);
    report_committed(serial, {note});
  }

  // Plays a server that accepts everything the device sends.
  void acknowledge_outbox() {
    const SyncRequest request = store_.prepare_sync(SIZE_MAX, Telemetry{});
    if (request.write_groups.empty()) return;
    SyncResponse response;
    Hlc newest;
    for (const WriteGroup& group : request.write_groups) {
      response.acks.push_back(group.id);
      for (const Change& change : group.changes) newest = std::max(newest, change.version.hlc);
    }
    report("ack-intent " + std::to_string(newest.packed()));
    store_.apply_sync(response);
    report("acked " + std::to_string(newest.packed()));
  }

  client::Fields shared_visit_fields() {
    return {{"visit_type", Value::text("statutory_child_in_need")},
            {"actual_start", Value::timestamp(store_.now())},
            {"location_type", Value::text("home")}};
  }

  client::Fields child_visit_fields() {
    client::Fields fields = {{"child_seen", Value::boolean(true)},
                             {"observations", Value::text(narrative())}};
    const bool alone = std::bernoulli_distribution(0.7)(random_);
    fields["seen_alone"] = Value::boolean(alone);
    if (!alone) fields["reason_not_seen_alone"] = Value::text("child_declined");
    return fields;
  }

  // Up to about 1 KB, so records and outbox entries span several sizes of sealed unit.
  std::string narrative() {
    const std::size_t length = std::uniform_int_distribution<std::size_t>(20, 1100)(random_);
    std::string text;
    while (text.size() < length) text += "The child showed me their room and talked about school. ";
    text.resize(length);
    return text;
  }

  const CaseId& any_case() {
    return cases_[std::uniform_int_distribution<std::size_t>(0, cases_.size() - 1)(random_)];
  }

  void report_committed(std::uint64_t serial, const std::vector<RecordId>& records) {
    std::string line = "committed " + std::to_string(serial);
    for (const RecordId& record : records) line += " " + record.to_string();
    report(line);
  }

  client::Store& store_;
  client::Casework casework_;
  std::mt19937_64 random_;
  std::uint64_t next_serial_;
  std::vector<CaseId> cases_;
  std::vector<RecordId> drafts_;  // notes of this run not yet submitted
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <store file> <platform key file> <seed> <first serial>\n",
                 argv[0]);
    return 2;
  }
  try {
    platform::FileKeyWrapper wrapper(argv[2]);
    auto store = client::Store::open(crash::store_options(argv[1], wrapper));
    const client::UnlockResult unlocked = store->unlock(crash::kPasscode);
    if (unlocked.outcome != client::UnlockOutcome::kUnlocked) {
      std::fprintf(stderr, "store_crash_writer: the store did not unlock\n");
      return 1;
    }
    CaseworkLoop loop(*store, std::stoull(argv[3]), std::stoull(argv[4]));
    report("ready");
    loop.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "store_crash_writer: %s\n", error.what());
    return 1;
  }
}
