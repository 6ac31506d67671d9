// Tests of the crypto building blocks: sealing and its bindings, nonces, secret buffers, and
// the KDFs and hash against published test vectors.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto_test_support.h"
#include "fieldsync/crypto.h"
#include "fieldsync/error.h"

using namespace fieldsync;
using testing::copy_bytes;
using testing::text_bytes;

namespace {

Bytes from_hex(std::string_view hex) {
  Bytes bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(
        static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

bool throws_integrity_error(const std::function<void()>& action) {
  return testing::throws_code(ErrorCode::kIntegrity, action);
}

crypto::NoncePool::Nonce nonce_of(const Bytes& sealed) {
  crypto::NoncePool::Nonce nonce;
  std::copy_n(sealed.begin() + 1, crypto::kNonceSize, nonce.begin());
  return nonce;
}

const Uuid kStoreId = Uuid::random_v4();
const Uuid kOtherStoreId = Uuid::random_v4();
const Uuid kRecordId = Uuid::random_v4();
const Uuid kOtherRecordId = Uuid::random_v4();

Bytes visit_aad(std::string_view field) {
  return crypto::record_field_aad("record", 1, kStoreId, "visit", kRecordId, field);
}

}  // namespace

TEST_CASE("seal and open round trip", "[crypto]") {
  const crypto::SecretKey key = crypto::SecretKey::random();
  const Bytes aad = visit_aad("seen_alone");

  SECTION("a 1 KB value") {
    const Bytes value = crypto::random_bytes(1024);
    const Bytes sealed = crypto::seal(key, aad, value);
    REQUIRE(sealed.size() == value.size() + crypto::kSealOverhead);
    REQUIRE(sealed[0] == crypto::kSealFormatV1);
    REQUIRE(crypto::open(key, aad, sealed) == value);
    REQUIRE(copy_bytes(crypto::open_secret(key, aad, sealed)) == value);
  }
  SECTION("an empty value") {
    const Bytes sealed = crypto::seal(key, aad, Bytes{});
    REQUIRE(sealed.size() == crypto::kSealOverhead);
    REQUIRE(crypto::open(key, aad, sealed).empty());
  }
  SECTION("empty additional data") {
    const Bytes sealed = crypto::seal(key, Bytes{}, text_bytes("note"));
    REQUIRE(crypto::open(key, Bytes{}, sealed) == text_bytes("note"));
  }
  SECTION("the same value sealed twice gives different blobs") {
    REQUIRE(crypto::seal(key, aad, text_bytes("yes")) != crypto::seal(key, aad, text_bytes("yes")));
  }
}

TEST_CASE("a sealed blob altered in any way does not open", "[crypto]") {
  const crypto::SecretKey key = crypto::SecretKey::random();
  const Bytes aad = visit_aad("reason");
  const Bytes sealed = crypto::seal(key, aad, text_bytes("child seen alone in bedroom"));

  SECTION("any single byte flipped") {
    for (std::size_t i = 0; i < sealed.size(); ++i) {
      for (const std::uint8_t mask : {0x01, 0x80, 0xFF}) {
        Bytes altered = sealed;
        altered[i] ^= mask;
        INFO("byte " << i << " mask " << int{mask});
        REQUIRE(throws_integrity_error([&] { crypto::open(key, aad, altered); }));
      }
    }
  }
  SECTION("truncated or extended") {
    for (std::size_t size = 0; size < sealed.size(); ++size) {
      const Bytes truncated(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(size));
      INFO("size " << size);
      REQUIRE(throws_integrity_error([&] { crypto::open(key, aad, truncated); }));
    }
    Bytes extended = sealed;
    extended.push_back(0);
    REQUIRE(throws_integrity_error([&] { crypto::open(key, aad, extended); }));
  }
  SECTION("opened with another key") {
    const crypto::SecretKey other = crypto::SecretKey::random();
    REQUIRE(throws_integrity_error([&] { crypto::open_secret(other, aad, sealed); }));
  }
}

TEST_CASE("a sealed value bound to one field does not open as another", "[crypto]") {
  const crypto::SecretKey key = crypto::SecretKey::random();
  const Bytes sealed = crypto::seal(key, visit_aad("seen"), text_bytes("true"));
  const auto opens_with = [&](const Bytes& aad) {
    return !throws_integrity_error([&] { crypto::open(key, aad, sealed); });
  };

  REQUIRE(opens_with(visit_aad("seen")));
  REQUIRE_FALSE(opens_with(visit_aad("seen_alone")));
  REQUIRE_FALSE(
      opens_with(crypto::record_field_aad("record", 1, kStoreId, "visit", kOtherRecordId, "seen")));
  REQUIRE_FALSE(
      opens_with(crypto::record_field_aad("record", 1, kOtherStoreId, "visit", kRecordId, "seen")));
  REQUIRE_FALSE(
      opens_with(crypto::record_field_aad("record", 1, kStoreId, "assessment", kRecordId, "seen")));
  REQUIRE_FALSE(
      opens_with(crypto::record_field_aad("outbox", 1, kStoreId, "visit", kRecordId, "seen")));
  REQUIRE_FALSE(
      opens_with(crypto::record_field_aad("record", 2, kStoreId, "visit", kRecordId, "seen")));
}

TEST_CASE("additional data parts cannot run into each other", "[crypto]") {
  const auto parts = [](std::string_view first, std::string_view second) {
    return crypto::AadBuilder("purpose", 1).add(first).add(second).bytes();
  };
  REQUIRE(parts("ab", "c") != parts("a", "bc"));
  REQUIRE(parts("", "abc") != parts("abc", ""));
  REQUIRE(crypto::AadBuilder("ab", 1).add("c").bytes() !=
          crypto::AadBuilder("a", 1).add("bc").bytes());
  REQUIRE(crypto::AadBuilder("p", 1).bytes() != crypto::AadBuilder("p", 2).bytes());
}

TEST_CASE("nonces never repeat", "[crypto]") {
  SECTION("across 100,000 seals") {
    const crypto::SecretKey key = crypto::SecretKey::random();
    const Bytes value = text_bytes("x");
    std::set<crypto::NoncePool::Nonce> seen;
    for (int i = 0; i < 100'000; ++i) {
      REQUIRE(seen.insert(nonce_of(crypto::seal(key, {}, value))).second);
    }
  }
  SECTION("across threads sharing a pool") {
    crypto::NoncePool pool(16);  // small batches, so that refills race
    constexpr int kThreads = 4;
    constexpr int kPerThread = 20'000;
    std::vector<std::vector<crypto::NoncePool::Nonce>> drawn(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&pool, &mine = drawn[t]] {
        for (int i = 0; i < kPerThread; ++i) mine.push_back(pool.next());
      });
    }
    for (auto& thread : threads) thread.join();
    std::set<crypto::NoncePool::Nonce> seen;
    for (const auto& mine : drawn) seen.insert(mine.begin(), mine.end());
    REQUIRE(seen.size() == kThreads * kPerThread);
  }
  SECTION("in a forked child, which must not reuse its parent's batch") {
    crypto::NoncePool pool;
    pool.next();  // fills a batch that the child inherits
    int pipe_ends[2];
    REQUIRE(::pipe(pipe_ends) == 0);
    std::fflush(nullptr);  // or the child's exit could repeat buffered output
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const crypto::NoncePool::Nonce nonce = pool.next();
      const bool sent =
          ::write(pipe_ends[1], nonce.data(), nonce.size()) == static_cast<ssize_t>(nonce.size());
      ::_exit(sent ? 0 : 1);
    }
    crypto::NoncePool::Nonce from_child{};
    const ssize_t got = ::read(pipe_ends[0], from_child.data(), from_child.size());
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(pipe_ends[0]);
    ::close(pipe_ends[1]);
    REQUIRE(got == static_cast<ssize_t>(from_child.size()));
    REQUIRE(pool.next() != from_child);
  }
}

TEST_CASE("secret keys and buffers", "[crypto]") {
  SECTION("a key is 32 bytes and nothing else") {
    REQUIRE_THROWS_AS(crypto::SecretKey(crypto::SecretBytes(16)), Error);
    REQUIRE_NOTHROW(crypto::SecretKey(crypto::SecretBytes(32)));
  }
  SECTION("a moved-from key holds nothing and cannot be used") {
    crypto::SecretKey key = crypto::SecretKey::random();
    const Bytes before = copy_bytes(key.bytes());
    crypto::SecretKey moved = std::move(key);
    REQUIRE(copy_bytes(moved.bytes()) == before);
    try {
      (void)key.bytes();  // on purpose: the point of the test
      FAIL("a moved-from key was usable");
    } catch (const Error& error) {
      REQUIRE(error.is(ErrorCode::kInternal));
    }
  }
  SECTION("clone is an independent copy") {
    const crypto::SecretKey key = crypto::SecretKey::random();
    const crypto::SecretKey twin = key.clone();
    REQUIRE(copy_bytes(twin.bytes()) == copy_bytes(key.bytes()));
    REQUIRE(twin.bytes().data() != key.bytes().data());
  }
  SECTION("a moved-from buffer is empty") {
    crypto::SecretBytes secret = crypto::SecretBytes::copy_of(text_bytes("passcode-derived"));
    crypto::SecretBytes taken = std::move(secret);
    REQUIRE(secret.empty());
    REQUIRE(copy_bytes(taken) == text_bytes("passcode-derived"));
  }
  SECTION("two random keys differ") {
    REQUIRE(copy_bytes(crypto::SecretKey::random().bytes()) !=
            copy_bytes(crypto::SecretKey::random().bytes()));
  }
}

TEST_CASE("HKDF-SHA256 matches RFC 5869", "[crypto]") {
  const Bytes ikm(22, 0x0b);
  SECTION("test case 1") {
    const crypto::SecretBytes okm = crypto::hkdf_sha256(ikm, from_hex("000102030405060708090a0b0c"),
                                                        from_hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    REQUIRE(copy_bytes(okm) ==
            from_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                     "34007208d5b887185865"));
  }
  SECTION("test case 3: no salt, no info") {
    const crypto::SecretBytes okm = crypto::hkdf_sha256(ikm, {}, {}, 42);
    REQUIRE(copy_bytes(okm) ==
            from_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                     "9d201395faa4b61a96c8"));
  }
}

TEST_CASE("PBKDF2-HMAC-SHA256 matches published vectors", "[crypto]") {
  SECTION("RFC 7914 section 11, one iteration") {
    const crypto::SecretBytes key = crypto::pbkdf2_sha256("passwd", text_bytes("salt"), 1, 64);
    REQUIRE(copy_bytes(key) ==
            from_hex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"));
  }
  SECTION("4096 iterations") {
    const crypto::SecretBytes key = crypto::pbkdf2_sha256("password", text_bytes("salt"), 4096);
    REQUIRE(copy_bytes(key) ==
            from_hex("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"));
  }
  SECTION("zero iterations are refused") {
    REQUIRE_THROWS_AS(crypto::pbkdf2_sha256("password", text_bytes("salt"), 0), Error);
  }
}

TEST_CASE("SHA-256, randomness and comparison", "[crypto]") {
  REQUIRE(crypto::sha256(text_bytes("abc")) ==
          from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  REQUIRE(crypto::random_bytes(0).empty());
  REQUIRE(crypto::random_bytes(32).size() == 32);
  REQUIRE(crypto::random_bytes(32) != crypto::random_bytes(32));
  REQUIRE(crypto::constant_time_equal(text_bytes("token"), text_bytes("token")));
  REQUIRE_FALSE(crypto::constant_time_equal(text_bytes("token"), text_bytes("tokem")));
  REQUIRE_FALSE(crypto::constant_time_equal(text_bytes("token"), text_bytes("token2")));
  REQUIRE(crypto::constant_time_equal(Bytes{}, Bytes{}));
}
