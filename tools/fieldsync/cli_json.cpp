// The tool's JSON forms (cli_json.h), delegated to the code that makes the C API's, so the two can
// never drift apart. Its private headers reach this one file only (tools/fieldsync/CMakeLists.txt).
#include "cli_json.h"

#include "capi_sync.h"
#include "record_json.h"

namespace fieldsync::cli {

nlohmann::json record_json(const Record& record) {
  return client::record_to_json(record);
}

nlohmann::json conflict_json(const client::LocalConflict& conflict) {
  return client::local_conflict_to_json(conflict);
}

nlohmann::json rejection_json(const client::RejectedGroup& rejection) {
  return client::rejected_group_to_json(rejection);
}

nlohmann::json sync_report_json(const client::SyncReport& report) {
  return capi::report_to_json(report);
}

Version version_from_json_text(const nlohmann::json& json, std::string_view argument) {
  return client::version_from_json_argument(json, argument);
}

}  // namespace fieldsync::cli
