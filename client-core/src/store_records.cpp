// Store: the single write path (validate, stamp, write state and outbox in one transaction),
// reads of records and queues, and conflict resolution. Sealed units use the wire's binary form.
#include <algorithm>
#include <set>

#include "fieldsync/error.h"
#include "fieldsync/wire_codec.h"
#include "store_impl.h"

namespace fieldsync::client {
namespace {

// Units are stored in the wire's binary form: compact, versioned, and decoded with the same
// bounds checks as anything from the network.
Bytes encode_changes(std::vector<Change> changes) {
  SyncResponse unit;
  unit.changes = std::move(changes);
  const std::string encoded = encode_response(unit, WireFormat::kBinary);
  return Bytes(encoded.begin(), encoded.end());
}

std::vector<Change> decode_changes(const Bytes& plain) {
  return decode_response(text_of(plain), WireFormat::kBinary).changes;
}

std::string seq_field(std::int64_t first_seq) { return std::to_string(first_seq); }

}  // namespace

Record RecordState::to_record(const RecordId& id) const {
  Record record;
  record.collection = collection;
  record.id = id;
  record.case_id = case_id;
  for (const auto& [name, change] : fields) record.fields.emplace(name, change.value);
  return record;
}

std::optional<RecordState> Store::Impl::load_record(sqlite::Database& db, const RecordId& id) {
  auto select = db.prepare("SELECT case_id, collection, sealed FROM records WHERE record_id = ?");
  select.bind(1, id);
  if (!select.step()) return std::nullopt;
  RecordState state;
  state.case_id = select.column_uuid(0);
  state.collection = select.column_text(1);
  const Bytes sealed = select.column_bytes(2);
  auto key = case_key(db, state.case_id);
  if (!key) throw Error(ErrorCode::kIntegrity, "record " + id.to_string() + " has no case key");
  const Bytes plain = open(*key, SealPurpose::kRecord, state.collection, id, "", sealed);
  for (Change& change : decode_changes(plain)) {
    if (change.record_id != id || change.case_id != state.case_id ||
        change.collection != state.collection) {
      throw Error(ErrorCode::kIntegrity, "record " + id.to_string() + " holds a foreign change");
    }
    std::string field = change.field;
    state.fields.insert_or_assign(std::move(field), std::move(change));
  }
  return state;
}

void Store::Impl::save_record(const RecordId& id, const RecordState& state) {
  const crypto::SecretKey key = case_key_or_create(state.case_id);
  std::vector<Change> changes;
  changes.reserve(state.fields.size());
  for (const auto& [name, change] : state.fields) changes.push_back(change);
  const Bytes sealed =
      seal(key, SealPurpose::kRecord, state.collection, id, "", encode_changes(std::move(changes)));
  auto upsert = writer_->prepare(
      "INSERT OR REPLACE INTO records(record_id, case_id, collection, sealed) VALUES (?, ?, ?, ?)");
  upsert.bind(1, id).bind(2, state.case_id).bind(3, state.collection).bind_blob(4, sealed).run();
}

Bytes Store::Impl::seal_outbox_row(const OutboxRow& row) {
  const crypto::SecretKey key = case_key_or_create(row.case_id);
  SyncRequest unit;
  unit.write_groups.push_back({row.group, row.changes, row.restored});
  const std::string encoded = encode_request(unit, WireFormat::kBinary);
  return seal(key, SealPurpose::kOutbox, "", row.group, seq_field(row.first_seq),
              crypto::as_bytes(encoded));
}

void Store::Impl::queue_outbox(const WriteGroupId& group, const CaseId& case_id,
                               const std::vector<Change>& changes, bool restored) {
  insert_outbox_row({static_cast<std::int64_t>(changes.front().device_seq), group, case_id,
                     clock_source_.wall_ms(), changes, restored});
}

void Store::Impl::insert_outbox_row(const OutboxRow& row) {
  auto insert = writer_->prepare(
      "INSERT INTO outbox(first_seq, write_group, case_id, change_count, queued_at, sealed) "
      "VALUES (?, ?, ?, ?, ?, ?)");
  insert.bind(1, row.first_seq)
      .bind(2, row.group)
      .bind(3, row.case_id)
      .bind(4, static_cast<std::int64_t>(row.changes.size()))
      .bind(5, row.queued_at_ms)
      .bind_blob(6, seal_outbox_row(row))
      .run();
  auto pending = writer_->prepare(
      "INSERT OR IGNORE INTO pending_groups(record_id, write_group) VALUES (?, ?)");
  const RecordId* last_record = nullptr;
  for (const Change& change : row.changes) {
    if (last_record && *last_record == change.record_id) continue;  // changes come by record
    pending.bind(1, change.record_id).bind(2, row.group).run();
    last_record = &change.record_id;
  }
}

std::vector<OutboxRow> Store::Impl::outbox_rows(sqlite::Database& db, const WriteGroupId* group,
                                                std::size_t max_changes) {
  auto select = db.prepare(
      group ? "SELECT first_seq, write_group, case_id, queued_at, change_count, sealed FROM outbox "
              "WHERE write_group = ? ORDER BY first_seq"
            : "SELECT first_seq, write_group, case_id, queued_at, change_count, sealed FROM outbox "
              "ORDER BY first_seq");
  if (group) select.bind(1, *group);
  std::vector<OutboxRow> rows;
  std::size_t total = 0;
  while (select.step()) {
    OutboxRow row{select.column_int(0),
                  select.column_uuid(1),
                  select.column_uuid(2),
                  select.column_int(3),
                  {}};
    // Whole groups only (a group spanning several cases has a row per case), and the cap is
    // checked before decrypting, so a long outbox costs only the rows that are taken.
    const auto count = static_cast<std::size_t>(select.column_int(4));
    const bool new_group = rows.empty() || rows.back().group != row.group;
    if (new_group && total > 0 && total + count > max_changes) break;
    total += count;
    auto key = case_key(db, row.case_id);
    if (!key) throw Error(ErrorCode::kIntegrity, "an outbox entry has no case key");
    const Bytes plain = open(*key, SealPurpose::kOutbox, "", row.group, seq_field(row.first_seq),
                             select.column_blob(5));
    SyncRequest unit = decode_request(text_of(plain), WireFormat::kBinary);
    if (unit.write_groups.size() != 1 || unit.write_groups[0].id != row.group) {
      throw Error(ErrorCode::kIntegrity, "an outbox entry holds another write group");
    }
    row.changes = std::move(unit.write_groups[0].changes);
    row.restored = unit.write_groups[0].restored;
    rows.push_back(std::move(row));
  }
  return rows;
}

void Store::Impl::persist_clock() {
  set_meta_int(kHlcFloorKey, static_cast<std::int64_t>(hlc_.highest().packed()));
}

WriteGroupId Store::Impl::write(const std::vector<RecordWrite>& writes,
                                const std::map<FieldKey, VersionSet>& extra_bases,
                                std::optional<Version> resolves) {
  if (writes.empty()) throw Error(ErrorCode::kInvalidArgument, "nothing to write");
  std::lock_guard write_lock(write_mutex_);
  require_access();
  WriteTransaction transaction(*this);
  const WriteGroupId group = ids_.next();
  auto next_seq = static_cast<std::uint64_t>(meta_int(*writer_, kNextSeqKey, 1));
  std::map<CaseId, std::vector<Change>> by_case;
  std::set<RecordId> seen_records;

  for (const RecordWrite& write : writes) {
    if (write.collection.empty() || write.record_id.is_nil() || write.case_id.is_nil()) {
      throw Error(ErrorCode::kInvalidArgument, "a write needs a collection, a record id and a case id");
    }
    if (!seen_records.insert(write.record_id).second) {
      throw Error(ErrorCode::kInvalidArgument,
                  "record " + write.record_id.to_string() + " appears twice in one write");
    }
    if (write.collection == "case" && write.record_id != write.case_id) {
      throw Error(ErrorCode::kInvalidArgument, "a case record's id is its own case id");
    }
    RecordState state = load_record(*writer_, write.record_id)
                            .value_or(RecordState{write.collection, write.case_id, {}});
    if (state.collection != write.collection || state.case_id != write.case_id) {
      throw Error(ErrorCode::kInvalidArgument,
                  "record " + write.record_id.to_string() + " is a " + state.collection +
                      " of case " + state.case_id.to_string() +
                      ": a record's collection and case never change");
    }
    const Record before = state.to_record(write.record_id);
    Record after = before;
    for (const auto& [name, value] : write.fields) after.fields[name] = value;
    schema_.check_edit(before, after);

    for (const auto& [name, value] : write.fields) {
      auto current = state.fields.find(name);
      const auto extra = extra_bases.find({write.record_id, name});
      if (extra != extra_bases.end() && current != state.fields.end() &&
          !extra->second.contains(current->second.version)) {
        // A resolution names the winner its author saw; a sync brought a newer one since.
        throw Error(ErrorCode::kInvalidArgument,
                    write.collection + "." + name +
                        " changed since the conflict was read: look at it again");
      }
      const bool unchanged = current != state.fields.end() && current->second.value == value;
      if (unchanged && extra == extra_bases.end()) continue;
      Change change;
      change.collection = write.collection;
      change.record_id = write.record_id;
      change.case_id = write.case_id;
      change.field = name;
      change.value = value;
      change.version = {hlc_.now(), identity_.device_id};
      if (current != state.fields.end()) change.base.insert(current->second.version);
      if (extra != extra_bases.end()) {
        for (const Version& version : extra->second) change.base.insert(version);
      }
      change.device_seq = next_seq++;
      change.write_group = group;
      change.author = identity_.user_id;
      state.fields.insert_or_assign(name, change);
      by_case[write.case_id].push_back(std::move(change));
    }
    save_record(write.record_id, state);
  }
  if (by_case.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "the write changes nothing: every value is as stored");
  }
  for (const auto& [case_id, changes] : by_case) queue_outbox(group, case_id, changes);
  if (resolves) {
    auto remove = writer_->prepare("DELETE FROM conflicts WHERE lost_hlc = ? AND lost_origin = ?");
    remove.bind(1, static_cast<std::int64_t>(resolves->hlc.packed())).bind(2, resolves->origin).run();
  }
  set_meta_int(kNextSeqKey, static_cast<std::int64_t>(next_seq));
  persist_clock();
  transaction.commit();
  return group;
}

std::optional<Record> Store::Impl::record(const RecordId& id) {
  std::lock_guard read_lock(read_mutex_);
  require_access();
  // One snapshot: a purge committing between a row and its case key must not show.
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Kind::kRead);
  auto state = load_record(*reader_, id);
  if (!state) return std::nullopt;
  return state->to_record(id);
}

std::vector<Record> Store::Impl::records(const CaseId& case_id, std::string_view collection) {
  std::lock_guard read_lock(read_mutex_);
  require_access();
  // One snapshot: a purge committing between a row and its case key must not show.
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Kind::kRead);
  std::vector<RecordId> ids;
  {
    auto select = reader_->prepare(
        "SELECT record_id FROM records WHERE case_id = ? AND collection = ? ORDER BY record_id");
    select.bind(1, case_id).bind(2, collection);
    while (select.step()) ids.push_back(select.column_uuid(0));
  }
  std::vector<Record> records;
  for (const RecordId& id : ids) {
    if (auto state = load_record(*reader_, id)) records.push_back(state->to_record(id));
  }
  return records;
}

std::vector<CaseId> Store::Impl::cases() {
  std::lock_guard read_lock(read_mutex_);
  require_access();
  std::vector<CaseId> cases;
  auto select = reader_->prepare("SELECT case_id FROM case_keys ORDER BY case_id");
  while (select.step()) cases.push_back(select.column_uuid(0));
  return cases;
}

std::vector<OutboxEntry> Store::Impl::outbox(sqlite::Database& db, std::size_t max_changes) {
  std::vector<OutboxEntry> entries;
  std::map<WriteGroupId, std::size_t> index;
  for (OutboxRow& row : outbox_rows(db, nullptr, max_changes)) {
    const auto [found, added] = index.emplace(row.group, entries.size());
    if (added) entries.push_back({WriteGroup{row.group, {}, row.restored}, row.queued_at_ms});
    auto& changes = entries[found->second].group.changes;
    for (Change& change : row.changes) changes.push_back(std::move(change));
  }
  for (OutboxEntry& entry : entries) {
    std::sort(entry.group.changes.begin(), entry.group.changes.end(),
              [](const Change& a, const Change& b) { return a.device_seq < b.device_seq; });
  }
  return entries;
}

void Store::Impl::save_conflict(const Conflict& conflict, bool local_edit) {
  const crypto::SecretKey key = case_key_or_create(conflict.case_id);
  SyncResponse unit;
  unit.conflicts.push_back(conflict);
  const std::string encoded = encode_response(unit, WireFormat::kBinary);
  const Bytes sealed = seal(key, SealPurpose::kConflict, "", conflict.lost.version.origin,
                            conflict.lost.version.hlc.to_string(), crypto::as_bytes(encoded));
  auto upsert = writer_->prepare(
      "INSERT OR REPLACE INTO conflicts(lost_hlc, lost_origin, case_id, local_edit, sealed) "
      "VALUES (?, ?, ?, ?, ?)");
  upsert.bind(1, static_cast<std::int64_t>(conflict.lost.version.hlc.packed()))
      .bind(2, conflict.lost.version.origin)
      .bind(3, conflict.case_id)
      .bind(4, std::int64_t{local_edit})
      .bind_blob(5, sealed)
      .run();
}

std::vector<LocalConflict> Store::Impl::conflicts() {
  std::lock_guard read_lock(read_mutex_);
  require_access();
  // One snapshot: a purge committing between a row and its case key must not show.
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Kind::kRead);
  std::vector<LocalConflict> conflicts;
  auto select = reader_->prepare(
      "SELECT lost_hlc, lost_origin, case_id, local_edit, sealed FROM conflicts "
      "ORDER BY lost_hlc, lost_origin");
  while (select.step()) {
    const Hlc lost_hlc = Hlc::from_packed(static_cast<std::uint64_t>(select.column_int(0)));
    auto key = case_key(*reader_, select.column_uuid(2));
    if (!key) throw Error(ErrorCode::kIntegrity, "a conflict has no case key");
    const Bytes plain = open(*key, SealPurpose::kConflict, "", select.column_uuid(1),
                             lost_hlc.to_string(), select.column_blob(4));
    SyncResponse unit = decode_response(text_of(plain), WireFormat::kBinary);
    if (unit.conflicts.size() != 1) throw Error(ErrorCode::kIntegrity, "a conflict is corrupt");
    conflicts.push_back({std::move(unit.conflicts[0]), select.column_int(3) != 0});
  }
  return conflicts;
}

std::vector<RejectedGroup> Store::Impl::rejections() {
  std::lock_guard read_lock(read_mutex_);
  require_access();
  // One snapshot: a purge committing between a row and its case key must not show.
  sqlite::Transaction snapshot(*reader_, sqlite::Transaction::Kind::kRead);
  std::map<WriteGroupId, RejectedGroup> by_group;
  auto select = reader_->prepare(
      "SELECT write_group, case_id, rejected_at, sealed FROM rejections ORDER BY rejected_at");
  while (select.step()) {
    const WriteGroupId group = select.column_uuid(0);
    const CaseId case_id = select.column_uuid(1);
    auto key = case_key(*reader_, case_id);
    if (!key) throw Error(ErrorCode::kIntegrity, "a rejection has no case key");
    const Bytes plain = open(*key, SealPurpose::kRejection, "", group, case_id.to_string(),
                             select.column_blob(3));
    SyncResponse unit = decode_response(text_of(plain), WireFormat::kBinary);
    if (unit.rejections.size() != 1) throw Error(ErrorCode::kIntegrity, "a rejection is corrupt");
    RejectedGroup& entry = by_group[group];
    entry.rejection = std::move(unit.rejections[0]);
    entry.group.id = group;
    entry.rejected_at_ms = select.column_int(2);
    for (Change& change : unit.changes) entry.group.changes.push_back(std::move(change));
  }
  std::vector<RejectedGroup> rejections;
  for (auto& [group, entry] : by_group) rejections.push_back(std::move(entry));
  std::sort(rejections.begin(), rejections.end(), [](const auto& a, const auto& b) {
    return a.rejected_at_ms < b.rejected_at_ms;
  });
  return rejections;
}

WriteGroupId Store::Impl::resolve_conflict(const Version& lost, Store::Resolve choice) {
  std::optional<LocalConflict> found;
  for (LocalConflict& conflict : conflicts()) {
    if (conflict.conflict.lost.version == lost) found = std::move(conflict);
  }
  if (!found) throw Error(ErrorCode::kNotFound, "no conflict for version " + lost.to_string());
  const Conflict& conflict = found->conflict;
  std::optional<RecordState> state;
  {
    std::lock_guard read_lock(read_mutex_);
    require_access();
    state = load_record(*reader_, conflict.record_id);
  }
  if (!state) throw Error(ErrorCode::kNotFound, "the conflict's record is not on this device");
  const auto current = state->fields.find(conflict.field);
  // The base names the current winner and the lost version, which clears the conflict.
  VersionSet base{lost};
  Value value = conflict.lost.value;
  if (current != state->fields.end()) {
    base.insert(current->second.version);
    if (choice == Store::Resolve::kKeepCurrent) value = current->second.value;
  }
  const RecordWrite resolution{state->collection, conflict.record_id, state->case_id,
                               {{conflict.field, value}}};
  return write({resolution}, {{{conflict.record_id, conflict.field}, base}}, lost);
}

// --- Store facade: records and queues ---

WriteGroupId Store::write_record(const RecordWrite& write) { return impl_->write({write}); }
WriteGroupId Store::write_records(const std::vector<RecordWrite>& writes) {
  return impl_->write(writes);
}
RecordId Store::new_record_id() { return impl_->ids_.next(); }
Timestamp Store::now() { return Timestamp{impl_->hlc_.physical_ms()}; }
std::optional<Record> Store::record(const RecordId& id) { return impl_->record(id); }
std::vector<Record> Store::records(const CaseId& case_id, std::string_view collection) {
  return impl_->records(case_id, collection);
}
std::vector<CaseId> Store::cases() { return impl_->cases(); }

std::map<std::string, Version> Store::field_versions(const RecordId& id) {
  std::lock_guard read_lock(impl_->read_mutex_);
  impl_->require_access();
  std::map<std::string, Version> versions;
  if (auto state = impl_->load_record(*impl_->reader_, id)) {
    for (const auto& [name, change] : state->fields) versions.emplace(name, change.version);
  }
  return versions;
}

std::vector<OutboxEntry> Store::outbox() {
  std::lock_guard read_lock(impl_->read_mutex_);
  impl_->require_access(/*sync_allowed=*/true);
  return impl_->outbox(*impl_->reader_, SIZE_MAX);
}

std::size_t Store::outbox_change_count() {
  std::lock_guard read_lock(impl_->read_mutex_);
  impl_->require_not_wiped();
  auto select = impl_->reader_->prepare("SELECT COALESCE(SUM(change_count), 0) FROM outbox");
  select.step();
  return static_cast<std::size_t>(select.column_int(0));
}

std::vector<LocalConflict> Store::conflicts() { return impl_->conflicts(); }
std::vector<RejectedGroup> Store::rejections() { return impl_->rejections(); }

void Store::dismiss_rejection(const WriteGroupId& group) {
  std::lock_guard write_lock(impl_->write_mutex_);
  impl_->require_access();
  auto remove = impl_->writer_->prepare("DELETE FROM rejections WHERE write_group = ?");
  remove.bind(1, group).run();
}

WriteGroupId Store::resolve_conflict(const Version& lost, Resolve choice) {
  return impl_->resolve_conflict(lost, choice);
}

}  // namespace fieldsync::client
