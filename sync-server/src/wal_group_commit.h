// Group commit for the SQLite backend: durable acknowledgements without one fsync per request
// in a row. SQLite commits with synchronous=NORMAL (in WAL mode the commit is written to the WAL
// but not synced), and each committed transaction then waits here until the WAL file has been
// synced past its commit. One waiting thread syncs for every commit made meanwhile, so requests
// that commit while a sync is under way share the next one: hundreds of devices syncing at once
// cost a few fsyncs each second, not hundreds in a row under the connection's lock. A commit
// still returns only once it is on disk (DESIGN.md section 6: acknowledged means durable).
//
// Thread-safe. note_commit() must be called in commit order (under the connection's lock);
// wait_durable() from any thread, without that lock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace fieldsync::server {

class WalGroupCommit {
 public:
  explicit WalGroupCommit(std::string wal_path);
  ~WalGroupCommit();
  WalGroupCommit(const WalGroupCommit&) = delete;
  WalGroupCommit& operator=(const WalGroupCommit&) = delete;

  // Numbers a commit just made (1, 2, ...).
  std::uint64_t note_commit();
  // Returns once the WAL has been synced after commit `number`. Throws Error(kIo) when the sync
  // fails (the commit is then not known to be durable and must not be acknowledged).
  void wait_durable(std::uint64_t number);

 private:
  void sync_wal();  // fdatasync of the WAL file; opens it on first use

  const std::string wal_path_;
  std::mutex mutex_;
  std::condition_variable synced_;
  // Guarded by mutex_:
  std::uint64_t committed_ = 0;  // the last commit noted
  std::uint64_t durable_ = 0;    // every commit up to this one is on disk
  bool syncing_ = false;         // a thread is syncing now; the others wait for it
  int wal_fd_ = -1;
};

}  // namespace fieldsync::server
