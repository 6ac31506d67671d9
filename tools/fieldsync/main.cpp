// fieldsync: the field-device command-line tool. A social worker's device on the command line
// (a device profile with an encrypted store, enrolled with a server: casework, sync, conflicts),
// and the demo of the whole story. The commands are the table below; each cli_*.cpp file
// implements one group of them, calling client-core's C++ API.
#include <cstdio>
#include <string>
#include <vector>

#include "cli_conflicts.h"
#include "cli_profile.h"
#include "cli_records.h"
#include "cli_sync.h"
#include "demo.h"
#include "fieldsync/cli/command_frame.h"
#include "fieldsync/fieldsync.h"

namespace fieldsync::cli {
namespace {

int run_demo_command(const Invocation& invocation) {
  fieldsync::demo::DemoOptions options;
  options.keep_dir = invocation.option("--keep").value_or("");
  options.quiet = invocation.flag("--quiet");
  return fieldsync::demo::run_demo(options);
}

int run_version(const Invocation&) {
  std::printf("fieldsync %s\n", fieldsync_version());
  return kExitOk;
}

const OptionSpec kJsonOption = {"--json", "", "print JSON (the C API's forms) for scripts"};

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> kCommands = {
      {.words = "init",
       .synopsis = "--server URL [--ca-file FILE]",
       .summary = "create a device profile for a server",
       .details =
           "Makes the profile directory (owner-only) with a plain settings file: the server's\n"
           "URL and the CA file to trust. Nothing secret goes in it. Run it again before\n"
           "enrolling to change them.",
       .options = {{"--server", "URL", "https://host[:port] (plain http only to 127.0.0.1)", true},
                   {"--ca-file", "FILE", "trust this PEM bundle instead of the system's CAs"}},
       .run = run_init},
      {.words = "enrol",
       .synopsis = "--code CODE",
       .summary = "enrol this device with a one-time code and create its encrypted store",
       .details = "Asks for a new passcode (twice on a terminal; 4 characters or more) before the\n"
                  "code is spent. The server's answer gives the device id, the user and a token;\n"
                  "the token is kept only inside the encrypted store.",
       .options = {{"--code", "CODE", "the enrolment code an admin made for you", true}},
       .run = run_enrol},
      {.words = "unlock",
       .synopsis = "[--json]",
       .summary = "check the passcode and show the store's state",
       .details =
           "States: unlocked; check-in required (the passcode is right, but the device has\n"
           "been offline too long: sync first); a wrong passcode says how many attempts are\n"
           "left before the store wipes itself (exit code 1); wiped. Every command unlocks\n"
           "the store for its own run only: nothing stays unlocked afterwards.",
       .options = {kJsonOption},
       .run = run_unlock},
      {.words = "cases",
       .synopsis = "[--json]",
       .summary = "list the caseload: child's name, case id, status, plan",
       .options = {kJsonOption},
       .run = run_cases},
      {.words = "visit record",
       .synopsis = "--case ID [--fields JSON] [FIELD=VALUE ...]",
       .summary = "record a visit to a child (prints the new visit's id)",
       .details =
           "Fields come from --fields (a JSON object) and FIELD=VALUE operands (which win).\n"
           "The schema's rules apply (seen alone needs seen; a coded reason for every no);\n"
           "a bad or missing value fails with exit code 1 and names the field. Example:\n"
           "  fieldsync visit record --case ID visit_type=statutory_child_in_need \\\n"
           "    actual_start=now child_seen=yes seen_alone=yes observations='...'",
       .options = {{"--case", "ID", "the child's case", true},
                   {"--fields", "JSON", "visit fields as a JSON object"}},
       .max_operands = kAnyNumber,
       .run = run_visit_record,
       .more_help = visit_fields_help},
      {.words = "visit list",
       .synopsis = "--case ID [--json]",
       .summary = "show a case's visits, in the order they happened",
       .options = {{"--case", "ID", "the child's case", true}, kJsonOption},
       .run = run_visit_list},
      {.words = "note draft",
       .synopsis = "--case ID --content TEXT [--type CODE] [--about RECORD_ID] [--event-time TIME]",
       .summary = "write a note as a draft (prints the new note's id)",
       .options = {{"--case", "ID", "the child's case", true},
                   {"--content", "TEXT", "what the note says", true},
                   {"--type", "CODE",
                    "case_note | assessment_note | supervision | management_oversight | other"},
                   {"--about", "RECORD_ID", "the visit or assessment the note is about"},
                   {"--event-time", "TIME", "when it happened: now or an RFC 3339 time"}},
       .run = run_note_draft},
      {.words = "note edit",
       .synopsis = "NOTE_ID --content TEXT",
       .summary = "change a draft's content (a submitted note refuses)",
       .options = {{"--content", "TEXT", "the new content", true}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "NOTE_ID",
       .run = run_note_edit},
      {.words = "note submit",
       .synopsis = "NOTE_ID",
       .summary = "submit a draft: from now on its content is fixed",
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "NOTE_ID",
       .run = run_note_submit},
      {.words = "note amend",
       .synopsis = "NOTE_ID --content TEXT --reason TEXT",
       .summary = "correct a submitted note with a new note that amends it (prints its id)",
       .details = "The original stays readable; the amendment carries its type, subject and event\n"
                  "time, and the reason.",
       .options = {{"--content", "TEXT", "the corrected text", true},
                   {"--reason", "TEXT", "why the correction is needed", true}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "NOTE_ID",
       .run = run_note_amend},
      {.words = "note list",
       .synopsis = "--case ID [--json]",
       .summary = "show a case's notes, in the order they happened",
       .options = {{"--case", "ID", "the child's case", true}, kJsonOption},
       .run = run_note_list},
      {.words = "sync",
       .synopsis = "[--timeout-s N] [--json]",
       .summary = "push this device's changes and pull the server's",
       .details = "Progress goes to stderr, the summary to stdout. Network failures and busy\n"
                  "servers are retried until the time limit; Ctrl-C stops between round trips,\n"
                  "keeping what was applied. Exit code 0 when the sync completed (or stopped at\n"
                  "the time limit with nothing failing: run it again); 1 when it failed (the\n"
                  "server's message is shown), could not reach the server in time, was cancelled,\n"
                  "the server had the device wiped, or requires a newer version.",
       .options = {{"--timeout-s", "N", "give up after N seconds (default 60)"}, kJsonOption},
       .run = run_sync},
      {.words = "status",
       .synopsis = "[--json]",
       .summary = "pending changes, last sync, conflicts, rejections, the store's state",
       .options = {kJsonOption},
       .run = run_status},
      {.words = "conflicts",
       .synopsis = "[--json]",
       .summary = "show values overwritten by someone who had not seen them, both sides",
       .options = {kJsonOption},
       .run = run_conflicts},
      {.words = "resolve",
       .synopsis = "--lost VERSION (--keep-current | --restore-lost)",
       .summary = "settle a conflict: keep the current value or restore the lost one",
       .details = "VERSION is the lost value's version as `fieldsync conflicts` prints it\n"
                  "(MS.COUNTER@ORIGIN), or its JSON form from `fieldsync conflicts --json`.",
       .options = {{"--lost", "VERSION", "the lost value's version", true},
                   {"--keep-current", "", "the current value stays"},
                   {"--restore-lost", "", "the lost value comes back"}},
       .run = run_resolve},
      {.words = "rejections",
       .synopsis = "[--json]",
       .summary = "show write groups the server refused, with its reasons",
       .options = {kJsonOption},
       .run = run_rejections},
      {.words = "rejections dismiss",
       .synopsis = "WRITE_GROUP",
       .summary = "remove a refused write group from the list, once dealt with",
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "WRITE_GROUP",
       .run = run_rejections_dismiss},
      {.words = "demo",
       .synopsis = "[--keep DIR] [--quiet]",
       .summary = "play the whole story against a real fieldsync-server, checking every step",
       .options = {{"--keep", "DIR", "leave the stores in DIR to inspect them"},
                   {"--quiet", "", "print only the checks and the verdict"}},
       .uses_common_options = false,
       .run = run_demo_command},
      {.words = "version",
       .summary = "print the version",
       .uses_common_options = false,
       .run = run_version},
      {.words = "help",
       .synopsis = "[COMMAND]",
       .summary = "print this help, or a command's",
       .max_operands = 2,
       .operand_name = "COMMAND",
       .uses_common_options = false,
       .run = run_help_command},
  };
  return kCommands;
}

const ProgramSpec& program() {
  static const ProgramSpec kProgram = {
      .name = "fieldsync",
      .description =
          "The field-device tool of fieldsync: a social worker's encrypted, offline-first device\n"
          "on the command line. `fieldsync <command> --help` says more about each command.",
      .common_title = "device options",
      .common_options =
          {{"--device", "DIR",
            "the device profile (default: $FIELDSYNC_DEVICE, else ./fieldsync-device)"},
           {"--passcode-file", "FILE",
            "read the passcode from the first line of FILE (for tests and scripts)"}},
      .epilogue =
          "environment:\n"
          "  FIELDSYNC_DEVICE      the device profile directory, when --device is not given\n"
          "  FIELDSYNC_PASSCODE    the passcode (for tests and scripts; a person is asked on the\n"
          "                        terminal, without echo; otherwise the first line of stdin)\n"
          "\nexit codes: 0 done, 1 an error (one line on stderr), 2 a usage mistake\n",
      .commands = commands(),
  };
  return kProgram;
}

}  // namespace
}  // namespace fieldsync::cli

int main(int argc, char** argv) {
  return fieldsync::cli::run_program(fieldsync::cli::program(),
                                     std::vector<std::string>(argv + 1, argv + argc));
}
