// fieldsync-bench client: the device store against raw SQLite writing the same bytes with the
// same settings, in the same run and interleaved: recording visits one write group at a time,
// importing a caseload pulled from the server, and unlocking with the production KDF.
#include <algorithm>
#include <string>

#include "bench_modes.h"
#include "bench_report.h"
#include "bench_store.h"
#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/crypto.h"
#include "fieldsync/error.h"
#include "measure.h"
#include "plain_table.h"
#include "workload.h"

namespace fieldsync::bench {
namespace {

constexpr const char* kMode = "client";
constexpr std::size_t kCases = 50;  // a busy worker's caseload
constexpr std::size_t kRounds = 10;
constexpr int kUnlocks = 3;

// (a) One visit recorded through the domain API, one write group and one transaction each,
// against one plain row per transaction.
void measure_recording(const BenchOptions& options, const ScratchDir& scratch, Report& report) {
  VisitWorkload workload(kCases);
  PlainTable plain(scratch.file("plain-visits.db"));
  BenchStore store(scratch.path(), "visits", kCheapKdfIterations);
  store->apply_sync(workload.caseload_page());
  client::Casework casework(*store);

  Stopwatch plain_watch, store_watch;
  in_rounds(kMode, "visits recorded (each way)", options.visits, kRounds,
            {[&](std::size_t count) {
               for (std::size_t i = 0; i < count; ++i) {
                 const PlainRow row = VisitWorkload::plain_row(workload.next_visit());
                 plain_watch.time([&] { plain.insert_in_own_transaction(row); });
               }
             },
             [&](std::size_t count) {
               for (std::size_t i = 0; i < count; ++i) {
                 const VisitWorkload::Visit visit = workload.next_visit();
                 store_watch.time([&] { casework.record_visit(visit.case_id, visit.fields); });
               }
             }});
  report.figure("plain.single_rows_per_s", plain_watch.per_second(options.visits), "rows/s",
                "raw SQLite, a visit's row per transaction");
  report.figure("client.record_visit_per_s", store_watch.per_second(options.visits), "visits/s",
                "Casework::record_visit, a group per transaction");
  report.figure("client.record_visit_ms",
                1000 * store_watch.seconds() / static_cast<double>(options.visits), "ms",
                "Casework::record_visit, time per visit");
  report.ratio("client.record_visit_ratio", "client.record_visit_per_s", "plain.single_rows_per_s",
               "(a) record_visit / raw one row per transaction",
               Target{Target::Comparison::kAtLeast, 0.8});
}

// (b) A caseload pulled from the server: pages of kBatchSize visits through Store::apply_sync,
// against the same visits' rows inserted kBatchSize to a transaction.
void measure_import(const BenchOptions& options, const ScratchDir& scratch, Report& report) {
  VisitWorkload workload(kCases);
  PlainTable plain(scratch.file("plain-import.db"));
  BenchStore store(scratch.path(), "import", kCheapKdfIterations);
  store->apply_sync(workload.caseload_page());

  Stopwatch plain_watch, store_watch;
  std::size_t changes = 0;
  const std::size_t pages = (options.records + kBatchSize - 1) / kBatchSize;
  in_rounds(kMode, "import pages of 500 records (each way)", pages, kRounds,
            {[&](std::size_t count) {
              for (std::size_t i = 0; i < count; ++i) {
                const VisitWorkload::Page page = workload.pull_page(kBatchSize);
                changes += page.response.changes.size();
                plain_watch.time([&] { plain.insert_in_one_transaction(page.rows); });
                store_watch.time([&] { store->apply_sync(page.response); });
              }
            }});
  const std::size_t records = pages * kBatchSize;
  report.figure("plain.bulk_rows_per_s", plain_watch.per_second(records), "rows/s",
                "raw SQLite, 500 visit rows per transaction");
  report.figure("client.import_records_per_s", store_watch.per_second(records), "records/s",
                "Store::apply_sync, pages of 500 pulled visits");
  report.figure("client.import_changes_per_s", store_watch.per_second(changes), "changes/s",
                "Store::apply_sync, the same, counted in changes");
  report.ratio("client.import_ratio", "client.import_records_per_s", "plain.bulk_rows_per_s",
               "(b) apply_sync import / raw 500 rows per transaction",
               Target{Target::Comparison::kAtLeast, 0.6});
}

// (c) Unlocking a store whose passcode key is derived with the production PBKDF2 count.
void measure_unlock(const ScratchDir& scratch, Report& report) {
  progress(kMode, "creating a store with " + std::to_string(crypto::kPbkdf2DefaultIterations) +
                      " PBKDF2 iterations");
  BenchStore store(scratch.path(), "unlock", crypto::kPbkdf2DefaultIterations);
  std::vector<double> seconds;
  for (int i = 0; i < kUnlocks; ++i) {
    store->lock();
    Stopwatch watch;
    const client::UnlockResult result = watch.time([&] { return store->unlock(kBenchPasscode); });
    if (result.outcome != client::UnlockOutcome::kUnlocked) {
      throw Error(ErrorCode::kInternal, "the benchmark store did not unlock");
    }
    seconds.push_back(watch.seconds());
    progress(kMode, "unlock " + std::to_string(i + 1) + "/" + std::to_string(kUnlocks));
  }
  std::sort(seconds.begin(), seconds.end());
  report.figure("client.unlock_s", seconds[seconds.size() / 2], "s",
                "(c) Store::unlock, median of 3", Target{Target::Comparison::kBelow, 1.0});
  report.figure("client.unlock_max_s", seconds.back(), "s", "Store::unlock, slowest of 3");
}

}  // namespace

void run_client(const BenchOptions& options, Report& report) {
  ScratchDir scratch(options.dir);
  report.setting("records", options.records);
  report.setting("visits", options.visits);
  report.setting("cases", kCases);
  report.setting("batch_size", kBatchSize);
  report.setting("narrative_bytes", kNarrativeBytes);
  report.setting("unlock_kdf_iterations", crypto::kPbkdf2DefaultIterations);
  report.setting("sqlite_settings", "journal_mode=WAL, synchronous=FULL, secure_delete=ON");
  report.setting("dir", scratch.path().parent_path().string());

  measure_recording(options, scratch, report);
  measure_import(options, scratch, report);
  measure_unlock(scratch, report);
}

}  // namespace fieldsync::bench
