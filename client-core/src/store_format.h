// The on-disk format of the device store: its tables, its format version, and the migrations
// that carry an older file forward. Private to client-core.
#pragma once

#include "fieldsync/sqlite_db.h"

namespace fieldsync::client {

// The format this build writes. A file with a greater PRAGMA user_version was written by a newer
// fieldsync and is refused rather than misread.
inline constexpr int kStoreFormatVersion = 1;

// Sets the connection up as every store connection must be: WAL, full fsync, secure delete.
void configure_connection(sqlite::Database& db);

// Brings the file to kStoreFormatVersion in one transaction (a new file gets every table).
// Throws Error(kUnsupportedVersion) for a file from a newer version.
void migrate_store(sqlite::Database& db);

}  // namespace fieldsync::client
