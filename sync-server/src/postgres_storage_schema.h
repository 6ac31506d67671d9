// The PostgreSQL backend's schema, as one migration list: the table schema_version holds how many
// have run. Migrations are only ever appended; each runs in the transaction that records it, under
// an advisory lock, so nodes that start together migrate one after the other.
//
// The tables are those of the SQLite backend (sqlite_storage_schema.h), with PostgreSQL's types:
// ids are uuid, text keys sort bytewise (COLLATE "C", as SQLite does), and sequence numbers come
// from the sequence change_seq. How pulls stay behind running writers (the claims, and
// fieldsync_pull_horizon) is explained in postgres_storage.cpp.
#pragma once

#include <array>
#include <string_view>

namespace fieldsync::server::postgres_schema {

// The two-key advisory lock that serialises sealing pending entries into the audit chain
// (postgres_storage.cpp).
inline constexpr int kAuditLockKey = 2;

// The class of the two-key advisory locks that are turns (ServerStorage::begin_in_turn): the
// second key is hashtext() of the turn's name (two names sharing a hash only share a queue).
inline constexpr int kTurnLockClass = 0x46535455;  // "FSTU"

// The two-key advisory lock held while migrating. Keys of this two-integer form never clash with
// the one-integer (bigint) keys, which the claims on sequence numbers use.
inline constexpr int kMigrationLockClass = 0x46534e43;  // "FSNC"
inline constexpr int kMigrationLockKey = 1;

inline constexpr std::string_view kVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)";

inline constexpr std::array<std::string_view, 3> kMigrations = {
    R"sql(
CREATE TABLE meta(key text COLLATE "C" PRIMARY KEY, value uuid NOT NULL);
INSERT INTO meta(key, value) VALUES ('epoch', gen_random_uuid()), ('origin', gen_random_uuid());
-- The highest HLC each connection has persisted: one row per connection, so that concurrent
-- transactions never write the same row; the floor is the greatest of them.
CREATE TABLE clock_floors(connection_id uuid PRIMARY KEY, floor bigint NOT NULL);
CREATE TABLE teams(id text COLLATE "C" PRIMARY KEY, name text NOT NULL);
CREATE TABLE users(id text COLLATE "C" PRIMARY KEY,
                   team_id text COLLATE "C" NOT NULL REFERENCES teams(id),
                   role smallint NOT NULL, name text NOT NULL);
CREATE TABLE allocations(case_id uuid PRIMARY KEY, team_id text COLLATE "C" NOT NULL,
                         worker_id text COLLATE "C" NOT NULL);
CREATE INDEX allocations_by_worker ON allocations(worker_id);
CREATE INDEX allocations_by_team ON allocations(team_id);
CREATE TABLE devices(id uuid PRIMARY KEY, user_id text COLLATE "C" NOT NULL,
                     status smallint NOT NULL, token_hash bytea NOT NULL,
                     enrolled_at bigint NOT NULL, last_seen bigint NOT NULL,
                     last_sync bigint NOT NULL, status_reason text NOT NULL,
                     telemetry text NOT NULL);
CREATE TABLE enrolment_codes(id text COLLATE "C" PRIMARY KEY, secret_hash bytea NOT NULL,
                             user_id text COLLATE "C" NOT NULL, created_at bigint NOT NULL,
                             expires_at bigint NOT NULL, used_at bigint, device_id uuid);
CREATE TABLE admin_tokens(id text COLLATE "C" PRIMARY KEY, secret_hash bytea NOT NULL,
                          name text NOT NULL, roles text NOT NULL, created_at bigint NOT NULL,
                          expires_at bigint NOT NULL);
CREATE TABLE device_cases(device_id uuid NOT NULL, case_id uuid NOT NULL, state smallint NOT NULL,
                          delivered_in bigint NOT NULL, PRIMARY KEY(device_id, case_id));
CREATE TABLE records(id uuid PRIMARY KEY, collection text COLLATE "C" NOT NULL,
                     case_id uuid NOT NULL);
CREATE SEQUENCE change_seq AS bigint CACHE 1;
CREATE TABLE history(seq bigint PRIMARY KEY, record_id uuid NOT NULL,
                     field text COLLATE "C" NOT NULL, collection text COLLATE "C" NOT NULL,
                     case_id uuid NOT NULL, hlc bigint NOT NULL, origin uuid NOT NULL,
                     value bytea NOT NULL, base bytea NOT NULL, device_seq bigint NOT NULL,
                     write_group uuid NOT NULL, author text NOT NULL, received_at bigint NOT NULL);
CREATE INDEX history_by_field ON history(record_id, field, seq);
CREATE TABLE current(record_id uuid NOT NULL, field text COLLATE "C" NOT NULL, seq bigint NOT NULL,
                     collection text COLLATE "C" NOT NULL, case_id uuid NOT NULL,
                     hlc bigint NOT NULL, origin uuid NOT NULL, value bytea NOT NULL,
                     base bytea NOT NULL, device_seq bigint NOT NULL, write_group uuid NOT NULL,
                     author text NOT NULL, received_at bigint NOT NULL,
                     PRIMARY KEY(record_id, field));
CREATE INDEX current_by_case ON current(case_id, seq);
CREATE TABLE conflicts(record_id uuid NOT NULL, field text COLLATE "C" NOT NULL,
                       lost_hlc bigint NOT NULL, lost_origin uuid NOT NULL, case_id uuid NOT NULL,
                       resolved_hlc bigint, resolved_origin uuid, seq bigint NOT NULL,
                       PRIMARY KEY(record_id, field, lost_hlc, lost_origin));
CREATE INDEX conflicts_by_case ON conflicts(case_id, seq);
-- A device's accepted ranges never overlap, so the ranges that meet [first, last] are found from
-- the (device, last_seq) end: those with last_seq >= first, then first_seq <= last.
CREATE TABLE receipts(device_id uuid NOT NULL, first_seq bigint NOT NULL, last_seq bigint NOT NULL,
                      write_group uuid NOT NULL, content_hash bytea NOT NULL,
                      PRIMARY KEY(device_id, first_seq));
CREATE INDEX receipts_by_last ON receipts(device_id, last_seq);
CREATE TABLE rejected_groups(device_id uuid NOT NULL, write_group uuid NOT NULL,
                             rejection bytea NOT NULL, content_hash bytea NOT NULL,
                             rejected_at bigint NOT NULL, PRIMARY KEY(device_id, write_group));
CREATE TABLE directives(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        device_id uuid NOT NULL, kind smallint NOT NULL, case_id uuid NOT NULL,
                        detail text NOT NULL, created_at bigint NOT NULL, acked_at bigint);
CREATE INDEX directives_by_device ON directives(device_id, acked_at);
CREATE TABLE auth_failures(key text COLLATE "C" NOT NULL, at bigint NOT NULL);
CREATE INDEX auth_failures_by_key ON auth_failures(key, at);
CREATE INDEX auth_failures_by_time ON auth_failures(at);

-- The position below which pulls may be served. It reads first how far change_seq has gone, then
-- the oldest claim still held by a running writer (a shared advisory lock on a bigint key, taken
-- before the writer's first nextval; pg_locks shows such a key as classid << 32 | objid with
-- objsubid 1). Called before the pulling transaction takes its snapshot.
CREATE FUNCTION fieldsync_pull_horizon() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  taken bigint := COALESCE(pg_sequence_last_value('change_seq'), 0);
  oldest_claim bigint;
BEGIN
  SELECT min((l.classid::bigint << 32) | l.objid::bigint) INTO oldest_claim
    FROM pg_locks l JOIN pg_database d ON d.oid = l.database
   WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND d.datname = current_database();
  RETURN LEAST(taken, oldest_claim - 1);
END
$$;
)sql",
    // 2: the device registry (what the server saw of each device's syncs), each device's recent
    // syncs, the fleet's activity in 5-minute buckets, dashboard sessions, what admins may see of
    // rejected groups, the hash-chained audit log and each node's saved metric counters. As on
    // SQLite, the audit log's rows refuse UPDATE and DELETE (triggers), and audit_head is the
    // chain's last row (seq 0 and a zero hash while it is empty). The fleet's activity is kept per
    // bucket and per connection, so that concurrent syncs never write the same row; a bucket is
    // the sum of its rows.
    R"sql(
ALTER TABLE devices ADD COLUMN last_attempt bigint NOT NULL DEFAULT 0,
  ADD COLUMN pending_changes bigint NOT NULL DEFAULT 0,
  ADD COLUMN oldest_pending_at bigint NOT NULL DEFAULT 0,
  ADD COLUMN clock_offset bigint NOT NULL DEFAULT 0,
  ADD COLUMN failed_in_a_row bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_error_code text NOT NULL DEFAULT '',
  ADD COLUMN last_error_message text NOT NULL DEFAULT '',
  ADD COLUMN last_error_at bigint NOT NULL DEFAULT 0,
  ADD COLUMN syncs bigint NOT NULL DEFAULT 0,
  ADD COLUMN failed_syncs bigint NOT NULL DEFAULT 0,
  ADD COLUMN changes_pushed bigint NOT NULL DEFAULT 0,
  ADD COLUMN changes_pulled bigint NOT NULL DEFAULT 0,
  ADD COLUMN conflicts bigint NOT NULL DEFAULT 0,
  ADD COLUMN rejections bigint NOT NULL DEFAULT 0,
  ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0,
  ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0;
CREATE TABLE sync_events(id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         device_id uuid NOT NULL, user_id text COLLATE "C" NOT NULL,
                         at bigint NOT NULL, outcome smallint NOT NULL,
                         duration_ms bigint NOT NULL, changes_pushed bigint NOT NULL,
                         changes_pulled bigint NOT NULL, groups_rejected bigint NOT NULL,
                         conflicts bigint NOT NULL, bytes_in bigint NOT NULL,
                         bytes_out bigint NOT NULL, error_code text NOT NULL,
                         error_message text NOT NULL);
CREATE INDEX sync_events_by_device ON sync_events(device_id, id);
CREATE TABLE sync_activity(start bigint NOT NULL, connection_id uuid NOT NULL,
                           syncs bigint NOT NULL, failed_syncs bigint NOT NULL,
                           rejections bigint NOT NULL, changes_pushed bigint NOT NULL,
                           changes_pulled bigint NOT NULL, conflicts bigint NOT NULL,
                           bytes_in bigint NOT NULL, bytes_out bigint NOT NULL,
                           PRIMARY KEY(start, connection_id));
CREATE TABLE admin_sessions(secret_hash bytea PRIMARY KEY, token_id text COLLATE "C" NOT NULL,
                            created_at bigint NOT NULL, expires_at bigint NOT NULL);
CREATE INDEX admin_sessions_by_expiry ON admin_sessions(expires_at);
ALTER TABLE rejected_groups ADD COLUMN user_id text COLLATE "C" NOT NULL DEFAULT '',
  ADD COLUMN code smallint NOT NULL DEFAULT 0,
  ADD COLUMN message text NOT NULL DEFAULT '',
  ADD COLUMN record_id uuid,
  ADD COLUMN field text COLLATE "C" NOT NULL DEFAULT '',
  ADD COLUMN change_count bigint NOT NULL DEFAULT 0;
CREATE INDEX rejected_groups_by_time ON rejected_groups(rejected_at);
CREATE INDEX conflicts_by_seq ON conflicts(seq);
CREATE TABLE audit_log(seq bigint PRIMARY KEY, at bigint NOT NULL, node text NOT NULL,
                       actor text COLLATE "C" NOT NULL, actor_name text NOT NULL,
                       action text COLLATE "C" NOT NULL, address text NOT NULL, device_id uuid,
                       user_id text COLLATE "C" NOT NULL, detail text NOT NULL,
                       previous_hash bytea NOT NULL, hash bytea NOT NULL);
CREATE INDEX audit_by_actor ON audit_log(actor, seq);
CREATE INDEX audit_by_action ON audit_log(action, seq);
CREATE INDEX audit_by_device ON audit_log(device_id, seq);
CREATE INDEX audit_by_time ON audit_log(at);
CREATE TABLE audit_cases(seq bigint NOT NULL, case_id uuid NOT NULL, PRIMARY KEY(seq, case_id));
CREATE INDEX audit_cases_by_case ON audit_cases(case_id, seq);
CREATE TABLE audit_head(id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL,
                        hash bytea NOT NULL);
INSERT INTO audit_head(id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
CREATE FUNCTION fieldsync_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION fieldsync_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION fieldsync_audit_append_only();
CREATE TRIGGER audit_cases_append_only BEFORE UPDATE OR DELETE ON audit_cases
  FOR EACH ROW EXECUTE FUNCTION fieldsync_audit_append_only();
CREATE TRIGGER audit_cases_no_truncate BEFORE TRUNCATE ON audit_cases
  FOR EACH STATEMENT EXECUTE FUNCTION fieldsync_audit_append_only();
CREATE TABLE node_counters(node text COLLATE "C" NOT NULL, name text COLLATE "C" NOT NULL,
                           value bigint NOT NULL, PRIMARY KEY(node, name));
)sql",
    // 3: audit entries committed with the action they record and waiting to be chained ("sealed")
    // into audit_log after their transaction commits (postgres_storage.cpp). A pending row may be
    // inserted and, by the sealer, deleted; never updated.
    R"sql(
CREATE SEQUENCE audit_pending_id;
CREATE TABLE audit_pending(id bigint PRIMARY KEY DEFAULT nextval('audit_pending_id'),
                           at bigint NOT NULL, node text NOT NULL, actor text COLLATE "C" NOT NULL,
                           actor_name text NOT NULL, action text COLLATE "C" NOT NULL,
                           address text NOT NULL, device_id uuid, user_id text COLLATE "C" NOT NULL,
                           detail text NOT NULL, case_ids uuid[] NOT NULL);
CREATE FUNCTION fieldsync_audit_pending_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a pending audit entry cannot be changed';
END
$$;
CREATE TRIGGER audit_pending_no_update BEFORE UPDATE ON audit_pending
  FOR EACH ROW EXECUTE FUNCTION fieldsync_audit_pending_insert_only();
)sql",
};

}  // namespace fieldsync::server::postgres_schema
