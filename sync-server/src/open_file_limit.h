// The process's open-file limit (RLIMIT_NOFILE) checked against what the server will hold open:
// a descriptor per connection up to --max-connections, the database's files or sockets, and a
// margin for the listening socket, the event loop and standard streams. A server short of
// descriptors fails accepts and database opens under load, long after start, so the check runs
// at start: the soft limit is raised toward the need (never past the hard limit), and what is
// still short is reported for the log.
//
// Threading: call once at start, before other threads open files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fieldsync::server {

// Descriptors held apart from connections and the database: standard streams, listening
// sockets, the event loop's own, the log, a backup or the data directory being synced.
inline constexpr std::size_t kSpareOpenFiles = 64;

// Descriptors the SQLite store holds: the database, its write-ahead log and shared memory, the
// data directory's lock file, and the log the group commit syncs.
inline constexpr std::size_t kSqliteOpenFiles = 5;

struct OpenFileLimit {
  std::uint64_t needed = 0;
  std::uint64_t soft_before = 0;  // the soft limit the process started with
  std::uint64_t soft = 0;         // the soft limit now in force
  std::uint64_t hard = 0;         // how far the soft limit may go without privileges

  bool raised() const { return soft > soft_before; }
  bool short_of_need() const { return soft < needed; }
};

// Descriptors a server needs with `max_connections` connections and `database_files` descriptors
// for its storage.
std::uint64_t open_files_needed(std::size_t max_connections, std::size_t database_files);

// Raises the soft limit to `needed` when it is lower (to the hard limit at most) and says what
// the limit is now. Throws Error(kPosix) only when the limit cannot even be read.
OpenFileLimit ensure_open_file_limit(std::uint64_t needed);

}  // namespace fieldsync::server
