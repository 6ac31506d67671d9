// The JSON forms of the C API (fieldsync.h): records whose field values are natural JSON typed by
// the schema, household visits, versions, and the outbox, conflict and rejection queues. Built on
// json_form.h's conventions: int64 beyond 2^53 as a decimal string, bytes as base64, dates
// "YYYY-MM-DD", timestamps RFC 3339 in UTC, ids as UUID text.
//
// Everything read here comes from the shell, so every problem is Error(kInvalidArgument) naming
// the argument and the member at fault ("fields_json.actual_start"), or Error(kTooLarge) past a
// DecodeLimits cap. Messages never quote content, which may be case data.
//
// Private to client-core. Thread-safe: no shared state.
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/change.h"
#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/json_fields.h"
#include "fieldsync/schema.h"

namespace fieldsync::client {

// {"id", "case_id", "collection", "fields": {...}}
nlohmann::json record_to_json(const Record& record);

// A household visit's children: [{"case_id": "...", "fields": {...}}], "fields" optional.
std::vector<Casework::ChildVisit> child_visits_from_json(const nlohmann::json& list,
                                                         const Schema& schema,
                                                         std::string_view argument);

// A version as {"ms", "counter", "origin"} (json_form.h's version_to_json writes it).
Version version_from_json_argument(const nlohmann::json& json, std::string_view argument);

// {"write_group", "queued_at", "changes": n}
nlohmann::json outbox_entry_to_json(const OutboxEntry& entry);
// {"record_id", "collection", "case_id", "field", "local_edit",
//  "lost": {"value", "author", "version"}, "winner": {...}}
nlohmann::json local_conflict_to_json(const LocalConflict& conflict);
// {"write_group", "code", "message", "rejected_at",
//  "changes": [{"collection", "record_id", "case_id", "field", "value", "version"}]}
nlohmann::json rejected_group_to_json(const RejectedGroup& rejected);

// A JSON array of `items`, each turned into JSON by `to_json_item`.
template <class Item, class ToJson>
nlohmann::json list_to_json(const std::vector<Item>& items, ToJson to_json_item) {
  nlohmann::json list = nlohmann::json::array();
  for (const Item& item : items) list.push_back(to_json_item(item));
  return list;
}

}  // namespace fieldsync::client
