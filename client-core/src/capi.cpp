// The C API (fieldsync.h) over Store, Casework and the sync engine. Every function is noexcept and
// runs its body through guarded(), the one place where exceptions become a fieldsync_error. A
// store handle owns the Store, its Casework, the key wrapper the Store uses, and the event
// callback. The C++ side of transports, enrolment and sync is in capi_sync.cpp.
//
// Events: the Store has no callbacks, so each store call compares the store's state before and
// after it with the state last reported, and reports a change as an event on the calling thread.
// A lock found before a call, which no call asked for, is the auto-lock.
#include "fieldsync/fieldsync.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "capi_sync.h"
#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/error.h"
#include "fieldsync/platform/key_wrapper.h"
#include "record_json.h"

namespace {

using fieldsync::CaseId;
using fieldsync::CollectionSpec;
using fieldsync::Error;
using fieldsync::ErrorCode;
using fieldsync::ErrorDomain;
using fieldsync::FieldSpec;
using fieldsync::Record;
using fieldsync::RecordId;
using fieldsync::Schema;
using fieldsync::Uuid;
using fieldsync::Version;
using fieldsync::client::Casework;
using fieldsync::client::child_visits_from_json;
using fieldsync::client::DeviceIdentity;
using fieldsync::client::Fields;
using fieldsync::fields_from_json;
using fieldsync::client::list_to_json;
using fieldsync::client::local_conflict_to_json;
using fieldsync::client::outbox_entry_to_json;
using fieldsync::parse_json_argument;
using fieldsync::client::record_to_json;
using fieldsync::client::rejected_group_to_json;
using fieldsync::client::Store;
using fieldsync::client::StoreOptions;
using fieldsync::client::StoreState;
using fieldsync::client::UnlockOutcome;
using fieldsync::client::version_from_json_argument;
using fieldsync::platform::KeyWrapper;
using nlohmann::json;

#define FIELDSYNC_STRINGIFY(x) #x
#define FIELDSYNC_TO_STRING(x) FIELDSYNC_STRINGIFY(x)
static_assert(FIELDSYNC_VERSION_NUMBER == FIELDSYNC_VERSION_MAJOR * 1000000 +
                                              FIELDSYNC_VERSION_MINOR * 1000 +
                                              FIELDSYNC_VERSION_PATCH);
static_assert(std::string_view(FIELDSYNC_VERSION_STRING) ==
                  FIELDSYNC_TO_STRING(FIELDSYNC_VERSION_MAJOR) "." FIELDSYNC_TO_STRING(
                      FIELDSYNC_VERSION_MINOR) "." FIELDSYNC_TO_STRING(FIELDSYNC_VERSION_PATCH),
              "FIELDSYNC_VERSION_STRING differs from the version numbers");
// FIELDSYNC_PROJECT_VERSION comes from CMake's project(VERSION ...).
static_assert(std::string_view(FIELDSYNC_VERSION_STRING) == FIELDSYNC_PROJECT_VERSION,
              "fieldsync.h's version differs from the project's version in CMakeLists.txt");

// The C enums are the C++ ones, number for number: an Error crosses the boundary as it is.
constexpr std::int32_t c_value(ErrorDomain domain) { return static_cast<std::int32_t>(domain); }
constexpr std::int32_t c_value(ErrorCode code) { return static_cast<std::int32_t>(code); }
static_assert(c_value(ErrorDomain::kFieldsync) == FIELDSYNC_DOMAIN_FIELDSYNC);
static_assert(c_value(ErrorDomain::kSqlite) == FIELDSYNC_DOMAIN_SQLITE);
static_assert(c_value(ErrorDomain::kCrypto) == FIELDSYNC_DOMAIN_CRYPTO);
static_assert(c_value(ErrorDomain::kNetwork) == FIELDSYNC_DOMAIN_NETWORK);
static_assert(c_value(ErrorDomain::kHttp) == FIELDSYNC_DOMAIN_HTTP);
static_assert(c_value(ErrorDomain::kPosix) == FIELDSYNC_DOMAIN_POSIX);
static_assert(c_value(ErrorCode::kInvalidArgument) == FIELDSYNC_ERR_INVALID_ARGUMENT);
static_assert(c_value(ErrorCode::kMalformed) == FIELDSYNC_ERR_MALFORMED);
static_assert(c_value(ErrorCode::kTooLarge) == FIELDSYNC_ERR_TOO_LARGE);
static_assert(c_value(ErrorCode::kUnsupportedVersion) == FIELDSYNC_ERR_UNSUPPORTED_VERSION);
static_assert(c_value(ErrorCode::kValidation) == FIELDSYNC_ERR_VALIDATION);
static_assert(c_value(ErrorCode::kFrozen) == FIELDSYNC_ERR_FROZEN);
static_assert(c_value(ErrorCode::kNotFound) == FIELDSYNC_ERR_NOT_FOUND);
static_assert(c_value(ErrorCode::kIntegrity) == FIELDSYNC_ERR_INTEGRITY);
static_assert(c_value(ErrorCode::kLocked) == FIELDSYNC_ERR_LOCKED);
static_assert(c_value(ErrorCode::kIo) == FIELDSYNC_ERR_IO);
static_assert(c_value(ErrorCode::kClockSkew) == FIELDSYNC_ERR_CLOCK_SKEW);
static_assert(c_value(ErrorCode::kInternal) == FIELDSYNC_ERR_INTERNAL);
static_assert(c_value(ErrorCode::kUnauthorized) == FIELDSYNC_ERR_UNAUTHORIZED);
static_assert(c_value(ErrorCode::kForbidden) == FIELDSYNC_ERR_FORBIDDEN);
static_assert(c_value(ErrorCode::kRateLimited) == FIELDSYNC_ERR_RATE_LIMITED);
static_assert(c_value(ErrorCode::kConflict) == FIELDSYNC_ERR_CONFLICT);
static_assert(c_value(ErrorCode::kUnavailable) == FIELDSYNC_ERR_UNAVAILABLE);

// --- Errors ---

void clear_error(fieldsync_error* error) noexcept {
  if (!error) return;
  error->domain = FIELDSYNC_DOMAIN_NONE;
  error->code = 0;
  error->message[0] = '\0';
}

// Copies `message` then `detail` into the struct, cut short if need be. Allocates nothing: it
// runs inside catch blocks, where a std::bad_alloc would have nowhere to go.
void set_error(fieldsync_error* error, std::int32_t domain, std::int32_t code,
               std::string_view message, std::string_view detail = {}) noexcept {
  if (!error) return;
  error->domain = domain;
  error->code = code;
  constexpr std::size_t kCapacity = sizeof(error->message) - 1;
  std::size_t length = 0;
  for (const std::string_view part : {message, detail}) {
    std::size_t take = std::min(part.size(), kCapacity - length);
    // Cut between characters, never inside one: JNI's NewStringUTF and Swift's String want whole
    // UTF-8 sequences.
    const bool cut = take < part.size();
    if (cut) {
      while (take > 0 && (static_cast<unsigned char>(part[take]) & 0xC0) == 0x80) --take;
    }
    std::copy_n(part.data(), take, error->message + length);
    length += take;
    if (cut) break;
  }
  error->message[length] = '\0';
}

// Runs `body` and returns what it returns. Any exception becomes `error` and `on_failure`.
template <class Body>
std::invoke_result_t<Body> guarded(fieldsync_error* error, std::invoke_result_t<Body> on_failure,
                                   Body&& body) noexcept {
  clear_error(error);
  try {
    return body();
  } catch (const Error& failure) {
    set_error(error, c_value(failure.domain()), failure.code(), failure.what());
  } catch (const std::bad_alloc&) {
    set_error(error, FIELDSYNC_DOMAIN_POSIX, ENOMEM, "out of memory");
  } catch (const std::system_error& failure) {
    const std::error_category& category = failure.code().category();
    if (category == std::generic_category() || category == std::system_category()) {
      set_error(error, FIELDSYNC_DOMAIN_POSIX, failure.code().value(), failure.what());
    } else {
      set_error(error, FIELDSYNC_DOMAIN_FIELDSYNC, FIELDSYNC_ERR_INTERNAL, "internal error: ",
                failure.what());
    }
  } catch (const std::exception& failure) {
    set_error(error, FIELDSYNC_DOMAIN_FIELDSYNC, FIELDSYNC_ERR_INTERNAL, "internal error: ",
              failure.what());
  } catch (...) {
    set_error(error, FIELDSYNC_DOMAIN_FIELDSYNC, FIELDSYNC_ERR_INTERNAL,
              "internal error: an exception of unknown type");
  }
  return on_failure;
}

[[noreturn]] void throw_invalid(std::string message) {
  throw Error(ErrorCode::kInvalidArgument, std::move(message));
}

// --- Arguments in, strings out ---

const char* required(const char* argument, std::string_view name) {
  if (!argument) throw_invalid(std::string(name) + " is NULL");
  return argument;
}

Uuid id_argument(const char* text, std::string_view name) {
  const auto id = Uuid::parse(required(text, name));
  if (!id) throw_invalid(std::string(name) + " is not a UUID (8-4-4-4-12 hex digits)");
  return *id;
}

json json_argument(const char* text, std::string_view name) {
  return parse_json_argument(required(text, name), name);
}

Fields fields_argument(const char* text, std::string_view name, std::string_view collection) {
  return fields_from_json(json_argument(text, name), collection,
                                             Schema::domain(), name);
}

// A copy the caller frees with fieldsync_string_free().
char* string_to_c(std::string_view text) {
  auto* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (!copy) throw std::bad_alloc();
  std::memcpy(copy, text.data(), text.size());
  copy[text.size()] = '\0';
  return copy;
}

char* json_to_c(const json& value) {
  // Stored text is valid UTF-8; should it ever not be, a replacement character beats a failure.
  return string_to_c(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

// --- Enums across the boundary ---

fieldsync_store_state state_to_c(StoreState state) {
  switch (state) {
    case StoreState::kLocked: return FIELDSYNC_STATE_LOCKED;
    case StoreState::kUnlocked: return FIELDSYNC_STATE_UNLOCKED;
    case StoreState::kCheckInRequired: return FIELDSYNC_STATE_CHECK_IN_REQUIRED;
    case StoreState::kWiped: return FIELDSYNC_STATE_WIPED;
  }
  throw Error(ErrorCode::kInternal, "a store state the C API does not know");
}

fieldsync_unlock_outcome outcome_to_c(UnlockOutcome outcome) {
  switch (outcome) {
    case UnlockOutcome::kUnlocked: return FIELDSYNC_UNLOCK_OK;
    case UnlockOutcome::kWrongPasscode: return FIELDSYNC_UNLOCK_WRONG_PASSCODE;
    case UnlockOutcome::kCheckInRequired: return FIELDSYNC_UNLOCK_CHECK_IN_REQUIRED;
    case UnlockOutcome::kWiped: return FIELDSYNC_UNLOCK_WIPED;
  }
  throw Error(ErrorCode::kInternal, "an unlock outcome the C API does not know");
}

// A C caller may pass any int as an enum, but in C++ reading an enum parameter whose value lies
// outside its enumerators' range is undefined: so its bits are read as an integer instead.
template <class Enum>
std::underlying_type_t<Enum> raw_enum_value(const Enum& value) {
  std::underlying_type_t<Enum> raw;
  std::memcpy(&raw, &value, sizeof raw);
  return raw;
}

Store::Resolve resolution_from_c(const fieldsync_resolution& choice) {
  switch (raw_enum_value(choice)) {
    case FIELDSYNC_KEEP_CURRENT: return Store::Resolve::kKeepCurrent;
    case FIELDSYNC_RESTORE_LOST: return Store::Resolve::kRestoreLost;
    default: throw_invalid("choice must be FIELDSYNC_KEEP_CURRENT or FIELDSYNC_RESTORE_LOST");
  }
}

// --- Key wrapping through the shell's callbacks ---

// A KeyWrapper over a fieldsync_key_wrapper. It owns the shell's context: release() is called
// once, when the adapter is destroyed. Calls into the shell are serialised, so a shell's
// callbacks need not be thread-safe.
class CallbackKeyWrapper final : public KeyWrapper {
 public:
  // What the shell's wrap and unwrap may write.
  static constexpr std::size_t kOutputCapacity = 4096;

  explicit CallbackKeyWrapper(const fieldsync_key_wrapper& callbacks) : callbacks_(callbacks) {}
  ~CallbackKeyWrapper() override {
    if (callbacks_.release) callbacks_.release(callbacks_.context);
  }
  CallbackKeyWrapper(const CallbackKeyWrapper&) = delete;
  CallbackKeyWrapper& operator=(const CallbackKeyWrapper&) = delete;

  void check_complete() const {
    if (!callbacks_.wrap) throw_invalid("key_wrapper->wrap is NULL");
    if (!callbacks_.unwrap) throw_invalid("key_wrapper->unwrap is NULL");
    if (!callbacks_.destroy) throw_invalid("key_wrapper->destroy is NULL");
  }

  fieldsync::Bytes wrap(std::span<const std::uint8_t> secret) override {
    std::lock_guard lock(mutex_);
    fieldsync::Bytes out(kOutputCapacity);
    std::size_t length = 0;
    if (!callbacks_.wrap(callbacks_.context, secret.data(), secret.size(), out.data(), out.size(),
                         &length)) {
      throw Error(ErrorCode::kIo, "the platform key wrapper failed to wrap the store secret");
    }
    check_length(length, "wrap");
    out.resize(length);
    return out;
  }

  fieldsync::crypto::SecretBytes unwrap(std::span<const std::uint8_t> wrapped) override {
    std::lock_guard lock(mutex_);
    fieldsync::crypto::SecretBytes out(kOutputCapacity);  // wiped when it goes
    std::size_t length = 0;
    if (!callbacks_.unwrap(callbacks_.context, wrapped.data(), wrapped.size(), out.data(),
                           out.size(), &length)) {
      throw Error(ErrorCode::kIntegrity,
                  "the platform key wrapper could not unwrap the store secret (its key was "
                  "destroyed or changed, or the key store could not be reached)");
    }
    check_length(length, "unwrap");
    return fieldsync::crypto::SecretBytes::copy_of(out.view().first(length));
  }

  void destroy() override {
    std::lock_guard lock(mutex_);
    if (!callbacks_.destroy(callbacks_.context)) {
      throw Error(ErrorCode::kIo, "the platform key wrapper failed to destroy its key");
    }
  }

 private:
  static void check_length(std::size_t length, std::string_view callback) {
    if (length == 0 || length > kOutputCapacity) {
      throw Error(ErrorCode::kInvalidArgument,
                  "key_wrapper->" + std::string(callback) + " reported " + std::to_string(length) +
                      " bytes written, outside 1.." + std::to_string(kOutputCapacity));
    }
  }

  const fieldsync_key_wrapper callbacks_;
  std::mutex mutex_;  // serialises the calls into the shell
};

// --- Events ---

// The event that reports a change of state from `before` to `now`, if it is one.
std::optional<std::string_view> state_event(StoreState before, StoreState now,
                                            bool lock_requested) {
  if (before == now) return std::nullopt;
  switch (now) {
    case StoreState::kLocked: return lock_requested ? "locked" : "auto_locked";
    case StoreState::kUnlocked: return "unlocked";
    case StoreState::kCheckInRequired: return "check_in_required";
    case StoreState::kWiped: return "wiped";
  }
  return std::nullopt;
}

// The shell's event callback and the store state last reported to it. Thread-safe; the callback
// is called with no lock held, on the thread that reports.
class EventChannel {
 public:
  explicit EventChannel(StoreState initial) : reported_state_(initial) {}

  void set_callback(fieldsync_event_fn fn, void* context) {
    std::lock_guard lock(mutex_);
    fn_ = fn;
    context_ = context;
  }

  // Reports the change from the state last reported to `now`, once. `lock_requested`: the call
  // being made asked for a lock, so a lock is not the auto-lock.
  void report_state(StoreState now, bool lock_requested) {
    std::optional<std::string_view> event;
    {
      std::lock_guard lock(mutex_);
      event = state_event(std::exchange(reported_state_, now), now, lock_requested);
    }
    if (event) send({{"event", *event}});
  }

  void send(const json& event) {
    fieldsync_event_fn fn = nullptr;
    void* context = nullptr;
    {
      std::lock_guard lock(mutex_);
      fn = fn_;
      context = context_;
    }
    if (!fn) return;
    const std::string text = event.dump();
    fn(context, text.c_str());
  }

 private:
  std::mutex mutex_;
  // Guarded by mutex_:
  fieldsync_event_fn fn_ = nullptr;
  void* context_ = nullptr;
  StoreState reported_state_;
};

}  // namespace

struct fieldsync_store {
  fieldsync_store(std::unique_ptr<KeyWrapper> wrapper, std::unique_ptr<Store> opened)
      : key_wrapper(std::move(wrapper)),
        store(std::move(opened)),
        casework(*store),
        events(store->state()) {}

  void report_state(bool lock_requested) { events.report_state(store->state(), lock_requested); }

  // Declared first so that it is destroyed last: the store uses it until its own end.
  const std::unique_ptr<KeyWrapper> key_wrapper;
  const std::unique_ptr<Store> store;
  Casework casework;
  EventChannel events;
};

namespace {

// Reports the state a call left the store in, whether the call returned or threw (an unlock
// that wiped the store, a wipe that failed half-way).
class ReportStateOnExit {
 public:
  explicit ReportStateOnExit(fieldsync_store& handle) : handle_(handle) {}
  ~ReportStateOnExit() {
    try {
      handle_.report_state(/*lock_requested=*/false);
    } catch (...) {
      // Out of memory for the event text: losing the event beats an exception in a destructor.
    }
  }
  ReportStateOnExit(const ReportStateOnExit&) = delete;
  ReportStateOnExit& operator=(const ReportStateOnExit&) = delete;

 private:
  fieldsync_store& handle_;
};

// guarded() for a call on a store handle, reporting the state changes around the call.
template <class Body>
std::invoke_result_t<Body, fieldsync_store&> with_store(
    fieldsync_store* handle, fieldsync_error* error,
    std::invoke_result_t<Body, fieldsync_store&> on_failure, Body&& body) noexcept {
  return guarded(error, on_failure, [&] {
    if (!handle) throw_invalid("store is NULL");
    handle->report_state(/*lock_requested=*/false);  // an auto-lock found before the call
    const ReportStateOnExit report(*handle);
    return body(*handle);
  });
}

const fieldsync_store_options& checked_options(const fieldsync_store_options* options) {
  if (!options) throw_invalid("options is NULL");
  if (!options->path || options->path[0] == '\0') throw_invalid("options->path is NULL or empty");
  return *options;
}

// The key wrapper of a new handle: the shell's callbacks, adopted before anything can fail so
// that release() is called exactly once; or, without them, the key file beside the store.
std::unique_ptr<KeyWrapper> adopt_key_wrapper(const fieldsync_key_wrapper* callbacks,
                                              const fieldsync_store_options* options) {
  if (callbacks) {
    auto adapter = std::make_unique<CallbackKeyWrapper>(*callbacks);
    adapter->check_complete();
    return adapter;
  }
  return std::make_unique<fieldsync::platform::FileKeyWrapper>(
      std::string(checked_options(options).path) + ".key");
}

// A member of fieldsync_store_options: zero means the default, a negative value is refused.
template <class Number>
Number option_or_default(Number given, Number fallback, std::string_view name) {
  if constexpr (std::is_signed_v<Number>) {
    if (given < 0) throw_invalid("options->" + std::string(name) + " is negative");
  }
  return given == 0 ? fallback : given;
}

StoreOptions store_options_from(const fieldsync_store_options* options,
                                                   KeyWrapper& wrapper) {
  const fieldsync_store_options& given = checked_options(options);
  StoreOptions result;
  result.path = given.path;
  result.key_wrapper = &wrapper;
  result.auto_lock_ms = option_or_default(given.auto_lock_ms, result.auto_lock_ms, "auto_lock_ms");
  result.max_failed_unlocks = option_or_default(given.max_failed_unlocks,
                                                result.max_failed_unlocks, "max_failed_unlocks");
  result.offline_grace_ms =
      option_or_default(given.offline_grace_ms, result.offline_grace_ms, "offline_grace_ms");
  result.kdf_iterations =
      option_or_default(given.kdf_iterations, result.kdf_iterations, "kdf_iterations");
  return result;
}

// A new handle over the store that `open_store` creates or opens with the given options.
template <class OpenStore>
fieldsync_store* new_handle(const fieldsync_store_options* options,
                            const fieldsync_key_wrapper* key_wrapper, fieldsync_error* error,
                            OpenStore&& open_store) noexcept {
  return guarded(error, nullptr, [&]() -> fieldsync_store* {
    std::unique_ptr<KeyWrapper> wrapper = adopt_key_wrapper(key_wrapper, options);
    std::unique_ptr<Store> store = open_store(store_options_from(options, *wrapper));
    return new fieldsync_store(std::move(wrapper), std::move(store));
  });
}

std::vector<Record> records_of(Casework& casework, const CaseId& case_id,
                               std::string_view collection, bool include_in_error) {
  if (collection == "visit") return casework.visits(case_id, include_in_error);
  if (collection == "assessment") return casework.assessments(case_id, include_in_error);
  if (collection == "note") return casework.notes(case_id, include_in_error);
  throw_invalid("collection must be \"visit\", \"assessment\" or \"note\"");
}

}  // namespace

// --- Versions ---

const char* fieldsync_version(void) noexcept { return FIELDSYNC_VERSION_STRING; }

int32_t fieldsync_version_number(void) noexcept { return FIELDSYNC_VERSION_NUMBER; }

char* fieldsync_schema(void) noexcept {
  return guarded(nullptr, static_cast<char*>(nullptr), [] {
    json collections = json::array();
    for (const CollectionSpec& collection : Schema::domain().collections()) {
      json fields = json::array();
      for (const FieldSpec& field : collection.fields) {
        json entry = {{"name", field.name},
                      {"type", std::string(to_string(field.type))},
                      {"required", field.required},
                      {"frozen_on_submit", field.frozen_on_submit}};
        if (!field.codes.empty()) entry["codes"] = field.codes;
        if (field.max_length > 0) entry["max_length"] = field.max_length;
        fields.push_back(std::move(entry));
      }
      collections.push_back({{"name", collection.name}, {"fields", std::move(fields)}});
    }
    return json_to_c({{"collections", std::move(collections)}});
  });
}

// --- Store ---

void fieldsync_store_options_init(fieldsync_store_options* options) noexcept {
  if (!options) return;
  const StoreOptions defaults;
  *options = fieldsync_store_options{.path = nullptr,
                                     .auto_lock_ms = defaults.auto_lock_ms,
                                     .max_failed_unlocks = defaults.max_failed_unlocks,
                                     .offline_grace_ms = defaults.offline_grace_ms,
                                     .kdf_iterations = defaults.kdf_iterations};
}

fieldsync_store* fieldsync_store_create(const fieldsync_store_options* options,
                                        const fieldsync_key_wrapper* key_wrapper,
                                        const char* passcode, const char* device_id,
                                        const char* user_id, fieldsync_error* error) noexcept {
  return new_handle(options, key_wrapper, error,
                    [&](const StoreOptions& store_options) {
                      const DeviceIdentity identity{
                          id_argument(device_id, "device_id"), required(user_id, "user_id")};
                      return Store::create(store_options, required(passcode, "passcode"),
                                           identity);
                    });
}

fieldsync_store* fieldsync_store_open(const fieldsync_store_options* options,
                                      const fieldsync_key_wrapper* key_wrapper,
                                      fieldsync_error* error) noexcept {
  return new_handle(options, key_wrapper, error,
                    [](const StoreOptions& store_options) {
                      return Store::open(store_options);
                    });
}

void fieldsync_store_free(fieldsync_store* store) noexcept { delete store; }

void fieldsync_store_set_event_callback(fieldsync_store* store, fieldsync_event_fn fn,
                                        void* context) noexcept {
  guarded(nullptr, false, [&] {
    if (store) store->events.set_callback(fn, context);
    return true;
  });
}

fieldsync_unlock_outcome fieldsync_store_unlock(fieldsync_store* store, const char* passcode,
                                                int32_t* attempts_left,
                                                fieldsync_error* error) noexcept {
  return with_store(store, error, FIELDSYNC_UNLOCK_FAILED, [&](fieldsync_store& handle) {
    const auto result = handle.store->unlock(required(passcode, "passcode"));
    if (attempts_left) *attempts_left = result.attempts_left;
    if (result.outcome == UnlockOutcome::kWrongPasscode) {
      handle.events.send({{"event", "unlock_failed"}, {"attempts_left", result.attempts_left}});
    }
    return outcome_to_c(result.outcome);
  });
}

bool fieldsync_store_lock(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [](fieldsync_store& handle) {
    handle.store->lock();
    handle.report_state(/*lock_requested=*/true);
    return true;
  });
}

fieldsync_store_state fieldsync_store_state_now(fieldsync_store* store) noexcept {
  return with_store(store, nullptr, FIELDSYNC_STATE_LOCKED, [](fieldsync_store& handle) {
    return state_to_c(handle.store->state());
  });
}

bool fieldsync_store_change_passcode(fieldsync_store* store, const char* old_passcode,
                                     const char* new_passcode, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    handle.store->change_passcode(required(old_passcode, "old_passcode"),
                                  required(new_passcode, "new_passcode"));
    return true;
  });
}

bool fieldsync_store_wipe(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [](fieldsync_store& handle) {
    handle.store->wipe();
    return true;
  });
}

// --- Casework ---

char* fieldsync_caseload(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [](fieldsync_store& handle) {
    return json_to_c(
        list_to_json(handle.casework.caseload(), record_to_json));
  });
}

char* fieldsync_record_visit(fieldsync_store* store, const char* case_id, const char* fields_json,
                             fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const RecordId id = handle.casework.record_visit(
        id_argument(case_id, "case_id"), fields_argument(fields_json, "fields_json", "visit"));
    return string_to_c(id.to_string());
  });
}

char* fieldsync_record_household_visit(fieldsync_store* store, const char* shared_json,
                                       const char* children_json,
                                       fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const Fields shared = fields_argument(shared_json, "shared_json", "visit");
    const auto children = child_visits_from_json(
        json_argument(children_json, "children_json"), Schema::domain(), "children_json");
    const std::vector<RecordId> ids = handle.casework.record_household_visit(shared, children);
    return json_to_c(list_to_json(
        ids, [](const RecordId& id) { return json(id.to_string()); }));
  });
}

char* fieldsync_start_assessment(fieldsync_store* store, const char* case_id,
                                 const char* fields_json, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const RecordId id =
        handle.casework.start_assessment(id_argument(case_id, "case_id"),
                                         fields_argument(fields_json, "fields_json", "assessment"));
    return string_to_c(id.to_string());
  });
}

bool fieldsync_complete_assessment(fieldsync_store* store, const char* assessment_id,
                                   const char* fields_json, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    handle.casework.complete_assessment(id_argument(assessment_id, "assessment_id"),
                                        fields_argument(fields_json, "fields_json", "assessment"));
    return true;
  });
}

char* fieldsync_write_note(fieldsync_store* store, const char* case_id, const char* fields_json,
                           fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const RecordId id = handle.casework.write_note(
        id_argument(case_id, "case_id"), fields_argument(fields_json, "fields_json", "note"));
    return string_to_c(id.to_string());
  });
}

bool fieldsync_edit_note(fieldsync_store* store, const char* note_id, const char* fields_json,
                         fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    handle.casework.edit_note(id_argument(note_id, "note_id"),
                              fields_argument(fields_json, "fields_json", "note"));
    return true;
  });
}

bool fieldsync_submit_note(fieldsync_store* store, const char* note_id,
                           fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    handle.casework.submit_note(id_argument(note_id, "note_id"));
    return true;
  });
}

char* fieldsync_amend_note(fieldsync_store* store, const char* note_id, const char* content,
                           const char* reason, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const RecordId id = handle.casework.amend_note(
        id_argument(note_id, "note_id"), required(content, "content"), required(reason, "reason"));
    return string_to_c(id.to_string());
  });
}

bool fieldsync_mark_recorded_in_error(fieldsync_store* store, const char* record_id,
                                      const char* reason, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    handle.casework.mark_recorded_in_error(id_argument(record_id, "record_id"),
                                           required(reason, "reason"));
    return true;
  });
}

char* fieldsync_get_record(fieldsync_store* store, const char* record_id,
                           fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const RecordId id = id_argument(record_id, "record_id");
    const std::optional<Record> record = handle.store->record(id);
    if (!record) throw Error(ErrorCode::kNotFound, "no record " + id.to_string());
    return json_to_c(record_to_json(*record));
  });
}

char* fieldsync_list_records(fieldsync_store* store, const char* case_id, const char* collection,
                             bool include_in_error, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [&](fieldsync_store& handle) {
    const CaseId id = id_argument(case_id, "case_id");
    const std::vector<Record> records = records_of(
        handle.casework, id, required(collection, "collection"), include_in_error);
    return json_to_c(list_to_json(records, record_to_json));
  });
}

// --- Queues ---

char* fieldsync_outbox(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [](fieldsync_store& handle) {
    return json_to_c(list_to_json(handle.store->outbox(),
                                                     outbox_entry_to_json));
  });
}

char* fieldsync_conflicts(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [](fieldsync_store& handle) {
    return json_to_c(list_to_json(handle.store->conflicts(),
                                                     local_conflict_to_json));
  });
}

char* fieldsync_rejections(fieldsync_store* store, fieldsync_error* error) noexcept {
  return with_store(store, error, nullptr, [](fieldsync_store& handle) {
    return json_to_c(list_to_json(handle.store->rejections(),
                                                     rejected_group_to_json));
  });
}

bool fieldsync_resolve_conflict(fieldsync_store* store, const char* lost_version_json,
                                fieldsync_resolution choice, fieldsync_error* error) noexcept {
  return with_store(store, error, false, [&](fieldsync_store& handle) {
    const Version lost = version_from_json_argument(
        json_argument(lost_version_json, "lost_version_json"), "lost_version_json");
    handle.store->resolve_conflict(lost, resolution_from_c(choice));
    return true;
  });
}

void fieldsync_string_free(char* string) noexcept { std::free(string); }

// --- Server: transport, enrolment, sync ---

fieldsync_transport* fieldsync_transport_new(const fieldsync_transport_callbacks* callbacks,
                                             fieldsync_error* error) noexcept {
  return guarded(error, nullptr, [&]() -> fieldsync_transport* {
    if (!callbacks) throw_invalid("callbacks is NULL");
    return new fieldsync_transport{fieldsync::capi::adopt_transport_callbacks(*callbacks)};
  });
}

fieldsync_transport* fieldsync_transport_new_curl(const char* ca_file,
                                                  fieldsync_error* error) noexcept {
  return guarded(error, nullptr, [&]() -> fieldsync_transport* {
    fieldsync::platform::CurlTransportOptions options;
    if (ca_file) options.ca_file = ca_file;
    options.user_agent = "fieldsync/" FIELDSYNC_VERSION_STRING;
    return new fieldsync_transport{fieldsync::platform::make_curl_transport(options)};
  });
}

void fieldsync_transport_free(fieldsync_transport* transport) noexcept {
  delete transport;
}

fieldsync_store* fieldsync_enrol(const fieldsync_store_options* options,
                                 const fieldsync_key_wrapper* key_wrapper, const char* passcode,
                                 fieldsync_transport* transport, const char* server_url,
                                 const char* enrolment_code, const fieldsync_client_info* client,
                                 fieldsync_error* error) noexcept {
  return new_handle(options, key_wrapper, error, [&](const StoreOptions& store_options) {
    // Everything that can be checked is checked before the code is spent.
    if (required(passcode, "passcode")[0] == '\0') throw_invalid("passcode is empty");
    if (!transport) throw_invalid("transport is NULL");
    if (Store::exists(store_options.path)) {
      throw_invalid("a store already exists at " + store_options.path);
    }
    const fieldsync::client::Enrolment enrolment = fieldsync::client::enrol(
        *transport->transport, required(server_url, "server_url"),
        required(enrolment_code, "enrolment_code"), fieldsync::capi::client_info_from(client));
    try {
      auto store = Store::create(store_options, passcode,
                                 DeviceIdentity{enrolment.device_id, enrolment.user_id});
      try {
        store->set_token(enrolment.token);
      } catch (...) {
        store->wipe();  // a store without its token could never sync: leave nothing behind
        throw;
      }
      return store;
    } catch (const Error& failure) {
      throw Error(failure.domain(), failure.code(),
                  "the server enrolled this device, but its store could not be made, and the "
                  "enrolment code is now spent: ask for a new one (" +
                      std::string(failure.what()) + ")");
    }
  });
}

fieldsync_cancel_flag* fieldsync_cancel_flag_new(void) noexcept {
  return new (std::nothrow) fieldsync_cancel_flag;
}

void fieldsync_cancel_flag_set(fieldsync_cancel_flag* flag) noexcept {
  if (flag) flag->cancelled.store(true);
}

void fieldsync_cancel_flag_free(fieldsync_cancel_flag* flag) noexcept {
  delete flag;
}

void fieldsync_sync_settings_init(fieldsync_sync_settings* settings) noexcept {
  if (settings) fieldsync::capi::sync_settings_defaults(*settings);
}

fieldsync_sync_outcome fieldsync_sync(fieldsync_store* store, fieldsync_transport* transport,
                                      const fieldsync_sync_settings* settings,
                                      int64_t time_limit_ms, const fieldsync_cancel_flag* cancel,
                                      char** report_json, fieldsync_error* error) noexcept {
  if (report_json) *report_json = nullptr;
  return with_store(store, error, FIELDSYNC_SYNC_FAILED, [&](fieldsync_store& handle) {
    if (!transport) throw_invalid("transport is NULL");
    if (time_limit_ms <= 0) throw_invalid("time_limit_ms must be above 0");
    fieldsync::client::SyncSettings sync_settings = fieldsync::capi::sync_settings_from(settings);
    sync_settings.on_progress = [&handle](const fieldsync::client::SyncProgress& progress) {
      for (const json& event : fieldsync::capi::progress_events(progress)) {
        handle.events.send(event);
      }
    };
    // A limit of centuries is "no limit"; clamped so the deadline cannot overflow the clock.
    constexpr std::int64_t kLongestLimitMs = 100LL * 365 * 24 * 60 * 60 * 1000;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(std::min(time_limit_ms, kLongestLimitMs));
    const fieldsync::client::SyncReport report =
        fieldsync::client::sync_with_server(*handle.store, *transport->transport, sync_settings,
                                            deadline, cancel ? &cancel->cancelled : nullptr);
    if (report_json) *report_json = json_to_c(fieldsync::capi::report_to_json(report));
    if (report.outcome == fieldsync::client::SyncOutcome::kFailed && report.error) {
      throw *report.error;
    }
    return fieldsync::capi::outcome_to_c(report.outcome);
  });
}
