// The demo of the whole story: three people record one child's visit on encrypted devices that
// go on and off line; their changes meet, one value is overwritten by someone who never saw it
// and is reported, not lost; the manager resolves it; every device ends with the same record.
#pragma once

#include <string>

namespace fieldsync::demo {

struct DemoOptions {
  std::string keep_dir;  // when set, the stores are left there for inspection
  bool quiet = false;    // only the summary
};

// Runs the demo; returns 0 when every check of the story held, 1 otherwise.
int run_demo(const DemoOptions& options);

}  // namespace fieldsync::demo
