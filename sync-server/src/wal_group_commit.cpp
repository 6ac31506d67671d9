// Group commit: see wal_group_commit.h.
#include "wal_group_commit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fieldsync/error.h"

namespace fieldsync::server {

WalGroupCommit::WalGroupCommit(std::string wal_path) : wal_path_(std::move(wal_path)) {}

WalGroupCommit::~WalGroupCommit() {
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

std::uint64_t WalGroupCommit::note_commit() {
  std::lock_guard lock(mutex_);
  return ++committed_;
}

void WalGroupCommit::wait_durable(std::uint64_t number) {
  std::unique_lock lock(mutex_);
  while (durable_ < number) {
    if (syncing_) {
      synced_.wait(lock);  // a sync under way may not cover this commit: look again after it
      continue;
    }
    syncing_ = true;
    const std::uint64_t target = committed_;  // every commit noted so far is in the WAL
    lock.unlock();
    bool synced = false;
    try {
      sync_wal();
      synced = true;
    } catch (...) {
      lock.lock();
      syncing_ = false;
      synced_.notify_all();  // the others try again themselves
      throw;
    }
    lock.lock();
    syncing_ = false;
    if (synced && target > durable_) durable_ = target;
    synced_.notify_all();
  }
}

// Called by the one syncing thread; wal_fd_ is only touched here once the first sync has begun,
// and syncs never overlap.
void WalGroupCommit::sync_wal() {
  if (wal_fd_ < 0) {
    // The WAL exists from the first commit on, and SQLite keeps it (reset, not deleted) while
    // the server's connection is open. fdatasync works on the file, whichever descriptor wrote.
    wal_fd_ = ::open(wal_path_.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) {
      throw Error(ErrorDomain::kPosix, errno,
                  "cannot open the write-ahead log to sync it: " + std::string(std::strerror(errno)));
    }
  }
  if (::fdatasync(wal_fd_) != 0) {
    throw Error(ErrorDomain::kPosix, errno,
                "syncing the write-ahead log failed: " + std::string(std::strerror(errno)));
  }
}

}  // namespace fieldsync::server
