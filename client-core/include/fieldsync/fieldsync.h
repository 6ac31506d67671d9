/*
 * fieldsync.h: the C API of fieldsync's client core, for the iOS (Swift) and Android (JNI/Kotlin)
 * shells. This header is the whole contract; it is plain C11.
 *
 * WHAT IT DOES
 * A social worker's device keeps its caseload in an encrypted SQLite store that works with no
 * network. The shell opens the store, unlocks it with the worker's passcode, records visits,
 * assessments and notes, and later syncs with the server (the sync calls come with the sync
 * engine). Nothing recorded is lost: every user action is written, with its outbox entry, in one
 * durable transaction before the call returns.
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
  FIELDSYNC_ERR_INTERNAL = 12            /* a bug: please report it with the message */
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
 *   {"event":"wiped"}              by fieldsync_store_wipe, or after too many wrong passcodes
 *   {"event":"conflict_queued","record_id":"..."} (with the sync calls)
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

#ifdef __cplusplus
}
#endif

#endif /* FIELDSYNC_H */
