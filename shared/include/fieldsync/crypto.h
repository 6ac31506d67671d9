// The cryptographic building blocks of fieldsync: secret buffers that wipe themselves,
// AES-256-GCM sealing with batched random nonces, key derivation (HKDF, PBKDF2), SHA-256 and
// randomness. The device's encrypted store and the platform key wrappers build on these; the
// server uses them for token hashes. OpenSSL 3 does the work; no OpenSSL type leaves this file.
//
// Failures of OpenSSL itself throw Error(ErrorDomain::kCrypto, ...). Ciphertext that does not
// authenticate throws Error(ErrorCode::kIntegrity): open() never returns unauthenticated bytes.
//
// Threading: the free functions are thread-safe. SecretBytes and SecretKey are plain values
// (one thread at a time per object, const access from many). NoncePool is thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "fieldsync/uuid.h"
#include "fieldsync/value.h"

namespace fieldsync::crypto {

inline constexpr std::size_t kKeySize = 32;    // AES-256
inline constexpr std::size_t kNonceSize = 12;  // the GCM nonce size that needs no extra hashing
inline constexpr std::size_t kTagSize = 16;
// The first byte of every sealed blob, so the layout can change without guessing.
inline constexpr std::uint8_t kSealFormatV1 = 1;
inline constexpr std::size_t kSealOverhead = 1 + kNonceSize + kTagSize;
// OWASP's 2023 floor for PBKDF2-HMAC-SHA256; DESIGN.md section 5 requires at least this.
inline constexpr std::uint32_t kPbkdf2DefaultIterations = 600'000;

// Bytes that must not outlive their use: key plaintext, passcode-derived material. Wiped with
// OPENSSL_cleanse when destroyed or overwritten. Never copied by accident (clone() is the
// explicit copy); a moved-from buffer is empty. Its size is fixed at construction so that no
// reallocation leaves an unwiped copy behind.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size);  // zero-filled
  static SecretBytes copy_of(std::span<const std::uint8_t> bytes);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes clone() const;

  std::uint8_t* data() { return data_.get(); }
  const std::uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<std::uint8_t> writable() { return {data_.get(), size_}; }
  std::span<const std::uint8_t> view() const { return {data_.get(), size_}; }
  operator std::span<const std::uint8_t>() const { return view(); }

 private:
  void wipe() noexcept;

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
};

// A 256-bit symmetric key. Move-only (clone() is the explicit copy); wiped on destruction. A
// moved-from key holds nothing, and using it throws Error(kInternal) rather than encrypting
// under an empty key.
class SecretKey {
 public:
  // Takes 32 bytes; throws Error(kInvalidArgument) for any other size.
  explicit SecretKey(SecretBytes bytes);
  static SecretKey random();

  SecretKey(SecretKey&&) noexcept = default;
  SecretKey& operator=(SecretKey&&) noexcept = default;
  SecretKey clone() const { return SecretKey(bytes_.clone()); }

  std::span<const std::uint8_t, kKeySize> bytes() const;

 private:
  SecretBytes bytes_;
};

// Hands out random GCM nonces, refilling `batch_size` of them with one RAND_bytes call: per
// DESIGN.md section 5 a call per value costs more than encrypting a small value. Nonces are
// random, never counters, so a crash or a restored backup cannot repeat one. A forked child
// discards the batch it inherited (the parent would hand out the same nonces). Random 96-bit
// nonces stay safe for up to 2^32 seals under one key (NIST SP 800-38D); a case's data key and
// the store key seal far fewer. Thread-safe.
class NoncePool {
 public:
  using Nonce = std::array<std::uint8_t, kNonceSize>;
  // Measured on one server core with 1 KB values: a RAND_bytes call costs about 1.2 us and a
  // seal about 1 us, so one draw per seal takes it to about 2.5 us. From 64 nonces per draw the
  // draw's share is lost in the noise; 256 (3 KB per draw) leaves it under 1%.
  static constexpr std::size_t kDefaultBatchSize = 256;

  explicit NoncePool(std::size_t batch_size = kDefaultBatchSize);
  Nonce next();
  // The pool seal() uses unless told otherwise.
  static NoncePool& process_wide();

 private:
  void refill();  // mutex_ held

  const std::size_t batch_size_;
  std::mutex mutex_;
  // Guarded by mutex_:
  Bytes batch_;
  std::size_t next_offset_ = 0;
  std::uint64_t fork_count_at_refill_ = 0;
};

// Encrypts and authenticates `plaintext`, binding it to `aad` (which is not stored: open()
// must be given the same bytes). Layout: format byte | 12-byte nonce | ciphertext | 16-byte
// tag. The format byte is authenticated too.
Bytes seal(const SecretKey& key, std::span<const std::uint8_t> aad,
           std::span<const std::uint8_t> plaintext, NoncePool& nonces = NoncePool::process_wide());
// Reverses seal(). Throws Error(kIntegrity) when the blob is malformed, of an unknown format,
// altered, sealed under another key or bound to other additional data.
Bytes open(const SecretKey& key, std::span<const std::uint8_t> aad,
           std::span<const std::uint8_t> sealed);
// As open(), for plaintext that is itself secret (keys): the result wipes itself.
SecretBytes open_secret(const SecretKey& key, std::span<const std::uint8_t> aad,
                        std::span<const std::uint8_t> sealed);

// Builds additional data from parts that cannot run into each other: a purpose and a format
// version first, then each part as a 4-byte big-endian length and its bytes. ("ab", "c") and
// ("a", "bc") therefore give different bytes. Plain value; one thread at a time.
class AadBuilder {
 public:
  AadBuilder(std::string_view purpose, std::uint8_t format_version);
  AadBuilder& add(std::span<const std::uint8_t> part);
  AadBuilder& add(std::string_view part);
  AadBuilder& add(const Uuid& id) { return add(std::span<const std::uint8_t>(id.bytes())); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

// The additional data of a ciphertext held in one field of one record of a store.
Bytes record_field_aad(std::string_view purpose, std::uint8_t format_version, const Uuid& store_id,
                       std::string_view collection, const Uuid& record_id, std::string_view field);

// HKDF-SHA256 (RFC 5869), extract then expand. An empty salt means HashLen zero bytes.
SecretBytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                        std::span<const std::uint8_t> info, std::size_t out_len);
// PBKDF2-HMAC-SHA256 (RFC 8018). Slow on purpose: about a quarter of a second at the default
// count on one server core, longer on a phone, so call it off any thread that must stay
// responsive.
SecretBytes pbkdf2_sha256(std::string_view passcode, std::span<const std::uint8_t> salt,
                          std::uint32_t iterations, std::size_t out_len = kKeySize);
Bytes sha256(std::span<const std::uint8_t> bytes);
// Lower-case hex, two digits a byte (digests and token parts shown to people and logs).
std::string to_hex(std::span<const std::uint8_t> bytes);
// Public randomness (salts, ids, tokens that the caller stores hashed).
Bytes random_bytes(std::size_t n);
// Equal sizes and equal contents, in time that depends on the size only.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// A view of text as bytes, for AAD and KDF labels.
inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace fieldsync::crypto
