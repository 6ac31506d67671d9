// The device behind the fieldsync tool's commands. A device profile is a directory holding one
// enrolled device: the encrypted store (store.db), the FileKeyWrapper's key file (store.key),
// and a small plain settings file (settings.json: the server URL and the CA file; nothing
// secret). A DeviceSession opens the profile's store and unlocks it for one command; the store
// locks again (keys wiped from memory) when the session ends, so nothing stays unlocked between
// two runs of the tool.
//
// Single-threaded, like the whole tool.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "fieldsync/cli/command_frame.h"
#include "cli_passcode.h"
#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/platform/key_wrapper.h"

namespace fieldsync::cli {

struct DeviceSettings {
  std::string server_url;
  std::string ca_file;  // empty: the system's trusted CAs
};

class DeviceProfile {
 public:
  explicit DeviceProfile(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // --device DIR, else $FIELDSYNC_DEVICE, else ./fieldsync-device.
  static DeviceProfile chosen_by(const Invocation& invocation);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path store_file() const { return dir_ / "store.db"; }
  std::filesystem::path key_file() const { return dir_ / "store.key"; }
  std::filesystem::path settings_file() const { return dir_ / "settings.json"; }

  bool initialised() const;  // the settings file exists
  bool enrolled() const;     // the store exists
  // Throws Error(kNotFound) naming the command to run when the profile has no settings.
  DeviceSettings settings() const;
  // Creates the directory (owner-only) when needed, then replaces the settings file whole.
  void save(const DeviceSettings& settings) const;

 private:
  std::filesystem::path dir_;
};

// What a command needs from the store.
enum class Access {
  kRecords,  // read and write records: the store must be fully unlocked
  kSync,     // sync and status: a device past its offline grace period may still check in
};

class DeviceSession {
 public:
  // Opens the profile's store, locked. Throws Error(kNotFound) naming the command to run when the
  // profile is not initialised or not enrolled.
  explicit DeviceSession(DeviceProfile profile);
  // Unlocks the store for `access` with the passcode the invocation's source gives, or throws an
  // Error that says why not (wrong passcode and attempts left, wiped, check-in required).
  static DeviceSession unlocked(const Invocation& invocation, Access access);
  // Creates the profile's store for an enrolled device, keeps the token only inside it, and
  // leaves it locked.
  static void create_store(const DeviceProfile& profile, const Passcode& passcode,
                           const client::Enrolment& enrolment);
  ~DeviceSession();  // locks the store
  DeviceSession(DeviceSession&&) = default;
  DeviceSession& operator=(DeviceSession&&) = delete;

  client::UnlockResult unlock(const Passcode& passcode) { return store_->unlock(passcode.text()); }
  client::Store& store() { return *store_; }
  client::Casework casework() { return client::Casework(*store_); }
  const DeviceProfile& profile() const { return profile_; }
  const DeviceSettings& settings() const { return settings_; }

 private:
  DeviceProfile profile_;
  DeviceSettings settings_;
  std::unique_ptr<platform::FileKeyWrapper> key_wrapper_;  // outlives store_
  std::unique_ptr<client::Store> store_;
};

PasscodeSource passcode_source(const Invocation& invocation);

// What this tool tells the server about itself.
client::ClientInfo client_info();
// The curl transport, trusting the profile's CA file when it names one.
std::unique_ptr<platform::HttpTransport> transport_for(const DeviceSettings& settings);

// The sentence for an unlock that did not unlock ("wrong passcode: 9 attempts left ...").
std::string unlock_failure_message(const client::UnlockResult& result);

}  // namespace fieldsync::cli
