// A device store for the benchmarks, in a directory of the run, with its key file (the desktop key
// wrapper) and no auto-lock during a run. Stores measured for writing or syncing use a cheap KDF:
// unlocking is measured on its own (fieldsync-bench client). One thread at a time, like any Store
// user here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "fieldsync/client/store.h"
#include "fieldsync/dev/field_device.h"
#include "fieldsync/platform/key_wrapper.h"

namespace fieldsync::bench {

inline constexpr const char* kBenchPasscode = "bench-passcode";
using dev::kCheapKdfIterations;
inline constexpr std::int64_t kNeverLockDuringRun = 24LL * 60 * 60 * 1000;

class BenchStore {
 public:
  BenchStore(const std::filesystem::path& dir, const std::string& name,
             std::uint32_t kdf_iterations,
             const client::DeviceIdentity& identity = {Uuid::random_v4(), "bench-worker"})
      : wrapper_(dir / (name + ".key")) {
    client::StoreOptions options;
    options.path = (dir / (name + ".db")).string();
    options.key_wrapper = &wrapper_;
    options.kdf_iterations = kdf_iterations;
    options.auto_lock_ms = kNeverLockDuringRun;
    store_ = client::Store::create(options, kBenchPasscode, identity);
  }
  client::Store& operator*() { return *store_; }
  client::Store* operator->() { return store_.get(); }

 private:
  platform::FileKeyWrapper wrapper_;  // the desktop default
  std::unique_ptr<client::Store> store_;
};

}  // namespace fieldsync::bench
