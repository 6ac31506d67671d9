// Writes the fuzz targets' seed corpus: the unit tests' sample messages in both wire forms.
// Usage: fuzz_seed_corpus <dir>   (writes <dir>/binary/ and <dir>/json/)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "fieldsync/wire_codec.h"
#include "wire_samples.h"

using namespace fieldsync;
using namespace fieldsync::wire_samples;

namespace {

void write_seed(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_corpus <dir>\n");
    return 2;
  }
  SyncRequest one_visit;
  one_visit.write_groups.push_back(visit_group(sample_id(5, 1), sample_id(6, 1), kVisitStamp, 1));
  SyncResponse one_conflict;
  one_conflict.conflicts = full_response().conflicts;
  for (const auto& [format, name] :
       {std::pair{WireFormat::kBinary, "binary"}, std::pair{WireFormat::kJson, "json"}}) {
    const std::filesystem::path dir = std::filesystem::path(argv[1]) / name;
    std::filesystem::create_directories(dir);
    write_seed(dir / "request_empty", encode_request(SyncRequest{}, format));
    write_seed(dir / "request_one_visit", encode_request(one_visit, format));
    write_seed(dir / "request_full", encode_request(full_request(), format));
    write_seed(dir / "response_empty", encode_response(SyncResponse{}, format));
    write_seed(dir / "response_one_conflict", encode_response(one_conflict, format));
    write_seed(dir / "response_full", encode_response(full_response(), format));
  }
  return 0;
}
