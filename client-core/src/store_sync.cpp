// Store: the device's half of a sync round trip. prepare_sync reads a snapshot (no write lock, so
// the UI keeps recording while the request is in flight); apply_sync applies the whole response
// in one transaction with the shared merge rule.
#include <algorithm>
#include <set>

#include "fieldsync/error.h"
#include "fieldsync/merge_rule.h"
#include "fieldsync/wire_codec.h"
#include "store_impl.h"

namespace fieldsync::client {
namespace {

ConflictSide side_of(const Change& change) {
  return {change.value, change.version, change.author};
}

// The highest stamp a response shows, from any origin: all of it is known outside this device.
Hlc highest_stamp_in(const SyncResponse& response) {
  Hlc highest;
  auto see = [&](const Version& version) { highest = std::max(highest, version.hlc); };
  for (const Change& change : response.changes) see(change.version);
  for (const Rejection& rejection : response.rejections) {
    for (const Change& value : rejection.server_values) see(value.version);
  }
  for (const Conflict& conflict : response.conflicts) {
    see(conflict.lost.version);
    see(conflict.winner.version);
  }
  for (const Resolution& resolution : response.resolutions) {
    see(resolution.lost);
    see(resolution.resolved_by);
  }
  return highest;
}

// A re-stamp rewinds the in-memory clock before the transaction commits. Should the transaction
// roll back, the outbox keeps its old stamps, and the clock must not stay below them (a new edit
// would lose to the very version it saw): it goes back to where it was.
class ClockRollback {
 public:
  explicit ClockRollback(HybridClock& clock) : clock_(clock), before_(clock.highest()) {}
  ~ClockRollback() {
    if (!committed_) clock_.observe(before_);
  }
  ClockRollback(const ClockRollback&) = delete;
  ClockRollback& operator=(const ClockRollback&) = delete;
  void commit() { committed_ = true; }

 private:
  HybridClock& clock_;
  const Hlc before_;
  bool committed_ = false;
};

void deduplicate(std::vector<RecordId>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

// The last sync error's sealed form: "<code>\n<message>" (a code never holds a line break).
constexpr std::size_t kMaxErrorMessageBytes = 1000;

// `text` cut to at most `limit` bytes between UTF-8 characters: telemetry must stay valid text.
std::string_view cut_utf8(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  while (limit > 0 && (static_cast<unsigned char>(text[limit]) & 0xC0) == 0x80) --limit;
  return text.substr(0, limit);
}

}  // namespace

SyncRequest Store::Impl::prepare_sync(std::size_t max_changes, const Telemetry& app_telemetry) {
  std::lock_guard read_lock(read_mutex_);
  require_access(/*sync_allowed=*/true);
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Kind::kRead);
  SyncRequest request;
  for (OutboxEntry& entry : outbox(*reader_, max_changes)) {
    request.write_groups.push_back(std::move(entry.group));
  }
  if (auto cursor = meta(*reader_, kCursorKey)) request.cursor.assign(cursor->begin(), cursor->end());
  auto acks = reader_->prepare("SELECT directive_id FROM directive_acks ORDER BY directive_id");
  while (acks.step()) request.directive_acks.push_back(static_cast<std::uint64_t>(acks.column_int(0)));

  request.telemetry = app_telemetry;
  auto pending = reader_->prepare(
      "SELECT COALESCE(SUM(change_count), 0), MIN(queued_at) FROM outbox");
  pending.step();
  request.telemetry.pending_count = static_cast<std::uint64_t>(pending.column_int(0));
  request.telemetry.oldest_pending_age_ms =
      pending.is_null(1) ? 0 : std::max<std::int64_t>(0, clock_source_.wall_ms() - pending.column_int(1));
  request.telemetry.device_clock_ms = clock_source_.wall_ms();
  if (request.telemetry.last_error_code.empty()) read_last_sync_error(request.telemetry);
  snapshot.commit();
  return request;
}

void Store::Impl::apply_change(const Change& change, SyncApplied& applied,
                               std::map<RecordId, RecordState>& touched) {
  auto found = touched.find(change.record_id);
  if (found == touched.end()) {
    RecordState state = load_record(*writer_, change.record_id)
                            .value_or(RecordState{change.collection, change.case_id, {}});
    found = touched.emplace(change.record_id, std::move(state)).first;
  }
  RecordState& state = found->second;
  if (state.collection != change.collection || state.case_id != change.case_id) {
    throw Error(ErrorCode::kMalformed, "the server sent a change for record " +
                                           change.record_id.to_string() +
                                           " under another collection or case");
  }
  hlc_.observe(change.version.hlc);
  auto current = state.fields.find(change.field);
  if (current != state.fields.end() && !wins_over(change, current->second)) return;
  if (current != state.fields.end() && current->second.version.origin == identity_.device_id &&
      !change.base.contains(current->second.version)) {
    // A pulled change overrode this device's own edit without having seen it: if that edit is
    // not yet acknowledged, nobody else knows it, so it goes to the conflict queue at once.
    auto pending = writer_->prepare(
        "SELECT 1 FROM pending_groups WHERE record_id = ? AND write_group = ?");
    pending.bind(1, change.record_id).bind(2, current->second.write_group);
    if (pending.step()) {
      save_conflict({change.collection, change.record_id, change.case_id, change.field,
                     side_of(current->second), side_of(change)},
                    /*local_edit=*/true);
      ++applied.conflicts_queued;
      applied.conflicted_records.push_back(change.record_id);
    }
  }
  state.fields.insert_or_assign(change.field, change);
  ++applied.changes_applied;
}

void Store::Impl::apply_rejection(const Rejection& rejection) {
  // The group leaves the outbox and is kept, with the server's values, in the rejection queue.
  std::vector<Change> sent;
  for (OutboxRow& row : outbox_rows(*writer_, &rejection.write_group)) {
    for (Change& change : row.changes) sent.push_back(std::move(change));
  }
  if (sent.empty()) return;  // already handled in an earlier round trip

  std::map<CaseId, std::vector<Change>> sent_by_case;
  for (const Change& change : sent) sent_by_case[change.case_id].push_back(change);
  for (const auto& [case_id, changes] : sent_by_case) {
    SyncResponse unit;
    unit.rejections.push_back(rejection);
    unit.changes = changes;
    const crypto::SecretKey key = case_key_or_create(case_id);
    const std::string encoded = encode_response(unit, WireFormat::kBinary);
    const Bytes sealed = seal(key, SealPurpose::kRejection, "", rejection.write_group,
                              case_id.to_string(), crypto::as_bytes(encoded));
    auto insert = writer_->prepare(
        "INSERT OR REPLACE INTO rejections(write_group, case_id, rejected_at, sealed) "
        "VALUES (?, ?, ?, ?)");
    insert.bind(1, rejection.write_group)
        .bind(2, case_id)
        .bind(3, clock_source_.wall_ms())
        .bind_blob(4, sealed)
        .run();
  }

  // Restore the server's values wherever the record still shows the rejected group's.
  std::map<RecordId, RecordState> restored;
  for (const Change& change : sent) {
    auto found = restored.find(change.record_id);
    if (found == restored.end()) {
      auto state = load_record(*writer_, change.record_id);
      if (!state) continue;
      found = restored.emplace(change.record_id, std::move(*state)).first;
    }
    auto& fields = found->second.fields;
    auto current = fields.find(change.field);
    if (current == fields.end() || current->second.version != change.version) continue;
    const auto server = std::find_if(
        rejection.server_values.begin(), rejection.server_values.end(), [&](const Change& value) {
          return value.record_id == change.record_id && value.field == change.field;
        });
    if (server != rejection.server_values.end()) {
      current->second = *server;
    } else {
      fields.erase(current);  // the server has no value for it
    }
  }
  for (const auto& [record_id, state] : restored) {
    if (state.fields.empty()) {
      auto remove = writer_->prepare("DELETE FROM records WHERE record_id = ?");
      remove.bind(1, record_id).run();
    } else {
      save_record(record_id, state);
    }
  }
  // A conflict queued about a change of this group (a pulled change overrode it before it was
  // sent) is void: the change reached nobody, and the server will never resolve it.
  auto void_conflict =
      writer_->prepare("DELETE FROM conflicts WHERE lost_hlc = ? AND lost_origin = ?");
  for (const Change& change : sent) {
    void_conflict.bind(1, static_cast<std::int64_t>(change.version.hlc.packed()))
        .bind(2, change.version.origin)
        .run();
  }
  auto remove_outbox = writer_->prepare("DELETE FROM outbox WHERE write_group = ?");
  remove_outbox.bind(1, rejection.write_group).run();
  auto remove_pending = writer_->prepare("DELETE FROM pending_groups WHERE write_group = ?");
  remove_pending.bind(1, rejection.write_group).run();
}

Hlc Store::Impl::acknowledge_group(const WriteGroupId& group, SyncApplied& applied) {
  // The group's stamps are known to the server from now on: a later re-stamp must start above
  // them, or this device's next edit of such a field would lose to its own earlier one.
  Hlc highest;
  std::size_t changes = 0;
  for (const OutboxRow& row : outbox_rows(*writer_, &group)) {
    for (const Change& change : row.changes) highest = std::max(highest, change.version.hlc);
    changes += row.changes.size();
  }
  auto remove_outbox = writer_->prepare("DELETE FROM outbox WHERE write_group = ?");
  remove_outbox.bind(1, group).run();
  auto remove_pending = writer_->prepare("DELETE FROM pending_groups WHERE write_group = ?");
  remove_pending.bind(1, group).run();
  if (changes > 0) {
    ++applied.acked_groups;
    applied.acked_changes += changes;
  }
  return highest;
}

bool Store::Impl::purge_case_if_settled(const CaseId& case_id) {
  auto waiting = writer_->prepare("SELECT 1 FROM outbox WHERE case_id = ? LIMIT 1");
  waiting.bind(1, case_id);
  if (waiting.step()) return false;  // unacknowledged work stays until the server has it
  for (const char* table : {"records", "conflicts", "rejections", "case_keys"}) {
    auto remove = writer_->prepare(std::string("DELETE FROM ") + table + " WHERE case_id = ?");
    remove.bind(1, case_id).run();
  }
  std::lock_guard keys_lock(keys_mutex_);
  case_keys_.erase(case_id);
  return true;
}

SyncApplied Store::Impl::apply_sync(const SyncResponse& response) {
  SyncApplied applied;
  bool wipe_now = false;
  std::vector<CaseId> purged;
  {
    std::lock_guard write_lock(write_mutex_);
    require_access(/*sync_allowed=*/true);
    ClockRollback clock_rollback(hlc_);
    WriteTransaction transaction(*this);
    if (response.server_time_ms > 0) {
      hlc_.anchor_to_server(response.server_time_ms);
      persist_clock_anchor();
    }

    Hlc known_outside = highest_stamp_in(response);
    for (const WriteGroupId& group : response.acks) {
      known_outside = std::max(known_outside, acknowledge_group(group, applied));
    }
    bool clock_skew = false;
    for (const Rejection& rejection : response.rejections) {
      if (rejection.code == RejectionCode::kClockSkew) {
        clock_skew = true;  // not the worker's to see: re-stamped below and sent again
        continue;
      }
      if (renumber_after_sequence_reuse(rejection)) {
        ++applied.renumbered_groups;  // sent again under new numbers: nothing for the worker
        continue;
      }
      apply_rejection(rejection);
      ++applied.rejected_groups;
    }

    std::map<RecordId, RecordState> touched;
    for (const Change& change : response.changes) apply_change(change, applied, touched);
    for (const auto& [record_id, state] : touched) save_record(record_id, state);

    for (const Conflict& conflict : response.conflicts) {
      save_conflict(conflict, false);
      ++applied.conflicts_queued;
      applied.conflicted_records.push_back(conflict.record_id);
    }
    auto resolve = writer_->prepare("DELETE FROM conflicts WHERE lost_hlc = ? AND lost_origin = ?");
    for (const Resolution& resolution : response.resolutions) {
      resolve.bind(1, static_cast<std::int64_t>(resolution.lost.hlc.packed()))
          .bind(2, resolution.lost.origin)
          .run();
    }

    // Acknowledgements the server no longer repeats have arrived.
    std::set<std::uint64_t> still_sent;
    for (const Directive& directive : response.directives) still_sent.insert(directive.id);
    {
      std::vector<std::int64_t> acks;
      auto select = writer_->prepare("SELECT directive_id FROM directive_acks");
      while (select.step()) acks.push_back(select.column_int(0));
      auto remove = writer_->prepare("DELETE FROM directive_acks WHERE directive_id = ?");
      for (std::int64_t id : acks) {
        if (!still_sent.contains(static_cast<std::uint64_t>(id))) remove.bind(1, id).run();
      }
    }
    auto record_ack = writer_->prepare("INSERT OR IGNORE INTO directive_acks VALUES (?)");
    for (const Directive& directive : response.directives) {
      switch (directive.kind) {
        case DirectiveKind::kPurgeCase: {
          auto mark = writer_->prepare("UPDATE case_keys SET purge_pending = ? WHERE case_id = ?");
          mark.bind(1, static_cast<std::int64_t>(directive.id)).bind(2, directive.case_id).run();
          // A case this device never held is purged already.
          if (writer_->changes() == 0) record_ack.bind(1, static_cast<std::int64_t>(directive.id)).run();
          break;
        }
        case DirectiveKind::kWipe:
          wipe_now = true;
          break;
        case DirectiveKind::kRetire: {
          // Gentle: only once every queued group has reached the server. Until then the
          // directive stays unacknowledged, the server repeats it, and the next sync pushes on.
          auto queued = writer_->prepare("SELECT 1 FROM outbox LIMIT 1");
          if (!queued.step()) wipe_now = true;
          break;
        }
        case DirectiveKind::kUpgradeRequired:
          record_ack.bind(1, static_cast<std::int64_t>(directive.id)).run();
          break;
        case DirectiveKind::kRepush: {
          // Once: while the server repeats it, this device's acknowledgement is on its way.
          auto done = writer_->prepare("SELECT 1 FROM directive_acks WHERE directive_id = ?");
          done.bind(1, static_cast<std::int64_t>(directive.id));
          if (!done.step()) applied.restored_groups += queue_restored_groups();
          record_ack.bind(1, static_cast<std::int64_t>(directive.id)).run();
          break;
        }
      }
      applied.directives.push_back(directive);
    }
    // Purge every case whose purge is pending and whose outbox is now empty.
    {
      std::vector<std::pair<CaseId, std::int64_t>> pending;
      auto select = writer_->prepare(
          "SELECT case_id, purge_pending FROM case_keys WHERE purge_pending <> 0");
      while (select.step()) pending.emplace_back(select.column_uuid(0), select.column_int(1));
      for (const auto& [case_id, directive_id] : pending) {
        if (purge_case_if_settled(case_id)) {
          record_ack.bind(1, directive_id).run();
          purged.push_back(case_id);
        }
      }
    }

    if (known_outside > meta_hlc(*writer_, kHlcExternalKey)) {
      set_meta_int(kHlcExternalKey, static_cast<std::int64_t>(known_outside.packed()));
    }
    if (clock_skew) restamp_after_clock_skew(applied);
    deduplicate(applied.conflicted_records);

    if (!response.next_cursor.empty()) set_meta(kCursorKey, crypto::as_bytes(response.next_cursor));
    set_meta_int(kLastSyncKey, clock_source_.wall_ms());
    remove_meta(kLastSyncErrorKey);  // the request this answers carried it to the server
    persist_clock();
    transaction.commit();
    clock_rollback.commit();
    if (!purged.empty()) {
      writer_->exec("PRAGMA wal_checkpoint(TRUNCATE)");  // old pages leave the WAL
      // A read on the other connection may have cached a purged key while the purge ran.
      std::lock_guard keys_lock(keys_mutex_);
      for (const CaseId& case_id : purged) case_keys_.erase(case_id);
    }
  }
  {
    std::lock_guard keys_lock(keys_mutex_);
    if (state_ == StoreState::kCheckInRequired) state_ = StoreState::kUnlocked;
  }
  if (wipe_now) {
    wipe();
    applied.wiped = true;
  }
  return applied;
}

void Store::Impl::set_last_sync_error(std::string_view code, std::string_view message) {
  if (code.find('\n') != std::string_view::npos) {
    throw Error(ErrorCode::kInvalidArgument, "an error code holds a line break");
  }
  const std::string unit =
      std::string(code) + "\n" + std::string(cut_utf8(message, kMaxErrorMessageBytes));
  std::lock_guard write_lock(write_mutex_);
  require_access(/*sync_allowed=*/true);
  Bytes sealed;
  {
    std::lock_guard keys_lock(keys_mutex_);
    sealed = seal(store_key_locked(), SealPurpose::kStoreSecret, "", store_id_, kLastSyncErrorKey,
                  crypto::as_bytes(unit));
  }
  set_meta(kLastSyncErrorKey, sealed);
}

void Store::Impl::read_last_sync_error(Telemetry& telemetry) {
  const auto sealed = meta(*reader_, kLastSyncErrorKey);
  if (!sealed) return;
  Bytes plain;
  {
    std::lock_guard keys_lock(keys_mutex_);
    plain = open(store_key_locked(), SealPurpose::kStoreSecret, "", store_id_, kLastSyncErrorKey,
                 *sealed);
  }
  const std::string_view unit = text_of(plain);
  const auto newline = unit.find('\n');
  telemetry.last_error_code = std::string(unit.substr(0, newline));
  if (newline != std::string_view::npos) {
    telemetry.last_error_message = std::string(unit.substr(newline + 1));
  }
}

SyncRequest Store::prepare_sync(std::size_t max_changes, const Telemetry& app_telemetry) {
  return impl_->prepare_sync(max_changes, app_telemetry);
}
SyncApplied Store::apply_sync(const SyncResponse& response) { return impl_->apply_sync(response); }
void Store::set_last_sync_error(std::string_view code, std::string_view message) {
  impl_->set_last_sync_error(code, message);
}

}  // namespace fieldsync::client
