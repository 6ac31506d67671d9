/*
 * test_capi.c: the C API end to end, compiled as C11, which also proves that fieldsync.h is plain
 * C. It creates stores in a temporary folder (once with a key wrapper written here in C, once with
 * the default key file), records a caseworker's day through the API, enrols and syncs a device
 * through a transport written here in C that answers with canned HTTP responses, and checks that
 * every misuse comes back as an error in the error struct. Any failure prints file:line and exits
 * non-zero.
 */
#define _POSIX_C_SOURCE 200809L

#include "fieldsync/fieldsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Checks ---------------------------------------------------------------------------------- */

static void check(bool ok, const char *file, int line, const char *what,
                  const fieldsync_error *error) {
  if (ok) return;
  fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
  if (error) {
    fprintf(stderr, "  error: domain %d, code %d, message \"%s\"\n", (int)error->domain,
            (int)error->code, error->message);
  }
  exit(EXIT_FAILURE);
}

#define CHECK(condition) check((condition), __FILE__, __LINE__, #condition, NULL)
/* The last call succeeded: its error struct says so. */
#define CHECK_OK(error) \
  check((error).domain == FIELDSYNC_DOMAIN_NONE, __FILE__, __LINE__, "no error", &(error))
/* The last call failed with `expected` of FIELDSYNC_DOMAIN_FIELDSYNC, its message holding `word`. */
#define CHECK_FAILED(error, expected, word)                                                   \
  check((error).domain == FIELDSYNC_DOMAIN_FIELDSYNC && (error).code == (expected) &&         \
            strstr((error).message, (word)) != NULL,                                          \
        __FILE__, __LINE__, "error " #expected " naming " #word, &(error))
#define CHECK_CONTAINS(text, fragment)                                                          \
  check((text) != NULL && strstr((text), (fragment)) != NULL, __FILE__, __LINE__,              \
        #text " contains " #fragment, NULL)

static size_t count_of(const char *text, const char *fragment) {
  size_t count = 0;
  for (const char *at = strstr(text, fragment); at; at = strstr(at + 1, fragment)) ++count;
  return count;
}

/* ---- A key wrapper in C: XOR with a key held in its context ------------------------------------- */

enum { kXorKeySize = 32, kXorMarker = 0x5A };

typedef struct xor_key_store {
  uint8_t key[kXorKeySize];
  bool has_key;
  unsigned key_generation;
  int wrap_calls, unwrap_calls, destroy_calls, release_calls;
} xor_key_store;

static void xor_with_key(const xor_key_store *store, const uint8_t *in, size_t len, uint8_t *out) {
  for (size_t i = 0; i < len; ++i) out[i] = in[i] ^ store->key[i % kXorKeySize];
}

static bool xor_wrap(void *context, const uint8_t *secret, size_t secret_len, uint8_t *out,
                     size_t out_capacity, size_t *out_len) {
  xor_key_store *store = context;
  ++store->wrap_calls;
  if (secret_len + 1 > out_capacity) return false;
  if (!store->has_key) { /* a new platform key, as a real key store would make */
    ++store->key_generation;
    for (size_t i = 0; i < kXorKeySize; ++i) {
      store->key[i] = (uint8_t)(i * 37u + 11u + store->key_generation * 101u);
    }
    store->has_key = true;
  }
  out[0] = kXorMarker;
  xor_with_key(store, secret, secret_len, out + 1);
  *out_len = secret_len + 1;
  return true;
}

static bool xor_unwrap(void *context, const uint8_t *wrapped, size_t wrapped_len, uint8_t *out,
                       size_t out_capacity, size_t *out_len) {
  xor_key_store *store = context;
  ++store->unwrap_calls;
  if (!store->has_key || wrapped_len < 2 || wrapped[0] != kXorMarker) return false;
  if (wrapped_len - 1 > out_capacity) return false;
  xor_with_key(store, wrapped + 1, wrapped_len - 1, out);
  *out_len = wrapped_len - 1;
  return true;
}

static bool xor_destroy(void *context) {
  xor_key_store *store = context;
  ++store->destroy_calls;
  memset(store->key, 0, sizeof store->key);
  store->has_key = false;
  return true;
}

static void xor_release(void *context) { ++((xor_key_store *)context)->release_calls; }

static fieldsync_key_wrapper xor_key_wrapper(xor_key_store *store) {
  fieldsync_key_wrapper wrapper = {store, xor_wrap, xor_unwrap, xor_destroy, xor_release};
  return wrapper;
}

/* ---- Events ----------------------------------------------------------------------------------- */

typedef struct event_log {
  char text[8192];
} event_log;

static void record_event(void *context, const char *event_json) {
  event_log *log = context;
  const size_t used = strlen(log->text);
  snprintf(log->text + used, sizeof log->text - used, "%s\n", event_json);
}

static void clear_events(event_log *log) { log->text[0] = '\0'; }

/* ---- Files ------------------------------------------------------------------------------------ */

typedef struct test_paths {
  char dir[512];
  char main_store[600];
  char file_store[600];
  char file_store_key[600];
  char enrolled_store[600];
} test_paths;

static void make_paths(test_paths *paths) {
  const char *tmp = getenv("TMPDIR");
  snprintf(paths->dir, sizeof paths->dir, "%s/fieldsync-capi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  CHECK(mkdtemp(paths->dir) != NULL);
  snprintf(paths->main_store, sizeof paths->main_store, "%s/main.db", paths->dir);
  snprintf(paths->file_store, sizeof paths->file_store, "%s/file.db", paths->dir);
  snprintf(paths->file_store_key, sizeof paths->file_store_key, "%s/file.db.key", paths->dir);
  snprintf(paths->enrolled_store, sizeof paths->enrolled_store, "%s/enrolled.db", paths->dir);
}

static bool file_exists(const char *path) { return access(path, F_OK) == 0; }

/* The folder of this run; removed at exit, whether the checks pass or not. */
static test_paths g_paths;

static void remove_test_files(void) {
  static const char *const kSuffixes[] = {"", "-wal", "-shm", "-journal", ".key"};
  const char *stores[] = {g_paths.main_store, g_paths.file_store, g_paths.enrolled_store};
  char path[700];
  for (size_t s = 0; s < sizeof stores / sizeof stores[0]; ++s) {
    for (size_t k = 0; k < sizeof kSuffixes / sizeof kSuffixes[0]; ++k) {
      snprintf(path, sizeof path, "%s%s", stores[s], kSuffixes[k]);
      remove(path);
    }
  }
  if (rmdir(g_paths.dir) != 0) fprintf(stderr, "note: could not remove %s\n", g_paths.dir);
}

static void sleep_ms(long ms) {
  struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

/* ---- Fixed inputs ----------------------------------------------------------------------------- */

static const char *const kDeviceId = "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6";
static const char *const kUserId = "worker-17";
static const char *const kPasscode = "2468-correct";
static const char *const kNewPasscode = "1357-changed";
static const char *const kCaseA = "0190f1a2-0000-7000-8000-00000000000a";
static const char *const kCaseB = "0190f1a2-0000-7000-8000-00000000000b";
static const char *const kUnknownId = "0190f1a2-0000-7000-8000-0000000000ff";

static const char *const kVisitSeen =
    "{\"visit_type\": \"statutory_child_protection\", \"actual_start\": \"2024-03-01T09:30:00Z\","
    " \"child_seen\": true, \"seen_alone\": true, \"observations\": \"Calm and engaged.\","
    " \"legacy_score\": 7}";

static fieldsync_store_options fast_options(const char *path) {
  fieldsync_store_options options;
  fieldsync_store_options_init(&options);
  options.path = path;
  options.kdf_iterations = 1000; /* tests only: the default is 600000 */
  return options;
}

/* ---- Tests ------------------------------------------------------------------------------------ */

static void test_versions(void) {
  CHECK(strcmp(fieldsync_version(), FIELDSYNC_VERSION_STRING) == 0);
  CHECK(fieldsync_version_number() == FIELDSYNC_VERSION_NUMBER);
  CHECK(FIELDSYNC_VERSION_NUMBER == FIELDSYNC_VERSION_MAJOR * 1000000 +
                                        FIELDSYNC_VERSION_MINOR * 1000 + FIELDSYNC_VERSION_PATCH);
}

static void test_schema(void) {
  char *schema = fieldsync_schema();
  CHECK(schema != NULL);
  /* The fields an embedder needs to build a visit form, with their types and codes. */
  CHECK(strstr(schema, "\"name\":\"visit\"") != NULL);
  CHECK(strstr(schema, "\"name\":\"seen_alone\"") != NULL);
  CHECK(strstr(schema, "\"child_too_young\"") != NULL);
  CHECK(strstr(schema, "\"type\":\"timestamp\"") != NULL);
  fieldsync_string_free(schema);
}

static void test_null_safety_and_defaults(void) {
  fieldsync_store_free(NULL);
  fieldsync_string_free(NULL);
  fieldsync_store_options_init(NULL);
  fieldsync_store_set_event_callback(NULL, record_event, NULL);
  CHECK(fieldsync_store_state_now(NULL) == FIELDSYNC_STATE_LOCKED);

  fieldsync_store_options options;
  memset(&options, 0xFF, sizeof options);
  fieldsync_store_options_init(&options);
  CHECK(options.path == NULL);
  CHECK(options.auto_lock_ms == 5 * 60 * 1000);
  CHECK(options.max_failed_unlocks == 10);
  CHECK(options.offline_grace_ms == 14LL * 24 * 60 * 60 * 1000);
  CHECK(options.kdf_iterations == 600000);

  /* Every failure fills the struct; a NULL struct is allowed too. */
  fieldsync_error error;
  CHECK(fieldsync_record_visit(NULL, kCaseA, kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "store");
  CHECK(fieldsync_record_visit(NULL, NULL, NULL, NULL) == NULL);
  CHECK(!fieldsync_store_lock(NULL, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "store");
  CHECK(fieldsync_store_unlock(NULL, kPasscode, NULL, &error) == FIELDSYNC_UNLOCK_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "store");
}

static void test_create_misuse(const test_paths *paths) {
  fieldsync_error error;
  fieldsync_store_options options = fast_options(paths->main_store);

  CHECK(fieldsync_store_create(NULL, NULL, kPasscode, kDeviceId, kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "options");
  CHECK(fieldsync_store_create(&options, NULL, NULL, kDeviceId, kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "passcode");
  CHECK(fieldsync_store_create(&options, NULL, kPasscode, "not-a-uuid", kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "device_id");
  CHECK(fieldsync_store_create(&options, NULL, kPasscode, kDeviceId, NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "user_id");
  options.auto_lock_ms = -1;
  CHECK(fieldsync_store_create(&options, NULL, kPasscode, kDeviceId, kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "auto_lock_ms");
  options = fast_options(paths->main_store);

  /* A wrapper given to a call that fails is still released, exactly once. */
  xor_key_store keys = {0};
  fieldsync_key_wrapper wrapper = xor_key_wrapper(&keys);
  wrapper.unwrap = NULL;
  CHECK(fieldsync_store_create(&options, &wrapper, kPasscode, kDeviceId, kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "key_wrapper->unwrap");
  CHECK(keys.release_calls == 1);
  CHECK(fieldsync_store_open(&options, &wrapper, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "key_wrapper->unwrap");
  CHECK(keys.release_calls == 2);

  CHECK(fieldsync_store_open(&options, NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, "no store");
  CHECK(!file_exists(paths->main_store));
}

/* Records a caseworker's day on a store; returns the write groups it queued. */
static size_t test_casework(fieldsync_store *store) {
  fieldsync_error error;
  size_t groups = 0;

  /* One child's visit: the case key is made on this first write. */
  char *visit_id = fieldsync_record_visit(store, kCaseA, kVisitSeen, &error);
  CHECK_OK(error);
  CHECK(visit_id != NULL && strlen(visit_id) == 36);
  ++groups;
  char *visit = fieldsync_get_record(store, visit_id, &error);
  CHECK_OK(error);
  CHECK_CONTAINS(visit, "\"collection\":\"visit\"");
  CHECK_CONTAINS(visit, kCaseA);
  CHECK_CONTAINS(visit, "\"child_seen\":true");
  CHECK_CONTAINS(visit, "\"actual_start\":\"2024-03-01T09:30:00.000Z\"");
  CHECK_CONTAINS(visit, "\"legacy_score\":7"); /* unknown to the schema: kept */
  fieldsync_string_free(visit);

  /* Misuse of a write: each is an error, and none is written. */
  CHECK(fieldsync_record_visit(store, NULL, kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "case_id");
  CHECK(fieldsync_record_visit(store, "0190f1a2-zzzz", kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "case_id");
  CHECK(fieldsync_record_visit(store, kCaseA, NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "fields_json");
  CHECK(fieldsync_record_visit(store, kCaseA, "{\"visit_type\": ", &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "not valid JSON");
  CHECK(fieldsync_record_visit(store, kCaseA, "[1, 2]", &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "fields_json");
  CHECK(fieldsync_record_visit(store, kCaseA,
                               "{\"visit_type\": \"other\", \"actual_start\": "
                               "\"2024-03-01T09:30:00Z\", \"child_seen\": \"yes\"}",
                               &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "child_seen");
  CHECK(fieldsync_record_visit(store, kCaseA,
                               "{\"visit_type\": \"other\", \"actual_start\": \"yesterday\", "
                               "\"child_seen\": false, \"reason_not_seen\": \"no_answer\"}",
                               &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "actual_start");
  CHECK(fieldsync_record_visit(store, kCaseA,
                               "{\"visit_type\": \"statutory_child_in_need\", \"actual_start\": "
                               "\"2024-03-01T09:30:00Z\", \"child_seen\": false, "
                               "\"reason_not_seen\": \"child_not_home\", \"seen_alone\": true}",
                               &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_VALIDATION, "seen_alone");
  CHECK(fieldsync_record_visit(store, kCaseA, "{\"visit_type\": \"other\"}", &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_VALIDATION, "actual_start");

  /* A household visit: one linked visit per child, one write group. */
  char *household_ids = fieldsync_record_household_visit(
      store,
      "{\"visit_type\": \"statutory_child_in_need\", \"actual_start\": \"2024-03-02T10:00:00Z\","
      " \"location_type\": \"home\"}",
      "[{\"case_id\": \"0190f1a2-0000-7000-8000-00000000000a\", \"fields\": {\"child_seen\": true,"
      "  \"seen_alone\": false, \"reason_not_seen_alone\": \"child_too_young\"}},"
      " {\"case_id\": \"0190f1a2-0000-7000-8000-00000000000b\", \"fields\": {\"child_seen\": false,"
      "  \"reason_not_seen\": \"child_not_home\"}}]",
      &error);
  CHECK_OK(error);
  CHECK(household_ids != NULL && household_ids[0] == '[' && count_of(household_ids, "\"") == 4);
  ++groups;
  char *visits_b = fieldsync_list_records(store, kCaseB, "visit", false, &error);
  CHECK_OK(error);
  CHECK_CONTAINS(visits_b, "\"household_visit_id\"");
  CHECK_CONTAINS(visits_b, "\"reason_not_seen\":\"child_not_home\"");
  CHECK(count_of(visits_b, "\"collection\":\"visit\"") == 1);
  fieldsync_string_free(visits_b);
  fieldsync_string_free(household_ids);
  CHECK(fieldsync_record_household_visit(store, "{}", "[{\"case\": \"x\"}]", &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "children_json[0]");

  /* An assessment, started then completed. */
  CHECK(fieldsync_start_assessment(store, kCaseA,
                                   "{\"assessment_type\": \"single\", \"started_on\": \"01/03/24\"}",
                                   &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "started_on");
  char *assessment_id = fieldsync_start_assessment(
      store, kCaseA, "{\"assessment_type\": \"single\", \"started_on\": \"2024-03-01\"}", &error);
  CHECK_OK(error);
  CHECK(assessment_id != NULL);
  ++groups;
  CHECK(fieldsync_complete_assessment(
      store, assessment_id,
      "{\"completed_on\": \"2024-03-20\", \"outcome\": \"Family support plan agreed.\"}", &error));
  CHECK_OK(error);
  ++groups;
  char *assessment = fieldsync_get_record(store, assessment_id, &error);
  CHECK_CONTAINS(assessment, "\"status\":\"completed\"");
  CHECK_CONTAINS(assessment, "\"started_on\":\"2024-03-01\"");
  fieldsync_string_free(assessment);
  fieldsync_string_free(assessment_id);

  /* A note: draft, edit, submit; then it is frozen, and corrected by an amendment. */
  char *note_id = fieldsync_write_note(
      store, kCaseA, "{\"note_type\": \"case_note\", \"content\": \"Mother present.\"}", &error);
  CHECK_OK(error);
  ++groups;
  CHECK(fieldsync_edit_note(store, note_id,
                            "{\"content\": \"Mother and grandmother present.\"}", &error));
  CHECK_OK(error);
  ++groups;
  CHECK(fieldsync_submit_note(store, note_id, &error));
  CHECK_OK(error);
  ++groups;
  CHECK(!fieldsync_edit_note(store, note_id, "{\"content\": \"Rewritten later.\"}", &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_FROZEN, "content");
  CHECK(!fieldsync_submit_note(store, kUnknownId, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, kUnknownId);
  CHECK(fieldsync_amend_note(store, note_id, "Mother and aunt present.", NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "reason");
  char *amendment_id = fieldsync_amend_note(store, note_id, "Mother and aunt present.",
                                            "The relative was the aunt, not the grandmother.",
                                            &error);
  CHECK_OK(error);
  ++groups;
  char *amendment = fieldsync_get_record(store, amendment_id, &error);
  CHECK_CONTAINS(amendment, note_id); /* "amends" */
  CHECK_CONTAINS(amendment, "\"status\":\"submitted\"");
  fieldsync_string_free(amendment);
  char *notes = fieldsync_list_records(store, kCaseA, "note", false, &error);
  CHECK_OK(error);
  CHECK(count_of(notes, "\"collection\":\"note\"") == 2);
  fieldsync_string_free(notes);
  fieldsync_string_free(amendment_id);
  fieldsync_string_free(note_id);

  /* Recorded in error: hidden from lists unless asked for, never deleted. */
  CHECK(!fieldsync_mark_recorded_in_error(store, visit_id, NULL, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "reason");
  CHECK(fieldsync_mark_recorded_in_error(store, visit_id, "Filed on the wrong child's case.",
                                         &error));
  CHECK_OK(error);
  ++groups;
  char *shown = fieldsync_list_records(store, kCaseA, "visit", false, &error);
  CHECK_OK(error);
  CHECK(shown != NULL && strstr(shown, visit_id) == NULL);
  CHECK(count_of(shown, "\"collection\":\"visit\"") == 1); /* the household visit */
  fieldsync_string_free(shown);
  char *all = fieldsync_list_records(store, kCaseA, "visit", true, &error);
  CHECK_OK(error);
  CHECK_CONTAINS(all, visit_id);
  CHECK_CONTAINS(all, "\"recorded_in_error\":true");
  fieldsync_string_free(all);
  fieldsync_string_free(visit_id);

  /* Reads that miss, or are asked wrongly. */
  CHECK(fieldsync_get_record(store, kUnknownId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, kUnknownId);
  CHECK(fieldsync_get_record(store, "nope", &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "record_id");
  CHECK(fieldsync_list_records(store, kCaseA, "case", false, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "collection");

  /* Cases arrive from the server: none has a case record here yet. */
  char *caseload = fieldsync_caseload(store, &error);
  CHECK_OK(error);
  CHECK(caseload != NULL && strcmp(caseload, "[]") == 0);
  fieldsync_string_free(caseload);
  return groups;
}

static void test_queues(fieldsync_store *store, size_t expected_groups) {
  fieldsync_error error;
  char *outbox = fieldsync_outbox(store, &error);
  CHECK_OK(error);
  CHECK(count_of(outbox, "\"write_group\"") == expected_groups);
  CHECK_CONTAINS(outbox, "\"queued_at\"");
  fieldsync_string_free(outbox);

  char *conflicts = fieldsync_conflicts(store, &error);
  CHECK_OK(error);
  CHECK(strcmp(conflicts, "[]") == 0);
  fieldsync_string_free(conflicts);
  char *rejections = fieldsync_rejections(store, &error);
  CHECK_OK(error);
  CHECK(strcmp(rejections, "[]") == 0);
  fieldsync_string_free(rejections);

  const char *no_such_conflict =
      "{\"ms\": 1700000000000, \"counter\": 1, \"origin\": \"0190f1a2-3b4c-7d5e-8f60-718293a4b5c6\"}";
  CHECK(!fieldsync_resolve_conflict(store, no_such_conflict, FIELDSYNC_KEEP_CURRENT, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, "conflict");
  CHECK(!fieldsync_resolve_conflict(store, "{\"ms\": 1}", FIELDSYNC_KEEP_CURRENT, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "lost_version_json");
  CHECK(!fieldsync_resolve_conflict(store, no_such_conflict, (fieldsync_resolution)7, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "choice");
}

/* Two threads on one store, as when the UI records while a background thread syncs. */
enum { kWritesPerThread = 10 };

static void *record_visits(void *store) {
  for (int i = 0; i < kWritesPerThread; ++i) {
    fieldsync_error error;
    char *id = fieldsync_record_visit(store, kCaseB, kVisitSeen, &error);
    CHECK_OK(error);
    fieldsync_string_free(id);
  }
  return NULL;
}

static void *read_queues(void *store) {
  for (int i = 0; i < kWritesPerThread; ++i) {
    fieldsync_error error;
    fieldsync_string_free(fieldsync_outbox(store, &error));
    CHECK_OK(error);
    fieldsync_string_free(fieldsync_list_records(store, kCaseB, "visit", true, &error));
    CHECK_OK(error);
  }
  return NULL;
}

static size_t test_two_threads(fieldsync_store *store) {
  pthread_t writer, reader;
  CHECK(pthread_create(&writer, NULL, record_visits, store) == 0);
  CHECK(pthread_create(&reader, NULL, read_queues, store) == 0);
  CHECK(pthread_join(writer, NULL) == 0);
  CHECK(pthread_join(reader, NULL) == 0);
  return kWritesPerThread;
}

/* A message too long for the struct is cut between characters and NUL-terminated. */
static void test_long_error_message(fieldsync_store *store) {
  char fields[1024] = "{\"";
  for (int i = 0; i < 300; ++i) strcat(fields, "\xC3\xA9"); /* é: two bytes each */
  strcat(fields, "\": [1]}");
  fieldsync_error error;
  CHECK(fieldsync_record_visit(store, kCaseA, fields, &error) == NULL);
  CHECK(error.code == FIELDSYNC_ERR_INVALID_ARGUMENT);
  const size_t length = strlen(error.message);
  CHECK(length > 400 && length < sizeof error.message);
  CHECK((unsigned char)error.message[length - 1] != 0xC3); /* no half character at the end */
}

static void test_lock_and_passcodes(fieldsync_store *store, event_log *events) {
  fieldsync_error error;
  int32_t attempts_left = -1;

  clear_events(events);
  CHECK(fieldsync_store_lock(store, &error));
  CHECK_OK(error);
  CHECK_CONTAINS(events->text, "{\"event\":\"locked\"}");
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_LOCKED);
  CHECK(fieldsync_record_visit(store, kCaseA, kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_LOCKED, "locked");
  CHECK(fieldsync_outbox(store, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_LOCKED, "locked");

  CHECK(fieldsync_store_unlock(store, "0000-wrong", &attempts_left, &error) ==
        FIELDSYNC_UNLOCK_WRONG_PASSCODE);
  CHECK_OK(error);
  CHECK(attempts_left == 9);
  CHECK_CONTAINS(events->text, "{\"attempts_left\":9,\"event\":\"unlock_failed\"}");
  CHECK(fieldsync_store_unlock(store, NULL, &attempts_left, &error) == FIELDSYNC_UNLOCK_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "passcode");
  CHECK(fieldsync_store_unlock(store, kPasscode, &attempts_left, &error) == FIELDSYNC_UNLOCK_OK);
  CHECK_OK(error);
  CHECK(attempts_left == 10);
  CHECK_CONTAINS(events->text, "{\"event\":\"unlocked\"}");
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_UNLOCKED);

  CHECK(!fieldsync_store_change_passcode(store, "0000-wrong", kNewPasscode, &error));
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "passcode");
  CHECK(fieldsync_store_change_passcode(store, kPasscode, kNewPasscode, &error));
  CHECK_OK(error);
  CHECK(fieldsync_store_lock(store, &error));
  CHECK(fieldsync_store_unlock(store, kPasscode, NULL, &error) == FIELDSYNC_UNLOCK_WRONG_PASSCODE);
  CHECK(fieldsync_store_unlock(store, kNewPasscode, NULL, &error) == FIELDSYNC_UNLOCK_OK);
}

/* The store kept with the key wrapper written in C above. */
static void test_store_with_c_key_wrapper(const test_paths *paths) {
  fieldsync_error error;
  event_log events = {{0}};
  xor_key_store keys = {0};
  fieldsync_key_wrapper wrapper = xor_key_wrapper(&keys);
  fieldsync_store_options options = fast_options(paths->main_store);

  error.domain = 99; /* a success clears the struct */
  fieldsync_store *store =
      fieldsync_store_create(&options, &wrapper, kPasscode, kDeviceId, kUserId, &error);
  CHECK_OK(error);
  CHECK(store != NULL);
  CHECK(keys.wrap_calls == 1 && keys.has_key);
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_UNLOCKED);
  fieldsync_store_set_event_callback(store, record_event, &events);
  CHECK(fieldsync_store_create(&options, NULL, kPasscode, kDeviceId, kUserId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "exists");

  const size_t groups = test_casework(store) + test_two_threads(store);
  test_queues(store, groups);
  test_long_error_message(store);
  test_lock_and_passcodes(store, &events);
  fieldsync_store_free(store);
  CHECK(keys.release_calls == 1);

  /* Open again: locked, and what was written is still there. */
  store = fieldsync_store_open(&options, &wrapper, &error);
  CHECK_OK(error);
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_LOCKED);
  fieldsync_store_set_event_callback(store, record_event, &events);
  CHECK(fieldsync_store_unlock(store, kNewPasscode, NULL, &error) == FIELDSYNC_UNLOCK_OK);
  CHECK(keys.unwrap_calls > 0);
  test_queues(store, groups);

  /* Wipe: the platform key is destroyed, the files are gone, the handle can only be freed. */
  clear_events(&events);
  CHECK(fieldsync_store_wipe(store, &error));
  CHECK_OK(error);
  CHECK(keys.destroy_calls == 1 && !keys.has_key);
  CHECK_CONTAINS(events.text, "{\"event\":\"wiped\"}");
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_WIPED);
  CHECK(!file_exists(paths->main_store));
  CHECK(fieldsync_get_record(store, kUnknownId, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_LOCKED, "wiped");
  CHECK(fieldsync_store_unlock(store, kNewPasscode, NULL, &error) == FIELDSYNC_UNLOCK_WIPED);
  fieldsync_store_free(store);
  CHECK(keys.release_calls == 2);
  CHECK(fieldsync_store_open(&options, &wrapper, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, "no store");
  CHECK(keys.release_calls == 3);
}

/* The store kept with the default key file; auto-lock, and a wipe after too many passcodes. */
static void test_store_with_key_file(const test_paths *paths) {
  fieldsync_error error;
  event_log events = {{0}};
  fieldsync_store_options options = fast_options(paths->file_store);
  options.auto_lock_ms = 300;

  fieldsync_store *store =
      fieldsync_store_create(&options, NULL, kPasscode, kDeviceId, kUserId, &error);
  CHECK_OK(error);
  CHECK(file_exists(paths->file_store_key));
  fieldsync_store_set_event_callback(store, record_event, &events);
  char *id = fieldsync_record_visit(store, kCaseB, kVisitSeen, &error);
  CHECK_OK(error);
  fieldsync_string_free(id);

  sleep_ms(700);
  CHECK(fieldsync_record_visit(store, kCaseB, kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_LOCKED, "locked");
  CHECK_CONTAINS(events.text, "{\"event\":\"auto_locked\"}");
  CHECK(count_of(events.text, "auto_locked") == 1);
  CHECK(fieldsync_store_unlock(store, kPasscode, NULL, &error) == FIELDSYNC_UNLOCK_OK);
  fieldsync_store_free(store);

  /* Offline past the grace period: the passcode is right, but only sync may run. */
  options.offline_grace_ms = 1;
  sleep_ms(20);
  store = fieldsync_store_open(&options, NULL, &error);
  CHECK_OK(error);
  clear_events(&events);
  fieldsync_store_set_event_callback(store, record_event, &events);
  CHECK(fieldsync_store_unlock(store, kPasscode, NULL, &error) ==
        FIELDSYNC_UNLOCK_CHECK_IN_REQUIRED);
  CHECK_OK(error);
  CHECK_CONTAINS(events.text, "{\"event\":\"check_in_required\"}");
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_CHECK_IN_REQUIRED);
  CHECK(fieldsync_record_visit(store, kCaseB, kVisitSeen, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_LOCKED, "offline");
  char *outbox = fieldsync_outbox(store, &error); /* what a sync reads */
  CHECK_OK(error);
  CHECK(count_of(outbox, "\"write_group\"") == 1);
  fieldsync_string_free(outbox);
  fieldsync_store_free(store);
  options.offline_grace_ms = 0; /* the default */

  /* Two wrong passcodes in a row wipe this store. */
  options.max_failed_unlocks = 2;
  store = fieldsync_store_open(&options, NULL, &error);
  CHECK_OK(error);
  clear_events(&events);
  fieldsync_store_set_event_callback(store, record_event, &events);
  int32_t attempts_left = -1;
  CHECK(fieldsync_store_unlock(store, "0000-wrong", &attempts_left, &error) ==
        FIELDSYNC_UNLOCK_WRONG_PASSCODE);
  CHECK(attempts_left == 1);
  CHECK(fieldsync_store_unlock(store, "1111-wrong", &attempts_left, &error) ==
        FIELDSYNC_UNLOCK_WIPED);
  CHECK_OK(error);
  CHECK(attempts_left == 0);
  CHECK_CONTAINS(events.text, "{\"event\":\"wiped\"}");
  CHECK(!file_exists(paths->file_store));
  CHECK(!file_exists(paths->file_store_key));
  fieldsync_store_free(store);
  CHECK(fieldsync_store_open(&options, NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_NOT_FOUND, "no store");
}

/* ---- A transport in C: canned HTTP answers, one per request ---------------------------------- */

enum { kMaxCanned = 8 };

typedef struct canned_answer {
  int32_t status;        /* 0: a network failure */
  const char *body;      /* JSON */
  const char *retry_after; /* NULL: no Retry-After header */
} canned_answer;

typedef struct canned_server {
  canned_answer answers[kMaxCanned];
  int count, next;
  int release_calls;
  char last_url[256];
  char last_body[4096];  /* the last request's body (JSON: the tests sync with use_json) */
  bool last_had_bearer;
} canned_server;

static void canned_reset(canned_server *server) {
  const int release_calls = server->release_calls;
  memset(server, 0, sizeof *server);
  server->release_calls = release_calls;
}

static void canned_add(canned_server *server, int32_t status, const char *body,
                       const char *retry_after) {
  CHECK(server->count < kMaxCanned);
  canned_answer answer = {status, body, retry_after};
  server->answers[server->count++] = answer;
}

static bool canned_send(void *context, const fieldsync_http_request *request,
                        fieldsync_http_response *response, int32_t *error_code,
                        char *error_message, size_t error_capacity) {
  canned_server *server = context;
  CHECK(strcmp(request->method, "POST") == 0);
  CHECK(request->timeout_ms > 0);
  snprintf(server->last_url, sizeof server->last_url, "%s", request->url);
  const size_t kept = request->body_len < sizeof server->last_body - 1 ? request->body_len
                                                                       : sizeof server->last_body - 1;
  memcpy(server->last_body, request->body, kept);
  server->last_body[kept] = '\0';
  server->last_had_bearer = false;
  for (size_t i = 0; i < request->header_count; ++i) {
    if (strcmp(request->header_names[i], "Authorization") == 0 &&
        strncmp(request->header_values[i], "Bearer ", 7) == 0) {
      server->last_had_bearer = true;
    }
  }
  CHECK(server->next < server->count); /* the sync sent more requests than the test expected */
  const canned_answer *answer = &server->answers[server->next++];
  if (answer->status == 0) {
    *error_code = -1004; /* as NSURLErrorCannotConnectToHost would be */
    snprintf(error_message, error_capacity, "could not connect to the server");
    return false;
  }
  CHECK(fieldsync_http_response_set_status(response, answer->status));
  CHECK(fieldsync_http_response_add_header(response, "Content-Type", "application/json"));
  if (answer->retry_after) {
    CHECK(fieldsync_http_response_add_header(response, "Retry-After", answer->retry_after));
  }
  /* In two chunks, as a streaming HTTP stack would deliver it. */
  const size_t length = strlen(answer->body);
  CHECK(fieldsync_http_response_append_body(response, (const uint8_t *)answer->body, length / 2));
  CHECK(fieldsync_http_response_append_body(response, (const uint8_t *)answer->body + length / 2,
                                            length - length / 2));
  return true;
}

static void canned_release(void *context) { ++((canned_server *)context)->release_calls; }

static const char *const kServerUrl = "https://sync.example.org";
static const char *const kEnrolled =
    "{\"device_id\": \"0190f1a2-3b4c-7d5e-8f60-718293a4b5c7\", \"user_id\": \"worker-18\","
    " \"token\": \"0190f1a23b4c7d5e8f60718293a4b5c7.9f3a\", \"server_time_ms\": 1764150000000}";
static const char *const kNothingToSync =
    "{\"protocol\": {\"major\": 1, \"minor\": 0}, \"server_time_ms\": 1764150000000}";

static void test_server_misuse(canned_server *server) {
  fieldsync_error error;
  fieldsync_transport_free(NULL);
  fieldsync_cancel_flag_free(NULL);
  fieldsync_cancel_flag_set(NULL);
  fieldsync_sync_settings_init(NULL);
  CHECK(!fieldsync_http_response_set_status(NULL, 200));
  CHECK(!fieldsync_http_response_add_header(NULL, "a", "b"));
  CHECK(!fieldsync_http_response_append_body(NULL, (const uint8_t *)"x", 1));

  fieldsync_sync_settings settings;
  memset(&settings, 0xFF, sizeof settings);
  fieldsync_sync_settings_init(&settings);
  CHECK(settings.server_url == NULL && settings.client.platform == NULL);
  CHECK(settings.max_rounds == 100 && settings.max_attempts == 10);
  CHECK(settings.initial_retry_delay_ms == 500 && settings.max_retry_delay_ms == 60000);
  CHECK(!settings.use_json);

  /* A transport without `send` is refused, and its context released all the same. */
  fieldsync_transport_callbacks incomplete = {server, NULL, canned_release};
  CHECK(fieldsync_transport_new(&incomplete, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "send");
  CHECK(server->release_calls == 1);
  CHECK(fieldsync_transport_new(NULL, &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "callbacks");

  char *report = (char *)"untouched";
  CHECK(fieldsync_sync(NULL, NULL, &settings, 1000, NULL, &report, &error) == FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "store");
  CHECK(report == NULL);
}

/* Enrolment refused, then accepted; then syncs that fail, retry, run out of time, are cancelled
 * and complete. */
static void test_enrol_and_sync(const test_paths *paths) {
  fieldsync_error error;
  event_log events = {{0}};
  canned_server server;
  memset(&server, 0, sizeof server);
  test_server_misuse(&server);
  server.release_calls = 0;

  fieldsync_transport_callbacks callbacks = {&server, canned_send, canned_release};
  fieldsync_transport *transport = fieldsync_transport_new(&callbacks, &error);
  CHECK_OK(error);
  const fieldsync_client_info client = {"c-test", "9.9.9"};
  fieldsync_store_options options = fast_options(paths->enrolled_store);

  /* A used code: 401, no store, and the key wrapper still released once. */
  xor_key_store keys = {0};
  fieldsync_key_wrapper wrapper = xor_key_wrapper(&keys);
  canned_reset(&server);
  canned_add(&server, 401, "{\"error\": \"unauthorized\", \"message\": \"the code was already used\"}",
             NULL);
  CHECK(fieldsync_enrol(&options, &wrapper, kPasscode, transport, kServerUrl, "AB12-CD34", &client,
                        &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_UNAUTHORIZED, "already used");
  CHECK(keys.release_calls == 1);
  CHECK(!file_exists(paths->enrolled_store));
  CHECK_CONTAINS(server.last_url, "/v1/enrol");
  CHECK_CONTAINS(server.last_body, "\"code\":\"AB12-CD34\"");
  CHECK_CONTAINS(server.last_body, "\"app_version\":\"9.9.9\"");

  /* Too many attempts: rate limited, and the message says how long to wait. */
  canned_reset(&server);
  canned_add(&server, 429, "{\"error\": \"rate_limited\", \"message\": \"too many attempts\"}", "60");
  CHECK(fieldsync_enrol(&options, NULL, kPasscode, transport, kServerUrl, "AB12-CD34", &client,
                        &error) == NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_RATE_LIMITED, "try again in 60 s");

  /* Accepted: the store is made, unlocked, with the identity the server gave. */
  canned_reset(&server);
  canned_add(&server, 200, kEnrolled, NULL);
  fieldsync_store *store =
      fieldsync_enrol(&options, NULL, kPasscode, transport, kServerUrl, "AB12-CD34", NULL, &error);
  CHECK_OK(error);
  CHECK(store != NULL);
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_UNLOCKED);
  fieldsync_store_set_event_callback(store, record_event, &events);
  /* A second enrolment over it is refused before the server is asked. */
  canned_reset(&server);
  CHECK(fieldsync_enrol(&options, NULL, kPasscode, transport, kServerUrl, "EF56", NULL, &error) ==
        NULL);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "exists");
  CHECK(server.next == 0);

  fieldsync_sync_settings settings;
  fieldsync_sync_settings_init(&settings);
  settings.server_url = kServerUrl;
  settings.client = client;
  settings.use_json = true; /* so the canned answers can be written by hand */
  settings.initial_retry_delay_ms = 20;
  char *report = NULL;

  /* 401: the sync fails at once; the error and the report say why; nothing is wiped. */
  canned_reset(&server);
  canned_add(&server, 401, "{\"error\": \"unauthorized\", \"message\": \"the token is not valid\"}",
             NULL);
  CHECK(fieldsync_sync(store, transport, &settings, 5000, NULL, &report, &error) ==
        FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_UNAUTHORIZED, "the token is not valid");
  CHECK(server.last_had_bearer);
  CHECK_CONTAINS(server.last_url, "/v1/sync");
  CHECK_CONTAINS(report, "\"outcome\":\"failed\"");
  CHECK_CONTAINS(report, "\"http_status\":401");
  CHECK_CONTAINS(report, "\"server_error\":\"unauthorized\"");
  fieldsync_string_free(report);
  CHECK(fieldsync_store_state_now(store) == FIELDSYNC_STATE_UNLOCKED);

  /* 503, retried after a short wait, then success; the 401 above travels as telemetry. */
  canned_reset(&server);
  clear_events(&events);
  canned_add(&server, 503, "{\"error\": \"unavailable\", \"message\": \"restarting\"}", NULL);
  canned_add(&server, 200, kNothingToSync, NULL);
  CHECK(fieldsync_sync(store, transport, &settings, 5000, NULL, &report, &error) ==
        FIELDSYNC_SYNC_COMPLETED);
  CHECK_OK(error);
  CHECK(server.next == 2);
  CHECK_CONTAINS(server.last_body, "\"last_error_code\":\"unauthorized\"");
  CHECK_CONTAINS(server.last_body, "\"platform\":\"c-test\"");
  CHECK_CONTAINS(report, "\"outcome\":\"completed\"");
  CHECK_CONTAINS(report, "\"requests\":2");
  CHECK(strstr(report, "\"error\"") == NULL);
  fieldsync_string_free(report);
  CHECK_CONTAINS(events.text, "\"event\":\"sync_progress\"");
  CHECK_CONTAINS(events.text, "\"round\":1");
  CHECK(count_of(events.text, "sync_progress") == 2); /* the wait to retry, then the round */

  /* 503 asking for two minutes, with five seconds to spare: the sync stops at once, and the
   * report (not the error struct: this is no failure) says what was in the way. */
  canned_reset(&server);
  canned_add(&server, 503, "{\"error\": \"unavailable\", \"message\": \"overloaded\"}", "120");
  CHECK(fieldsync_sync(store, transport, &settings, 5000, NULL, &report, &error) ==
        FIELDSYNC_SYNC_DEADLINE_REACHED);
  CHECK_OK(error);
  CHECK_CONTAINS(report, "\"outcome\":\"deadline_reached\"");
  CHECK_CONTAINS(report, "\"http_status\":503");
  CHECK_CONTAINS(report, "overloaded");
  fieldsync_string_free(report);

  /* The shell's transport cannot connect, and the sync may try only once. */
  canned_reset(&server);
  canned_add(&server, 0, NULL, NULL);
  settings.max_attempts = 1;
  CHECK(fieldsync_sync(store, transport, &settings, 5000, NULL, NULL, &error) ==
        FIELDSYNC_SYNC_FAILED);
  CHECK(error.domain == FIELDSYNC_DOMAIN_NETWORK && error.code == -1004);
  CHECK_CONTAINS(error.message, "could not connect");
  settings.max_attempts = 0;

  /* Cancelled before it starts: nothing is sent. */
  fieldsync_cancel_flag *cancel = fieldsync_cancel_flag_new();
  CHECK(cancel != NULL);
  fieldsync_cancel_flag_set(cancel);
  canned_reset(&server);
  CHECK(fieldsync_sync(store, transport, &settings, 5000, cancel, NULL, &error) ==
        FIELDSYNC_SYNC_CANCELLED);
  CHECK(server.next == 0);
  fieldsync_cancel_flag_free(cancel);

  /* Unusable arguments. */
  CHECK(fieldsync_sync(store, transport, &settings, 0, NULL, NULL, &error) == FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "time_limit_ms");
  CHECK(fieldsync_sync(store, NULL, &settings, 1000, NULL, NULL, &error) == FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "transport");
  settings.server_url = "http://sync.example.org";
  CHECK(fieldsync_sync(store, transport, &settings, 1000, NULL, NULL, &error) ==
        FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "https://");
  settings.server_url = kServerUrl;
  settings.max_rounds = -1;
  CHECK(fieldsync_sync(store, transport, &settings, 1000, NULL, NULL, &error) ==
        FIELDSYNC_SYNC_FAILED);
  CHECK_FAILED(error, FIELDSYNC_ERR_INVALID_ARGUMENT, "max_rounds");
  settings.max_rounds = 0;

  /* The built-in transport, against a port nobody listens on: a network failure. */
  fieldsync_transport *curl = fieldsync_transport_new_curl(NULL, &error);
  CHECK_OK(error);
  settings.server_url = "http://127.0.0.1:1";
  settings.max_attempts = 1;
  CHECK(fieldsync_sync(store, curl, &settings, 5000, NULL, NULL, &error) == FIELDSYNC_SYNC_FAILED);
  CHECK(error.domain == FIELDSYNC_DOMAIN_NETWORK);
  fieldsync_transport_free(curl);

  fieldsync_store_free(store);
  fieldsync_transport_free(transport);
  CHECK(server.release_calls == 1);
}

int main(void) {
  make_paths(&g_paths);
  atexit(remove_test_files);
  test_versions();
  test_schema();
  test_null_safety_and_defaults();
  test_create_misuse(&g_paths);
  test_store_with_c_key_wrapper(&g_paths);
  test_store_with_key_file(&g_paths);
  test_enrol_and_sync(&g_paths);
  printf("test_capi: all checks passed\n");
  return EXIT_SUCCESS;
}
