// The SQLite backend's tables, as one migration list: the file's user_version says how many have
// run. Migrations are only ever appended.
//
// Each field's history and its current winner are kept apart: history is the audit trail and the
// source of the conflict log; `current` is what pulls serve (compacted state, indexed by case and
// sequence number), so a pull's cost grows with what changed, not with history.
#pragma once

#include <array>
#include <string_view>

namespace fieldsync::server::sqlite_schema {

inline constexpr std::array<std::string_view, 5> kMigrations = {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE teams(id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE users(id TEXT PRIMARY KEY, team_id TEXT NOT NULL REFERENCES teams(id),
                   role INTEGER NOT NULL, name TEXT NOT NULL);
CREATE TABLE allocations(case_id BLOB PRIMARY KEY, team_id TEXT NOT NULL,
                         worker_id TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX allocations_by_worker ON allocations(worker_id);
CREATE INDEX allocations_by_team ON allocations(team_id);
CREATE TABLE devices(id BLOB PRIMARY KEY, user_id TEXT NOT NULL, status INTEGER NOT NULL,
                     token_hash BLOB NOT NULL, enrolled_at INTEGER NOT NULL,
                     last_seen INTEGER NOT NULL, last_sync INTEGER NOT NULL,
                     status_reason TEXT NOT NULL, telemetry TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE enrolment_codes(id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL,
                             user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
                             expires_at INTEGER NOT NULL, used_at INTEGER, device_id BLOB);
CREATE TABLE admin_tokens(id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, name TEXT NOT NULL,
                          roles TEXT NOT NULL, created_at INTEGER NOT NULL,
                          expires_at INTEGER NOT NULL);
CREATE TABLE device_cases(device_id BLOB NOT NULL, case_id BLOB NOT NULL, state INTEGER NOT NULL,
                          PRIMARY KEY(device_id, case_id)) WITHOUT ROWID;
CREATE TABLE records(id BLOB PRIMARY KEY, collection TEXT NOT NULL,
                     case_id BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE history(seq INTEGER PRIMARY KEY, record_id BLOB NOT NULL, field TEXT NOT NULL,
                     collection TEXT NOT NULL, case_id BLOB NOT NULL, hlc INTEGER NOT NULL,
                     origin BLOB NOT NULL, value BLOB NOT NULL, base BLOB NOT NULL,
                     device_seq INTEGER NOT NULL, write_group BLOB NOT NULL, author TEXT NOT NULL,
                     received_at INTEGER NOT NULL);
CREATE INDEX history_by_field ON history(record_id, field);
CREATE TABLE current(record_id BLOB NOT NULL, field TEXT NOT NULL, seq INTEGER NOT NULL,
                     collection TEXT NOT NULL, case_id BLOB NOT NULL, hlc INTEGER NOT NULL,
                     origin BLOB NOT NULL, value BLOB NOT NULL, base BLOB NOT NULL,
                     device_seq INTEGER NOT NULL, write_group BLOB NOT NULL, author TEXT NOT NULL,
                     received_at INTEGER NOT NULL,
                     PRIMARY KEY(record_id, field)) WITHOUT ROWID;
CREATE INDEX current_by_case ON current(case_id, seq);
CREATE TABLE conflicts(record_id BLOB NOT NULL, field TEXT NOT NULL, lost_hlc INTEGER NOT NULL,
                       lost_origin BLOB NOT NULL, case_id BLOB NOT NULL, resolved_hlc INTEGER,
                       resolved_origin BLOB, seq INTEGER NOT NULL,
                       PRIMARY KEY(record_id, field, lost_hlc, lost_origin)) WITHOUT ROWID;
CREATE INDEX conflicts_by_case ON conflicts(case_id, seq);
CREATE TABLE receipts(device_id BLOB NOT NULL, first_seq INTEGER NOT NULL,
                      last_seq INTEGER NOT NULL, write_group BLOB NOT NULL,
                      content_hash BLOB NOT NULL,
                      PRIMARY KEY(device_id, first_seq)) WITHOUT ROWID;
CREATE TABLE rejected_groups(device_id BLOB NOT NULL, write_group BLOB NOT NULL,
                             rejection BLOB NOT NULL, content_hash BLOB NOT NULL,
                             rejected_at INTEGER NOT NULL,
                             PRIMARY KEY(device_id, write_group)) WITHOUT ROWID;
CREATE TABLE directives(id INTEGER PRIMARY KEY, device_id BLOB NOT NULL, kind INTEGER NOT NULL,
                        case_id BLOB NOT NULL, detail TEXT NOT NULL, created_at INTEGER NOT NULL,
                        acked_at INTEGER);
CREATE INDEX directives_by_device ON directives(device_id, acked_at);
)sql",
    // 2: which answer carried a backfilled case, so that a lost answer is sent again.
    R"sql(
ALTER TABLE device_cases ADD COLUMN delivered_in INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: the hash-chained audit log (audit_chain.h) and each node's saved metric counters. The log's
    // rows refuse UPDATE and DELETE; audit_head is the chain's last row (seq 0 and a zero hash
    // while it is empty), read and rewritten by each append inside the writing transaction.
    R"sql(
CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, node TEXT NOT NULL,
                       actor TEXT NOT NULL, actor_name TEXT NOT NULL, action TEXT NOT NULL,
                       address TEXT NOT NULL, device_id BLOB, user_id TEXT NOT NULL,
                       detail TEXT NOT NULL, previous_hash BLOB NOT NULL, hash BLOB NOT NULL);
CREATE INDEX audit_by_actor ON audit_log(actor, seq);
CREATE INDEX audit_by_action ON audit_log(action, seq);
CREATE INDEX audit_by_device ON audit_log(device_id, seq);
CREATE INDEX audit_by_time ON audit_log(at);
CREATE TABLE audit_cases(seq INTEGER NOT NULL, case_id BLOB NOT NULL,
                         PRIMARY KEY(seq, case_id)) WITHOUT ROWID;
CREATE INDEX audit_cases_by_case ON audit_cases(case_id, seq);
CREATE TABLE audit_head(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
                        hash BLOB NOT NULL);
INSERT INTO audit_head(id, seq, hash) VALUES (1, 0, zeroblob(32));
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_cases_no_update BEFORE UPDATE ON audit_cases
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_cases_no_delete BEFORE DELETE ON audit_cases
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE node_counters(node TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
                           PRIMARY KEY(node, name)) WITHOUT ROWID;
)sql",
    // 4: the device registry (what the server saw of each device's syncs), each device's recent
    // syncs, the fleet's activity in 5-minute buckets, dashboard sessions, and what admins may
    // see of rejected groups (the code and message are filled from the stored rejection for
    // rows older than this step: see SqliteStorage::migrate).
    R"sql(
ALTER TABLE devices ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN pending_changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN oldest_pending_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN clock_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN failed_in_a_row INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN last_error_code TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_error_message TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_error_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN syncs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN failed_syncs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN changes_pushed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN changes_pulled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN rejections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN bytes_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN bytes_out INTEGER NOT NULL DEFAULT 0;
CREATE TABLE sync_events(id INTEGER PRIMARY KEY, device_id BLOB NOT NULL, user_id TEXT NOT NULL,
                         at INTEGER NOT NULL, outcome INTEGER NOT NULL,
                         duration_ms INTEGER NOT NULL, changes_pushed INTEGER NOT NULL,
                         changes_pulled INTEGER NOT NULL, groups_rejected INTEGER NOT NULL,
                         conflicts INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
                         bytes_out INTEGER NOT NULL, error_code TEXT NOT NULL,
                         error_message TEXT NOT NULL);
CREATE INDEX sync_events_by_device ON sync_events(device_id, id);
CREATE TABLE sync_activity(start INTEGER PRIMARY KEY, syncs INTEGER NOT NULL,
                           failed_syncs INTEGER NOT NULL, rejections INTEGER NOT NULL,
                           changes_pushed INTEGER NOT NULL, changes_pulled INTEGER NOT NULL,
                           conflicts INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
                           bytes_out INTEGER NOT NULL);
CREATE TABLE admin_sessions(secret_hash BLOB PRIMARY KEY, token_id TEXT NOT NULL,
                            created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX admin_sessions_by_expiry ON admin_sessions(expires_at);
ALTER TABLE rejected_groups ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rejected_groups ADD COLUMN code INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rejected_groups ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE rejected_groups ADD COLUMN record_id BLOB;
ALTER TABLE rejected_groups ADD COLUMN field TEXT NOT NULL DEFAULT '';
ALTER TABLE rejected_groups ADD COLUMN change_count INTEGER NOT NULL DEFAULT 0;
UPDATE rejected_groups SET user_id = COALESCE(
    (SELECT user_id FROM devices WHERE devices.id = rejected_groups.device_id), '');
CREATE INDEX rejected_groups_by_time ON rejected_groups(rejected_at);
CREATE INDEX conflicts_by_seq ON conflicts(seq);
)sql",
    // 5: failed authentication attempts, counted in the database rather than in one process.
    R"sql(
CREATE TABLE auth_failures(key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX auth_failures_by_key ON auth_failures(key, at);
CREATE INDEX auth_failures_by_time ON auth_failures(at);
)sql",
};

}  // namespace fieldsync::server::sqlite_schema
