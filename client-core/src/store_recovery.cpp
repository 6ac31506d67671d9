// Store: recovering from restores, on either side (DESIGN.md sections 4 and 5). Both run inside
// apply_sync's write transaction (write_mutex_ held).
//
// The server was restored from a backup: it answers a cursor of its old epoch with a repush
// directive, and may lack anything this device pushed after the backup was taken. The device sends
// back, as restored groups, every change of its own that is still the current value of its field
// here and whose group has left the outbox (the outbox sends the others anyway), grouped by their
// original write group, with their original versions, bases, authors and sequence numbers, so the
// server can tell them apart from what its history already holds. A device vouches only for its
// own changes: another device's, or the server's, go back to the server only from their origin.
// Changes this device made that are no longer current here (overwritten since) are gone from it,
// and cannot be sent.
//
// This store was restored from an old backup: its sequence numbers went back, so its next groups
// reuse numbers the server accepted with other content, and the server refuses them
// (duplicate_mismatch) with its highest sequence number of this device. Such a group is numbered
// after it and sent again, its content and versions unchanged: the refusal stays in the server's
// rejected log and in its logs, and nothing recorded since the restore is lost. The numbers of a
// group refused this way were never accepted with its content, so it cannot be applied twice.
#include <algorithm>
#include <map>
#include <set>

#include "store_impl.h"

namespace fieldsync::client {
namespace {

std::vector<RecordId> all_record_ids(sqlite::Database& db) {
  std::vector<RecordId> ids;
  auto select = db.prepare("SELECT record_id FROM records ORDER BY record_id");
  while (select.step()) ids.push_back(select.column_uuid(0));
  return ids;
}

std::set<WriteGroupId> groups_in_outbox(sqlite::Database& db) {
  std::set<WriteGroupId> groups;
  auto select = db.prepare("SELECT DISTINCT write_group FROM outbox");
  while (select.step()) groups.insert(select.column_uuid(0));
  return groups;
}

bool by_sequence(const Change& a, const Change& b) {
  return a.device_seq < b.device_seq;
}

}  // namespace

std::size_t Store::Impl::queue_restored_groups() {
  const std::set<WriteGroupId> queued = groups_in_outbox(*writer_);
  // By write group, then case: the outbox keeps a row per group and case.
  std::map<WriteGroupId, std::map<CaseId, std::vector<Change>>> restored;
  for (const RecordId& id : all_record_ids(*writer_)) {
    const std::optional<RecordState> state = load_record(*writer_, id);
    if (!state) continue;
    for (const auto& [field, change] : state->fields) {
      if (change.version.origin != identity_.device_id || queued.contains(change.write_group)) {
        continue;
      }
      restored[change.write_group][change.case_id].push_back(change);
    }
  }
  const std::int64_t now = clock_source_.wall_ms();
  for (auto& [group, by_case] : restored) {
    for (auto& [case_id, changes] : by_case) {
      std::sort(changes.begin(), changes.end(), by_sequence);
      insert_outbox_row({static_cast<std::int64_t>(changes.front().device_seq), group, case_id, now,
                         std::move(changes), /*restored=*/true});
    }
  }
  return restored.size();
}

bool Store::Impl::renumber_after_sequence_reuse(const Rejection& rejection) {
  if (rejection.code != RejectionCode::kDuplicateMismatch || rejection.highest_accepted_seq == 0) {
    return false;
  }
  std::vector<OutboxRow> rows = outbox_rows(*writer_, &rejection.write_group);
  std::vector<Change*> changes;
  for (OutboxRow& row : rows) {
    for (Change& change : row.changes) changes.push_back(&change);
  }
  if (changes.empty()) return false;  // handled in an earlier round trip
  std::sort(changes.begin(), changes.end(),
            [](const Change* a, const Change* b) { return by_sequence(*a, *b); });
  // Numbers already after the server's: the refusal has another cause, which new ones won't cure.
  if (changes.front()->device_seq > rejection.highest_accepted_seq) return false;

  auto next = std::max(static_cast<std::uint64_t>(meta_int(*writer_, kNextSeqKey, 1)),
                       rejection.highest_accepted_seq + 1);
  std::map<Version, std::uint64_t> renumbered;
  for (Change* change : changes) {
    change->device_seq = next++;
    renumbered.emplace(change->version, change->device_seq);
  }
  auto remove = writer_->prepare("DELETE FROM outbox WHERE write_group = ?");
  remove.bind(1, rejection.write_group).run();
  for (OutboxRow& row : rows) {
    row.first_seq = static_cast<std::int64_t>(row.changes.front().device_seq);
    insert_outbox_row(row);
  }

  // The records show the changes as they will be accepted.
  std::map<RecordId, RecordState> touched;
  for (const Change* change : changes) {
    auto found = touched.find(change->record_id);
    if (found == touched.end()) {
      auto state = load_record(*writer_, change->record_id);
      if (!state) continue;
      found = touched.emplace(change->record_id, std::move(*state)).first;
    }
    const auto current = found->second.fields.find(change->field);
    if (current == found->second.fields.end()) continue;
    if (const auto seq = renumbered.find(current->second.version); seq != renumbered.end()) {
      current->second.device_seq = seq->second;
    }
  }
  for (const auto& [record_id, state] : touched) save_record(record_id, state);
  set_meta_int(kNextSeqKey, static_cast<std::int64_t>(next));
  return true;
}

}  // namespace fieldsync::client
