// fieldsync-bench baseline: what this machine's SQLite and OpenSSL do on their own, with the
// store's settings and the store's data sizes, so that the client figures can be read against
// the machine rather than against a guess.
#include <string>

#include "bench_modes.h"
#include "bench_report.h"
#include "fieldsync/crypto.h"
#include "measure.h"
#include "plain_table.h"
#include "workload.h"

namespace fieldsync::bench {
namespace {

constexpr const char* kMode = "baseline";
constexpr std::size_t kCases = 50;
constexpr std::size_t kSeals = 100'000;
constexpr std::size_t kRounds = 10;

void measure_bulk_inserts(const BenchOptions& options, const ScratchDir& scratch, Report& report) {
  report.figure("sqlite.bulk_rows_per_s",
                bulk_insert_rate(scratch.file("bulk.db"), 1, options.records, kMode), "rows/s",
                "raw SQLite, 500 rows per transaction (pull ceiling)");
  report.figure("sqlite.bulk_twice_rows_per_s",
                bulk_insert_rate(scratch.file("bulk-twice.db"), 2, options.records, kMode),
                "rows/s", "raw SQLite, each row into 2 tables, 500 per tx (push ceiling)");
}

void measure_single_inserts(const BenchOptions& options, const ScratchDir& scratch,
                            Report& report) {
  PlainTable table(scratch.file("single.db"));
  VisitWorkload workload(kCases);
  Stopwatch watch;
  in_rounds(kMode, "one row per transaction, rows", options.visits, kRounds,
            {[&](std::size_t count) {
              for (std::size_t i = 0; i < count; ++i) {
                const PlainRow row = VisitWorkload::plain_row(workload.next_visit());
                watch.time([&] { table.insert_in_own_transaction(row); });
              }
            }});
  report.figure("sqlite.single_rows_per_s", watch.per_second(options.visits), "rows/s",
                "raw SQLite, one row per transaction");
  report.figure("sqlite.single_commit_ms",
                1000 * watch.seconds() / static_cast<double>(options.visits), "ms",
                "raw SQLite, time per one-row transaction");
}

// Sealing as the store seals a field value: 1 KB under a case key, bound to its purpose.
void measure_sealing(Report& report) {
  const crypto::SecretKey key = crypto::SecretKey::random();
  const Bytes aad = crypto::record_field_aad("record", 1, Uuid::random_v4(), "visit",
                                             Uuid::random_v4(), "observations");
  const Bytes value(kNarrativeBytes, 0x5a);
  Stopwatch watch;
  in_rounds(kMode, "AES-256-GCM seals", kSeals, kRounds, {[&](std::size_t count) {
              watch.time([&] {
                for (std::size_t i = 0; i < count; ++i) crypto::seal(key, aad, value);
              });
            }});
  report.figure("aes_gcm.seal_1k_per_s", watch.per_second(kSeals), "values/s",
                "AES-256-GCM seal of a 1 KB value");
  report.figure("aes_gcm.seal_mb_per_s",
                static_cast<double>(kSeals * kNarrativeBytes) / 1e6 / watch.seconds(), "MB/s",
                "AES-256-GCM seal throughput, 1 KB values");
}

}  // namespace

void run_baseline(const BenchOptions& options, Report& report) {
  ScratchDir scratch(options.dir);
  VisitWorkload sample(1);
  report.setting("records", options.records);
  report.setting("visits", options.visits);
  report.setting("batch_size", kBatchSize);
  report.setting("row_bytes", VisitWorkload::plain_row(sample.next_visit()).body.size());
  report.setting("seals", kSeals);
  report.setting("sqlite_settings", "journal_mode=WAL, synchronous=FULL, secure_delete=ON");
  report.setting("dir", scratch.path().parent_path().string());

  measure_bulk_inserts(options, scratch, report);
  measure_single_inserts(options, scratch, report);
  measure_sealing(report);
}

}  // namespace fieldsync::bench
