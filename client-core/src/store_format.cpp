// The store's tables and migrations. What is in clear is only what DESIGN.md section 5 allows:
// random ids, case ids, collection names, versions and sequence numbers; everything else is a
// sealed (AES-256-GCM) blob.
#include "store_format.h"

#include <string>

#include "fieldsync/error.h"

namespace fieldsync::client {
namespace {

// Version 1. Later versions append a migration step; a step never edits an earlier one.
constexpr const char* kCreateVersion1 = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- One data key per case, wrapped by the store key. Deleting the row crypto-shreds the case.
CREATE TABLE case_keys(
  case_id       BLOB PRIMARY KEY,
  wrapped_key   BLOB NOT NULL,
  purge_pending INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- A record's fields (values, versions, bases, authors) sealed as one padded unit. A rowid
-- table: rows of a kilobyte or more would leave a WITHOUT ROWID b-tree two rows a page.
CREATE TABLE records(
  record_id  BLOB PRIMARY KEY,
  case_id    BLOB NOT NULL,
  collection TEXT NOT NULL,
  sealed     BLOB NOT NULL
);
CREATE INDEX records_by_case ON records(case_id, collection, record_id);

-- The changes of one write group for one case, sealed together, oldest first by sequence.
CREATE TABLE outbox(
  first_seq    INTEGER PRIMARY KEY,
  write_group  BLOB NOT NULL,
  case_id      BLOB NOT NULL,
  change_count INTEGER NOT NULL,
  queued_at    INTEGER NOT NULL,
  sealed       BLOB NOT NULL
);
CREATE INDEX outbox_by_group ON outbox(write_group);
CREATE INDEX outbox_by_case ON outbox(case_id);

-- The records each unacknowledged write group of this device touched: a field whose current
-- change belongs to one of them holds an edit nobody else has seen yet.
CREATE TABLE pending_groups(
  record_id   BLOB NOT NULL,
  write_group BLOB NOT NULL,
  PRIMARY KEY(record_id, write_group)
) WITHOUT ROWID;
CREATE INDEX pending_by_group ON pending_groups(write_group);

CREATE TABLE conflicts(
  lost_hlc    INTEGER NOT NULL,
  lost_origin BLOB NOT NULL,
  case_id     BLOB NOT NULL,
  local_edit  INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  PRIMARY KEY(lost_hlc, lost_origin)
) WITHOUT ROWID;
CREATE INDEX conflicts_by_case ON conflicts(case_id);

CREATE TABLE rejections(
  write_group BLOB NOT NULL,
  case_id     BLOB NOT NULL,
  rejected_at INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  PRIMARY KEY(write_group, case_id)
) WITHOUT ROWID;
CREATE INDEX rejections_by_case ON rejections(case_id);

-- Directives carried out, acknowledged with the next sync until the server stops sending them.
CREATE TABLE directive_acks(
  directive_id INTEGER PRIMARY KEY
);
)sql";

}  // namespace

void configure_connection(sqlite::Database& db) {
  db.exec("PRAGMA journal_mode = WAL");
  // A visit the worker was told is saved must survive power loss.
  db.exec("PRAGMA synchronous = FULL");
  // Deleted rows (a purged case's key) are overwritten, not left in free pages.
  db.exec("PRAGMA secure_delete = ON");
  db.exec("PRAGMA foreign_keys = ON");
}

void migrate_store(sqlite::Database& db) {
  sqlite::Transaction transaction(db);
  const int version = db.user_version();
  if (version > kStoreFormatVersion) {
    throw Error(ErrorCode::kUnsupportedVersion,
                "this store was written by a newer fieldsync (format " + std::to_string(version) +
                    "); this build reads formats up to " + std::to_string(kStoreFormatVersion) +
                    ": update the app");
  }
  if (version < 1) db.exec(kCreateVersion1);
  db.set_user_version(kStoreFormatVersion);
  transaction.commit();
}

}  // namespace fieldsync::client
