// Crash safety of the device store: a writer process (store_crash_writer.cpp) records casework
// until it is killed with SIGKILL at a random moment, many times over; after each kill the store
// must reopen whole. Checked each time:
//   - SQLite's integrity_check is "ok";
//   - every write group is whole or absent: its records all exist, each record's newest fields
//     are exactly those its group's tag names, and its outbox changes are exactly the tag's;
//   - the outbox matches the records: each queued change is the field's current version unless a
//     later queued change of the field superseded it; each of this device's versions not yet
//     acknowledged is queued; nothing acknowledged is still queued; an acknowledgement cut short
//     by the kill took effect whole or not at all; the index of unacknowledged groups
//     (pending_groups) is the outbox's;
//   - every group the writer reported as committed is there: write() returns only once its
//     transaction is committed. (A killed process leaves the kernel's page cache behind, so this
//     cannot show what synchronous = FULL adds: surviving a power cut.)
// The random seed is printed; set FIELDSYNC_CRASH_SEED to replay a run's choices (the moments of
// the kills depend on timing and so vary anyway).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "fieldsync/platform/key_wrapper.h"
#include "fieldsync/sqlite_db.h"
#include "store_crash_protocol.h"
#include "store_fixture.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kStores = 4;
constexpr int kKillsPerStore = 15;  // 60 kills in all
constexpr int kMaxKillDelayMs = 150;
constexpr int kCaseCount = 4;
constexpr auto kStartupTimeout = std::chrono::seconds(30);
constexpr std::size_t kProblemsShown = 12;

// The writer as a child process whose standard output the test reads line by line.
class WriterProcess {
 public:
  explicit WriterProcess(const std::vector<std::string>& args) {
    int pipe_ends[2];
    if (::pipe2(pipe_ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      // The child: only async-signal-safe calls until exec.
      ::dup2(pipe_ends[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    out_fd_ = pipe_ends[0];
  }

  ~WriterProcess() {
    if (pid_ > 0) kill_and_reap();
    ::close(out_fd_);
  }
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;

  // Reads until the writer reports "ready"; false if it died or took too long.
  bool wait_until_ready() {
    return read_until(Clock::now() + kStartupTimeout, /*until_first_line=*/true) &&
           !lines_.empty() && lines_.front() == "ready";
  }

  // Keeps draining the pipe for `duration` so that the writer never blocks on it. False at EOF.
  bool read_for(std::chrono::milliseconds duration) {
    return read_until(Clock::now() + duration, /*until_first_line=*/false);
  }

  // SIGKILL, then the exit status as waitpid() gives it.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    while (read_some()) {
    }
    return status;
  }

  // Complete lines only: a line the kill cut short was never reported.
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  bool read_until(Clock::time_point deadline, bool until_first_line) {
    while (!(until_first_line && !lines_.empty())) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return true;
      pollfd poll_fd{out_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left.count())) > 0 && !read_some()) return false;
    }
    return true;
  }

  bool read_some() {
    char buffer[4096];
    ssize_t count;
    do {
      count = ::read(out_fd_, buffer, sizeof buffer);
    } while (count < 0 && errno == EINTR);
    if (count <= 0) return false;
    partial_.append(buffer, static_cast<std::size_t>(count));
    for (std::size_t end; (end = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, end));
      partial_.erase(0, end + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
};

// What the writers' reports promise about the store, accumulated over every run.
struct Promises {
  Hlc acknowledged_through;  // this device's versions up to here are acknowledged
  std::optional<Hlc> acknowledgement_in_flight;  // reported as started, not as finished
  std::map<RecordId, std::uint64_t> committed;   // record -> serial of its last committed group
  std::size_t committed_groups = 0;
  std::size_t acknowledgements_cut_short = 0;

  void take(const std::vector<std::string>& lines) {
    for (const std::string& line : lines) {
      std::istringstream in(line);
      std::string kind;
      in >> kind;
      if (kind == "committed") {
        std::uint64_t serial = 0;
        in >> serial;
        for (std::string id; in >> id;) committed[Uuid::parse_or_throw(id, "record id")] = serial;
        ++committed_groups;
      } else if (kind == "ack-intent" || kind == "acked") {
        std::uint64_t packed = 0;
        in >> packed;
        acknowledgement_in_flight = Hlc::from_packed(packed);
        if (kind == "acked") {
          acknowledged_through = Hlc::from_packed(packed);
          acknowledgement_in_flight.reset();
        }
      }
    }
  }
};

struct FieldVersion {
  RecordId record;
  std::string field;
  Version version;
  friend auto operator<=>(const FieldVersion&, const FieldVersion&) = default;
};

// The store as the reopened Store API shows it.
struct StoreView {
  OriginId device;
  std::map<RecordId, Record> tagged;  // the writer's records, by id
  std::map<RecordId, std::map<std::string, Version>> versions;
  std::vector<client::OutboxEntry> outbox;
  std::set<FieldVersion> queued;  // every change in the outbox

  static StoreView read(client::Store& store) {
    StoreView view;
    view.device = store.identity().device_id;
    for (const CaseId& case_id : store.cases()) {
      for (const char* collection : {"visit", "note"}) {
        for (Record& record : store.records(case_id, collection)) {
          view.versions[record.id] = store.field_versions(record.id);
          view.tagged.emplace(record.id, std::move(record));
        }
      }
    }
    view.outbox = store.outbox();
    for (const client::OutboxEntry& entry : view.outbox) {
      for (const Change& change : entry.group.changes) {
        view.queued.insert({change.record_id, change.field, change.version});
      }
    }
    return view;
  }

  bool queues_anything_up_to(Hlc hlc) const {
    return std::any_of(queued.begin(), queued.end(), [&](const FieldVersion& queued_version) {
      return queued_version.version.hlc <= hlc;
    });
  }
};

std::optional<crash::GroupTag> tag_of(const Record& record) {
  const Value* tag = record.get(crash::kTagField);
  if (!tag || tag->type() != ValueType::kText) return std::nullopt;
  return crash::GroupTag::parse(tag->as_text());
}

// Collects every broken promise of one reopened store, so that a failure shows them all.
class CrashAudit {
 public:
  CrashAudit(const StoreView& view, const Promises& promises) : view_(view), promises_(promises) {}

  void check_groups_whole_in_records() {
    std::map<std::uint64_t, std::size_t> records_per_serial;
    std::map<std::uint64_t, std::size_t> expected_per_serial;
    for (const auto& [id, record] : view_.tagged) {
      const auto tag = tag_of(record);
      if (!tag) {
        problem("record " + id.to_string() + " has no valid group tag");
        continue;
      }
      ++records_per_serial[tag->serial];
      expected_per_serial[tag->serial] = tag->records;
      check_newest_fields_are_the_tags(id, *tag);
    }
    for (const auto& [serial, count] : records_per_serial) {
      if (count != expected_per_serial[serial]) {
        problem("group " + std::to_string(serial) + " has " + std::to_string(count) + " of its " +
                std::to_string(expected_per_serial[serial]) + " records");
      }
    }
  }

  void check_groups_whole_in_outbox() {
    for (const client::OutboxEntry& entry : view_.outbox) {
      std::map<RecordId, std::set<std::string>> fields_by_record;
      std::map<RecordId, std::optional<crash::GroupTag>> tags;
      for (const Change& change : entry.group.changes) {
        fields_by_record[change.record_id].insert(change.field);
        if (change.field == crash::kTagField && change.value.type() == ValueType::kText) {
          tags[change.record_id] = crash::GroupTag::parse(change.value.as_text());
        }
      }
      const std::string group = "outbox group " + entry.group.id.to_string();
      for (const auto& [record, fields] : fields_by_record) {
        const auto& tag = tags[record];
        if (!tag) {
          problem(group + " has no tag for record " + record.to_string());
          continue;
        }
        if (tag->records != fields_by_record.size()) {
          problem(group + " holds " + std::to_string(fields_by_record.size()) +
                  " records; its tag " + tag->encode() + " says otherwise");
        }
        if (std::vector<std::string>(fields.begin(), fields.end()) != tag->fields) {
          problem(group + " holds other fields of record " + record.to_string() + " than its tag " +
                  tag->encode());
        }
      }
    }
  }

  void check_outbox_matches_records() {
    for (const FieldVersion& queued : view_.queued) {
      const std::string what = queued.field + " " + queued.version.to_string() + " of record " +
                               queued.record.to_string();
      if (queued.version.hlc <= promises_.acknowledged_through) {
        problem("acknowledged change " + what + " is still queued");
      }
      const auto record = view_.versions.find(queued.record);
      const auto current =
          record == view_.versions.end() ? nullptr : find(record->second, queued.field);
      if (!current) {
        problem("queued change " + what + " is not in the records");
      } else if (*current != queued.version &&
                 !(*current > queued.version &&
                   view_.queued.contains({queued.record, queued.field, *current}))) {
        problem("queued change " + what + " is neither current (" + current->to_string() +
                ") nor superseded by a queued change");
      }
    }
  }

  void check_unacknowledged_versions_queued() {
    for (const auto& [id, fields] : view_.versions) {
      for (const auto& [field, version] : fields) {
        if (version.origin == view_.device && version.hlc > promises_.acknowledged_through &&
            !view_.queued.contains({id, field, version})) {
          problem("unacknowledged " + field + " " + version.to_string() + " of record " +
                  id.to_string() + " is not in the outbox");
        }
      }
    }
  }

  void check_pending_index(const std::set<std::pair<RecordId, WriteGroupId>>& pending_groups) {
    std::set<std::pair<RecordId, WriteGroupId>> expected;
    for (const client::OutboxEntry& entry : view_.outbox) {
      for (const Change& change : entry.group.changes) expected.insert({change.record_id, entry.group.id});
    }
    if (pending_groups != expected) {
      problem("pending_groups holds " + std::to_string(pending_groups.size()) +
              " entries, the outbox " + std::to_string(expected.size()) + " (or other ones)");
    }
  }

  void check_committed_groups_durable() {
    for (const auto& [id, serial] : promises_.committed) {
      const auto record = view_.tagged.find(id);
      const auto tag = record == view_.tagged.end() ? std::nullopt : tag_of(record->second);
      if (!tag || tag->serial < serial) {
        problem("record " + id.to_string() + " of committed group " + std::to_string(serial) +
                (record == view_.tagged.end() ? " is missing" : " lost that group's write"));
      }
    }
  }

  const std::vector<std::string>& problems() const { return problems_; }

 private:
  // The group that last wrote a record wrote exactly its tag's fields to it, all at once, after
  // every other field: so those fields carry the record's newest versions.
  void check_newest_fields_are_the_tags(const RecordId& id, const crash::GroupTag& tag) {
    const auto& versions = view_.versions.at(id);
    std::optional<Version> oldest_of_group, newest_of_rest;
    for (const auto& [field, version] : versions) {
      const bool in_group = std::binary_search(tag.fields.begin(), tag.fields.end(), field);
      auto& bound = in_group ? oldest_of_group : newest_of_rest;
      if (!bound || (in_group ? version < *bound : version > *bound)) bound = version;
    }
    for (const std::string& field : tag.fields) {
      if (!versions.contains(field)) {
        problem("record " + id.to_string() + " lacks " + field + " of its tag " + tag.encode());
      }
    }
    if (oldest_of_group && newest_of_rest && *newest_of_rest > *oldest_of_group) {
      problem("record " + id.to_string() + " has fields newer than its last group " + tag.encode());
    }
  }

  static const Version* find(const std::map<std::string, Version>& versions,
                             const std::string& field) {
    const auto found = versions.find(field);
    return found == versions.end() ? nullptr : &found->second;
  }

  void problem(std::string text) { problems_.push_back(std::move(text)); }

  const StoreView& view_;
  const Promises& promises_;
  std::vector<std::string> problems_;
};

std::string integrity_check(const std::string& path) {
  sqlite::Database db(path, sqlite::Database::Mode::kReadWrite);
  auto check = db.prepare("PRAGMA integrity_check");
  std::string result;
  while (check.step()) result += check.column_text(0) + "\n";
  return result;
}

std::set<std::pair<RecordId, WriteGroupId>> pending_groups(const std::string& path) {
  sqlite::Database db(path, sqlite::Database::Mode::kReadOnly);
  auto select = db.prepare("SELECT record_id, write_group FROM pending_groups");
  std::set<std::pair<RecordId, WriteGroupId>> groups;
  while (select.step()) groups.insert({select.column_uuid(0), select.column_uuid(1)});
  return groups;
}

std::uint64_t seed_from_environment() {
  if (const char* text = std::getenv("FIELDSYNC_CRASH_SEED")) return std::stoull(text);
  return std::random_device{}();
}

// A store as after enrolment, with a small caseload pulled from the server.
void create_store(const std::string& path, platform::KeyWrapper& wrapper) {
  auto store = client::Store::create(crash::store_options(path, wrapper), crash::kPasscode,
                                     {Uuid::random_v4(), "amira"});
  SyncResponse caseload;
  for (int i = 0; i < kCaseCount; ++i) {
    const CaseId case_id = Uuid::random_v4();
    const Hlc hlc(1'709'000'000'000, static_cast<std::uint16_t>(2 * i));
    caseload.changes.push_back(server_change("case", case_id, case_id, "child_name",
                                             Value::text("Child " + std::to_string(i)), hlc));
    caseload.changes.push_back(
        server_change("case", case_id, case_id, "status", Value::text("open"), hlc.successor()));
  }
  store->apply_sync(caseload);
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}

// Runs a writer on the store, kills it `delay` after it is ready, and returns what it reported.
std::vector<std::string> run_writer_until_killed(const std::string& path,
                                                 const std::string& key_file,
                                                 std::uint64_t writer_seed,
                                                 std::uint64_t first_serial,
                                                 std::chrono::milliseconds delay) {
  WriterProcess writer({FIELDSYNC_STORE_CRASH_WRITER, path, key_file, std::to_string(writer_seed),
                        std::to_string(first_serial)});
  REQUIRE(writer.wait_until_ready());
  const bool alive = writer.read_for(delay);
  const int status = writer.kill_and_reap();
  INFO("the writer " << describe_status(status));
  REQUIRE(alive);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  return writer.lines();
}

// Reopens the store after a kill and holds it to every promise; returns what it holds.
StoreView reopen_and_audit(const std::string& path, platform::KeyWrapper& wrapper,
                           Promises& promises) {
  REQUIRE(integrity_check(path) == "ok\n");
  auto store = client::Store::open(crash::store_options(path, wrapper));
  REQUIRE(store->unlock(crash::kPasscode).outcome == client::UnlockOutcome::kUnlocked);
  StoreView view = StoreView::read(*store);
  store.reset();

  // An acknowledgement the kill cut short: applied whole if nothing it covered is still queued
  // (the checks below then fail if it was applied in part).
  if (promises.acknowledgement_in_flight) {
    ++promises.acknowledgements_cut_short;
    if (!view.queues_anything_up_to(*promises.acknowledgement_in_flight)) {
      promises.acknowledged_through = *promises.acknowledgement_in_flight;
    }
    promises.acknowledgement_in_flight.reset();
  }

  CrashAudit audit(view, promises);
  audit.check_groups_whole_in_records();
  audit.check_groups_whole_in_outbox();
  audit.check_outbox_matches_records();
  audit.check_unacknowledged_versions_queued();
  audit.check_pending_index(pending_groups(path));
  audit.check_committed_groups_durable();
  const auto& problems = audit.problems();
  std::string report;
  for (std::size_t i = 0; i < problems.size() && i < kProblemsShown; ++i) {
    report += problems[i] + "\n";
  }
  if (problems.size() > kProblemsShown) {
    report += "... and " + std::to_string(problems.size() - kProblemsShown) + " more\n";
  }
  INFO(report);
  REQUIRE(audit.problems().empty());
  return view;
}

}  // namespace

TEST_CASE("The store survives SIGKILL at any moment with whole groups and a matching outbox",
          "[store][crash]") {
  const std::uint64_t seed = seed_from_environment();
  std::cout << "store crash test seed: " << seed << " (FIELDSYNC_CRASH_SEED)" << std::endl;
  std::mt19937_64 random(seed);

  TempDir dir;
  const std::string key_file = dir.file("platform.key");
  platform::FileKeyWrapper wrapper(key_file);
  std::size_t committed_groups = 0;
  std::size_t acknowledgements_cut_short = 0;
  std::size_t household_visits_seen = 0;
  for (int store_number = 0; store_number < kStores; ++store_number) {
    // A fresh store now and then keeps the audit, which reads everything, from slowing down as
    // the run goes on.
    const std::string path = dir.file("device-" + std::to_string(store_number) + ".db");
    create_store(path, wrapper);
    Promises promises;
    for (int kill = 1; kill <= kKillsPerStore; ++kill) {
      const int run = store_number * kKillsPerStore + kill;
      INFO("seed " << seed << ", kill " << run);
      const std::uint64_t writer_seed = random();
      const std::chrono::milliseconds delay(
          std::uniform_int_distribution<int>(0, kMaxKillDelayMs)(random));
      promises.take(run_writer_until_killed(path, key_file, writer_seed,
                                            static_cast<std::uint64_t>(run) * 1'000'000, delay));
      const StoreView view = reopen_and_audit(path, wrapper, promises);
      household_visits_seen += static_cast<std::size_t>(
          std::count_if(view.tagged.begin(), view.tagged.end(), [](const auto& entry) {
            const auto tag = tag_of(entry.second);
            return tag && tag->records > 1;
          }));
    }
    committed_groups += promises.committed_groups;
    acknowledgements_cut_short += promises.acknowledgements_cut_short;
  }
  std::cout << "store crash test: " << kStores * kKillsPerStore << " kills, " << committed_groups
            << " groups reported committed, " << acknowledgements_cut_short
            << " acknowledgements cut short" << std::endl;
  // The runs did what the checks are about: many groups, some of them spanning several cases.
  CHECK(committed_groups >= 100);
  CHECK(household_visits_seen > 0);
}
