/*
 * fieldsync.h: the C API of fieldsync's client core, for the iOS (Swift) and Android (JNI/Kotlin)
 * shells. This header is the whole contract; it is plain C11.
 *
 * WHAT IT DOES
 * A social worker's device keeps its caseload in an encrypted SQLite store that works with no
 * network. The shell opens the store, unlocks it with the worker's passcode, records visits,
 * assessments and notes, and syncs with the server whenever a connection appears
 * (fieldsync_enrol once, then fieldsync_sync; see "SERVER" below). Nothing recorded is lost: every
 * user action is written, with its outbox entry, in one durable transaction before the call
 * returns.
 *
 * CONVENTIONS
 *  - Handles are opaque. fieldsync_store_free() is safe on NULL. Free a handle only when no other
 *    thread is using it.
 *  - Every function is safe to call from any thread, and from two threads at once on the same
 *    store (the UI records while a background thread syncs). No C++ exception crosses this
 *    boundary. The core starts no threads: the event callback runs on the thread that made the
 *    call that caused the event, before that call returns.
 *  - Errors: functions that can fail take a `fieldsync_error *error` last (may be NULL). On failure
 *    they return false / NULL and fill it; on success they leave it with domain 0. See
 *    fieldsync_error below. An unusable argument (NULL where a value is needed, an id that is not
 *    a UUID, JSON that does not parse or has the wrong shape, a field value not of its schema
 *    type) fails with FIELDSYNC_ERR_INVALID_ARGUMENT and a message naming the argument and member,
 *    e.g. "fields_json.actual_start must be an RFC 3339 timestamp string". Running out of memory
 *    fails with {FIELDSYNC_DOMAIN_POSIX, ENOMEM}.
 *  - Strings in are UTF-8, NUL-terminated, borrowed for the duration of the call. Strings out
 *    (char *) are allocated by fieldsync and owned by the caller, who frees them with
 *    fieldsync_string_free().
 *  - Ids are UUID text ("0190f1a2-3b4c-7d5e-8f60-718293a4b5c6").
 *  - Records cross the boundary as JSON objects:
 *      {"id": "...", "case_id": "...", "collection": "visit",
 *       "fields": {"child_seen": true, "actual_start": "2024-03-01T09:30:00.000Z", ...}}
 *    Field values follow the schema's types: booleans, numbers, strings; int64 values beyond
 *    2^53 as strings; bytes as base64 strings; dates "YYYY-MM-DD"; timestamps RFC 3339 in UTC
 *    (written with "Z"; an offset is accepted on input); null clears a field, and unset fields
 *    are left out of records returned. Field names, types and allowed codes are those of the
 *    domain schema, which fieldsync_schema() returns; fields the schema does not know are kept and passed
 *    on, typed by their JSON: true/false a boolean, an integer an int64, another number a double,
 *    a string text (so such a field's date or timestamp comes back as the string it was).
 *
 * KEEP THE STORE OUT OF DEVICE BACKUPS
 *  The store file, its "-wal" and "-shm" companions and the desktop key file must not be backed
 *  up: a backup restored on another device would resend old work and hold case data outside the
 *  council's control.
 *   - iOS: put the store under Library/Application Support/ and set
 *     URLResourceValues.isExcludedFromBackup = true on its folder; use a Keychain item with
 *     kSecAttrAccessibleWhenUnlockedThisDeviceOnly (never synchronised) in the key wrapper.
 *   - Android: put the store in Context.getNoBackupFilesDir(), and also exclude it in
 *     dataExtractionRules / fullBackupContent (or set android:allowBackup="false"); use an
 *     Android Keystore key in the key wrapper.
 */
#ifndef FIELDSYNC_H
#define FIELDSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define FIELDSYNC_NOEXCEPT noexcept
extern "C" {
#else
#define FIELDSYNC_NOEXCEPT
#endif

/* ---- Versions ------------------------------------------------------------------------------ */

#define FIELDSYNC_VERSION_MAJOR 0
#define FIELDSYNC_VERSION_MINOR 1
#define FIELDSYNC_VERSION_PATCH 0
#define FIELDSYNC_VERSION_STRING "0.1.0"
/* major * 1000000 + minor * 1000 + patch: compare with fieldsync_version_number() at run time. */
#define FIELDSYNC_VERSION_NUMBER 1000

/* The library's version at run time: "0.1.0". Static storage; do not free. */
const char *fieldsync_version(void) FIELDSYNC_NOEXCEPT;
int32_t fieldsync_version_number(void) FIELDSYNC_NOEXCEPT;

/* The domain schema, as a JSON string owned by the caller (fieldsync_string_free): every
 * collection with its fields in order, each as {"name", "type" ("bool", "int", "double", "text",
 * "date", "timestamp", "bytes"), "required", "frozen_on_submit", "codes" (allowed values of a
 * coded text, or absent), "max_length" (bytes, or absent)}. Rules across fields (for example
 * "seen_alone cannot be true when child_seen is false") are checked on every write, and a
 * violation's message names the field. NULL only when out of memory. */
char *fieldsync_schema(void) FIELDSYNC_NOEXCEPT;

/* ---- Errors -------------------------------------------------------------------------------- */

/* Where an error came from. New domains and codes may be added; treat unknown ones as failures. */
typedef enum fieldsync_error_domain {
  FIELDSYNC_DOMAIN_NONE = 0,      /* no error */
  FIELDSYNC_DOMAIN_FIELDSYNC = 1, /* codes below */
  FIELDSYNC_DOMAIN_SQLITE = 2,    /* an SQLite result code */
  FIELDSYNC_DOMAIN_CRYPTO = 3,    /* OpenSSL */
  FIELDSYNC_DOMAIN_NETWORK = 4,   /* transport */
  FIELDSYNC_DOMAIN_HTTP = 5,      /* an HTTP status */
  FIELDSYNC_DOMAIN_POSIX = 6      /* errno */
} fieldsync_error_domain;

/* Codes of FIELDSYNC_DOMAIN_FIELDSYNC. */
typedef enum fieldsync_error_code {
  FIELDSYNC_ERR_INVALID_ARGUMENT = 1,    /* a NULL, a bad id, JSON of the wrong shape, ... */
  FIELDSYNC_ERR_MALFORMED = 2,           /* stored or received data that do not decode */
  FIELDSYNC_ERR_TOO_LARGE = 3,           /* over a cap: e.g. JSON nested deeper than 32 levels */
  FIELDSYNC_ERR_UNSUPPORTED_VERSION = 4, /* e.g. a store written by a newer version */
  FIELDSYNC_ERR_VALIDATION = 5,          /* a record breaks a schema rule: the message names the field */
  FIELDSYNC_ERR_FROZEN = 6,              /* an edit of a submitted note */
  FIELDSYNC_ERR_NOT_FOUND = 7,
  FIELDSYNC_ERR_INTEGRITY = 8,           /* stored ciphertext failed authentication */
  FIELDSYNC_ERR_LOCKED = 9,              /* unlock first (or sync, after a long time offline) */
  FIELDSYNC_ERR_IO = 10,
  FIELDSYNC_ERR_CLOCK_SKEW = 11,
  FIELDSYNC_ERR_INTERNAL = 12,           /* a bug: please report it with the message */
  FIELDSYNC_ERR_UNAUTHORIZED = 13,       /* the server refused the token or enrolment code */
  FIELDSYNC_ERR_FORBIDDEN = 14,          /* the server refused the request for this user */
  FIELDSYNC_ERR_RATE_LIMITED = 15,       /* too many failed attempts: try again later */
  FIELDSYNC_ERR_CONFLICT = 16,           /* the request contradicts what the server holds */
  FIELDSYNC_ERR_UNAVAILABLE = 17         /* the server cannot answer now */
} fieldsync_error_code;

typedef struct fieldsync_error {
  int32_t domain;    /* a fieldsync_error_domain; 0 when there was no error */
  int32_t code;      /* meaning depends on the domain */
  char message[512]; /* NUL-terminated UTF-8, English, for logs and support; may be cut short
                        (between characters, never inside one) */
} fieldsync_error;

/* ---- Platform key wrapper -------------------------------------------------------------------- */

/*
 * Wraps and unwraps a 32-byte store secret INSIDE the platform's key store (Keychain or Secure
 * Enclave on iOS, Android Keystore), so that the platform's key never leaves it. `wrap` creates
 * the platform key first if there is none. Each function returns true on success. `wrap` and
 * `unwrap` write 1 to `out_capacity` bytes (4096 is offered) and set *out_len. `destroy` deletes
 * the platform key for good (used by wipe): after it, nothing it wrapped can be unwrapped.
 * `wrap`, `unwrap` and `destroy` are required. A false from `unwrap` fails the store call with
 * FIELDSYNC_ERR_INTEGRITY (the secret is treated as gone); a false from `wrap` or `destroy` with
 * FIELDSYNC_ERR_IO.
 *
 * `release` (may be NULL) is called exactly once for each fieldsync_store_create or
 * fieldsync_store_open call given the wrapper: by fieldsync_store_free, or before the call returns
 * if it fails. All are called on the thread of the store call that needs them, and never two at
 * once for one store, so they need not be thread-safe.
 */
typedef struct fieldsync_key_wrapper {
  void *context;
  bool (*wrap)(void *context, const uint8_t *secret, size_t secret_len, uint8_t *out,
               size_t out_capacity, size_t *out_len);
  bool (*unwrap)(void *context, const uint8_t *wrapped, size_t wrapped_len, uint8_t *out,
                 size_t out_capacity, size_t *out_len);
  bool (*destroy)(void *context);
  void (*release)(void *context);
} fieldsync_key_wrapper;

/* ---- Events ---------------------------------------------------------------------------------- */

/*
 * Called on the calling thread, before the call that caused it returns, with a JSON object:
 *   {"event":"locked"}             fieldsync_store_lock locked the store
 *   {"event":"auto_locked"}        the store locked itself when idle; reported by the first call
 *                                  that finds it so (fieldsync_store_state_now included)
 *   {"event":"unlocked"}           a passcode unlocked it
 *   {"event":"check_in_required"}  the passcode was right, but the device must sync first
 *   {"event":"unlock_failed","attempts_left":3}   a wrong passcode to fieldsync_store_unlock
 *   {"event":"wiped"}              by fieldsync_store_wipe, after too many wrong passcodes, or
 *                                  by the server's wipe or retire directive during a sync
 *   {"event":"conflict_queued","record_id":"..."}  a sync queued a conflict on that record
 *   {"event":"sync_progress","round":2,"changes_pushed":40,"changes_pulled":500,
 *    "outbox_remaining":0,"retry_in_ms":0}        after each round trip of fieldsync_sync, and
 *                                  before each wait to retry (then retry_in_ms > 0)
 * Each change of state is reported once. New events and members may be added: ignore unknown
 * ones. `event_json` is borrowed for the duration of the callback. Do not call back into the same
 * store from the callback.
 */
typedef void (*fieldsync_event_fn)(void *context, const char *event_json);

/* ---- Store ------------------------------------------------------------------------------------ */

typedef struct fieldsync_store fieldsync_store;

/* A member left 0 takes its default; a negative one is refused (FIELDSYNC_ERR_INVALID_ARGUMENT). */
typedef struct fieldsync_store_options {
  const char *path;            /* the database file (required) */
  int64_t auto_lock_ms;        /* idle time before the store locks itself; default 5 minutes */
  int32_t max_failed_unlocks;  /* wrong passcodes in a row before a wipe; default 10 */
  int64_t offline_grace_ms;    /* without a sync, unlock needs a check-in first; default 14 days */
  uint32_t kdf_iterations;     /* PBKDF2 iterations for a new store; default 600000 */
} fieldsync_store_options;

/* Fills `options` with the defaults (path NULL). */
void fieldsync_store_options_init(fieldsync_store_options *options) FIELDSYNC_NOEXCEPT;

typedef enum fieldsync_store_state {
  FIELDSYNC_STATE_LOCKED = 0,
  FIELDSYNC_STATE_UNLOCKED = 1,
  FIELDSYNC_STATE_CHECK_IN_REQUIRED = 2, /* passcode right, but offline too long: sync first */
  FIELDSYNC_STATE_WIPED = 3
} fieldsync_store_state;

typedef enum fieldsync_unlock_outcome {
  FIELDSYNC_UNLOCK_FAILED = -1, /* an error: see `error` */
  FIELDSYNC_UNLOCK_OK = 0,
  FIELDSYNC_UNLOCK_WRONG_PASSCODE = 1,
  FIELDSYNC_UNLOCK_CHECK_IN_REQUIRED = 2,
  FIELDSYNC_UNLOCK_WIPED = 3 /* too many wrong passcodes: the store is gone */
} fieldsync_unlock_outcome;

/*
 * Creates a new store at options->path (failing if a file is there), unlocked. `key_wrapper` may
 * be NULL on desktops: a key file at "<path>.key" is used. The wrapper struct is copied; its
 * context must stay valid until `release` is called (see fieldsync_key_wrapper). `device_id` and
 * `user_id` come from enrolment; the passcode must not be empty. Returns a handle to free with
 * fieldsync_store_free, or NULL and `error` (FIELDSYNC_ERR_INVALID_ARGUMENT when a file is there).
 */
fieldsync_store *fieldsync_store_create(const fieldsync_store_options *options,
                                        const fieldsync_key_wrapper *key_wrapper,
                                        const char *passcode, const char *device_id,
                                        const char *user_id,
                                        fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Opens an existing store, locked. No store there fails with FIELDSYNC_ERR_NOT_FOUND; a store
 * written by a newer version with FIELDSYNC_ERR_UNSUPPORTED_VERSION. Ownership as for
 * fieldsync_store_create. */
fieldsync_store *fieldsync_store_open(const fieldsync_store_options *options,
                                      const fieldsync_key_wrapper *key_wrapper,
                                      fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Closes the store and frees the handle (keys are wiped from memory), then calls the key
 * wrapper's `release`. Safe on NULL. */
void fieldsync_store_free(fieldsync_store *store) FIELDSYNC_NOEXCEPT;

/* Sets (or, with fn NULL, clears) the event callback. `context` is passed to it as given. */
void fieldsync_store_set_event_callback(fieldsync_store *store, fieldsync_event_fn fn,
                                        void *context) FIELDSYNC_NOEXCEPT;

/* Unlocks with the passcode. Slow on purpose (key derivation, about half a second): call it off
 * the UI thread. `attempts_left` (may be NULL) receives the wrong passcodes left before a wipe
 * (0 once wiped) whenever the outcome is not FIELDSYNC_UNLOCK_FAILED. */
fieldsync_unlock_outcome fieldsync_store_unlock(fieldsync_store *store, const char *passcode,
                                                int32_t *attempts_left,
                                                fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Wipes the keys from memory; every data call then fails with FIELDSYNC_ERR_LOCKED. */
bool fieldsync_store_lock(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* The state now (applying the auto-lock if the store has been idle). FIELDSYNC_STATE_LOCKED for
 * a NULL store. */
fieldsync_store_state fieldsync_store_state_now(fieldsync_store *store) FIELDSYNC_NOEXCEPT;

/* Slow, like unlock. A wrong `old_passcode` fails with FIELDSYNC_ERR_INVALID_ARGUMENT and counts
 * as a failed unlock (enough of them wipe the store); a right one also unlocks the store. */
bool fieldsync_store_change_passcode(fieldsync_store *store, const char *old_passcode,
                                     const char *new_passcode,
                                     fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Destroys the platform secret and the wrapped keys, then deletes the files. The handle can then
 * only be freed. */
bool fieldsync_store_wipe(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* ---- Casework -------------------------------------------------------------------------------- */
/* Each call is one user action (one write group), validated with the shared schema; a violation
 * fails with FIELDSYNC_ERR_VALIDATION (or _FROZEN) and a message naming the field. Returned ids
 * and JSON are owned by the caller (fieldsync_string_free). */

/* The case records on this device: a JSON array of records, by child's name. */
char *fieldsync_caseload(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Records one child's visit. `fields_json`: a JSON object of visit fields. Returns the new id. */
char *fieldsync_record_visit(fieldsync_store *store, const char *case_id, const char *fields_json,
                             fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Records a household visit: one visit per child's case, linked, as one write group.
 * `shared_json`: fields common to all; `children_json`: a non-empty array
 * [{"case_id": "...", "fields": {...}}], where a child's fields override the shared ones.
 * Returns a JSON array of the new visit ids, in the order of `children_json`. */
char *fieldsync_record_household_visit(fieldsync_store *store, const char *shared_json,
                                       const char *children_json,
                                       fieldsync_error *error) FIELDSYNC_NOEXCEPT;

char *fieldsync_start_assessment(fieldsync_store *store, const char *case_id,
                                 const char *fields_json, fieldsync_error *error) FIELDSYNC_NOEXCEPT;
bool fieldsync_complete_assessment(fieldsync_store *store, const char *assessment_id,
                                   const char *fields_json,
                                   fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* A new draft note; returns its id. */
char *fieldsync_write_note(fieldsync_store *store, const char *case_id, const char *fields_json,
                           fieldsync_error *error) FIELDSYNC_NOEXCEPT;
/* Edits a draft; a submitted note fails with FIELDSYNC_ERR_FROZEN. */
bool fieldsync_edit_note(fieldsync_store *store, const char *note_id, const char *fields_json,
                         fieldsync_error *error) FIELDSYNC_NOEXCEPT;
/* Submits a draft: its content is frozen from now on. */
bool fieldsync_submit_note(fieldsync_store *store, const char *note_id,
                           fieldsync_error *error) FIELDSYNC_NOEXCEPT;
/* Corrects a submitted note with a new note that amends it; returns the new note's id. */
char *fieldsync_amend_note(fieldsync_store *store, const char *note_id, const char *content,
                           const char *reason, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Marks a record filed on the wrong case; it is hidden from lists but kept. */
bool fieldsync_mark_recorded_in_error(fieldsync_store *store, const char *record_id,
                                      const char *reason,
                                      fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* One record as JSON; NULL with FIELDSYNC_ERR_NOT_FOUND when there is none. */
char *fieldsync_get_record(fieldsync_store *store, const char *record_id,
                           fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* A case's records of one collection ("visit", "assessment" or "note"; another fails with
 * FIELDSYNC_ERR_INVALID_ARGUMENT) in event-time order, as a JSON array; recorded-in-error ones
 * only when `include_in_error`. */
char *fieldsync_list_records(fieldsync_store *store, const char *case_id, const char *collection,
                             bool include_in_error, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* ---- Queues ---------------------------------------------------------------------------------- */

/* Unsynchronised write groups, oldest first: [{"write_group": "...", "queued_at": "<RFC 3339>",
 * "changes": n}]. */
char *fieldsync_outbox(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Conflicts of this device's cases: [{"record_id", "collection", "case_id", "field",
 * "local_edit": bool, "lost": {"value", "author", "version"}, "winner": {...}}], where a version
 * is {"ms": n, "counter": n, "origin": "uuid"}. */
char *fieldsync_conflicts(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Write groups the server refused: [{"write_group", "code", "message", "rejected_at",
 * "changes": [{"collection", "record_id", "case_id", "field", "value", "version"}]}], where
 * "code" is "validation", "scope", "frozen", "clock_skew", "duplicate_mismatch" or "malformed"
 * and "rejected_at" is RFC 3339; the record shows the server's values again. */
char *fieldsync_rejections(fieldsync_store *store, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

typedef enum fieldsync_resolution {
  FIELDSYNC_KEEP_CURRENT = 0, /* keep the winning value */
  FIELDSYNC_RESTORE_LOST = 1  /* bring the lost value back */
} fieldsync_resolution;

/* Resolves the conflict whose lost version is `lost_version_json` (as given by
 * fieldsync_conflicts). Returns false with FIELDSYNC_ERR_NOT_FOUND if there is no such conflict. */
bool fieldsync_resolve_conflict(fieldsync_store *store, const char *lost_version_json,
                                fieldsync_resolution choice,
                                fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Frees a string returned by fieldsync. Safe on NULL. */
void fieldsync_string_free(char *string) FIELDSYNC_NOEXCEPT;

/* ---- Server: transport, enrolment, sync ------------------------------------------------------ */

/*
 * SERVER
 * A device is enrolled once: an administrator gives the worker a one-time code, and
 * fieldsync_enrol exchanges it with the server for this device's identity and token, then creates
 * the store. From then on, fieldsync_sync pushes the outbox and pulls what changed, in round
 * trips of one HTTPS request each, until done, until the time limit, or until cancelled. Mobile
 * background windows are short (about 30 seconds on iOS): pass a time limit that fits, and sync
 * again in the next window; nothing is lost by stopping, since each round trip is applied in one
 * transaction and a sync stops only between them.
 *
 * All of it runs on the calling thread (fieldsync starts no threads): call it from a background
 * thread. The UI may keep using the same store meanwhile. Progress arrives as "sync_progress"
 * events through the store's event callback, on the syncing thread.
 */

/*
 * HTTP TRANSPORT: how fieldsync reaches the server. Either the built-in libcurl one
 * (fieldsync_transport_new_curl: desktops, tests) or the shell's own HTTP stack (URLSession,
 * OkHttp) through callbacks (fieldsync_transport_new). A transport handle serves one call at a
 * time (a second thread waits); keep one for the life of the app so connections are reused.
 */
typedef struct fieldsync_transport fieldsync_transport;

/* One request, borrowed for the duration of the `send` callback. */
typedef struct fieldsync_http_request {
  const char *method;               /* "POST" */
  const char *url;                  /* absolute: "https://sync.example.org/v1/sync" */
  const char *const *header_names;  /* header_count NUL-terminated names ... */
  const char *const *header_values; /* ... and their values, in the same order */
  size_t header_count;
  const uint8_t *body;              /* body_len bytes, binary (not NUL-terminated) */
  size_t body_len;
  int64_t timeout_ms;               /* the whole exchange, connecting included, must end by then */
} fieldsync_http_request;

/* Where `send` writes the answer: owned by fieldsync, valid only during that `send` call. Each
 * function returns false (and does nothing) for a NULL argument; add_header and append_body also
 * when out of memory or past 64 MiB of body, which then fails the request. */
typedef struct fieldsync_http_response fieldsync_http_response;
bool fieldsync_http_response_set_status(fieldsync_http_response *response,
                                        int32_t status) FIELDSYNC_NOEXCEPT;
bool fieldsync_http_response_add_header(fieldsync_http_response *response, const char *name,
                                        const char *value) FIELDSYNC_NOEXCEPT;
/* Appends to the body: call it once with the whole body, or once per chunk as it arrives. */
bool fieldsync_http_response_append_body(fieldsync_http_response *response, const uint8_t *data,
                                         size_t len) FIELDSYNC_NOEXCEPT;

/*
 * The shell's transport. `send` performs `request` and returns when the exchange is over,
 * blocking the calling thread (with URLSession: start the task, then wait on a semaphore that the
 * completion handler signals).
 *  - Any HTTP status, 4xx and 5xx included, is an answer: set the status, add the headers,
 *    append the body, and return true. fieldsync decides what a status means.
 *  - A network failure (no connection, timeout, TLS verification failed, cancelled by the shell)
 *    returns false, after writing a NUL-terminated English explanation of up to
 *    `error_capacity` bytes (512 are offered) into `error_message`, and the platform's error code
 *    (NSURLErrorDomain's, say; 0 if none) into *error_code. The sync reports it as
 *    FIELDSYNC_DOMAIN_NETWORK with that code and retries it with backoff.
 *  - Follow no redirects, do not retry, and verify TLS certificates and host names.
 * `release` (may be NULL) is called exactly once: by fieldsync_transport_free, or before
 * fieldsync_transport_new returns if it fails. Calls come from the thread running the sync or the
 * enrolment, one at a time per transport handle.
 */
typedef struct fieldsync_transport_callbacks {
  void *context;
  bool (*send)(void *context, const fieldsync_http_request *request,
               fieldsync_http_response *response, int32_t *error_code, char *error_message,
               size_t error_capacity);
  void (*release)(void *context);
} fieldsync_transport_callbacks;

/* A transport over the shell's callbacks (copied; `send` is required). Free with
 * fieldsync_transport_free. */
fieldsync_transport *fieldsync_transport_new(const fieldsync_transport_callbacks *callbacks,
                                             fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* The built-in libcurl transport: TLS certificates and host names verified, no redirects, one
 * connection kept open between requests. `ca_file` (may be NULL: the system's trust store) is a
 * PEM bundle of the certificate authorities to trust instead, to pin the council's own. */
fieldsync_transport *fieldsync_transport_new_curl(const char *ca_file,
                                                  fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* Frees the transport (calling `release` for a callback transport). Safe on NULL. Not while a
 * call is using it. */
void fieldsync_transport_free(fieldsync_transport *transport) FIELDSYNC_NOEXCEPT;

/* What the shell says of itself to the server (for the administrators' device list). Both
 * members may be NULL. */
typedef struct fieldsync_client_info {
  const char *platform;    /* "ios 17.4", "android 14" */
  const char *app_version; /* the app's own version, "2.3.1" */
} fieldsync_client_info;

/*
 * Enrols this device with a one-time code, then creates its store, unlocked, with the identity
 * and token the server gave (the token stays inside the store, encrypted). Arguments as for
 * fieldsync_store_create (`key_wrapper` with the same ownership rule), plus the transport
 * (borrowed), the server's URL ("https://sync.example.org"; plain http only to localhost), the
 * code as the administrator gave it, and `client` (may be NULL).
 * Fails, before contacting the server, with FIELDSYNC_ERR_INVALID_ARGUMENT when a store exists
 * at the path or an argument is unusable. The server's refusals: FIELDSYNC_ERR_UNAUTHORIZED (a
 * wrong, used or expired code), FIELDSYNC_ERR_RATE_LIMITED (too many attempts: the message says
 * how long to wait); no connection: FIELDSYNC_DOMAIN_NETWORK. A code is spent once the server
 * accepts it, so should the store then fail to be created (a full disk), the message says to ask
 * for a new code. Blocks for a network round trip and the key derivation: not on the UI thread.
 */
fieldsync_store *fieldsync_enrol(const fieldsync_store_options *options,
                                 const fieldsync_key_wrapper *key_wrapper, const char *passcode,
                                 fieldsync_transport *transport, const char *server_url,
                                 const char *enrolment_code, const fieldsync_client_info *client,
                                 fieldsync_error *error) FIELDSYNC_NOEXCEPT;

/* A flag that stops a sync from another thread: make one per sync (or reuse it while unset),
 * pass it to fieldsync_sync, and set it from any thread at any time. The sync stops at its next
 * check (between round trips, and within 50 ms while waiting to retry; a request in flight is
 * abandoned with the built-in transport). Free it after the sync has returned. */
typedef struct fieldsync_cancel_flag fieldsync_cancel_flag;
fieldsync_cancel_flag *fieldsync_cancel_flag_new(void) FIELDSYNC_NOEXCEPT; /* NULL: no memory */
void fieldsync_cancel_flag_set(fieldsync_cancel_flag *flag) FIELDSYNC_NOEXCEPT; /* NULL: no-op */
void fieldsync_cancel_flag_free(fieldsync_cancel_flag *flag) FIELDSYNC_NOEXCEPT; /* NULL: no-op */

/* A member left 0 takes its default; a negative one is refused (FIELDSYNC_ERR_INVALID_ARGUMENT). */
typedef struct fieldsync_sync_settings {
  const char *server_url;           /* required: "https://sync.example.org" */
  fieldsync_client_info client;     /* sent as telemetry; members may be NULL */
  int32_t max_changes_per_request;  /* changes pushed per round trip (whole groups); 5000 */
  int32_t max_rounds;               /* round trips per call, a guard against a looping server; 100 */
  int64_t initial_retry_delay_ms;   /* backoff after a temporary failure starts here; 500 */
  int64_t max_retry_delay_ms;       /* and doubles up to this; 60000 */
  int32_t max_attempts;             /* failed attempts in a row before giving up; 10 */
  int64_t request_timeout_ms;       /* one request; shortened to fit the time limit; 30000 */
  bool use_json;                    /* JSON bodies instead of binary, for debugging; false */
} fieldsync_sync_settings;

/* Fills `settings` with the defaults (server_url and client members NULL). */
void fieldsync_sync_settings_init(fieldsync_sync_settings *settings) FIELDSYNC_NOEXCEPT;

typedef enum fieldsync_sync_outcome {
  FIELDSYNC_SYNC_FAILED = -1,            /* see `error` (and the report's "error") */
  FIELDSYNC_SYNC_COMPLETED = 0,          /* nothing left to push or pull */
  FIELDSYNC_SYNC_DEADLINE_REACHED = 1,   /* the time limit came first: sync again later */
  FIELDSYNC_SYNC_CANCELLED = 2,          /* the cancel flag was set */
  FIELDSYNC_SYNC_ROUND_LIMIT_REACHED = 3, /* max_rounds round trips and more to do: sync again */
  FIELDSYNC_SYNC_WIPED = 4,              /* the server wiped this device: only free the store */
  FIELDSYNC_SYNC_UPGRADE_REQUIRED = 5    /* the server needs a newer app; nothing was synced */
} fieldsync_sync_outcome;

/*
 * Syncs the store with the server through `transport` (borrowed) for at most `time_limit_ms`
 * (> 0) from now, or until `cancel` (may be NULL) is set. Works on a store that is unlocked or
 * waiting for a check-in (FIELDSYNC_STATE_CHECK_IN_REQUIRED: a successful round trip unlocks it).
 *
 * Temporary failures (no network, server errors 5xx, 429 "rate_limited") are retried with
 * growing, randomised waits, never sooner than the server's Retry-After and never past the time
 * limit; when the limit comes first the outcome is FIELDSYNC_SYNC_DEADLINE_REACHED and the
 * report's "error" says what was being retried. Other refusals end the sync at once with
 * FIELDSYNC_SYNC_FAILED: e.g. FIELDSYNC_ERR_UNAUTHORIZED (the token is no longer valid: enrol
 * again; a 401 never wipes anything), FIELDSYNC_ERR_FORBIDDEN, or FIELDSYNC_DOMAIN_HTTP with the
 * status as code. The error of a failed sync is sent to the server with the next one.
 *
 * `report_json` (may be NULL) receives, whenever the sync ran (failed included), a JSON object
 * owned by the caller (fieldsync_string_free):
 *   {"outcome": "completed" | "deadline_reached" | "cancelled" | "round_limit_reached" |
 *               "failed" | "wiped" | "upgrade_required",
 *    "rounds", "requests", "changes_pushed", "groups_acked", "groups_rejected", "changes_pulled",
 *    "conflicts_queued", "restamped_changes", "groups_restored", "groups_renumbered",
 *    "outbox_remaining": numbers,
 *    "error": {"domain", "code", "message", "http_status", "server_error"}  (when there is one),
 *    "minimum_core_version": "..."  (with "upgrade_required")}
 * and NULL when the call could not start (a bad argument, see `error`).
 * Rejected write groups go to the rejection queue (fieldsync_rejections); conflicts to the
 * conflict queue, each announced by a "conflict_queued" event.
 * Restores are handled inside the sync, with nothing for the shell to do: "groups_restored"
 * counts groups of this device's own work sent back to a server restored from a backup (which
 * asked for them); "groups_renumbered" counts groups the server refused because this store was
 * restored from an old backup and reused its sequence numbers: they were numbered anew and sent
 * again, their content unchanged. Keep the store out of device backups all the same (see above).
 */
fieldsync_sync_outcome fieldsync_sync(fieldsync_store *store, fieldsync_transport *transport,
                                      const fieldsync_sync_settings *settings,
                                      int64_t time_limit_ms, const fieldsync_cancel_flag *cancel,
                                      char **report_json, fieldsync_error *error) FIELDSYNC_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* FIELDSYNC_H */
