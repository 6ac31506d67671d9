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

// The two-key advisory lock held while migrating. Keys of this two-integer form never clash with
// the one-integer (bigint) keys, which the claims on sequence numbers use.
inline constexpr int kMigrationLockClass = 0x46534e43;  // "FSNC"
inline constexpr int kMigrationLockKey = 1;

inline constexpr std::string_view kVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version(version integer NOT NULL)";

inline constexpr std::array<std::string_view, 1> kMigrations = {
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
};

}  // namespace fieldsync::server::postgres_schema
