// Store: re-stamping the unacknowledged outbox after the server refused a write group as stamped
// too far ahead of its time (DESIGN.md section 3). Runs inside apply_sync's write transaction
// (write_mutex_ held), after the clock was anchored to the response's server time and after the
// rest of the response was applied, so that everything it showed counts as known outside.
//
// Steps, all in that one transaction:
//  1. The clock forgets its stamps above the highest one known outside this device
//     (kHlcExternalKey: pulled, or in a group the server acknowledged).
//  2. Every outbox change, oldest first across all groups and cases, gets a fresh stamp from
//     restamp_outbox (shared/), which also renames bases that named an earlier outbox stamp, so
//     edit chains stay chains. Stamps thus start at max(server-anchored now, that highest) + 1.
//  3. Each outbox row is sealed again in place; records show the new stamps; local conflicts
//     keyed by an old stamp go.
//  4. apply_sync then persists the clock: its floor is now the highest fresh stamp, so a restart
//     does not bring the skewed stamps back.
//
// Decisions:
//  - Group ids and device sequence numbers stay. The server keys a (device, seq) to the content
//    of a group only once it accepts the group; a group refused for clock skew is not recorded,
//    so sending it again with new stamps under the same numbers is no "duplicate_mismatch".
//    Nothing the server did accept is re-stamped: acknowledgements are applied first, and a group
//    accepted earlier whose acknowledgement was lost sits ahead of the refused one in the outbox
//    (stamps rise with sequence numbers, so the server refuses a suffix, never a prefix), hence
//    was sent again in the same request and acknowledged as a resend.
//  - The whole outbox is re-stamped, not only the refused groups: the same clock stamped them
//    all, and the order of a device's edits must survive. Restored groups (sent again for a
//    server restored from a backup) are the exception: the server accepted their versions once,
//    so those are in its past, and they must keep them to be recognised.
//  - A fresh stamp is above every version this device holds from outside, so a re-stamped change
//    wins over what its field showed, even a pulled change that had overridden it (the local
//    conflict about that is void; the server's log, keyed by the new stamps, reports what was
//    lost now).
#include <algorithm>
#include <map>
#include <set>

#include "fieldsync/merge_rule.h"
#include "fieldsync/restamp.h"
#include "store_impl.h"

namespace fieldsync::client {
namespace {

// Every change of `rows`, oldest first: sequence order is the order they were stamped in.
std::vector<Change> changes_in_stamp_order(const std::vector<OutboxRow>& rows) {
  std::vector<Change> changes;
  for (const OutboxRow& row : rows) {
    changes.insert(changes.end(), row.changes.begin(), row.changes.end());
  }
  std::sort(changes.begin(), changes.end(),
            [](const Change& a, const Change& b) { return a.device_seq < b.device_seq; });
  return changes;
}

// Puts the re-stamped changes back into their rows and seals each row again.
void rewrite_rows(Store::Impl& impl, std::vector<OutboxRow>& rows,
                  const std::vector<Change>& restamped) {
  std::map<std::uint64_t, const Change*> by_seq;
  for (const Change& change : restamped) by_seq.emplace(change.device_seq, &change);
  auto update = impl.writer_->prepare("UPDATE outbox SET sealed = ? WHERE first_seq = ?");
  for (OutboxRow& row : rows) {
    for (Change& change : row.changes) change = *by_seq.at(change.device_seq);
    update.bind_blob(1, impl.seal_outbox_row(row)).bind(2, row.first_seq).run();
  }
}

// Each record shows the latest re-stamped change of each field the outbox touches.
void show_restamped(Store::Impl& impl, const std::vector<Change>& restamped,
                    const std::vector<RestampedVersion>& mapping) {
  std::set<Version> old_stamps;
  for (const RestampedVersion& renamed : mapping) old_stamps.insert(renamed.from);
  std::map<RecordId, RecordState> touched;
  for (const Change& change : restamped) {
    auto found = touched.find(change.record_id);
    if (found == touched.end()) {
      auto state = impl.load_record(*impl.writer_, change.record_id);
      if (!state) continue;
      found = touched.emplace(change.record_id, std::move(*state)).first;
    }
    auto& fields = found->second.fields;
    const auto current = fields.find(change.field);
    // Oldest first, so a field edited twice ends with the later edit. The merge rule decides
    // against a version from outside (the fresh stamp is above it unless the store lost track).
    if (current == fields.end() || old_stamps.contains(current->second.version) ||
        wins_over(change, current->second)) {
      fields.insert_or_assign(change.field, change);
    }
  }
  for (const auto& [record_id, state] : touched) impl.save_record(record_id, state);
}

void drop_conflicts_lost_by(Store::Impl& impl, const std::vector<RestampedVersion>& mapping) {
  auto remove =
      impl.writer_->prepare("DELETE FROM conflicts WHERE lost_hlc = ? AND lost_origin = ?");
  for (const RestampedVersion& renamed : mapping) {
    remove.bind(1, static_cast<std::int64_t>(renamed.from.hlc.packed()))
        .bind(2, renamed.from.origin)
        .run();
  }
}

}  // namespace

void Store::Impl::restamp_after_clock_skew(SyncApplied& applied) {
  hlc_.rewind_to(meta_hlc(*writer_, kHlcExternalKey));
  std::vector<OutboxRow> rows = outbox_rows(*writer_, nullptr);
  std::erase_if(rows, [](const OutboxRow& row) { return row.restored; });
  std::vector<Change> changes = changes_in_stamp_order(rows);
  if (changes.empty()) return;
  const std::vector<RestampedVersion> mapping = restamp_outbox(changes, hlc_, identity_.device_id);
  rewrite_rows(*this, rows, changes);
  show_restamped(*this, changes, mapping);
  drop_conflicts_lost_by(*this, mapping);
  applied.restamped_changes = changes.size();
}

}  // namespace fieldsync::client
