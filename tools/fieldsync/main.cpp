// fieldsync: the field-device command-line tool. Today it runs the demo; device commands arrive
// with the sync engine.
#include <cstdio>
#include <cstring>
#include <string>

#include "demo.h"
#include "fieldsync/fieldsync.h"

namespace {

constexpr const char* kUsage = R"(usage: fieldsync <command> [options]

commands:
  demo [--keep DIR] [--quiet]   play the whole story: three people record one child's visit
                                offline on encrypted stores, sync, meet a conflict, resolve it
                                  --keep DIR  leave the stores in DIR to inspect them
                                  --quiet     print only the checks and the verdict
  version                       print the version
  help                          print this help
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "fieldsync: %s\n\n%s", message.c_str(), kUsage);
  return 2;
}

int demo_command(int argc, char** argv) {
  fieldsync::demo::DemoOptions options;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keep" && i + 1 < argc) {
      options.keep_dir = argv[++i];
    } else if (arg == "--quiet") {
      options.quiet = true;
    } else if (arg == "--help" || arg == "-h") {
      std::printf("%s", kUsage);
      return 0;
    } else {
      return usage_error("unknown option for demo: " + arg);
    }
  }
  return fieldsync::demo::run_demo(options);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("a command is needed");
  const std::string command = argv[1];
  if (command == "demo") return demo_command(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("fieldsync %s\n", fieldsync_version());
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::printf("%s", kUsage);
    return 0;
  }
  return usage_error("unknown command: " + command);
}
