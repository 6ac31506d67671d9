// The audit log's hash chain: canonical bytes, hashes and the verifying walk. See audit_chain.h.
#include "audit_chain.h"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <utility>

#include "fieldsync/crypto.h"

namespace fieldsync::server {
namespace {

constexpr std::string_view kFormatTag = "fieldsync-audit-1";

class CanonicalWriter {
 public:
  void integer(std::uint64_t value, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
      out_.push_back(static_cast<std::uint8_t>(value >> shift));
    }
  }
  void raw(std::span<const std::uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  void text(std::string_view value) {
    integer(value.size(), 4);
    raw(crypto::as_bytes(value));
  }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

Bytes canonical_content(std::uint64_t seq, const AuditEntry& entry) {
  CanonicalWriter writer;
  writer.raw(crypto::as_bytes(kFormatTag));
  writer.integer(seq, 8);
  writer.integer(static_cast<std::uint64_t>(entry.at_ms), 8);
  for (const std::string* text : {&entry.node, &entry.actor, &entry.actor_name, &entry.action,
                                  &entry.address, &entry.user_id, &entry.detail}) {
    writer.text(*text);
  }
  writer.integer(entry.device ? 1 : 0, 1);
  if (entry.device) writer.raw(entry.device->bytes());
  std::vector<CaseId> cases = entry.case_ids;
  std::sort(cases.begin(), cases.end());
  cases.erase(std::unique(cases.begin(), cases.end()), cases.end());
  writer.integer(cases.size(), 4);
  for (const CaseId& case_id : cases) writer.raw(case_id.bytes());
  return writer.take();
}

// Walks the chain, remembering the first break.
class ChainWalk {
 public:
  // False once the chain is broken (the walk stops there).
  bool check(const AuditRecord& row) {
    const std::uint64_t expected = last_seq_ + 1;
    if (row.seq != expected) {
      return broken(expected, "row " + std::to_string(expected) + " is missing");
    }
    if (audit_row_hash(row.previous_hash, row.seq, row.entry) != row.hash) {
      return broken(row.seq, "row " + std::to_string(row.seq) +
                                 " does not match its hash: its content was altered");
    }
    if (row.previous_hash != last_hash_) {
      // The row itself is consistent, but does not chain from the row before: that one was
      // rewritten with a new hash (or this row's link was).
      const std::uint64_t rewritten = std::max<std::uint64_t>(last_seq_, 1);
      return broken(rewritten, "row " + std::to_string(rewritten) +
                                   " is not the row that the next one was chained to: it was "
                                   "rewritten");
    }
    last_seq_ = row.seq;
    last_hash_ = row.hash;
    ++result_.rows_checked;
    return true;
  }

  // The end of the rows: the recorded head must be the last row.
  void finish(AuditHead head) {
    result_.head = std::move(head);
    const AuditHead& recorded = result_.head;
    if (recorded.seq > last_seq_) {
      broken(last_seq_ + 1,
             "rows " + std::to_string(last_seq_ + 1) + " to " + std::to_string(recorded.seq) +
                 " are missing: the log's recorded head is row " + std::to_string(recorded.seq));
    } else if (recorded.seq < last_seq_) {
      broken(recorded.seq + 1,
             "row " + std::to_string(recorded.seq + 1) + " lies beyond the log's recorded head");
    } else if (recorded.hash != last_hash_) {
      broken(std::max<std::uint64_t>(last_seq_, 1),
             "the last row's hash is not the log's recorded head: the end was rewritten");
    }
  }

  std::uint64_t last_seq() const { return last_seq_; }
  AuditVerification result() && { return std::move(result_); }

 private:
  bool broken(std::uint64_t seq, std::string problem) {
    result_.intact = false;
    result_.first_bad_seq = seq;
    result_.problem = std::move(problem);
    return false;
  }

  std::uint64_t last_seq_ = 0;
  Bytes last_hash_ = audit_genesis_hash();
  AuditVerification result_;
};

}  // namespace

Bytes audit_genesis_hash() {
  return Bytes(kAuditHashBytes, 0);
}

Bytes audit_row_hash(const Bytes& previous_hash, std::uint64_t seq, const AuditEntry& entry) {
  Bytes input = previous_hash;
  const Bytes content = canonical_content(seq, entry);
  input.insert(input.end(), content.begin(), content.end());
  return crypto::sha256(input);
}

AuditVerification verify_audit_chain(ServerStorage& storage, std::size_t batch_rows) {
  storage.seal_audit();
  ChainWalk walk;
  while (true) {
    // Each batch and the head as one transaction saw them (run again after a lost race).
    const auto [rows, head, pending] = run_transaction(storage, [&](StorageTransaction& tx) {
      return std::tuple(tx.audit_range(walk.last_seq(), batch_rows), tx.audit_head(),
                        tx.audit_pending());
    });
    if (rows.empty()) {
      walk.finish(head);
      AuditVerification result = std::move(walk).result();
      result.pending = pending;
      return result;
    }
    for (const AuditRecord& row : rows) {
      if (!walk.check(row)) {
        AuditVerification result = std::move(walk).result();
        result.head = head;
        return result;
      }
    }
  }
}

}  // namespace fieldsync::server
