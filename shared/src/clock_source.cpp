// The real clocks: std::chrono's system clock for the wall, steady clock for monotonic time.
#include "fieldsync/clock_source.h"

#include <chrono>

namespace fieldsync {

std::int64_t SystemClockSource::wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t SystemClockSource::monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

SystemClockSource& SystemClockSource::instance() {
  static SystemClockSource clock;
  return clock;
}

}  // namespace fieldsync
