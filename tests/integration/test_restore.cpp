// A server restored from a backup, across real processes: devices sync with a fieldsync-server
// process, an admin backs its data up (`fieldsync-server admin backup`, the server still
// running), the devices go on working and syncing, so the server accepts work the backup lacks,
// and then the server is stopped and restored from the backup (`admin restore`: a new epoch).
// When the devices sync again, each is told to send back what it holds, and then:
//  - every change a device made and still shows is in the server's history again, as first made
//    (version, value);
//  - every device holds exactly the server's state and open conflicts of its cases;
//  - the server's history passes the audit of sync_harness.h: the conflict log is the batch
//    definition over each field's whole history, and no version or (device, sequence number) is
//    applied twice.
// What no device holds any more (a value overwritten since) cannot come back: a later edit that
// named it in its base then names an unknown version, so the value before shows as overwritten
// unseen (a conflict); and a conflict the backup lacks, whose lost value only the devices'
// conflict queues still show, stays on those devices until the worker resolves it there.
#include <catch2/catch.hpp>

#include "sync_harness.h"

namespace fieldsync::integration {
namespace {

// A field a device shows with a version it stamped itself.
struct OwnChange {
  std::string device;
  server::FieldKey field;
  Version version;
  Value value;
};

std::vector<OwnChange> own_changes_held(Device& device) {
  std::vector<OwnChange> held;
  for (const CaseId& case_id : device.store().cases()) {
    for (const CollectionSpec& collection : Schema::domain().collections()) {
      for (const Record& record : device.store().records(case_id, collection.name)) {
        for (const auto& [field, version] : device.store().field_versions(record.id)) {
          if (version.origin != device.identity().device_id) continue;
          const Value* value = record.get(field);
          held.push_back(
              {device.label(), {record.id, field}, version, value ? *value : Value::null()});
        }
      }
    }
  }
  return held;
}

client::Fields visit(Device& device, const std::string& observations) {
  return {{"visit_type", Value::text("statutory_child_in_need")},
          {"actual_start", Value::timestamp(device.store().now())},
          {"child_seen", Value::boolean(true)},
          {"seen_alone", Value::boolean(true)},
          {"observations", Value::text(observations)}};
}

// A worker's phone and tablet, her manager's tablet, and another worker's phone, all enrolled
// and synced, with a case each for the two workers.
struct Office {
  TestServer server;
  CaseId jordan;
  CaseId sam;
  std::unique_ptr<Device> phone;
  std::unique_ptr<Device> tablet;
  std::unique_ptr<Device> maya;
  std::unique_ptr<Device> ben;
  dev::ScratchDir backups{scratch_parent(), "fieldsync-backup"};

  Office() {
    admin::AdminClient& admin = server.admin();
    dev::create_council_people(admin, {"maya", "amira", "ben"});
    jordan = admin.create_case("amira", {{"child_name", "Jordan Ellis"}});
    sam = admin.create_case("ben", {{"child_name", "Sam Patel"}});
    phone = server.enrol("amira-phone", "amira");
    tablet = server.enrol("amira-tablet", "amira");
    maya = server.enrol("maya-tablet", "maya");
    ben = server.enrol("ben-phone", "ben");
    sync_all();
  }

  std::vector<Device*> devices() { return {phone.get(), tablet.get(), maya.get(), ben.get()}; }

  void sync_all() {
    std::string why;
    const bool quiet = sync_until_quiet(devices(), why);
    INFO(why);
    REQUIRE(quiet);
  }

  std::string backup() {
    const std::string file = backups.file("server-backup.db");
    server.process().run_admin("backup --to '" + file + "'");
    return file;
  }

  void restore(const std::string& file) {
    server.process().stop();
    const std::string said = server.process().run_admin("restore --from '" + file + "'");
    INFO(said);
    CHECK(said.find("new epoch") != std::string::npos);
    server.process().restart();
  }
};

}  // namespace

TEST_CASE("A server restored from a backup gets back what the devices hold, and all converge",
          "[restore]") {
  Office office;
  Device& phone = *office.phone;
  Device& maya = *office.maya;
  Device& ben = *office.ben;

  // Before the backup: a visit on each case, and a conflict on one of them.
  const RecordId first = phone.casework().record_visit(office.jordan, visit(phone, "First visit."));
  const RecordId sams = ben.casework().record_visit(office.sam, visit(ben, "Sam at home."));
  office.sync_all();
  const Version first_observations = phone.store().field_versions(first).at("observations");
  phone.store().write_record(
      {"visit", first, office.jordan, {{"childs_views", Value::text("Wants to stay.")}}});
  maya.store().write_record(
      {"visit", first, office.jordan, {{"childs_views", Value::text("Wants to move.")}}});
  office.sync_all();
  REQUIRE(maya.store().conflicts().size() == 1);
  const std::string backup = office.backup();

  // After the backup, and synced: the server accepts what the backup lacks.
  const RecordId second =
      phone.casework().record_visit(office.jordan, visit(phone, "Second visit."));
  phone.store().write_record(
      {"visit", first, office.jordan, {{"observations", Value::text("First visit, corrected.")}}});
  ben.store().write_record(
      {"visit", sams, office.sam, {{"observations", Value::text("Sam at school.")}}});
  office.sync_all();
  office.tablet->store().write_record(
      {"visit", second, office.jordan, {{"worker_analysis", Value::text("From the tablet.")}}});
  // Maya resolves the conflict, and edits what the phone corrected, having seen it.
  maya.store().resolve_conflict(maya.store().conflicts().front().conflict.lost.version,
                                client::Store::Resolve::kKeepCurrent);
  maya.store().write_record(
      {"visit", first, office.jordan, {{"observations", Value::text("First visit, checked.")}}});
  office.sync_all();
  // And some work that no sync carried before the restore.
  ben.casework().write_note(office.sam, {{"content", Value::text("Called the school.")},
                                         {"note_type", Value::text("case_note")}});
  phone.store().write_record(
      {"visit", second, office.jordan, {{"childs_views", Value::text("Likes the new school.")}}});

  std::vector<OwnChange> held;
  for (Device* device : office.devices()) {
    for (OwnChange& change : own_changes_held(*device)) held.push_back(std::move(change));
  }

  office.restore(backup);
  for (Device* device : office.devices()) {
    const client::SyncReport report = device->sync();
    INFO(device->label() << ": " << (report.error ? report.error->what() : ""));
    REQUIRE(report.outcome == client::SyncOutcome::kCompleted);
    CHECK(report.groups_restored > 0);  // each device made something it still shows
    CHECK(report.groups_rejected == 0);
  }
  office.sync_all();

  const auto state = office.server.stop_and_open();
  REQUIRE(state);
  server::StorageTransaction& tx = state->tx();
  std::vector<std::string> missing;
  for (const OwnChange& change : held) {
    const auto stored = tx.change_by_version(change.field, change.version);
    if (!stored || stored->change.value != change.value) {
      missing.push_back(change.device + ": " + change.field.record_id.to_string() + "." +
                        change.field.field + " @" + change.version.to_string());
    }
  }
  INFO("held by a device, not back on the server:" << lines(missing));
  CHECK(missing.empty());
  CHECK(held.size() > 10);
  for (Device* device : office.devices()) {
    INFO(device->label());
    CHECK(device->store().outbox_change_count() == 0);
    CHECK(tx.open_directives(device->identity().device_id).empty());
    const std::vector<std::string> differences = differences_from_server(device->store(), tx);
    INFO("differences from the server:" << lines(differences));
    CHECK(differences.empty());
  }
  const HistoryAudit audit = audit_history(tx);
  INFO("history:" << lines(audit.problems));
  CHECK(audit.problems.empty());
  // The conflict the backup holds was resolved again by Maya's resolution, sent back. One shows
  // that was none: Maya's edit of the observations named the phone's correction, which nobody
  // holds any more, so nothing names the first observations now, and they count as overwritten
  // by someone who never saw them. Told rather than lost: the worker can resolve it.
  const std::vector<server::ConflictEntry> chain = tx.field_conflicts({first, "observations"});
  REQUIRE(chain.size() == 1);
  CHECK(chain.front().lost == first_observations);
  CHECK_FALSE(chain.front().resolved_by);
  CHECK(audit.unresolved == 1);
  CHECK(audit.conflict_entries == 2);
}

TEST_CASE("A conflict the backup lacks, whose lost value no device holds, stays on the devices",
          "[restore]") {
  Office office;
  Device& phone = *office.phone;
  Device& maya = *office.maya;
  const RecordId first = phone.casework().record_visit(office.jordan, visit(phone, "First visit."));
  office.sync_all();
  const std::string backup = office.backup();

  phone.store().write_record(
      {"visit", first, office.jordan, {{"childs_views", Value::text("Wants to stay.")}}});
  maya.store().write_record(
      {"visit", first, office.jordan, {{"childs_views", Value::text("Wants to move.")}}});
  office.sync_all();
  const std::vector<client::LocalConflict> before = maya.store().conflicts();
  REQUIRE(before.size() == 1);
  const Version lost = before.front().conflict.lost.version;

  office.restore(backup);
  office.sync_all();
  // Only the winner is held by a device, so only the winner came back.
  {
    const auto state = office.server.stop_and_open();
    REQUIRE(state);
    CHECK_FALSE(state->tx().change_by_version({first, "childs_views"}, lost));
    CHECK(state->tx().current_field({first, "childs_views"}));
  }
  office.server.process().restart();
  // Each device that showed the conflict still shows it, lost value and all, until the worker
  // resolves it there (each resolution synced before the next, so none overwrites another).
  for (Device* device : {office.phone.get(), office.tablet.get(), office.maya.get()}) {
    INFO(device->label());
    const std::vector<client::LocalConflict> now = device->store().conflicts();
    REQUIRE(now.size() == 1);
    CHECK(now.front().conflict.lost.version == lost);
    CHECK(now.front().conflict.lost.value == before.front().conflict.lost.value);
    device->store().resolve_conflict(lost, client::Store::Resolve::kKeepCurrent);
    office.sync_all();
  }
  const auto state = office.server.stop_and_open();
  REQUIRE(state);
  for (Device* device : office.devices()) {
    const std::vector<std::string> differences =
        differences_from_server(device->store(), state->tx());
    INFO(device->label() << lines(differences));
    CHECK(differences.empty());
  }
  const HistoryAudit audit = audit_history(state->tx());
  INFO(lines(audit.problems));
  CHECK(audit.problems.empty());
}

}  // namespace fieldsync::integration
