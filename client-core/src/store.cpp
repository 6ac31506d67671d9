// Store: lifecycle (create, open, unlock, lock, wipe), keys, sealing and meta values. The write
// path and reads are in store_records.cpp, sync in store_sync.cpp.
#include "fieldsync/client/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "store_format.h"
#include "store_impl.h"

namespace fieldsync::client {
namespace {

// The format of everything sealed in the store, bound into the additional data.
constexpr std::uint8_t kSealedFormat = 1;

// Meta keys.
constexpr std::string_view kStoreIdKey = "store_id";
constexpr std::string_view kDeviceIdKey = "device_id";
constexpr std::string_view kUserIdKey = "user_id";
constexpr std::string_view kKdfVersionKey = "kdf_version";
constexpr std::string_view kKdfIterationsKey = "kdf_iterations";
constexpr std::string_view kKdfSaltKey = "kdf_salt";
constexpr std::string_view kWrappedPlatformSecretKey = "wrapped_platform_secret";
constexpr std::string_view kWrappedStoreKeyKey = "wrapped_store_key";
constexpr std::string_view kFailedUnlocksKey = "failed_unlocks";
constexpr std::string_view kTokenKey = "token";

// How far the time elapsed since the anchor may differ between the wall clock and the monotonic
// clock for the anchor to be trusted: see restore_clock_anchor.
constexpr std::int64_t kAnchorAgreementMs = 60'000;

std::string_view purpose_name(SealPurpose purpose) {
  switch (purpose) {
    case SealPurpose::kRecord: return "record";
    case SealPurpose::kOutbox: return "outbox";
    case SealPurpose::kConflict: return "conflict";
    case SealPurpose::kRejection: return "rejection";
    case SealPurpose::kStoreSecret: return "store-secret";
  }
  return "?";
}

// Padding hides a unit's exact length (and so which optional fields it holds): lengths are
// rounded up to a multiple of kPadSmall, and of kPadLarge beyond it.
constexpr std::size_t kPadSmall = 256;
constexpr std::size_t kPadLarge = 4096;

Bytes pad(std::span<const std::uint8_t> plaintext) {
  const std::size_t needed = plaintext.size() + 4;
  const std::size_t step = needed <= kPadLarge ? kPadSmall : kPadLarge;
  Bytes padded((needed + step - 1) / step * step, 0);
  const auto length = static_cast<std::uint32_t>(plaintext.size());
  for (int i = 0; i < 4; ++i) padded[i] = static_cast<std::uint8_t>(length >> (8 * i));
  std::copy(plaintext.begin(), plaintext.end(), padded.begin() + 4);
  return padded;
}

Bytes unpad(const Bytes& padded) {
  if (padded.size() < 4) throw Error(ErrorCode::kIntegrity, "a sealed unit is too short");
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length |= std::uint32_t{padded[i]} << (8 * i);
  if (length > padded.size() - 4) throw Error(ErrorCode::kIntegrity, "a sealed unit is corrupt");
  return Bytes(padded.begin() + 4, padded.begin() + 4 + length);
}

void remove_file_if_present(const std::string& path) {
  if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
    throw Error(ErrorDomain::kPosix, errno, "cannot delete " + path);
  }
}

}  // namespace

std::string_view to_string(StoreState state) {
  switch (state) {
    case StoreState::kLocked: return "locked";
    case StoreState::kUnlocked: return "unlocked";
    case StoreState::kCheckInRequired: return "check_in_required";
    case StoreState::kWiped: return "wiped";
  }
  return "?";
}

Store::Impl::Impl(const StoreOptions& options, bool create)
    : options_(options),
      schema_(options.schema ? *options.schema : Schema::domain()),
      clock_source_(options.clock ? *options.clock : SystemClockSource::instance()),
      wrapper_(*options.key_wrapper),
      hlc_(clock_source_),
      ids_(clock_source_) {
  const auto mode = create ? sqlite::Database::Mode::kReadWriteCreate
                           : sqlite::Database::Mode::kReadWrite;
  writer_ = std::make_unique<sqlite::Database>(options_.path, mode);
  configure_connection(*writer_);
  migrate_store(*writer_);
  reader_ = std::make_unique<sqlite::Database>(options_.path, sqlite::Database::Mode::kReadWrite);
  configure_connection(*reader_);
}

void Store::Impl::initialise_new(std::string_view passcode, const DeviceIdentity& identity) {
  if (identity.device_id.is_nil() || identity.user_id.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "a store needs a device id and a user id");
  }
  store_id_ = Uuid::random_v4();
  identity_ = identity;
  CreatedVault vault = KeyVault::create(passcode, wrapper_, options_.kdf_iterations);

  std::lock_guard write_lock(write_mutex_);
  sqlite::Transaction transaction(*writer_);
  set_meta(kStoreIdKey, store_id_.bytes());
  set_meta(kDeviceIdKey, identity.device_id.bytes());
  set_meta(kUserIdKey, crypto::as_bytes(identity.user_id));
  set_meta_int(kKdfVersionKey, vault.record.kdf.version);
  set_meta_int(kKdfIterationsKey, vault.record.kdf.iterations);
  set_meta(kKdfSaltKey, vault.record.kdf.salt);
  set_meta(kWrappedPlatformSecretKey, vault.record.wrapped_platform_secret);
  set_meta(kWrappedStoreKeyKey, vault.record.wrapped_store_key);
  set_meta_int(kFailedUnlocksKey, 0);
  // Enrolment is a check-in: the grace period starts now.
  set_meta_int(kLastSyncKey, clock_source_.wall_ms());
  persist_clock();
  transaction.commit();

  std::lock_guard keys_lock(keys_mutex_);
  store_key_ = std::move(vault.store_key);
  state_ = StoreState::kUnlocked;
  last_activity_ms_ = clock_source_.monotonic_ms();
}

void Store::Impl::load_identity() {
  std::lock_guard read_lock(read_mutex_);
  auto read_id = [&](std::string_view key) {
    const auto bytes = meta(*reader_, key);
    if (!bytes || bytes->size() != 16) {
      throw Error(ErrorCode::kIntegrity, "the store has no valid " + std::string(key));
    }
    Uuid::Bytes raw;
    std::copy(bytes->begin(), bytes->end(), raw.begin());
    return Uuid(raw);
  };
  store_id_ = read_id(kStoreIdKey);
  identity_.device_id = read_id(kDeviceIdKey);
  const auto user = meta(*reader_, kUserIdKey).value_or(Bytes{});
  identity_.user_id.assign(user.begin(), user.end());
  hlc_.observe(meta_hlc(*reader_, kHlcFloorKey));
  restore_clock_anchor(*reader_);
}

void Store::Impl::persist_clock_anchor() {
  const auto anchor = hlc_.server_anchor();
  if (!anchor) return;
  set_meta_int(kAnchorServerKey, anchor->server_ms);
  set_meta_int(kAnchorMonotonicKey, anchor->monotonic_ms);
  set_meta_int(kAnchorWallKey, clock_source_.wall_ms());
}

void Store::Impl::restore_clock_anchor(sqlite::Database& db) {
  // An app is stopped and started far more often than a phone reboots; without its anchor a new
  // process would stamp from a device clock that may be wrong until its next sync. The anchor
  // holds only on the same boot, as the monotonic clock restarts with one. A restarted monotonic
  // clock reads below the anchor, or, on a long uptime, disagrees with the wall clock about the
  // time elapsed since; either way the device clock takes over (DESIGN.md section 3). So does a
  // wall clock changed meanwhile: which of the two moved cannot be told.
  const std::int64_t server_ms = meta_int(db, kAnchorServerKey, 0);
  if (server_ms <= 0) return;
  const std::int64_t monotonic_at = meta_int(db, kAnchorMonotonicKey, 0);
  const std::int64_t by_monotonic = clock_source_.monotonic_ms() - monotonic_at;
  const std::int64_t by_wall = clock_source_.wall_ms() - meta_int(db, kAnchorWallKey, 0);
  if (by_monotonic < 0 || std::abs(by_wall - by_monotonic) > kAnchorAgreementMs) return;
  hlc_.restore_server_anchor({server_ms, monotonic_at});
}

VaultRecord load_vault_record(Store::Impl& impl, sqlite::Database& db) {
  VaultRecord record;
  record.kdf.version = static_cast<std::uint32_t>(impl.meta_int(db, kKdfVersionKey, 0));
  record.kdf.iterations = static_cast<std::uint32_t>(impl.meta_int(db, kKdfIterationsKey, 0));
  record.kdf.salt = impl.meta(db, kKdfSaltKey).value_or(Bytes{});
  record.wrapped_platform_secret = impl.meta(db, kWrappedPlatformSecretKey).value_or(Bytes{});
  record.wrapped_store_key = impl.meta(db, kWrappedStoreKeyKey).value_or(Bytes{});
  return record;
}

UnlockResult Store::Impl::unlock(std::string_view passcode) {
  {
    std::lock_guard write_lock(write_mutex_);
    {
      std::lock_guard keys_lock(keys_mutex_);
      if (state_ == StoreState::kWiped) return {UnlockOutcome::kWiped, 0};
    }
    // Count the attempt durably before checking it, so that killing the app mid-check does not
    // give a free guess.
    const auto failed = meta_int(*writer_, kFailedUnlocksKey, 0) + 1;
    set_meta_int(kFailedUnlocksKey, failed);
    std::optional<crypto::SecretKey> key;
    try {
      key = KeyVault::unlock(passcode, wrapper_, load_vault_record(*this, *writer_));
    } catch (...) {
      // The platform failed (a Keychain or Keystore outage): that was no guess, so it must not
      // bring the store closer to a wipe.
      set_meta_int(kFailedUnlocksKey, failed - 1);
      throw;
    }
    if (key) {
      set_meta_int(kFailedUnlocksKey, 0);
      return accept_unlock(std::move(*key));
    }
    const int left = std::max(0, options_.max_failed_unlocks - static_cast<int>(failed));
    if (left > 0) return {UnlockOutcome::kWrongPasscode, left};
  }
  wipe();  // too many wrong passcodes
  return {UnlockOutcome::kWiped, 0};
}

UnlockResult Store::Impl::accept_unlock(crypto::SecretKey key) {
  const std::int64_t last_sync = meta_int(*writer_, kLastSyncKey, 0);
  // A clock turned back does not extend the grace period past what this device has stamped.
  const std::int64_t now = std::max<std::int64_t>(
      clock_source_.wall_ms(), static_cast<std::int64_t>(hlc_.highest().ms()));
  std::lock_guard keys_lock(keys_mutex_);
  store_key_ = std::move(key);
  case_keys_.clear();
  last_activity_ms_ = clock_source_.monotonic_ms();
  if (now - last_sync > options_.offline_grace_ms) {
    state_ = StoreState::kCheckInRequired;
    return {UnlockOutcome::kCheckInRequired, options_.max_failed_unlocks};
  }
  state_ = StoreState::kUnlocked;
  return {UnlockOutcome::kUnlocked, options_.max_failed_unlocks};
}

void Store::Impl::lock() {
  std::lock_guard keys_lock(keys_mutex_);
  store_key_.reset();  // SecretKey wipes itself
  case_keys_.clear();
  if (state_ != StoreState::kWiped) state_ = StoreState::kLocked;
}

StoreState Store::Impl::state() {
  std::lock_guard keys_lock(keys_mutex_);
  const bool idle = clock_source_.monotonic_ms() - last_activity_ms_ > options_.auto_lock_ms;
  if (idle && (state_ == StoreState::kUnlocked || state_ == StoreState::kCheckInRequired)) {
    store_key_.reset();
    case_keys_.clear();
    state_ = StoreState::kLocked;
  }
  return state_;
}

void Store::Impl::require_access(bool sync_allowed) {
  const StoreState current = state();
  if (current == StoreState::kUnlocked ||
      (sync_allowed && current == StoreState::kCheckInRequired)) {
    // Only the worker's own use keeps the store open: a background sync every few minutes
    // must not hold off the auto-lock of a phone left on a table.
    if (!sync_allowed) {
      std::lock_guard keys_lock(keys_mutex_);
      last_activity_ms_ = clock_source_.monotonic_ms();
    }
    return;
  }
  switch (current) {
    case StoreState::kWiped:
      throw Error(ErrorCode::kLocked, "the store has been wiped");
    case StoreState::kCheckInRequired:
      throw Error(ErrorCode::kLocked,
                  "the device has been offline too long: sync with the server to unlock");
    default:
      throw Error(ErrorCode::kLocked, "the store is locked: unlock it with the passcode");
  }
}

void Store::Impl::require_not_wiped() {
  if (state() == StoreState::kWiped) throw Error(ErrorCode::kLocked, "the store has been wiped");
}

void Store::Impl::change_passcode(std::string_view old_passcode, std::string_view new_passcode) {
  if (new_passcode.empty()) throw Error(ErrorCode::kInvalidArgument, "the new passcode is empty");
  const UnlockResult check = unlock(old_passcode);
  if (check.outcome == UnlockOutcome::kWrongPasscode) {
    throw Error(ErrorCode::kInvalidArgument, "the current passcode is wrong (" +
                                                 std::to_string(check.attempts_left) +
                                                 " attempts left before the store is wiped)");
  }
  if (check.outcome == UnlockOutcome::kWiped) throw Error(ErrorCode::kLocked, "the store was wiped");
  std::lock_guard write_lock(write_mutex_);
  require_not_wiped();  // by a sync on another thread since the check above
  VaultRecord updated;
  {
    std::lock_guard keys_lock(keys_mutex_);
    updated = KeyVault::change_passcode(store_key_locked(), new_passcode, wrapper_,
                                        load_vault_record(*this, *writer_),
                                        options_.kdf_iterations);
  }
  sqlite::Transaction transaction(*writer_);
  set_meta_int(kKdfVersionKey, updated.kdf.version);
  set_meta_int(kKdfIterationsKey, updated.kdf.iterations);
  set_meta(kKdfSaltKey, updated.kdf.salt);
  set_meta(kWrappedPlatformSecretKey, updated.wrapped_platform_secret);
  set_meta(kWrappedStoreKeyKey, updated.wrapped_store_key);
  transaction.commit();
}

void Store::Impl::wipe() {
  std::lock_guard write_lock(write_mutex_);
  std::lock_guard read_lock(read_mutex_);
  {
    std::lock_guard keys_lock(keys_mutex_);
    store_key_.reset();
    case_keys_.clear();
    state_ = StoreState::kWiped;
  }
  // First the platform secret: from here on no copy of the file can be unlocked. Should the
  // platform fail, the keys and files still go, and the failure is reported after.
  std::exception_ptr platform_failure;
  try {
    wrapper_.destroy();
  } catch (...) {
    platform_failure = std::current_exception();
  }
  if (writer_) {
    try {
      writer_->exec("DELETE FROM meta WHERE key IN ('wrapped_store_key', "
                    "'wrapped_platform_secret', 'kdf_salt', 'token'); DELETE FROM case_keys;");
      writer_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (const Error&) {
      // The files are deleted next; the keys are already unrecoverable.
    }
  }
  reader_.reset();
  writer_.reset();
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    remove_file_if_present(options_.path + suffix);
  }
  if (platform_failure) std::rethrow_exception(platform_failure);
}

const crypto::SecretKey& Store::Impl::store_key_locked() const {
  if (!store_key_) throw Error(ErrorCode::kLocked, "the store is locked");
  return *store_key_;
}

std::optional<crypto::SecretKey> Store::Impl::case_key(sqlite::Database& db,
                                                       const CaseId& case_id) {
  {
    std::lock_guard keys_lock(keys_mutex_);
    if (auto it = case_keys_.find(case_id); it != case_keys_.end()) return it->second.clone();
  }
  auto select = db.prepare("SELECT wrapped_key FROM case_keys WHERE case_id = ?");
  select.bind(1, case_id);
  if (!select.step()) return std::nullopt;
  const Bytes wrapped = select.column_bytes(0);
  std::lock_guard keys_lock(keys_mutex_);
  crypto::SecretKey key =
      KeyVault::unwrap_case_key(store_key_locked(), store_id_, case_id, wrapped);
  case_keys_.insert_or_assign(case_id, key.clone());
  return key;
}

crypto::SecretKey Store::Impl::case_key_or_create(const CaseId& case_id) {
  if (auto key = case_key(*writer_, case_id)) return std::move(*key);
  crypto::SecretKey key = crypto::SecretKey::random();
  Bytes wrapped;
  {
    std::lock_guard keys_lock(keys_mutex_);
    wrapped = KeyVault::wrap_case_key(store_key_locked(), store_id_, case_id, key);
    case_keys_.insert_or_assign(case_id, key.clone());
  }
  keys_created_.push_back(case_id);  // forgotten again should the transaction roll back
  auto insert = writer_->prepare("INSERT INTO case_keys(case_id, wrapped_key) VALUES (?, ?)");
  insert.bind(1, case_id).bind_blob(2, wrapped).run();
  return key;
}

Store::Impl::WriteTransaction::WriteTransaction(Impl& impl)
    : impl_(impl), transaction_(*impl.writer_) {
  impl_.keys_created_.clear();
}

Store::Impl::WriteTransaction::~WriteTransaction() {
  if (!committed_) {
    std::lock_guard keys_lock(impl_.keys_mutex_);
    for (const CaseId& case_id : impl_.keys_created_) impl_.case_keys_.erase(case_id);
  }
  impl_.keys_created_.clear();
}

void Store::Impl::WriteTransaction::commit() {
  transaction_.commit();
  committed_ = true;
}

Bytes Store::Impl::seal(const crypto::SecretKey& key, SealPurpose purpose,
                        std::string_view collection, const Uuid& id, std::string_view field,
                        std::span<const std::uint8_t> plaintext) {
  const Bytes aad = crypto::record_field_aad(purpose_name(purpose), kSealedFormat, store_id_,
                                             collection, id, field);
  return crypto::seal(key, aad, pad(plaintext));
}

Bytes Store::Impl::open(const crypto::SecretKey& key, SealPurpose purpose,
                        std::string_view collection, const Uuid& id, std::string_view field,
                        std::span<const std::uint8_t> sealed) {
  const Bytes aad = crypto::record_field_aad(purpose_name(purpose), kSealedFormat, store_id_,
                                             collection, id, field);
  return unpad(crypto::open(key, aad, sealed));
}

std::optional<Bytes> Store::Impl::meta(sqlite::Database& db, std::string_view key) {
  auto select = db.prepare("SELECT value FROM meta WHERE key = ?");
  select.bind(1, key);
  if (!select.step()) return std::nullopt;
  return select.column_bytes(0);
}

void Store::Impl::set_meta(std::string_view key, std::span<const std::uint8_t> value) {
  auto upsert = writer_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  upsert.bind(1, key).bind_blob(2, value).run();
}

std::int64_t Store::Impl::meta_int(sqlite::Database& db, std::string_view key,
                                   std::int64_t fallback) {
  auto select = db.prepare("SELECT value FROM meta WHERE key = ?");
  select.bind(1, key);
  return select.step() ? select.column_int(0) : fallback;
}

void Store::Impl::set_meta_int(std::string_view key, std::int64_t value) {
  auto upsert = writer_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  upsert.bind(1, key).bind(2, value).run();
}

Hlc Store::Impl::meta_hlc(sqlite::Database& db, std::string_view key) {
  return Hlc::from_packed(static_cast<std::uint64_t>(meta_int(db, key, 0)));
}

void Store::Impl::remove_meta(std::string_view key) {
  auto remove = writer_->prepare("DELETE FROM meta WHERE key = ?");
  remove.bind(1, key).run();
}

// --- Store facade ---

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

bool Store::exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

std::unique_ptr<Store> Store::create(const StoreOptions& options, std::string_view passcode,
                                     const DeviceIdentity& identity) {
  if (!options.key_wrapper) throw Error(ErrorCode::kInvalidArgument, "a key wrapper is required");
  if (passcode.empty()) throw Error(ErrorCode::kInvalidArgument, "the passcode is empty");
  if (exists(options.path)) {
    throw Error(ErrorCode::kInvalidArgument, "a store already exists at " + options.path);
  }
  try {
    auto impl = std::make_unique<Impl>(options, /*create=*/true);
    impl->initialise_new(passcode, identity);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
  } catch (...) {
    // A half-made store would block every retry: remove it (it holds nothing yet).
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::remove((options.path + suffix).c_str());
    }
    throw;
  }
}

std::unique_ptr<Store> Store::open(const StoreOptions& options) {
  if (!options.key_wrapper) throw Error(ErrorCode::kInvalidArgument, "a key wrapper is required");
  if (!exists(options.path)) {
    throw Error(ErrorCode::kNotFound, "no store at " + options.path);
  }
  auto impl = std::make_unique<Impl>(options, /*create=*/false);
  impl->load_identity();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

UnlockResult Store::unlock(std::string_view passcode) { return impl_->unlock(passcode); }
void Store::lock() { impl_->lock(); }
StoreState Store::state() { return impl_->state(); }
void Store::change_passcode(std::string_view old_passcode, std::string_view new_passcode) {
  impl_->change_passcode(old_passcode, new_passcode);
}
void Store::wipe() { impl_->wipe(); }
DeviceIdentity Store::identity() const { return impl_->identity_; }
std::string Store::store_id() const { return impl_->store_id_.to_string(); }

void Store::set_token(std::string_view token) {
  std::lock_guard write_lock(impl_->write_mutex_);
  impl_->require_access(/*sync_allowed=*/true);
  Bytes sealed;
  {
    std::lock_guard keys_lock(impl_->keys_mutex_);
    sealed = impl_->seal(impl_->store_key_locked(), SealPurpose::kStoreSecret, "", impl_->store_id_,
                         kTokenKey, crypto::as_bytes(token));
  }
  impl_->set_meta(kTokenKey, sealed);
}

std::optional<std::string> Store::token() {
  std::lock_guard read_lock(impl_->read_mutex_);
  impl_->require_access(/*sync_allowed=*/true);
  const auto sealed = impl_->meta(*impl_->reader_, kTokenKey);
  if (!sealed) return std::nullopt;
  std::lock_guard keys_lock(impl_->keys_mutex_);
  const Bytes plain = impl_->open(impl_->store_key_locked(), SealPurpose::kStoreSecret, "",
                                  impl_->store_id_, kTokenKey, *sealed);
  return std::string(plain.begin(), plain.end());
}

std::int64_t Store::last_sync_ms() {
  std::lock_guard read_lock(impl_->read_mutex_);
  impl_->require_not_wiped();
  return impl_->meta_int(*impl_->reader_, kLastSyncKey, 0);
}

}  // namespace fieldsync::client
