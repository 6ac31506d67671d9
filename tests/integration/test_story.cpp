// The whole story across real processes: a real fieldsync-server on 127.0.0.1 with its SQLite
// files, and phones with encrypted stores syncing over libcurl. Three workers record visits
// offline on the same children's cases, one of them a manager covering a colleague; one phone's
// clock is three hours fast; a restored server's bare 401 wipes nothing; a phone is lost (revoked,
// wiped at its next sync); an edit of a note crosses its submission on another phone (rejected,
// kept in the rejection queue, the server's values restored); a case moves to another team
// (purged from its old holders once their last edit is in). At the end every device agrees with
// the server on every field, and the conflict log holds an entry, with both values, for each value
// overwritten by someone who never saw it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "sync_harness.h"

namespace fieldsync::integration {
namespace {

using client::Fields;
using client::SyncOutcome;

constexpr std::int64_t kThreeHoursMs = 3LL * 60 * 60 * 1000;

Fields visit_fields(const std::string& observations, bool seen_alone) {
  Fields fields = {
      {"visit_type", Value::text("statutory_child_protection")},
      {"location_type", Value::text("home")},
      {"actual_start", Value::timestamp(Timestamp{SystemClockSource::instance().wall_ms()})},
      {"child_seen", Value::boolean(true)},
      {"seen_alone", Value::boolean(seen_alone)},
      {"observations", Value::text(observations)}};
  if (!seen_alone) fields["reason_not_seen_alone"] = Value::text("child_too_young");
  return fields;
}

std::set<CaseId> cases_of(Device& device) {
  const std::vector<CaseId> cases = device.store().cases();
  return {cases.begin(), cases.end()};
}

void require_completed(const client::SyncReport& report, const Device& device) {
  INFO(device.label() << ": " << client::to_string(report.outcome)
                      << (report.error ? std::string(": ") + report.error->what() : ""));
  REQUIRE(report.outcome == SyncOutcome::kCompleted);
}

client::SyncReport synced(Device& device) {
  client::SyncReport report = device.sync();
  require_completed(report, device);
  return report;
}

// The one conflict `store` holds on `record`.`field`.
std::optional<Conflict> conflict_on(client::Store& store, const RecordId& record,
                                    const std::string& field) {
  std::optional<Conflict> found;
  for (const client::LocalConflict& local : store.conflicts()) {
    if (local.conflict.record_id == record && local.conflict.field == field) {
      if (found) return std::nullopt;
      found = local.conflict;
    }
  }
  return found;
}

}  // namespace

TEST_CASE(
    "Offline workers, a manager covering, a wrong clock, a lost phone and a transfer end in "
    "agreement",
    "[story]") {
  TestServer server;
  admin::AdminClient& admin = server.admin();
  const dev::CouncilCases council = dev::set_up_council(admin);
  const CaseId jordan = council.jordan, riley = council.riley, sam = council.sam;

  auto amira = server.enrol("amira-phone", "amira", kThreeHoursMs);  // three hours fast
  auto ben = server.enrol("ben-phone", "ben");
  auto maya = server.enrol("maya-tablet", "maya");
  auto chen = server.enrol("chen-phone", "chen");
  for (Device* device : {amira.get(), ben.get(), maya.get(), chen.get()}) synced(*device);
  CHECK(cases_of(*amira) == std::set<CaseId>{jordan, riley});
  CHECK(cases_of(*ben) == std::set<CaseId>{sam});
  CHECK(cases_of(*maya) == std::set<CaseId>{jordan, riley, sam});
  CHECK(cases_of(*chen).empty());

  // --- Amira's phone restarts with its clock three hours fast; she visits the Ellis household.
  amira->reboot();
  const std::vector<RecordId> household = amira->casework().record_household_visit(
      {}, {{jordan, visit_fields("Jordan showed me his room.", true)},
           {riley, visit_fields("Riley asleep in the cot.", false)}});
  const RecordId jordan_visit = household.at(0);
  const RecordId riley_visit = household.at(1);
  const std::int64_t stamped_ahead_ms =
      static_cast<std::int64_t>(
          amira->store().field_versions(jordan_visit).at("observations").hlc.ms()) -
      SystemClockSource::instance().wall_ms();
  CHECK(stamped_ahead_ms > kThreeHoursMs - 60'000);

  const client::SyncReport amira_back = synced(*amira);
  CHECK(amira_back.restamped_changes > 0);
  CHECK(amira_back.outbox_remaining == 0);
  const std::int64_t restamped_ahead_ms =
      static_cast<std::int64_t>(
          amira->store().field_versions(jordan_visit).at("observations").hlc.ms()) -
      SystemClockSource::instance().wall_ms();
  CHECK(restamped_ahead_ms < 60'000);

  // --- Ben writes a draft note on Sam; Maya, his manager, gets it.
  const RecordId note =
      ben->casework().write_note(sam, {{"content", Value::text("School reports good attendance.")},
                                       {"note_type", Value::text("case_note")}});
  synced(*ben);
  synced(*maya);
  REQUIRE(maya->store().record(jordan_visit).has_value());
  REQUIRE(maya->store().record(note).has_value());

  // --- Offline: Amira and Maya (covering Amira's afternoon) both add to Jordan's visit; Ben and
  // Maya both correct Sam's referrer; Ben submits his note while Maya edits its draft.
  amira->store().write_record(
      {"visit",
       jordan_visit,
       jordan,
       {{"observations", Value::text("Jordan showed me his room. Mother has a new partner.")}}});
  maya->store().write_record(
      {"visit",
       jordan_visit,
       jordan,
       {{"observations", Value::text("Jordan showed me his room. School nurse: no concerns.")},
        {"worker_analysis", Value::text("No change to the plan.")}}});
  ben->store().write_record({"case", sam, sam, {{"referrer", Value::text("school nurse")}}});
  maya->store().write_record({"case", sam, sam, {{"referrer", Value::text("head teacher")}}});
  ben->casework().submit_note(note);
  const WriteGroupId maya_note_edit = maya->store().write_record(
      {"note",
       note,
       sam,
       {{"content", Value::text("School reports good attendance. Maya: agreed.")}}});

  const Version amira_observation = amira->store().field_versions(jordan_visit).at("observations");
  const Version maya_observation = maya->store().field_versions(jordan_visit).at("observations");
  const Version ben_referrer = ben->store().field_versions(sam).at("referrer");
  const Version maya_referrer = maya->store().field_versions(sam).at("referrer");
  const Version ben_note_content = ben->store().field_versions(note).at("content");

  // --- A restored server that does not know the phones answers Ben's sync with a bare 401.
  {
    dev::ScratchDir restored_dir(scratch_parent(), "fieldsync-restored");
    dev::ServerProcess restored({server_binary(), restored_dir.file("server")});
    const std::size_t pending = ben->store().outbox_change_count();
    const client::SyncReport refused = ben->sync_with(restored.url(), std::chrono::seconds(10));
    CHECK(refused.outcome == SyncOutcome::kFailed);
    CHECK(refused.http_status == 401);
    REQUIRE(ben->has_store());
    CHECK(std::filesystem::exists(ben->path()));
    CHECK(ben->store().state() == client::StoreState::kUnlocked);
    CHECK(ben->store().outbox_change_count() == pending);
    CHECK(ben->store().record(note).has_value());
  }

  // --- Back in signal.
  synced(*ben);
  synced(*amira);
  const client::SyncReport maya_back = synced(*maya);
  synced(*amira);
  synced(*ben);

  // Maya's edit of the note crossed its submission: rejected, kept, and the server's values back.
  CHECK(maya_back.groups_rejected == 1);
  const std::vector<client::RejectedGroup> rejections = maya->store().rejections();
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].rejection.write_group == maya_note_edit);
  CHECK(rejections[0].rejection.code == RejectionCode::kFrozen);
  REQUIRE(rejections[0].group.changes.size() == 1);
  CHECK(rejections[0].group.changes[0].value ==
        Value::text("School reports good attendance. Maya: agreed."));
  CHECK(value_of(maya->store(), note, "content") == Value::text("School reports good attendance."));
  CHECK(maya->store().field_versions(note).at("content") == ben_note_content);
  CHECK(value_of(maya->store(), note, "status") == Value::text("submitted"));
  CHECK(maya->store().outbox_change_count() == 0);

  // Both concurrent observations and both referrers: the greater version wins, the other is lost.
  const Version observation_lost = std::min(amira_observation, maya_observation);
  const Version observation_won = std::max(amira_observation, maya_observation);
  const std::string amira_text = "Jordan showed me his room. Mother has a new partner.";
  const std::string maya_text = "Jordan showed me his room. School nurse: no concerns.";
  const std::string observation_lost_text =
      observation_lost == amira_observation ? amira_text : maya_text;
  const std::string observation_won_text =
      observation_lost == amira_observation ? maya_text : amira_text;
  const Version referrer_lost = std::min(ben_referrer, maya_referrer);
  const std::string referrer_lost_text =
      referrer_lost == ben_referrer ? "school nurse" : "head teacher";
  const std::string referrer_won_text =
      referrer_lost == ben_referrer ? "head teacher" : "school nurse";

  // The observation conflict reaches the case's owners (Amira, Maya), with both values.
  for (Device* owner : {amira.get(), maya.get()}) {
    INFO(owner->label());
    const auto conflict = conflict_on(owner->store(), jordan_visit, "observations");
    REQUIRE(conflict.has_value());
    CHECK(conflict->lost.version == observation_lost);
    CHECK(conflict->lost.value == Value::text(observation_lost_text));
    CHECK(conflict->winner.version == observation_won);
    CHECK(conflict->winner.value == Value::text(observation_won_text));
    CHECK(conflict->lost.author == (observation_lost == amira_observation ? "amira" : "maya"));
    CHECK(value_of(owner->store(), jordan_visit, "observations") ==
          Value::text(observation_won_text));
    CHECK(value_of(owner->store(), jordan_visit, "worker_analysis") ==
          Value::text("No change to the plan."));
  }
  for (Device* owner : {ben.get(), maya.get()}) {
    INFO(owner->label());
    const auto conflict = conflict_on(owner->store(), sam, "referrer");
    REQUIRE(conflict.has_value());
    CHECK(conflict->lost.version == referrer_lost);
    CHECK(conflict->lost.value == Value::text(referrer_lost_text));
    CHECK(conflict->winner.value == Value::text(referrer_won_text));
  }
  CHECK(!conflict_on(chen->store(), jordan_visit, "observations"));

  // --- Maya reads both observations and resolves: she keeps the lost line too.
  const WriteGroupId resolution =
      maya->store().resolve_conflict(observation_lost, client::Store::Resolve::kRestoreLost);
  const Version resolution_version = maya->store().field_versions(jordan_visit).at("observations");
  synced(*maya);
  synced(*amira);
  CHECK(!conflict_on(maya->store(), jordan_visit, "observations"));
  CHECK(!conflict_on(amira->store(), jordan_visit, "observations"));
  CHECK(value_of(amira->store(), jordan_visit, "observations") ==
        Value::text(observation_lost_text));
  CHECK(maya->ledger().acked.contains(resolution));

  // --- Ben's phone is lost: revoked, it wipes itself when it next connects.
  const OriginId lost_phone = ben->identity().device_id;
  admin.revoke(lost_phone, "lost on the bus");
  const client::SyncReport finder = ben->sync();
  CHECK(finder.outcome == SyncOutcome::kWiped);
  CHECK(!ben->has_store());
  CHECK(!std::filesystem::exists(ben->path()));
  CHECK(!std::filesystem::exists(ben->path() + "-wal"));
  auto ben_new = server.enrol("ben-new-phone", "ben");
  synced(*ben_new);
  CHECK(cases_of(*ben_new) == std::set<CaseId>{sam});
  CHECK(value_of(ben_new->store(), note, "status") == Value::text("submitted"));
  REQUIRE(
      conflict_on(ben_new->store(), sam, "referrer").has_value());  // the open conflict, backfilled
  CHECK(conflict_on(ben_new->store(), sam, "referrer")->lost.version == referrer_lost);

  // --- Riley moves to the South team, to Chen. Amira's last offline edit of Riley's visit still
  // goes in before her phone forgets the case.
  const std::string last_word = "Riley asleep in the cot. Health visitor due Friday.";
  amira->store().write_record(
      {"visit", riley_visit, riley, {{"observations", Value::text(last_word)}}});
  admin.allocate(riley, "chen");
  synced(*amira);
  synced(*maya);
  CHECK(cases_of(*amira) == std::set<CaseId>{jordan});
  CHECK(!amira->store().record(riley_visit).has_value());
  CHECK(cases_of(*maya) == std::set<CaseId>{jordan, sam});
  CHECK(!maya->store().record(riley_visit).has_value());
  synced(*chen);
  CHECK(cases_of(*chen) == std::set<CaseId>{riley});
  CHECK(value_of(chen->store(), riley_visit, "observations") == Value::text(last_word));
  CHECK(value_of(chen->store(), riley, "child_name") == Value::text("Riley Ellis"));

  // --- Everyone syncs until nothing moves; then the server's storage is the reference.
  const std::vector<Device*> devices = {amira.get(), maya.get(), chen.get(), ben_new.get()};
  std::string why;
  REQUIRE(sync_until_quiet(devices, why));
  const auto state = server.stop_and_open();
  REQUIRE(state);
  server::StorageTransaction& tx = state->tx();

  for (Device* device : devices) {
    INFO(device->label() << lines(differences_from_server(device->store(), tx)));
    CHECK(differences_from_server(device->store(), tx).empty());
  }
  for (Device* device : {amira.get(), maya.get(), chen.get(), ben_new.get(), ben.get()}) {
    INFO(device->label() << lines(acked_changes_missing(device->ledger(), tx)));
    CHECK(acked_changes_missing(device->ledger(), tx).empty());
  }

  const HistoryAudit audit = audit_history(tx);
  INFO(lines(audit.problems));
  CHECK(audit.problems.empty());
  CHECK(audit.conflict_entries == 2);
  CHECK(audit.unresolved == 1);

  // The log, entry by entry: both values of each lost change, and who resolved the first.
  const auto observation_entries = tx.field_conflicts({jordan_visit, "observations"});
  REQUIRE(observation_entries.size() == 1);
  CHECK(observation_entries[0].lost == observation_lost);
  CHECK(observation_entries[0].resolved_by == resolution_version);
  const auto referrer_entries = tx.field_conflicts({sam, "referrer"});
  REQUIRE(referrer_entries.size() == 1);
  CHECK(referrer_entries[0].lost == referrer_lost);
  CHECK(!referrer_entries[0].resolved_by);
  CHECK(tx.change_by_version({sam, "referrer"}, referrer_lost)->change.value ==
        Value::text(referrer_lost_text));
  CHECK(tx.current_field({sam, "referrer"})->change.value == Value::text(referrer_won_text));

  // The rejected group is in the server's rejected log; the lost phone is known as revoked.
  const auto rejected = tx.rejected_group(maya->identity().device_id, maya_note_edit);
  REQUIRE(rejected.has_value());
  CHECK(rejected->rejection.code == RejectionCode::kFrozen);
  CHECK(tx.device(lost_phone)->status == server::DeviceStatus::kRevoked);
}

}  // namespace fieldsync::integration
