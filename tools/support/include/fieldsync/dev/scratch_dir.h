// Scratch space for tests, the demo and the benchmarks: a fresh directory removed with all it
// holds when the object goes, and whole-file reads (to scan a store's raw bytes). Development
// support only. One thread at a time per object.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace fieldsync::dev {

class ScratchDir {
 public:
  // A new directory "<prefix>-XXXXXX" inside `parent` (the system's temp dir by default). Where
  // it goes matters to benchmarks: fsync costs differ between file systems.
  explicit ScratchDir(const std::filesystem::path& parent = std::filesystem::temp_directory_path(),
                      const std::string& prefix = "fieldsync") {
    std::string pattern = (parent / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) {
      throw std::system_error(errno, std::generic_category(),
                              "cannot create a scratch directory in " + parent.string());
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The whole file's bytes; empty when it does not exist.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace fieldsync::dev
