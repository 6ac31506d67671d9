// The audit log's hash chain (DESIGN.md section 5: a tamper-evident log): the canonical bytes of
// a row, the hash that links it to the row before, and the walk that checks the whole chain.
// Every storage backend hashes with audit_row_hash, so a log written by one backend or node
// verifies anywhere.
//
//   hash(row n) = SHA-256(hash(row n-1) || canonical(row n)); row 1 chains from 32 zero bytes.
//   canonical(row) = "fieldsync-audit-1", seq (8 bytes) and at_ms (8 bytes, two's complement),
//   then node, actor, actor_name, action, address, user_id and detail, each as a 4-byte length
//   and its bytes, then the device (1 byte: 0 none, 1 present, then its 16 bytes), then the
//   number of case ids (4 bytes) and each id's 16 bytes in ascending order. Integers big-endian.
//
// Altering a row breaks its own hash; rewriting its hash too breaks the link from the next row;
// deleting a row leaves a gap in seq; deleting the last rows leaves the recorded head pointing
// past the end. What a hash chain cannot show on its own is a rewrite of everything from some
// row to the end, head included: compare the head with one noted elsewhere for that.
//
// Thread-safety: audit_row_hash is a pure function; verify_audit_chain opens its own
// transactions, one per batch, so writers wait for at most one batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fieldsync/server/server_storage.h"

namespace fieldsync::server {

inline constexpr std::size_t kAuditHashBytes = 32;

// The previous hash of row 1.
Bytes audit_genesis_hash();

Bytes audit_row_hash(const Bytes& previous_hash, std::uint64_t seq, const AuditEntry& entry);

struct AuditVerification {
  bool intact = true;
  std::uint64_t rows_checked = 0;
  AuditHead head;                              // as recorded by the storage
  std::optional<std::uint64_t> first_bad_seq;  // the first row where the chain breaks
  std::string problem;                         // what is wrong there, for a person
  AuditPending pending;  // entries committed but not chained, after this check's own seal
};

// Seals what is pending (ServerStorage::seal_audit), then walks the chain.
AuditVerification verify_audit_chain(ServerStorage& storage, std::size_t batch_rows = 1000);

}  // namespace fieldsync::server
