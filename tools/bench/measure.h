// Measuring for fieldsync-bench: a stopwatch that sums only the calls it wraps (so preparing the
// data is never counted), rounds that interleave what is compared, progress on stderr, and a
// scratch directory that disappears with the run. Single-threaded.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_report.h"
#include "fieldsync/dev/scratch_dir.h"

namespace fieldsync::bench {

class Stopwatch {
 public:
  template <typename Work>
  decltype(auto) time(Work&& work) {
    const auto start = std::chrono::steady_clock::now();
    struct AddElapsed {
      Stopwatch& watch;
      std::chrono::steady_clock::time_point start;
      ~AddElapsed() { watch.elapsed_ += std::chrono::steady_clock::now() - start; }
    } add_elapsed{*this, start};
    return work();
  }
  double seconds() const { return std::chrono::duration<double>(elapsed_).count(); }
  double per_second(std::size_t count) const {
    return seconds() > 0 ? static_cast<double>(count) / seconds() : 0;
  }

 private:
  std::chrono::steady_clock::duration elapsed_{};
};

// Runs `total` units of work in `rounds` rounds; each round gives every step its share in turn,
// so that the machine speeding up or slowing down during the run falls on every step alike.
// Reports progress on stderr after each round.
inline void in_rounds(const std::string& mode, const std::string& what, std::size_t total,
                      std::size_t rounds,
                      const std::vector<std::function<void(std::size_t)>>& steps) {
  std::size_t done = 0;
  for (std::size_t round = 1; round <= rounds; ++round) {
    const std::size_t share = total * round / rounds - done;
    for (const auto& step : steps) step(share);
    done += share;
    progress(mode, what + " " + std::to_string(done) + "/" + std::to_string(total));
  }
}

// The figures depend on the file system (fsync above all), so the caller chooses where it goes.
using ScratchDir = dev::ScratchDir;

}  // namespace fieldsync::bench
