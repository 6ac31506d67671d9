// The device profile and its unlocked sessions (cli_device.h).
#include "cli_device.h"

#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fieldsync/error.h"

namespace fieldsync::cli {
namespace {

namespace fs = std::filesystem;

// The settings file's own version, for a tool that reads it years from now.
constexpr int kSettingsFormat = 1;
constexpr const char* kDefaultProfileDir = "fieldsync-device";

std::string in_quotes(const fs::path& path) {
  return "'" + path.string() + "'";
}

[[noreturn]] void throw_not_initialised(const DeviceProfile& profile) {
  throw Error(ErrorCode::kNotFound,
              "no device profile in " + in_quotes(profile.dir()) +
                  ": run `fieldsync init --server URL` first (or give --device DIR)");
}

DeviceSettings settings_from_json(const nlohmann::json& json, const fs::path& file) {
  const auto text = [&](const char* member) -> std::string {
    const auto found = json.find(member);
    if (found == json.end()) return "";
    if (!found->is_string()) {
      throw Error(ErrorCode::kMalformed, in_quotes(file) + ": " + member + " must be a string");
    }
    return found->get<std::string>();
  };
  if (!json.is_object() || json.value("format", 0) != kSettingsFormat) {
    throw Error(ErrorCode::kUnsupportedVersion,
                in_quotes(file) + " is not a settings file this version of fieldsync reads");
  }
  DeviceSettings settings{text("server_url"), text("ca_file")};
  if (settings.server_url.empty()) {
    throw Error(ErrorCode::kMalformed, in_quotes(file) + " names no server_url");
  }
  return settings;
}

client::StoreOptions store_options(const DeviceProfile& profile,
                                   platform::KeyWrapper& key_wrapper) {
  client::StoreOptions options;
  options.path = profile.store_file().string();
  options.key_wrapper = &key_wrapper;
  return options;
}

}  // namespace

DeviceProfile DeviceProfile::chosen_by(const Invocation& invocation) {
  if (auto dir = invocation.option("--device")) return DeviceProfile(*dir);
  if (const char* dir = std::getenv("FIELDSYNC_DEVICE"); dir && *dir) return DeviceProfile(dir);
  return DeviceProfile(kDefaultProfileDir);
}

bool DeviceProfile::initialised() const {
  return fs::exists(settings_file());
}

bool DeviceProfile::enrolled() const {
  return client::Store::exists(store_file().string());
}

DeviceSettings DeviceProfile::settings() const {
  std::ifstream in(settings_file());
  if (!in) throw_not_initialised(*this);
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return settings_from_json(json, settings_file());
}

void DeviceProfile::save(const DeviceSettings& settings) const {
  // Only a directory made here becomes owner-only: --device may name one the user already has.
  if (fs::create_directories(dir_)) {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace);
  }
  const nlohmann::json json = {{"format", kSettingsFormat},
                               {"server_url", settings.server_url},
                               {"ca_file", settings.ca_file}};
  // Written beside, then renamed over: a crash leaves the old file or the new one, never half.
  const fs::path partial = dir_ / "settings.json.partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << json.dump(2) << "\n";
    if (!out.flush()) {
      throw Error(ErrorCode::kIo, "cannot write " + in_quotes(partial));
    }
  }
  fs::rename(partial, settings_file());
}

DeviceSession::DeviceSession(DeviceProfile profile) : profile_(std::move(profile)) {
  settings_ = profile_.settings();
  if (!profile_.enrolled()) {
    throw Error(ErrorCode::kNotFound,
                in_quotes(profile_.dir()) + " is not enrolled: run `fieldsync enrol --code CODE`");
  }
  key_wrapper_ = std::make_unique<platform::FileKeyWrapper>(profile_.key_file());
  store_ = client::Store::open(store_options(profile_, *key_wrapper_));
}

DeviceSession DeviceSession::unlocked(const Invocation& invocation, Access access) {
  DeviceSession session(DeviceProfile::chosen_by(invocation));
  const client::UnlockResult result = session.unlock(read_passcode(passcode_source(invocation)));
  const bool usable =
      result.outcome == client::UnlockOutcome::kUnlocked ||
      (result.outcome == client::UnlockOutcome::kCheckInRequired && access == Access::kSync);
  if (!usable) throw Error(ErrorCode::kLocked, unlock_failure_message(result));
  return session;
}

void DeviceSession::create_store(const DeviceProfile& profile, const Passcode& passcode,
                                 const client::Enrolment& enrolment) {
  platform::FileKeyWrapper key_wrapper(profile.key_file());
  const auto store = client::Store::create(store_options(profile, key_wrapper), passcode.text(),
                                           {enrolment.device_id, enrolment.user_id});
  store->set_token(enrolment.token);
  store->lock();
}

DeviceSession::~DeviceSession() {
  if (!store_) return;
  try {
    store_->lock();
  } catch (...) {
    // Locking only forgets keys; the process ends right after, which forgets them too.
  }
}

PasscodeSource passcode_source(const Invocation& invocation) {
  return PasscodeSource{invocation.option("--passcode-file")};
}

client::ClientInfo client_info() {
  std::string platform = "unknown";
  utsname system;
  if (::uname(&system) == 0) platform = std::string(system.sysname) + " " + system.release;
  return client::ClientInfo{platform, "fieldsync-cli " + std::string(client::core_version())};
}

std::unique_ptr<platform::HttpTransport> transport_for(const DeviceSettings& settings) {
  platform::CurlTransportOptions options;
  options.ca_file = settings.ca_file;
  options.user_agent = "fieldsync-cli/" + std::string(client::core_version());
  return platform::make_curl_transport(options);
}

std::string unlock_failure_message(const client::UnlockResult& result) {
  switch (result.outcome) {
    case client::UnlockOutcome::kWrongPasscode:
      return "wrong passcode: " + std::to_string(result.attempts_left) +
             (result.attempts_left == 1 ? " attempt" : " attempts") +
             " left before this device's store is wiped";
    case client::UnlockOutcome::kWiped:
      return "this device's store has been wiped: enrol it again with a new code";
    case client::UnlockOutcome::kCheckInRequired:
      return "the passcode is right, but this device has been offline longer than allowed: run "
             "`fieldsync sync` to check in first";
    case client::UnlockOutcome::kUnlocked:
      break;
  }
  return "the store is unlocked";
}

}  // namespace fieldsync::cli
