// The demo of the whole story, against a real fieldsync-server process on 127.0.0.1 with a
// temporary SQLite store: three social workers and a manager record visits offline on the same
// children's cases, one phone's clock is hours wrong, one phone is lost, one case moves to another
// team. When everyone is back online, every device and the server agree on every field, the one
// value overwritten by someone who never saw it is reported (not lost), nobody holds a case that
// is not theirs, and the lost phone can neither read nor send anything.
#pragma once

#include <string>

namespace fieldsync::demo {

struct DemoOptions {
  std::string keep_dir;  // when set, the server's and the devices' data are left there
  bool quiet = false;    // only the checks and the verdict
};

// Runs the demo; returns 0 when every check of the story held, 1 otherwise.
int run_demo(const DemoOptions& options);

}  // namespace fieldsync::demo
