// The admin dashboard in a real browser: Debian's chromium, headless, driven by playwright-core
// (tests/browser/dashboard.test.mjs), against a real fieldsync-server process that real device
// stores synced with. This file sets the scene and runs the browser script on it.
//
// Stale devices honestly: the server first runs with its clock two days behind (libfaketime,
// Debian's faketime package, preloaded into the server process only) while two phones, their
// clocks two days behind too, sync; then it restarts on the real clock, and those phones have
// not synced for two days. One of them had more to send than its sync took, so it is at risk.
// Then, on the real clock: a manager's phone and a second phone of Amira's sync (and make a
// conflict), a phone reports an app version holding a <script> element, a device reports an
// error message holding an <img onerror> and has work refused, and a device fails three syncs in
// a row. Case content holds a sentinel throughout; the browser script checks that no rendered
// page shows it and that nothing a device reported ran. Screenshots go to
// <build>/test-artifacts/browser/.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "device_fixture.h"

using namespace fieldsync;
using namespace fieldsync::itest;

namespace {

const std::string kSentinel = "SENTINEL-b10w5e-Jordan";
constexpr std::int64_t kTwoDaysMs = 50LL * 60 * 60 * 1000;  // "2 days" with room to spare
// What devices report, which the page must show as text and never run.
const std::string kScriptVersion = "2.4.1<script>window.__fieldsyncInjected = 'app';</script>";
const std::string kImageError =
    "proxy said <img src=x onerror=\"window.__fieldsyncInjected = 'error'; alert(1)\">";

const std::string kChromium = "/usr/bin/chromium";
const std::filesystem::path kBrowserTestDir = FIELDSYNC_BROWSER_TEST_DIR;

// libfaketime as Debian installs it (/usr/lib/<multiarch>/faketime/), or empty.
std::string faketime_library() {
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib")) {
    const std::filesystem::path library = entry.path() / "faketime" / "libfaketime.so.1";
    if (std::filesystem::exists(library)) return library.string();
  }
  return {};
}

// What the browser test needs beyond the build, or a message saying how to get it.
std::string missing_prerequisites() {
  std::string missing;
  if (!std::filesystem::exists(kChromium)) missing += " chromium (" + kChromium + ")";
  if (!std::filesystem::exists(kBrowserTestDir / "node_modules" / "playwright-core"))
    missing += " playwright-core (" + (kBrowserTestDir / "node_modules").string() + ")";
  if (faketime_library().empty()) missing += " libfaketime";
  if (std::system("node --version > /dev/null 2>&1") != 0) missing += " node";
  return missing.empty() ? "" : "missing" + missing + ": run tools/bootstrap";
}

// Runs `command`, returning its exit status and what it printed (standard error included).
std::pair<int, std::string> run(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "cannot run " + command};
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

nlohmann::json device_entry(TestServer& server, const OriginId& device) {
  return server.admin().call("GET", "/v1/admin/devices/" + device.to_string());
}

// A sync request from `device` carrying its own telemetry.
SyncRequest reporting(const Telemetry& telemetry, std::vector<WriteGroup> groups = {}) {
  SyncRequest request;
  request.write_groups = std::move(groups);
  request.telemetry = telemetry;
  return request;
}

}  // namespace

TEST_CASE("The dashboard in a real browser: stale devices, a device, the chart, no injection",
          "[integration][browser]") {
  const std::string missing = missing_prerequisites();
  if (!missing.empty()) FAIL(missing);

  // --- Two days ago (the server's clock and the phones' both set back).
  TestServer server({.environment = {"LD_PRELOAD=" + faketime_library(), "FAKETIME=-50h",
                                     "FAKETIME_DONT_FAKE_MONOTONIC=1"}});
  const Council council = set_up_council(server.admin());
  const CaseId sentinel_case = server.admin().create_case("ben", {{"child_name", kSentinel}});
  TestDevice amira_phone(server, "amira", -kTwoDaysMs);
  const RecordId visit = amira_phone.casework().record_visit(
      council.jordan, visit_fields(amira_phone.store(), kSentinel + " was calm."));
  REQUIRE(amira_phone.sync().outcome == client::SyncOutcome::kCompleted);

  TestDevice ben_phone(server, "ben", -kTwoDaysMs);
  REQUIRE(ben_phone.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(ben_phone.store().record(sentinel_case).has_value());
  for (int i = 0; i < 3; ++i) {
    ben_phone.casework().record_visit(council.sam,
                                      visit_fields(ben_phone.store(), kSentinel + " visit"));
  }
  client::SyncSettings one_visit_only = ben_phone.settings();
  one_visit_only.max_changes_per_request = 1;  // one whole group per request
  one_visit_only.max_rounds = 1;
  ben_phone.sync(one_visit_only, 10s);
  REQUIRE(device_entry(server, ben_phone.id()).at("pending_changes").get<int>() > 0);

  // --- Today.
  server.process().restart_with_environment({});
  TestDevice maya_phone(server, "maya");
  TestDevice amira_tablet(server, "amira");
  for (TestDevice* device : {&maya_phone, &amira_tablet})
    REQUIRE(device->sync().outcome == client::SyncOutcome::kCompleted);
  // Both change the visit's observations without seeing the other's change: a conflict.
  amira_tablet.store().write_record(
      {"visit", visit, council.jordan, {{"observations", Value::text(kSentinel + " tablet")}}});
  maya_phone.store().write_record(
      {"visit", visit, council.jordan, {{"observations", Value::text(kSentinel + " manager")}}});
  REQUIRE(amira_tablet.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(maya_phone.sync().outcome == client::SyncOutcome::kCompleted);
  REQUIRE(server.admin().call("GET", "/v1/admin/conflicts").at("total") == 1);

  TestDevice chen_phone(server, "chen");
  client::SyncSettings scripted = chen_phone.settings();
  scripted.client.app_version = kScriptVersion;
  REQUIRE(chen_phone.sync(scripted, 10s).outcome == client::SyncOutcome::kCompleted);

  RawDevice chen_tablet(server, "chen");
  Telemetry telemetry;
  telemetry.app_version = "2.4.0";
  telemetry.core_version = "0.1.0";
  telemetry.platform = "android 14";
  telemetry.last_error_code = "network";
  telemetry.last_error_message = kImageError;
  // Amira's case is not Chen's: the note is refused (scope).
  const SyncResponse refused = chen_tablet.sync(
      reporting(telemetry, {chen_tablet.new_note(council.jordan, kSentinel + " note")}));
  REQUIRE(refused.rejections.size() == 1);

  RawDevice ben_tablet(server, "ben");
  for (int i = 0; i < 3; ++i) CHECK(ben_tablet.post("not a sync request").status == 400);

  const auto state_of = [&](const OriginId& device) {
    return device_entry(server, device).at("state").get<std::string>();
  };
  REQUIRE(state_of(amira_phone.id()) == "stale");
  REQUIRE(state_of(ben_phone.id()) == "at_risk");
  REQUIRE(state_of(ben_tablet.id()) == "at_risk");
  REQUIRE(state_of(maya_phone.id()) == "healthy");
  REQUIRE(state_of(chen_phone.id()) == "healthy");
  REQUIRE(state_of(chen_tablet.id()) == "healthy");

  // --- The browser.
  const std::filesystem::path artifacts = FIELDSYNC_BROWSER_ARTIFACTS;
  std::filesystem::remove_all(artifacts);
  std::filesystem::create_directories(artifacts);
  const nlohmann::json scene = {
      {"url", server.url()},
      {"token", server.process().create_admin_token("Dana Admin", "monitor,enrol")},
      {"monitor_token", server.process().create_admin_token("Sam Monitor", "monitor")},
      {"sentinel", kSentinel},
      {"script_version", kScriptVersion},
      {"image_error", kImageError},
      {"devices",
       {{"stale", amira_phone.id().to_string()},
        {"at_risk_unsynced", ben_phone.id().to_string()},
        {"at_risk_failing", ben_tablet.id().to_string()},
        {"healthy", maya_phone.id().to_string()},
        {"scripted_version", chen_phone.id().to_string()},
        {"scripted_error", chen_tablet.id().to_string()}}},
      {"artifacts", artifacts.string()},
      {"chromium", kChromium},
  };
  const std::filesystem::path scene_file = artifacts / "scene.json";
  std::ofstream(scene_file) << scene.dump(2);
  const auto [status, output] = run("node '" + (kBrowserTestDir / "dashboard.test.mjs").string() +
                                    "' '" + scene_file.string() + "'");
  INFO(output);
  CHECK(status == 0);
  // The page revoked the healthy tablet through its session (the CSRF header went with it).
  CHECK(state_of(chen_tablet.id()) == "revoked");
}
