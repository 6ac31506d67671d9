// Reconciler: push (identity, idempotency, clock, scope, validation, merge), pull (backfill,
// paging, conflicts) and directives. See reconciler.h for the order of the checks and why.
#include "reconciler.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "fieldsync/merge_rule.h"
#include "fieldsync/wire_codec.h"

namespace fieldsync::server {
namespace {

Hlc initial_floor(ServerStorage& storage) {
  return run_transaction(storage, [](StorageTransaction& tx) { return tx.clock_floor(); });
}

// What the device sent, without what the server sets itself: the basis of idempotency.
Bytes content_hash(const WriteGroup& group) {
  SyncRequest holder;
  holder.write_groups.push_back(group);
  for (Change& change : holder.write_groups.front().changes) change.author.clear();
  const std::string encoded = encode_request(holder, WireFormat::kBinary);
  return crypto::sha256(crypto::as_bytes(encoded));
}

Record record_of(const std::string& collection, const RecordId& id, const CaseId& case_id,
                 const std::vector<StoredChange>& fields) {
  Record record{collection, id, case_id, {}};
  for (const StoredChange& stored : fields) record.fields[stored.change.field] = stored.change.value;
  return record;
}

ConflictSide side_of(const Change& change) { return {change.value, change.version, change.author}; }

// Collection and field names are text: UTF-8 without NUL (a storage backend may hold them as text).
bool is_text_name(std::string_view name) {
  return is_valid_utf8(name) && name.find('\0') == std::string_view::npos;
}

// Change numbers from `first` to `last`; empty when `first` is 0.
struct SeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  bool empty() const { return first == 0; }
  bool contains(std::uint64_t seq) const { return !empty() && first <= seq && seq <= last; }
  // The smallest range holding this one and first..last.
  void add(std::uint64_t from, std::uint64_t to) {
    if (from == 0) return;
    first = empty() ? from : std::min(first, from);
    last = std::max(last, to);
  }
  // What of it lies above `position`.
  SeqRange above(std::uint64_t position) const {
    if (empty() || last <= position) return {};
    return {std::max(first, position + 1), last};
  }
};

// What the device now reports of itself. Its outbox, errors and clock are taken as sent; its
// platform and versions only when sent: a request that leaves them out (made by hand, or with a
// copied token) does not blank what the device last said, which is what identifies a lost phone.
Telemetry reported_telemetry(const Telemetry& before, Telemetry sent) {
  for (auto field : {&Telemetry::platform, &Telemetry::app_version, &Telemetry::core_version}) {
    if ((sent.*field).empty()) sent.*field = before.*field;
  }
  return sent;
}

}  // namespace

bool version_less(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view text) {
    std::vector<std::uint64_t> numbers;
    std::size_t at = 0;
    while (at < text.size() && numbers.size() < 8) {
      std::uint64_t number = 0;
      const auto [end, error] = std::from_chars(text.data() + at, text.data() + text.size(), number);
      if (error != std::errc()) break;
      numbers.push_back(number);
      at = static_cast<std::size_t>(end - text.data());
      const std::size_t dot = text.find('.', at);
      if (dot == std::string_view::npos) break;
      at = dot + 1;
    }
    numbers.resize(8, 0);
    return numbers;
  };
  return parts(a) < parts(b);
}

// One sync's working state: the transaction, who is syncing, and what the response collects.
class Reconciler::Session {
 public:
  Session(Reconciler& owner, StorageTransaction& tx, SyncIdentity& identity, SyncSummary& summary)
      : owner_(owner), tx_(tx), device_(identity.device), user_(identity.user), summary_(summary),
        now_(owner.now_ms()) {}

  SyncResponse run(const SyncRequest& request) {
    response_.server_time_ms = now_;
    response_.next_cursor = request.cursor;  // unchanged unless this round pulls
    carry_out_acknowledgements(request.directive_acks);
    device_.telemetry = reported_telemetry(device_.telemetry, request.telemetry);
    device_.last_seen_ms = now_;
    if (device_.status == DeviceStatus::kRevoked) {
      ensure_directive(DirectiveKind::kWipe, "this device was revoked: " + device_.status_reason);
      summary_.outcome = SyncOutcome::kRevoked;
    } else if (device_.status == DeviceStatus::kActive || device_.status == DeviceStatus::kRetiring) {
      if (!owner_.options_.min_core_version.empty() &&
          version_less(request.telemetry.core_version, owner_.options_.min_core_version)) {
        ensure_directive(DirectiveKind::kUpgradeRequired, owner_.options_.min_core_version);
        summary_.outcome = SyncOutcome::kUpgradeRequired;
        summary_.error_code = "upgrade_required";
        summary_.error_message = "the device's core is older than the server's minimum " +
                                 owner_.options_.min_core_version;
      } else {
        exchange(request);
      }
    }
    response_.directives = tx_.open_directives(device_.id);
    owner_.persist_clock(tx_);
    if (summary_.outcome == SyncOutcome::kOk && !response_.rejections.empty()) {
      const Rejection& first = response_.rejections.front();
      summary_.outcome = SyncOutcome::kRejected;
      summary_.error_code = to_string(first.code);
      summary_.error_message = first.message;
    }
    return std::move(response_);
  }

 private:
  void exchange(const SyncRequest& request) {
    const Uuid epoch = tx_.epoch();
    const std::optional<SyncCursor> cursor = decode_cursor(request.cursor);
    const bool same_epoch = cursor && cursor->epoch == epoch;
    position_ = same_epoch ? cursor->position : 0;
    delivery_ = same_epoch ? cursor->delivery : 0;
    if (same_epoch) carried_own_.add(cursor->own_first, cursor->own_last);
    // A cursor from another epoch (a restored server) or none at all: start from scratch.
    if (!same_epoch) tx_.remove_device_cases(device_.id);
    // Another epoch: this server was restored from a backup, and may lack what the device pushed
    // after the backup was taken. Only the device holds that now.
    const bool restored_since = cursor && !same_epoch;
    if (restored_since) {
      ensure_directive(DirectiveKind::kRepush,
                       "the server was restored from a backup: send back what you hold");
    }
    reconcile_scope();
    // Until then its groups wait, neither acknowledged nor refused, so they stay in its outbox:
    // one may edit a record that only a group the restore undid created. The restored groups
    // come first, as older groups do.
    if (!restored_since) {
      for (const WriteGroup& group : request.write_groups) {
        summary_.changes_received += group.changes.size();
        push(group);
      }
    }
    device_.last_sync_ms = now_;
    if (device_.status == DeviceStatus::kRetiring) {
      ensure_directive(DirectiveKind::kRetire, "this device was retired: " + device_.status_reason);
      return;
    }
    pull(epoch);
  }

  // --- Directives ---

  void carry_out_acknowledgements(const std::vector<std::uint64_t>& ids) {
    if (ids.empty()) return;
    for (const Directive& done : tx_.acknowledge_directives(device_.id, ids, now_)) {
      summary_.directives_acknowledged.push_back(done);
      switch (done.kind) {
        case DirectiveKind::kPurgeCase:
          tx_.remove_device_case(device_.id, done.case_id);
          purge_acknowledged_ = true;
          break;
        case DirectiveKind::kWipe: device_.status = DeviceStatus::kWiped; break;
        case DirectiveKind::kRetire: device_.status = DeviceStatus::kRetired; break;
        case DirectiveKind::kUpgradeRequired: break;
        case DirectiveKind::kRepush: break;
      }
    }
  }

  void ensure_directive(DirectiveKind kind, const std::string& detail) {
    for (const Directive& open : tx_.open_directives(device_.id)) {
      if (open.kind == kind) return;
    }
    issue_directive(kind, CaseId{}, detail);
  }

  void issue_directive(DirectiveKind kind, const CaseId& case_id, const std::string& detail) {
    const std::uint64_t id = tx_.add_directive(device_.id, kind, case_id, detail, now_);
    summary_.directives_issued.push_back({id, kind, case_id, detail});
  }

  // --- Scope ---

  // Cases newly in scope are to be backfilled; cases that left it are purged once the device
  // acknowledges, and until then it may still push for them. A backfill the device confirmed (its
  // cursor echoes the answer that carried it) makes the case active; an unconfirmed one is sent
  // again, since the answer may have been lost.
  void reconcile_scope() {
    const std::vector<CaseId> scope = tx_.scope_of(user_);
    const std::set<CaseId> in_scope(scope.begin(), scope.end());
    std::map<CaseId, DeviceCaseState> held;
    for (const DeviceCase& device_case : tx_.device_cases(device_.id)) {
      DeviceCaseState state = device_case.state;
      if (state == DeviceCaseState::kBackfill && device_case.delivered_in != 0 &&
          device_case.delivered_in == delivery_) {
        state = DeviceCaseState::kActive;
        tx_.put_device_case(device_.id, {device_case.case_id, state});
      }
      held.emplace(device_case.case_id, state);
    }
    for (const CaseId& case_id : scope) {
      if (held.contains(case_id)) continue;
      const auto state = position_ == 0 ? DeviceCaseState::kActive : DeviceCaseState::kBackfill;
      tx_.put_device_case(device_.id, {case_id, state});
      held.emplace(case_id, state);
    }
    for (auto& [case_id, state] : held) {
      if (state != DeviceCaseState::kPendingPurge && !in_scope.contains(case_id)) {
        state = DeviceCaseState::kPendingPurge;
        tx_.put_device_case(device_.id, {case_id, state});
        issue_directive(DirectiveKind::kPurgeCase, case_id, "the case is no longer allocated to you");
      }
      writable_.insert(case_id);
      if (state == DeviceCaseState::kActive) readable_.push_back(case_id);
      if (state == DeviceCaseState::kBackfill) backfill_.push_back(case_id);
    }
    std::sort(readable_.begin(), readable_.end());
  }

  // --- Push ---

  void push(const WriteGroup& group) {
    const Bytes hash = content_hash(group);
    if (auto reason = check_shape(group)) return reject(group, hash, *reason);
    const auto [first, last] = sequence_range(group);
    const std::vector<Receipt> receipts = tx_.receipts_overlapping(device_.id, first, last);
    if (!receipts.empty()) {
      const Receipt& receipt = receipts.front();
      if (receipts.size() == 1 && receipt.group == group.id && receipt.content_hash == hash &&
          receipt.first_seq == first && receipt.last_seq == last) {
        acknowledge(group.id);  // a resend of an accepted group
        return;
      }
      // A restored group may be part of one accepted whole before: then the history holds all of
      // it (checked below). Numbers of any other group mean a reuse.
      const bool part_of_accepted = group.restored && std::all_of(
          receipts.begin(), receipts.end(), [&](const Receipt& r) { return r.group == group.id; });
      if (!part_of_accepted) return reject(group, hash, sequence_reused(first, last));
    }
    if (auto prior = tx_.rejected_group(device_.id, group.id); prior && prior->content_hash == hash) {
      response_.rejections.push_back(prior->rejection);  // a resend of a rejected group
      send_open_conflicts_of(group);
      count_rejection(group, prior->rejection.code);
      return;
    }
    WriteGroup unseen = group;
    if (group.restored) {
      if (auto reason = drop_known_changes(unseen)) return reject(group, hash, *reason);
      if (!receipts.empty() && !unseen.changes.empty()) {
        return reject(group, hash, sequence_reused(first, last));
      }
      if (unseen.changes.empty()) {  // the backup had all of it
        if (receipts.empty()) tx_.put_receipt(device_.id, {group.id, first, last, hash});
        acknowledge(group.id);
        ++summary_.groups_restored;
        return;
      }
    }
    // Restored changes were accepted once under this bound, so they are in the server's past;
    // the check stays, so that a group marked restored can never carry stamps from the future.
    if (auto reason = check_clock(unseen)) return reject(group, hash, *reason);
    std::map<RecordId, RecordHome> homes = tx_.record_homes(record_ids(unseen));
    if (auto reason = check_scope(unseen, homes)) return reject(group, hash, *reason);
    if (auto reason = owner_.validate(tx_, unseen, homes)) return reject(group, hash, *reason);
    const Accepted accepted = owner_.accept(tx_, unseen, homes, user_.id, now_);
    const ConflictTally& tally = accepted.conflicts;
    tx_.put_receipt(device_.id, {group.id, first, last, hash});
    acknowledge(group.id);
    pushed_.add(accepted.first_seq, accepted.last_seq);
    ++summary_.groups_accepted;
    summary_.groups_restored += group.restored ? 1 : 0;
    summary_.changes_accepted += unseen.changes.size();
    summary_.conflicts_detected += tally.opened;
    summary_.conflicts_resolved += tally.closed;
    for (const Change& change : unseen.changes) summary_.cases_pushed.insert(change.case_id);
  }

  Refusal sequence_reused(std::uint64_t first, std::uint64_t last) {
    return {.code = RejectionCode::kDuplicateMismatch,
            .message = "sequence numbers " + std::to_string(first) + "-" + std::to_string(last) +
                       " of this device were already accepted with other content (was the "
                       "device restored from an old backup?)",
            .highest_accepted_seq = tx_.highest_accepted_seq(device_.id)};
  }

  // Takes out of a restored group the changes the history already holds. A version the history
  // holds with other content is no restoration: refused.
  std::optional<Refusal> drop_known_changes(WriteGroup& group) {
    std::vector<Change> unseen;
    for (Change& change : group.changes) {
      const auto known = tx_.change_by_version({change.record_id, change.field}, change.version);
      if (!known) {
        unseen.push_back(std::move(change));
        continue;
      }
      const Change& held = known->change;
      if (held.value != change.value || held.base != change.base ||
          held.device_seq != change.device_seq || held.write_group != change.write_group ||
          held.collection != change.collection || held.case_id != change.case_id) {
        return Refusal{RejectionCode::kDuplicateMismatch,
                       "version " + change.version.to_string() +
                           " was already accepted with other content"};
      }
    }
    group.changes = std::move(unseen);
    return std::nullopt;
  }

  void acknowledge(const WriteGroupId& group) {
    response_.acks.push_back(group);
    acked_.insert(group);
  }

  std::optional<Refusal> check_shape(const WriteGroup& group) const {
    if (group.changes.empty()) return Refusal{RejectionCode::kMalformed, "the write group is empty"};
    for (const Change& change : group.changes) {
      if (change.write_group != group.id) {
        return Refusal{RejectionCode::kMalformed, "a change names another write group",
                       change.record_id, change.field};
      }
      if (change.version.origin != device_.id) {
        return Refusal{RejectionCode::kScope,
                       "a change is stamped by another device than the token's", change.record_id,
                       change.field};
      }
      if (change.device_seq == 0) {
        return Refusal{RejectionCode::kMalformed, "a change has no sequence number",
                       change.record_id, change.field};
      }
      if (!is_text_name(change.collection) || !is_text_name(change.field)) {
        return Refusal{RejectionCode::kMalformed, "a collection or field name is not UTF-8 text"};
      }
      if (change.collection == "case" && change.record_id != change.case_id) {
        return Refusal{RejectionCode::kMalformed, "a case record's id must be its case id",
                       change.record_id, change.field};
      }
    }
    return std::nullopt;
  }

  static std::pair<std::uint64_t, std::uint64_t> sequence_range(const WriteGroup& group) {
    const auto [low, high] = std::minmax_element(
        group.changes.begin(), group.changes.end(),
        [](const Change& a, const Change& b) { return a.device_seq < b.device_seq; });
    return {low->device_seq, high->device_seq};
  }

  std::optional<Refusal> check_clock(const WriteGroup& group) const {
    const auto limit = now_ + owner_.options_.max_clock_ahead_ms;
    for (const Change& change : group.changes) {
      if (static_cast<std::int64_t>(change.version.hlc.ms()) > limit) {
        return Refusal{
            RejectionCode::kClockSkew,
            "stamped " +
                std::to_string((static_cast<std::int64_t>(change.version.hlc.ms()) - now_) / 1000) +
                " s ahead of the server's time: re-stamp and resend",
            change.record_id, change.field};
      }
    }
    return std::nullopt;
  }

  std::optional<Refusal> check_scope(const WriteGroup& group,
                                             const std::map<RecordId, RecordHome>& homes) const {
    // A record new to the server takes its home from the group's first change of it; every
    // other change of it must agree, or one record would be filed under two cases.
    std::map<RecordId, RecordHome> claimed;
    for (const Change& change : group.changes) {
      const auto stored = homes.find(change.record_id);
      const bool is_new = stored == homes.end();
      const RecordHome& home =
          is_new ? claimed.try_emplace(change.record_id, RecordHome{change.collection, change.case_id})
                       .first->second
                 : stored->second;
      if (home.collection != change.collection || home.case_id != change.case_id) {
        return Refusal{RejectionCode::kScope,
                       "record " + change.record_id.to_string() +
                           " belongs to another collection or case than the change claims",
                       change.record_id, change.field};
      }
      if (is_new && change.collection == "case") {
        return Refusal{RejectionCode::kScope,
                       "cases are created by the council's system, not by devices",
                       change.record_id, change.field};
      }
      if (!writable_.contains(change.case_id)) {
        return Refusal{RejectionCode::kScope,
                       "case " + change.case_id.to_string() + " is not allocated to you",
                       change.record_id, change.field};
      }
    }
    return std::nullopt;
  }

  void reject(const WriteGroup& group, const Bytes& hash, Refusal reason) {
    Rejection rejection{group.id, reason.code, reason.message, {}, reason.highest_accepted_seq};
    if (reason.code == RejectionCode::kDuplicateMismatch) ++summary_.sequence_reuses;
    for (const FieldKey& field : touched_fields(group)) {
      // Only values of cases the device may hold: a group naming another case's record id must
      // not learn that record's content from its rejection.
      auto current = tx_.current_field(field);
      if (current && writable_.contains(current->change.case_id)) {
        rejection.server_values.push_back(current->change);
      }
    }
    tx_.put_rejected_group({device_.id, rejection, hash, now_, user_.id, group.changes.size(),
                            reason.record_id, reason.field});
    response_.rejections.push_back(std::move(rejection));
    send_open_conflicts_of(group);
    count_rejection(group, reason.code);
  }

  void count_rejection(const WriteGroup& group, RejectionCode code) {
    ++summary_.groups_rejected;
    ++summary_.rejections[code];
    for (const Change& change : group.changes) summary_.cases_refused.insert(change.case_id);
  }

  // A rejected group may have been a resolution, which its device took off its conflict queue
  // when it was made: the conflicts still open on the fields it touched go back with the
  // rejection (only of cases the device holds), so the device shows them again.
  void send_open_conflicts_of(const WriteGroup& group) {
    for (const FieldKey& field : touched_fields(group)) {
      for (const ConflictEntry& entry : tx_.field_conflicts(field)) {
        if (!entry.resolved_by && writable_.contains(entry.case_id)) send_conflict(entry);
      }
    }
  }

  // The fields a group touches that can exist in storage (a name that is not text cannot).
  static std::set<FieldKey> touched_fields(const WriteGroup& group) {
    std::set<FieldKey> touched;
    for (const Change& change : group.changes) {
      if (is_text_name(change.field)) touched.insert({change.record_id, change.field});
    }
    return touched;
  }

  static std::vector<RecordId> record_ids(const WriteGroup& group) {
    std::vector<RecordId> ids;
    for (const Change& change : group.changes) ids.push_back(change.record_id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }

  // --- Pull ---

  // What a pull leaves out, and the own range of the cursor it answers (SyncCursor): the changes
  // this very request pushed, which the device holds; and, when the cursor carries an own range,
  // the current values in it whose origin is this device. A pull's horizon can stay below a
  // device's push while another connection's writer runs (PostgreSQL), and without the range the
  // device's next pull would send that push back. The device held those changes when it stored
  // the cursor (they were its own edits, made before it sent them), and still holds them or newer
  // ones of its own, unless it has dropped cases since: so the range is only honoured while its
  // cases stayed as they were (no purge acknowledged, no case to backfill, not a first sync).
  // A device restored from a backup sends the backup's cursor, which carries only what the backup
  // holds, so its later changes come back to it. Only the device's own changes are ever left out,
  // and only their current values: another device's winning value, and conflict-log entries,
  // are sent whatever their number.
  void pull(const Uuid& epoch) {
    const bool cases_unchanged = position_ != 0 && backfill_.empty() && !purge_acknowledged_;
    const SeqRange held_own = cases_unchanged ? carried_own_ : SeqRange{};
    const std::uint64_t up_to = tx_.last_seq();
    std::size_t budget = owner_.options_.page_changes;
    std::size_t backfilled = 0;
    std::uint64_t delivery = 0;  // marks this answer if it carries whole cases
    for (const CaseId& case_id : backfill_) {
      if (budget == 0) break;
      if (delivery == 0) delivery = new_delivery_mark();
      // The case up to the cursor, whole; what came after it, the page below sends.
      std::vector<StoredChange> whole_case = tx_.current_of_case(case_id, position_);
      budget -= std::min(budget, whole_case.size());
      for (StoredChange& stored : whole_case) send(std::move(stored.change));
      for (const ConflictEntry& entry : tx_.open_conflicts_of_case(case_id, position_)) send_conflict(entry);
      tx_.put_device_case(device_.id, {case_id, DeviceCaseState::kBackfill, delivery});
      readable_.insert(std::upper_bound(readable_.begin(), readable_.end(), case_id), case_id);
      ++backfilled;
    }
    std::uint64_t next = position_;
    if (backfilled < backfill_.size()) {
      response_.more = true;  // more cases to backfill; the cursor stays until they are sent
    } else if (budget > 0) {
      std::vector<StoredChange> page = tx_.current_since(readable_, position_, up_to, budget);
      response_.more = page.size() == budget;
      next = response_.more ? page.back().seq : up_to;
      for (StoredChange& stored : page) {
        const bool held = acked_.contains(stored.change.write_group) ||
                          (stored.change.version.origin == device_.id && held_own.contains(stored.seq));
        if (!held) send(std::move(stored.change));
      }
      for (const ConflictEntry& entry : tx_.conflicts_since(readable_, position_, next)) {
        send_conflict(entry);
      }
    } else {
      response_.more = true;
    }
    SeqRange own = held_own;
    own.add(pushed_.first, pushed_.last);
    own = own.above(next);
    response_.next_cursor = encode_cursor({epoch, next, delivery, own.first, own.last});
  }

  static std::uint64_t new_delivery_mark() {
    for (;;) {
      const Bytes random = crypto::random_bytes(sizeof(std::uint64_t));
      std::uint64_t mark = 0;
      for (const std::uint8_t byte : random) mark = (mark << 8) | byte;
      if (mark != 0) return mark;
    }
  }

  void send(Change change) {
    summary_.cases_pulled.insert(change.case_id);
    response_.changes.push_back(std::move(change));
    ++summary_.changes_sent;
  }

  void send_conflict(const ConflictEntry& entry) {
    summary_.cases_pulled.insert(entry.case_id);
    ++summary_.conflicts_sent;
    if (entry.resolved_by) {
      response_.resolutions.push_back({entry.record_id, entry.field, entry.lost, *entry.resolved_by});
      return;
    }
    const FieldKey field{entry.record_id, entry.field};
    const auto lost = tx_.change_by_version(field, entry.lost);
    const auto winner = tx_.current_field(field);
    if (!lost || !winner) throw Error(ErrorCode::kIntegrity, "a conflict-log entry has no history");
    response_.conflicts.push_back({lost->change.collection, entry.record_id, entry.case_id,
                                   entry.field, side_of(lost->change), side_of(winner->change)});
  }

  Reconciler& owner_;
  StorageTransaction& tx_;
  Device& device_;
  const User& user_;
  SyncSummary& summary_;
  const std::int64_t now_;
  SyncResponse response_;
  std::uint64_t position_ = 0;
  std::uint64_t delivery_ = 0;      // the delivery mark the device's cursor echoes
  std::set<WriteGroupId> acked_;    // groups acknowledged in this response
  SeqRange pushed_;                 // the change numbers this request's accepted groups took
  SeqRange carried_own_;            // the own range of the device's cursor (see pull)
  bool purge_acknowledged_ = false; // the device dropped a case in this request
  std::set<CaseId> writable_;       // in scope, or leaving it (pending purge)
  std::vector<CaseId> readable_;    // in scope and up to date with the cursor; sorted
  std::vector<CaseId> backfill_;    // newly in scope: sent whole first
};

Reconciler::Reconciler(ServerStorage& storage, ClockSource& clock, const Schema& schema,
                       ReconcilerOptions options)
    : clock_(clock), schema_(schema), options_(std::move(options)),
      hlc_(clock, initial_floor(storage)), group_ids_(clock) {}

SyncResponse Reconciler::sync(StorageTransaction& tx, SyncIdentity& identity,
                              const SyncRequest& request, SyncSummary& summary) {
  Session session(*this, tx, identity, summary);
  return session.run(request);
}

std::optional<Reconciler::Refusal> Reconciler::validate(StorageTransaction& tx, const WriteGroup& group,
                                                    const std::map<RecordId, RecordHome>& homes) {
  std::map<RecordId, std::vector<const Change*>> by_record;
  for (const Change& change : group.changes) by_record[change.record_id].push_back(&change);
  for (const auto& [record_id, changes] : by_record) {
    const Change& first = *changes.front();
    const bool exists = homes.contains(record_id);
    const std::vector<StoredChange> current = exists ? tx.current_fields(record_id) : std::vector<StoredChange>{};
    const Record before = record_of(first.collection, record_id, first.case_id, current);
    Record after = before;
    std::map<std::string, const Change*> winners;
    for (const StoredChange& stored : current) winners[stored.change.field] = &stored.change;
    for (const Change* change : changes) {
      const Change*& winner = winners[change->field];
      if (winner == nullptr || wins_over(*change, *winner)) {
        winner = change;
        after.fields[change->field] = change->value;
      }
    }
    const std::vector<ValidationProblem> problems = schema_.validate_edit(before, after);
    if (!problems.empty()) {
      const ValidationProblem& problem = problems.front();
      return Refusal{
          problem.code == ErrorCode::kFrozen ? RejectionCode::kFrozen : RejectionCode::kValidation,
          problem.message, record_id, problem.field};
    }
  }
  return std::nullopt;
}

Reconciler::Accepted Reconciler::accept(StorageTransaction& tx, const WriteGroup& group,
                                        const std::map<RecordId, RecordHome>& homes,
                                        const std::string& author, std::int64_t now) {
  Accepted accepted;
  ConflictTally& tally = accepted.conflicts;
  std::vector<Change> changes = group.changes;
  for (Change& change : changes) {
    change.author = author;
    hlc_.observe(change.version.hlc);
  }
  const std::vector<std::uint64_t> seqs = tx.append_history(changes, now);
  if (!seqs.empty()) {
    const auto [low, high] = std::minmax_element(seqs.begin(), seqs.end());
    accepted.first_seq = *low;
    accepted.last_seq = *high;
  }
  std::map<RecordId, RecordHome> new_homes;
  std::set<FieldKey> fields_in_group;
  bool repeats_a_field = false;
  for (const Change& change : changes) {
    repeats_a_field |= !fields_in_group.insert({change.record_id, change.field}).second;
  }
  std::vector<StoredChange> winners;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Change& change = changes[i];
    StoredChange stored{change, seqs[i], now};
    if (!homes.contains(change.record_id) && !repeats_a_field) {
      // A record new to the server: its only history is this group, so each change wins.
      new_homes.emplace(change.record_id, RecordHome{change.collection, change.case_id});
      winners.push_back(std::move(stored));
      continue;
    }
    if (!homes.contains(change.record_id)) {
      new_homes.emplace(change.record_id, RecordHome{change.collection, change.case_id});
    }
    merge_field(tx, stored, winners, tally);
  }
  tx.put_current(winners);
  tx.put_record_homes(new_homes);
  return accepted;
}

// The general path: the field's whole history decides its winner and its conflict-log entries,
// with the shared merge rule, so the log never depends on the order changes arrived in.
void Reconciler::merge_field(StorageTransaction& tx, const StoredChange& arrived,
                             std::vector<StoredChange>& winners, ConflictTally& tally) {
  const FieldKey key{arrived.change.record_id, arrived.change.field};
  const std::vector<StoredChange> stored_history = tx.field_history(key);
  std::vector<Change> history;
  history.reserve(stored_history.size());
  for (const StoredChange& stored : stored_history) history.push_back(stored.change);
  const Change* winner = merge_winner(history);
  const bool became_winner = winner != nullptr && winner->version == arrived.change.version;
  if (became_winner) winners.push_back(arrived);

  std::set<Version> lost_now;
  for (const Change* lost : lost_changes(history)) lost_now.insert(lost->version);
  std::vector<ConflictEntry> updates;
  std::set<Version> logged;
  for (ConflictEntry& entry : tx.field_conflicts(key)) {
    logged.insert(entry.lost);
    if (entry.resolved_by) continue;
    if (!lost_now.contains(entry.lost)) {
      entry.resolved_by = resolver_of(history, entry.lost);
      entry.seq = arrived.seq;
      updates.push_back(entry);
      ++tally.closed;
    } else if (became_winner) {
      entry.seq = arrived.seq;  // the winning side changed: devices get the entry again
      updates.push_back(entry);
    }
  }
  for (const Version& version : lost_now) {
    if (!logged.contains(version)) {
      updates.push_back({key.record_id, key.field, arrived.change.case_id, version, std::nullopt, arrived.seq});
      ++tally.opened;
    }
  }
  tx.put_conflicts(updates);
}

Version Reconciler::resolver_of(const std::vector<Change>& history, const Version& lost) {
  for (const Change& change : history) {
    if (change.base.contains(lost)) return change.version;
  }
  throw Error(ErrorCode::kInternal, "a conflict was resolved by no change");
}

WriteGroupId Reconciler::write_as_server(StorageTransaction& tx, const std::string& collection,
                                         const RecordId& record_id, const CaseId& case_id,
                                         const std::map<std::string, Value>& fields,
                                         const std::string& author) {
  const OriginId origin = tx.server_origin();
  const std::map<RecordId, RecordHome> homes = tx.record_homes(std::span(&record_id, 1));
  if (auto home = homes.find(record_id);
      home != homes.end() && (home->second.collection != collection || home->second.case_id != case_id)) {
    throw Error(ErrorCode::kConflict, "record " + record_id.to_string() + " exists under another case");
  }
  std::map<FieldKey, Version> seen;
  for (const StoredChange& stored : tx.current_fields(record_id)) {
    seen[{record_id, stored.change.field}] = stored.change.version;
  }
  WriteGroup group{group_ids_.next(), {}};
  for (const auto& [field, value] : fields) {
    Change change;
    change.collection = collection;
    change.record_id = record_id;
    change.case_id = case_id;
    change.field = field;
    change.value = value;
    change.version = {hlc_.now(), origin};
    if (auto base = seen.find({record_id, field}); base != seen.end()) change.base.insert(base->second);
    change.write_group = group.id;
    group.changes.push_back(std::move(change));
  }
  if (auto reason = validate(tx, group, homes)) {
    throw Error(reason->code == RejectionCode::kFrozen ? ErrorCode::kFrozen : ErrorCode::kValidation,
                reason->message);
  }
  accept(tx, group, homes, author, now_ms());
  persist_clock(tx);
  return group.id;
}

void Reconciler::persist_clock(StorageTransaction& tx) { tx.set_clock_floor(hlc_.highest()); }

}  // namespace fieldsync::server
