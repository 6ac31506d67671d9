// What fieldsync-bench writes, the same bytes whichever way they are written: visits of about
// eight fields with a 1 KB narrative, spread over a caseload, as a worker records them, as a
// server sends them on a pull, and as plain rows for the raw SQLite reference. The narrative is
// either English-like case notes (which gzip shrinks, as it does real notes) or random text that
// no compressor can shrink by more than a few per cent.
// One thread at a time per object.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/client/store.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/uuid.h"

namespace fieldsync::bench {

inline constexpr std::size_t kBatchSize = 500;        // rows per transaction, records per page
inline constexpr std::size_t kNarrativeBytes = 1024;  // the visit's observations

enum class NoteStyle {
  kText,    // sentences of case notes with varied names and details
  kRandom,  // random characters spread over the whole UTF-8 byte range: incompressible
};
std::string_view to_string(NoteStyle style);

// A plain row: what the raw SQLite reference inserts for one visit.
struct PlainRow {
  RecordId record_id;
  CaseId case_id;
  std::string body;  // the visit's values as JSON: no versions, no padding, no encryption
};

class VisitWorkload {
 public:
  // Visits to `case_count` made-up cases, or to the cases given (created on a server).
  explicit VisitWorkload(std::size_t case_count, NoteStyle notes = NoteStyle::kText);
  VisitWorkload(std::vector<CaseId> cases, NoteStyle notes);

  static constexpr std::size_t kVisitFields = 8;  // the fields of every visit made here

  struct Visit {
    RecordId id;
    CaseId case_id;
    client::Fields fields;
  };
  // The next visit, to the next case in turn.
  Visit next_visit();

  static PlainRow plain_row(const Visit& visit);
  // The bytes of a visit's values as a change carries them (text as its UTF-8 bytes, a timestamp
  // as 8, a boolean as 1): what wire overhead is counted beyond.
  static std::size_t value_bytes(const Visit& visit);
  // The caseload's case records, as the server sends them on a device's first pull.
  SyncResponse caseload_page();
  // `count` visits as the server sends them on a pull: one server-stamped change per field.
  struct Page {
    SyncResponse response;
    std::vector<PlainRow> rows;  // the same visits, as plain rows
  };
  Page pull_page(std::size_t count);

 private:
  Change server_change(const std::string& collection, const RecordId& record, const CaseId& case_id,
                       const std::string& field, Value value);

  std::string narrative(std::size_t visit_number);

  std::vector<CaseId> cases_;
  NoteStyle notes_;
  std::mt19937_64 random_{20240301};  // the same notes in every run
  std::size_t next_case_ = 0;
  std::size_t visits_made_ = 0;
  UuidV7Generator ids_{SystemClockSource::instance()};
  const OriginId server_;  // the server's origin, and its epoch in cursors
  Hlc server_clock_;
  std::uint64_t pages_made_ = 0;
};

}  // namespace fieldsync::bench
