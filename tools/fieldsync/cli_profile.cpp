// `init`, `enrol` and `unlock` (cli_profile.h).
#include "cli_profile.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_device.h"
#include "cli_output.h"
#include "fieldsync/error.h"

namespace fieldsync::cli {
namespace {

namespace fs = std::filesystem;

std::string in_quotes(const fs::path& path) {
  return "'" + path.string() + "'";
}

// The form only; enrolment checks the rest (plain http is for a loopback address alone).
std::string checked_server_url(const std::string& url) {
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    throw UsageError(
        "--server must be a URL: https://host[:port] (plain http:// only to "
        "127.0.0.1, for tests)");
  }
  return url;
}

std::string readable_file(const std::string& path) {
  if (!fs::is_regular_file(path) || !std::ifstream(path)) {
    throw Error(ErrorCode::kNotFound, "cannot read the CA file " + in_quotes(path));
  }
  return fs::absolute(path).string();
}

[[noreturn]] void throw_already_enrolled(const DeviceProfile& profile) {
  DeviceSession session(profile);
  const client::DeviceIdentity identity = session.store().identity();
  throw Error(ErrorCode::kConflict, in_quotes(profile.dir()) + " is already enrolled (device " +
                                        identity.device_id.to_string() + ", user " +
                                        identity.user_id + "): give another --device directory");
}

client::Enrolment enrol_with_server(const DeviceSettings& settings, const std::string& code) {
  const auto transport = transport_for(settings);
  try {
    return client::enrol(*transport, settings.server_url, code, client_info());
  } catch (const Error& error) {
    throw Error(error.domain(), error.code(), std::string("enrolment failed: ") + error.what());
  }
}

std::string_view outcome_name(client::UnlockOutcome outcome) {
  switch (outcome) {
    case client::UnlockOutcome::kUnlocked:
      return "unlocked";
    case client::UnlockOutcome::kWrongPasscode:
      return "wrong_passcode";
    case client::UnlockOutcome::kCheckInRequired:
      return "check_in_required";
    case client::UnlockOutcome::kWiped:
      return "wiped";
  }
  return "unknown";
}

}  // namespace

int run_init(const Invocation& invocation) {
  const DeviceProfile profile = DeviceProfile::chosen_by(invocation);
  if (profile.enrolled()) throw_already_enrolled(profile);
  DeviceSettings settings;
  settings.server_url = checked_server_url(invocation.required_option("--server"));
  if (auto ca_file = invocation.option("--ca-file")) settings.ca_file = readable_file(*ca_file);
  profile.save(settings);
  std::printf("device profile ready in %s for %s\nnext: fieldsync enrol --code CODE\n",
              in_quotes(profile.dir()).c_str(), settings.server_url.c_str());
  return kExitOk;
}

int run_enrol(const Invocation& invocation) {
  const DeviceProfile profile = DeviceProfile::chosen_by(invocation);
  const DeviceSettings settings = profile.settings();
  if (profile.enrolled()) throw_already_enrolled(profile);
  // Asked before the code is spent, so that a mistyped confirmation costs nothing.
  const Passcode passcode = read_new_passcode(passcode_source(invocation));
  const client::Enrolment enrolment =
      enrol_with_server(settings, invocation.required_option("--code"));
  try {
    DeviceSession::create_store(profile, passcode, enrolment);
  } catch (const Error& error) {
    throw Error(error.domain(), error.code(),
                std::string("the server enrolled this device, but its store could not be made (") +
                    error.what() + "): ask for a new enrolment code");
  }
  std::printf("enrolled: device %s for user %s\nnext: fieldsync sync (brings your caseload)\n",
              enrolment.device_id.to_string().c_str(), enrolment.user_id.c_str());
  return kExitOk;
}

int run_unlock(const Invocation& invocation) {
  DeviceSession session(DeviceProfile::chosen_by(invocation));
  const client::UnlockResult result = session.unlock(read_passcode(passcode_source(invocation)));
  if (invocation.flag("--json")) {
    print_json({{"outcome", outcome_name(result.outcome)},
                {"state", client::to_string(session.store().state())},
                {"attempts_left", result.attempts_left}});
  }
  switch (result.outcome) {
    case client::UnlockOutcome::kWrongPasscode:
    case client::UnlockOutcome::kWiped:
      throw Error(ErrorCode::kLocked, unlock_failure_message(result));
    case client::UnlockOutcome::kCheckInRequired:
      if (!invocation.flag("--json")) {
        std::printf("check-in required: %s\n", unlock_failure_message(result).c_str());
      }
      return kExitOk;
    case client::UnlockOutcome::kUnlocked:
      break;
  }
  if (!invocation.flag("--json")) {
    const client::DeviceIdentity identity = session.store().identity();
    std::printf("unlocked: the passcode is right (device %s, user %s)\n",
                identity.device_id.to_string().c_str(), identity.user_id.c_str());
  }
  return kExitOk;
}

}  // namespace fieldsync::cli
