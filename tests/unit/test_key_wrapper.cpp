// Tests of the key wrappers: the contract, run against the desktop file wrapper and the
// in-memory fake alike, then what only the file wrapper does (its file, its mode, its removal).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "crypto_test_support.h"
#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "store_fixture.h"  // for TempDir

using namespace fieldsync;
namespace fs = std::filesystem;
using testing::copy_bytes;
using testing::TempDir;

namespace {

bool throws_integrity_error(const std::function<void()>& action) {
  return testing::throws_code(ErrorCode::kIntegrity, action);
}

}  // namespace

TEST_CASE("key wrappers keep the contract", "[keys]") {
  const bool file_backed = GENERATE(true, false);
  TempDir dir;
  std::unique_ptr<platform::KeyWrapper> wrapper;
  if (file_backed) {
    wrapper = std::make_unique<platform::FileKeyWrapper>(dir.path() / "platform.key");
  } else {
    wrapper = std::make_unique<platform::MemoryKeyWrapper>();
  }
  INFO((file_backed ? "FileKeyWrapper" : "MemoryKeyWrapper"));

  const Bytes secret = crypto::random_bytes(32);
  const Bytes wrapped = wrapper->wrap(secret);
  REQUIRE(copy_bytes(wrapper->unwrap(wrapped)) == secret);

  SECTION("one key wraps many secrets") {
    const Bytes second = crypto::random_bytes(32);
    REQUIRE(copy_bytes(wrapper->unwrap(wrapper->wrap(second))) == second);
    REQUIRE(copy_bytes(wrapper->unwrap(wrapped)) == secret);
  }
  SECTION("a tampered blob is an integrity error") {
    for (std::size_t i = 0; i < wrapped.size(); ++i) {
      Bytes tampered = wrapped;
      tampered[i] ^= 0x40;
      INFO("byte " << i);
      REQUIRE(throws_integrity_error([&] { wrapper->unwrap(tampered); }));
    }
  }
  SECTION("after destroy nothing it wrapped unwraps") {
    wrapper->destroy();
    REQUIRE(throws_integrity_error([&] { wrapper->unwrap(wrapped); }));
    wrapper->destroy();  // harmless twice
    SECTION("not even once wrap() has made a new key") {
      const Bytes fresh = wrapper->wrap(secret);
      REQUIRE(copy_bytes(wrapper->unwrap(fresh)) == secret);
      REQUIRE(throws_integrity_error([&] { wrapper->unwrap(wrapped); }));
    }
  }
}

TEST_CASE("the file key wrapper keeps its key in a private file", "[keys]") {
  TempDir dir;
  const fs::path key_file = dir.path() / "platform.key";
  platform::FileKeyWrapper wrapper(key_file);
  const Bytes secret = crypto::random_bytes(32);

  SECTION("no file until the first wrap") {
    REQUIRE_FALSE(fs::exists(key_file));
    REQUIRE(throws_integrity_error([&] { wrapper.unwrap(crypto::random_bytes(61)); }));
  }

  const Bytes wrapped = wrapper.wrap(secret);

  SECTION("the file holds one key, readable by its owner only, and nothing is left beside it") {
    struct stat info {};
    REQUIRE(::stat(key_file.c_str(), &info) == 0);
    REQUIRE((info.st_mode & 07777) == 0600);
    REQUIRE(info.st_size == static_cast<off_t>(crypto::kKeySize));
    REQUIRE(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
  }
  SECTION("another instance on the same file unwraps") {
    platform::FileKeyWrapper reopened(key_file);
    REQUIRE(copy_bytes(reopened.unwrap(wrapped)) == secret);
  }
  SECTION("destroy deletes the file") {
    wrapper.destroy();
    REQUIRE_FALSE(fs::exists(key_file));
    REQUIRE(throws_integrity_error([&] { wrapper.unwrap(wrapped); }));
  }
  SECTION("a damaged key file is an integrity error") {
    std::ofstream(key_file, std::ios::binary | std::ios::app) << 'x';
    REQUIRE(throws_integrity_error([&] { wrapper.unwrap(wrapped); }));
  }
}
