// fieldsync-admin's commands that run the council's side of casework: teams, users and cases
// (list and add), allocate, and enrol (a one-time enrolment code for a user's device). Each
// prints a table or a line (or the API's JSON with --json) and returns an exit code
// (admin_connection.h).
#pragma once

#include "fieldsync/cli/command_frame.h"

namespace fieldsync::admin {

int run_teams(const cli::Invocation& invocation);
int run_teams_add(const cli::Invocation& invocation);
int run_users(const cli::Invocation& invocation);
int run_users_add(const cli::Invocation& invocation);
int run_cases(const cli::Invocation& invocation);
int run_cases_add(const cli::Invocation& invocation);
int run_allocate(const cli::Invocation& invocation);
int run_enrol(const cli::Invocation& invocation);

}  // namespace fieldsync::admin
