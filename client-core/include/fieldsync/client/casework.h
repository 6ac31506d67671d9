// The social worker's domain API over a Store: the caseload, visits (one per child, a household
// visit linking several), assessments, notes (draft, submit, amend), and "recorded in error".
// Each call is one user action, so one write group, validated with the shared schema.
//
// Field names and codes are the domain schema's (shared/src/domain_schema.cpp); `Fields` passed in
// are checked there, and unknown fields are kept. Same threading as Store: any thread.
#pragma once

#include <string>
#include <vector>

#include "fieldsync/client/store.h"

namespace fieldsync::client {

class Casework {
 public:
  explicit Casework(Store& store) : store_(store) {}

  // The case records on this device (allocated to this user), by child's name.
  std::vector<Record> caseload();

  // One child's visit. `visit` holds the schema's visit fields (visit_type, actual_start,
  // child_seen, seen_alone, reasons, observations, ...).
  RecordId record_visit(const CaseId& case_id, const Fields& visit);

  // One household visit: one visit record per child's case, each with that child's own facts,
  // linked by a shared household_visit_id, written as one write group. `shared` holds what is
  // the same for every child (type, times, location, people present); `per_child` what differs.
  struct ChildVisit {
    CaseId case_id;
    Fields fields;
  };
  std::vector<RecordId> record_household_visit(const Fields& shared,
                                               const std::vector<ChildVisit>& per_child);

  RecordId start_assessment(const CaseId& case_id, const Fields& assessment);
  // Sets status "completed" with `completion` (completed_on, outcome, ...).
  void complete_assessment(const RecordId& assessment_id, const Fields& completion);

  // A new note in draft.
  RecordId write_note(const CaseId& case_id, const Fields& note);
  // Edits a draft (a submitted note refuses with Error(kFrozen)).
  void edit_note(const RecordId& note_id, const Fields& changes);
  // Submits a draft: stamps submitted_at; from now on its content is frozen.
  void submit_note(const RecordId& note_id);
  // A correction of a submitted note: a new submitted note that amends it, with a reason. The
  // original stays readable.
  RecordId amend_note(const RecordId& note_id, const std::string& content,
                      const std::string& reason);

  // Marks a record filed on the wrong case: hidden from the normal views, kept for audit.
  void mark_recorded_in_error(const RecordId& record_id, const std::string& reason);

  // A case's records in event-time order (visits by actual_start, assessments by started_on,
  // notes by event_time or submitted_at), without those recorded in error unless asked.
  std::vector<Record> visits(const CaseId& case_id, bool include_in_error = false);
  std::vector<Record> assessments(const CaseId& case_id, bool include_in_error = false);
  std::vector<Record> notes(const CaseId& case_id, bool include_in_error = false);

 private:
  Record require_record(const RecordId& id, std::string_view collection);
  RecordId new_record_id();
  std::vector<Record> in_event_order(const CaseId& case_id, std::string_view collection,
                                     bool include_in_error);

  Store& store_;
};

}  // namespace fieldsync::client
