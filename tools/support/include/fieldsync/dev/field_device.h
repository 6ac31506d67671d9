// A field device for the demo, the integration tests and the benchmarks: a phone's clocks (a wall
// clock that may be set wrong, a monotonic clock that a reboot restarts), its encrypted store and
// its own HTTP connection, enrolled with a one-time code from the admin API and synced with the
// real sync engine. A wipe directive destroys the store: has_store() then says false. Development
// support only; its users link fieldsync::client as well as fieldsync::dev_support.
//
// One thread at a time per FieldDevice (it may move to another thread); PhoneClock is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/platform/key_wrapper.h"

namespace fieldsync::dev {

// PBKDF2 iterations that keep a test's or a benchmark's store creation fast; the default
// (600,000) is checked by the store's own tests, and unlocking is measured on its own.
inline constexpr std::uint32_t kCheapKdfIterations = 1000;

// A phone's clocks: the system's, with a wall clock `wall_offset_ms` off and a monotonic clock
// that reboot() restarts, so a store reopened after it cannot trust a server time it kept.
class PhoneClock final : public ClockSource {
 public:
  explicit PhoneClock(std::int64_t wall_offset_ms = 0) : wall_offset_ms_(wall_offset_ms) {}
  std::int64_t wall_ms() override { return system().wall_ms() + wall_offset_ms_; }
  std::int64_t monotonic_ms() override { return system().monotonic_ms() - booted_at_ms_.load(); }
  void reboot() { booted_at_ms_ = system().monotonic_ms(); }

 private:
  static ClockSource& system() { return SystemClockSource::instance(); }
  const std::int64_t wall_offset_ms_;
  std::atomic<std::int64_t> booted_at_ms_{0};
};

struct FieldDeviceOptions {
  std::filesystem::path dir;  // the store is <dir>/<label>.db (its key file <dir>/<label>.key)
  std::string label;
  std::string passcode = "2580";
  std::int64_t clock_offset_ms = 0;  // how far its wall clock is off
  // The desktop key wrapper (a key file beside the store), as an installed app has; otherwise
  // the platform key is kept in memory, which is all a test needs.
  bool key_file = false;
  std::uint32_t kdf_iterations = client::StoreOptions{}.kdf_iterations;
  std::int64_t auto_lock_ms = client::StoreOptions{}.auto_lock_ms;
  client::ClientInfo client = {"linux", "fieldsync-dev"};  // what it tells the server it is
};

class FieldDevice {
 public:
  // Nothing is enrolled yet: enrol() creates the store. `transport` is its own connection.
  FieldDevice(FieldDeviceOptions options, std::unique_ptr<platform::HttpTransport> transport)
      : options_(std::move(options)),
        path_((options_.dir / (options_.label + ".db")).string()),
        clock_(options_.clock_offset_ms),
        key_wrapper_(make_key_wrapper(options_)),
        transport_(std::move(transport)) {}
  FieldDevice(const FieldDevice&) = delete;
  FieldDevice& operator=(const FieldDevice&) = delete;

  // Enrols with a one-time code of the admin API and creates the encrypted store.
  void enrol(const std::string& server_url, const std::string& code) {
    server_url_ = server_url;
    const client::Enrolment enrolment =
        client::enrol(*transport_, server_url_, code, options_.client);
    identity_ = {enrolment.device_id, enrolment.user_id};
    store_ = client::Store::create(store_options(), options_.passcode, identity_);
    store_->set_token(enrolment.token);
  }

  // The sync engine's defaults, for the server it enrolled with.
  client::SyncSettings settings() const {
    client::SyncSettings settings;
    settings.server_url = server_url_;
    settings.client = options_.client;
    return settings;
  }
  // One call of the sync engine, given `budget`; a wipe directive destroys the store. `through`:
  // another connection (one that trusts another CA, say) instead of the device's own.
  client::SyncReport sync(const client::SyncSettings& settings, std::chrono::milliseconds budget,
                          platform::HttpTransport* through = nullptr) {
    client::SyncReport report =
        client::sync_with_server(*store_, through ? *through : *transport_, settings,
                                 std::chrono::steady_clock::now() + budget);
    if (report.outcome == client::SyncOutcome::kWiped) store_.reset();
    return report;
  }

  // The app closes its store, and opens and unlocks it again.
  void close() { store_.reset(); }
  void open() {
    store_ = client::Store::open(store_options());
    if (store_->unlock(options_.passcode).outcome != client::UnlockOutcome::kUnlocked) {
      throw std::runtime_error(options_.label + ": the store did not unlock");
    }
  }
  // The phone restarts: its monotonic clock begins again, and the app reopens its store.
  void reboot() {
    close();
    clock_.reboot();
    open();
  }

  client::Store& store() { return *store_; }
  bool has_store() const { return store_ != nullptr; }
  client::Casework casework() { return client::Casework(*store_); }
  // As enrolled; kept after a wipe.
  const client::DeviceIdentity& identity() const { return identity_; }
  const std::string& label() const { return options_.label; }
  const std::string& path() const { return path_; }
  const std::string& server_url() const { return server_url_; }
  platform::HttpTransport& transport() { return *transport_; }
  PhoneClock& clock() { return clock_; }

 private:
  static std::unique_ptr<platform::KeyWrapper> make_key_wrapper(const FieldDeviceOptions& options) {
    if (options.key_file)
      return std::make_unique<platform::FileKeyWrapper>(options.dir / (options.label + ".key"));
    return std::make_unique<platform::MemoryKeyWrapper>();
  }

  client::StoreOptions store_options() {
    client::StoreOptions options;
    options.path = path_;
    options.key_wrapper = key_wrapper_.get();
    options.clock = &clock_;
    options.kdf_iterations = options_.kdf_iterations;
    options.auto_lock_ms = options_.auto_lock_ms;
    return options;
  }

  FieldDeviceOptions options_;
  std::string path_;
  PhoneClock clock_;
  std::unique_ptr<platform::KeyWrapper> key_wrapper_;
  std::unique_ptr<platform::HttpTransport> transport_;
  std::string server_url_;
  client::DeviceIdentity identity_;
  std::unique_ptr<client::Store> store_;  // last: closed before what it uses goes
};

}  // namespace fieldsync::dev
