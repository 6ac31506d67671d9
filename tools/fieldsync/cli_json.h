// The JSON the fieldsync tool prints with --json: the same forms the C API documents in
// fieldsync.h (records, conflicts, rejections, the sync report), so a script reads one format
// whichever way it reaches the library. cli_json.cpp is the only file of the tool that uses
// client-core's private JSON code, which makes these forms.
//
// Thread-safe: no shared state.
#pragma once

#include <nlohmann/json.hpp>

#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"

namespace fieldsync::cli {

// {"id", "case_id", "collection", "fields": {...}}
nlohmann::json record_json(const Record& record);
// {"record_id", "collection", "case_id", "field", "local_edit",
//  "lost": {"value", "author", "version": {"ms", "counter", "origin"}}, "winner": {...}}
nlohmann::json conflict_json(const client::LocalConflict& conflict);
// {"write_group", "code", "message", "rejected_at", "changes": [...]}
nlohmann::json rejection_json(const client::RejectedGroup& rejection);
// {"outcome", "rounds", ..., "outbox_remaining", "error": {...} when there is one}
nlohmann::json sync_report_json(const client::SyncReport& report);

// A version as the JSON forms write it, {"ms", "counter", "origin"}, read back; Error naming
// `argument` when it is not one.
Version version_from_json_text(const nlohmann::json& json, std::string_view argument);

}  // namespace fieldsync::cli
