// What fieldsync-bench writes, the same bytes whichever way they are written: visits of about
// eight fields with a 1 KB narrative, spread over a caseload, as a worker records them, as a
// server sends them on a pull, and as plain rows for the raw SQLite reference.
// Single-threaded.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fieldsync/client/store.h"
#include "fieldsync/clock_source.h"
#include "fieldsync/uuid.h"

namespace fieldsync::bench {

inline constexpr std::size_t kBatchSize = 500;        // rows per transaction, records per page
inline constexpr std::size_t kNarrativeBytes = 1024;  // the visit's observations

// A plain row: what the raw SQLite reference inserts for one visit.
struct PlainRow {
  RecordId record_id;
  CaseId case_id;
  std::string body;  // the visit's values as JSON: no versions, no padding, no encryption
};

class VisitWorkload {
 public:
  explicit VisitWorkload(std::size_t case_count);

  struct Visit {
    RecordId id;
    CaseId case_id;
    client::Fields fields;
  };
  // The next visit, to the next case in turn.
  Visit next_visit();

  static PlainRow plain_row(const Visit& visit);
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

  std::vector<CaseId> cases_;
  std::size_t next_case_ = 0;
  std::size_t visits_made_ = 0;
  UuidV7Generator ids_{SystemClockSource::instance()};
  const OriginId server_;  // the server's origin, and its epoch in cursors
  Hlc server_clock_;
  std::uint64_t pages_made_ = 0;
};

}  // namespace fieldsync::bench
