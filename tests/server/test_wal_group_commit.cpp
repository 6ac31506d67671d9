// The SQLite backend's group commit: commits from many threads all return once a sync covers
// them, and a sync that fails fails the commits waiting on it (they are not acknowledged), while
// a later commit syncs again. Tagged [sqlite]: the SQLite backend's alone (run once, not once
// per backend).
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/error.h"
#include "wal_group_commit.h"

using namespace fieldsync;
using fieldsync::server::WalGroupCommit;

TEST_CASE("Commits from many threads all become durable", "[server][storage][sqlite]") {
  dev::ScratchDir scratch;
  const std::string wal = scratch.file("db-wal");
  std::ofstream(wal) << "frames";
  WalGroupCommit group(wal);
  std::atomic<int> durable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        group.wait_durable(group.note_commit());
        ++durable;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(durable == 400);
}

TEST_CASE("A failed sync fails its commit, and the next sync is tried afresh",
          "[server][storage][sqlite]") {
  dev::ScratchDir scratch;
  const std::string wal = scratch.file("db-wal");
  WalGroupCommit group(wal);  // no file yet: the sync cannot open it
  const std::uint64_t first = group.note_commit();
  try {
    group.wait_durable(first);
    FAIL("a commit whose sync failed returned as durable");
  } catch (const Error& error) {
    CHECK(error.domain() == ErrorDomain::kPosix);
  }
  std::ofstream(wal) << "frames";
  group.wait_durable(first);
  group.wait_durable(group.note_commit());
}
