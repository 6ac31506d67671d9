// OpenSSL 3 behind fieldsync's crypto building blocks: AES-256-GCM through EVP, HKDF through
// EVP_KDF, PBKDF2, SHA-256 and the random generator.
#include "fieldsync/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <string>
#include <utility>

#include "fieldsync/error.h"

namespace fieldsync::crypto {
namespace {

// Takes OpenSSL's oldest queued error (the root cause) and clears the rest, so that a later
// failure does not report this one.
[[noreturn]] void throw_openssl_error(std::string_view what) {
  const unsigned long code = ERR_get_error();
  char detail[256] = "no detail from OpenSSL";
  if (code != 0) ERR_error_string_n(code, detail, sizeof detail);
  ERR_clear_error();
  throw Error(ErrorDomain::kCrypto, static_cast<std::int32_t>(ERR_GET_REASON(code)),
              std::string(what) + " failed: " + detail);
}

// OpenSSL counts lengths in int.
int checked_int(std::size_t size, std::string_view what) {
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw Error(ErrorCode::kTooLarge, std::string(what) + " is too large to encrypt or hash");
  }
  return static_cast<int>(size);
}

void fill_random(std::span<std::uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), checked_int(out.size(), "random request")) != 1) {
    throw_openssl_error("RAND_bytes");
  }
}

// A forked child inherits every NoncePool's unused nonces, which the parent will also use.
// Counting forks lets each pool notice and draw afresh; registration happens once, when the
// first pool is made (and so before any pool has nonces to share).
std::atomic<std::uint64_t> fork_count{0};

void count_fork_in_child() {
  fork_count.fetch_add(1, std::memory_order_relaxed);
}

void watch_forks_once() {
  static const bool registered = pthread_atfork(nullptr, nullptr, &count_fork_in_child) == 0;
  if (!registered) throw Error(ErrorCode::kInternal, "cannot register the nonce pool fork handler");
}

// Fetched once: an implicit fetch on every seal would cost a provider lookup per value.
const EVP_CIPHER* aes_256_gcm() {
  static const std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), &EVP_CIPHER_free);
  if (!cipher) throw_openssl_error("fetching AES-256-GCM");
  return cipher.get();
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// A GCM context keyed for one message, with the format byte and the caller's additional data
// already authenticated. The format byte is covered so that a future format cannot be passed
// off as this one.
CipherContext start_gcm(const SecretKey& key, std::span<const std::uint8_t> nonce,
                        std::span<const std::uint8_t> aad, bool encrypting) {
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!context) throw_openssl_error("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex2(context.get(), aes_256_gcm(), key.bytes().data(), nonce.data(),
                         encrypting ? 1 : 0, nullptr) != 1) {
    throw_openssl_error("starting AES-256-GCM");
  }
  int unused = 0;
  if (EVP_CipherUpdate(context.get(), nullptr, &unused, &kSealFormatV1, 1) != 1 ||
      (!aad.empty() && EVP_CipherUpdate(context.get(), nullptr, &unused, aad.data(),
                                        checked_int(aad.size(), "additional data")) != 1)) {
    throw_openssl_error("authenticating additional data");
  }
  return context;
}

struct SealedParts {
  std::span<const std::uint8_t> nonce;
  std::span<const std::uint8_t> ciphertext;
  std::span<const std::uint8_t> tag;
};

SealedParts split_sealed(std::span<const std::uint8_t> sealed) {
  if (sealed.size() < kSealOverhead || sealed[0] != kSealFormatV1) {
    throw Error(ErrorCode::kIntegrity, "sealed data is truncated or of an unknown format");
  }
  return {sealed.subspan(1, kNonceSize),
          sealed.subspan(1 + kNonceSize, sealed.size() - kSealOverhead), sealed.last(kTagSize)};
}

// Decrypts into `out` (sized for the ciphertext). On failure `out` is wiped before the throw:
// unauthenticated plaintext must not be left lying around for anyone to use.
void open_into(const SecretKey& key, std::span<const std::uint8_t> aad, const SealedParts& parts,
               std::span<std::uint8_t> out) {
  CipherContext context = start_gcm(key, parts.nonce, aad, false);
  int written = 0;
  if (!parts.ciphertext.empty() &&
      EVP_DecryptUpdate(context.get(), out.data(), &written, parts.ciphertext.data(),
                        checked_int(parts.ciphertext.size(), "ciphertext")) != 1) {
    throw_openssl_error("AES-256-GCM decryption");
  }
  // OpenSSL takes the expected tag through a non-const pointer but only reads it.
  auto* tag = const_cast<std::uint8_t*>(parts.tag.data());
  int final_written = 0;
  if (EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize, tag) != 1) {
    throw_openssl_error("setting the GCM tag");
  }
  if (EVP_DecryptFinal_ex(context.get(), out.data() + written, &final_written) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    ERR_clear_error();
    throw Error(ErrorCode::kIntegrity,
                "sealed data failed authentication: altered, or another key or binding");
  }
}

template <typename Buffer>
Buffer open_as(const SecretKey& key, std::span<const std::uint8_t> aad,
               std::span<const std::uint8_t> sealed) {
  const SealedParts parts = split_sealed(sealed);
  Buffer out(parts.ciphertext.size());
  open_into(key, aad, parts, {out.data(), out.size()});
  return out;
}

// OSSL_PARAM wants a mutable pointer for inputs it only reads.
OSSL_PARAM octet_param(const char* name, std::span<const std::uint8_t> bytes) {
  return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(bytes.data()),
                                           bytes.size());
}

}  // namespace

SecretBytes::SecretBytes(std::size_t size)
    : data_(size == 0 ? nullptr : std::make_unique<std::uint8_t[]>(size)), size_(size) {}

SecretBytes SecretBytes::copy_of(std::span<const std::uint8_t> bytes) {
  SecretBytes copy(bytes.size());
  std::copy(bytes.begin(), bytes.end(), copy.data());
  return copy;
}

SecretBytes::~SecretBytes() {
  wipe();
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes SecretBytes::clone() const {
  return copy_of(view());
}

void SecretBytes::wipe() noexcept {
  if (data_) OPENSSL_cleanse(data_.get(), size_);
}

SecretKey::SecretKey(SecretBytes bytes) : bytes_(std::move(bytes)) {
  if (bytes_.size() != kKeySize) {
    throw Error(ErrorCode::kInvalidArgument,
                "a key must be 32 bytes, not " + std::to_string(bytes_.size()));
  }
}

SecretKey SecretKey::random() {
  SecretBytes bytes(kKeySize);
  // The private generator: key material never shares a DRBG with values that go out in clear.
  if (RAND_priv_bytes(bytes.data(), static_cast<int>(kKeySize)) != 1) {
    throw_openssl_error("RAND_priv_bytes");
  }
  return SecretKey(std::move(bytes));
}

std::span<const std::uint8_t, kKeySize> SecretKey::bytes() const {
  if (bytes_.size() != kKeySize) {
    throw Error(ErrorCode::kInternal, "a key was used after it was moved from");
  }
  return std::span<const std::uint8_t, kKeySize>(bytes_.data(), kKeySize);
}

NoncePool::NoncePool(std::size_t batch_size) : batch_size_(batch_size) {
  if (batch_size == 0) throw Error(ErrorCode::kInvalidArgument, "a nonce batch cannot be empty");
  watch_forks_once();
  fork_count_at_refill_ = fork_count.load(std::memory_order_relaxed);
}

NoncePool::Nonce NoncePool::next() {
  std::lock_guard lock(mutex_);
  const std::uint64_t forks = fork_count.load(std::memory_order_relaxed);
  if (forks != fork_count_at_refill_ || next_offset_ == batch_.size()) {
    refill();
    fork_count_at_refill_ = forks;
  }
  Nonce nonce;
  std::copy_n(batch_.begin() + static_cast<std::ptrdiff_t>(next_offset_), kNonceSize,
              nonce.begin());
  next_offset_ += kNonceSize;
  return nonce;
}

void NoncePool::refill() {
  batch_.resize(batch_size_ * kNonceSize);
  next_offset_ = batch_.size();  // stays empty if the generator fails
  fill_random(batch_);
  next_offset_ = 0;
}

NoncePool& NoncePool::process_wide() {
  static NoncePool pool;
  return pool;
}

Bytes seal(const SecretKey& key, std::span<const std::uint8_t> aad,
           std::span<const std::uint8_t> plaintext, NoncePool& nonces) {
  const int plaintext_size = checked_int(plaintext.size(), "plaintext");
  const NoncePool::Nonce nonce = nonces.next();
  Bytes sealed(kSealOverhead + plaintext.size());
  sealed[0] = kSealFormatV1;
  std::copy(nonce.begin(), nonce.end(), sealed.begin() + 1);
  std::uint8_t* const ciphertext = sealed.data() + 1 + kNonceSize;

  CipherContext context = start_gcm(key, nonce, aad, true);
  int written = 0;
  if (plaintext_size > 0 && EVP_EncryptUpdate(context.get(), ciphertext, &written, plaintext.data(),
                                              plaintext_size) != 1) {
    throw_openssl_error("AES-256-GCM encryption");
  }
  int final_written = 0;
  if (EVP_EncryptFinal_ex(context.get(), ciphertext + written, &final_written) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize,
                          ciphertext + plaintext.size()) != 1) {
    throw_openssl_error("finishing AES-256-GCM encryption");
  }
  return sealed;
}

Bytes open(const SecretKey& key, std::span<const std::uint8_t> aad,
           std::span<const std::uint8_t> sealed) {
  return open_as<Bytes>(key, aad, sealed);
}

SecretBytes open_secret(const SecretKey& key, std::span<const std::uint8_t> aad,
                        std::span<const std::uint8_t> sealed) {
  return open_as<SecretBytes>(key, aad, sealed);
}

AadBuilder::AadBuilder(std::string_view purpose, std::uint8_t format_version) {
  add(purpose);
  bytes_.push_back(format_version);
}

AadBuilder& AadBuilder::add(std::span<const std::uint8_t> part) {
  if (part.size() > UINT32_MAX) throw Error(ErrorCode::kTooLarge, "additional data part");
  const auto size = static_cast<std::uint32_t>(part.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<std::uint8_t>(size >> shift));
  }
  bytes_.insert(bytes_.end(), part.begin(), part.end());
  return *this;
}

AadBuilder& AadBuilder::add(std::string_view part) {
  return add(as_bytes(part));
}

Bytes record_field_aad(std::string_view purpose, std::uint8_t format_version, const Uuid& store_id,
                       std::string_view collection, const Uuid& record_id, std::string_view field) {
  return AadBuilder(purpose, format_version)
      .add(store_id)
      .add(collection)
      .add(record_id)
      .add(field)
      .bytes();
}

SecretBytes hkdf_sha256(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                        std::span<const std::uint8_t> info, std::size_t out_len) {
  if (out_len == 0 || out_len > 255 * 32) {
    throw Error(ErrorCode::kInvalidArgument, "HKDF-SHA256 gives 1 to 8160 bytes");
  }
  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr),
                                                        &EVP_KDF_free);
  if (!kdf) throw_openssl_error("fetching HKDF");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> context(EVP_KDF_CTX_new(kdf.get()),
                                                                    &EVP_KDF_CTX_free);
  if (!context) throw_openssl_error("EVP_KDF_CTX_new");

  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  std::size_t count = 0;
  params[count++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[count++] = octet_param(OSSL_KDF_PARAM_KEY, ikm);
  // Absent and empty are the same in RFC 5869; OpenSSL prefers absent.
  if (!salt.empty()) params[count++] = octet_param(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[count++] = octet_param(OSSL_KDF_PARAM_INFO, info);
  params[count] = OSSL_PARAM_construct_end();

  SecretBytes out(out_len);
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), params) != 1) {
    throw_openssl_error("HKDF-SHA256");
  }
  return out;
}

SecretBytes pbkdf2_sha256(std::string_view passcode, std::span<const std::uint8_t> salt,
                          std::uint32_t iterations, std::size_t out_len) {
  if (iterations == 0 || iterations > static_cast<std::uint32_t>(INT_MAX) || out_len == 0) {
    throw Error(ErrorCode::kInvalidArgument, "PBKDF2 needs 1 to 2^31-1 iterations and output");
  }
  SecretBytes out(out_len);
  if (PKCS5_PBKDF2_HMAC(passcode.data(), checked_int(passcode.size(), "passcode"), salt.data(),
                        checked_int(salt.size(), "salt"), static_cast<int>(iterations),
                        EVP_sha256(), checked_int(out_len, "PBKDF2 output"), out.data()) != 1) {
    throw_openssl_error("PBKDF2-HMAC-SHA256");
  }
  return out;
}

Bytes sha256(std::span<const std::uint8_t> bytes) {
  Bytes digest(32);
  unsigned int digest_size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &digest_size, EVP_sha256(), nullptr) !=
      1) {
    throw_openssl_error("SHA-256");
  }
  return digest;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const std::uint8_t byte : bytes) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xF]);
  }
  return hex;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  fill_random(out);
  return out;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace fieldsync::crypto
