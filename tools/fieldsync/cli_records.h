// The fieldsync tool's casework commands, over client::Casework: the caseload (`cases`), visits
// (`visit record`, `visit list`) and notes (`note draft|edit|submit|amend|list`). Each write is
// one user action, validated with the shared schema before it reaches the outbox.
#pragma once

#include <string>

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::cli {

int run_cases(const Invocation& invocation);
int run_visit_record(const Invocation& invocation);
int run_visit_list(const Invocation& invocation);
int run_note_draft(const Invocation& invocation);
int run_note_edit(const Invocation& invocation);
int run_note_submit(const Invocation& invocation);
int run_note_amend(const Invocation& invocation);
int run_note_list(const Invocation& invocation);

// The visit fields, their forms and codes, from the schema (for `visit record --help`).
std::string visit_fields_help();

}  // namespace fieldsync::cli
