// fieldsync-admin: the central admins' command-line tool over the server's admin API
// (docs/http-api.md; docs/admin-guide.md for the daily routine). The commands are the table
// below; admin_fleet.cpp, admin_casework.cpp and admin_audit.cpp implement them.
#include <cstdio>
#include <string>
#include <vector>

#include "admin_audit.h"
#include "admin_casework.h"
#include "admin_connection.h"
#include "admin_fleet.h"
#include "fieldsync/cli/command_frame.h"

namespace fieldsync::admin {
namespace {

using cli::CommandSpec;
using cli::OptionSpec;

int run_version(const cli::Invocation&) {
  std::printf("fieldsync-admin %s\n", FIELDSYNC_VERSION);
  return cli::kExitOk;
}

const OptionSpec kLimit = {"--limit", "N", "at most N per page (default 50, at most 500)"};
const OptionSpec kOffset = {"--offset", "N", "skip the first N (the next page)"};
// Where a case goes (cases add, allocate): one of the two.
const OptionSpec kToWorker = {"--to", "USER", "the worker (a manager: the case goes to their team)"};
const OptionSpec kToTeam = {"--team", "TEAM", "the team, with no worker"};

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> kCommands = {
      {.words = "overview",
       .summary = "the fleet at a glance: devices per state, syncs and errors, server health",
       .details =
           "Devices per state (healthy, stale, at risk, revoked, retired), syncs, failures,\n"
           "rejections and conflicts in the last hour and day, open conflicts, the server's\n"
           "uptime and storage size, and the rules that make a device stale or at risk.\n"
           "Example:\n"
           "  fieldsync-admin overview --server https://sync.example.org:8443",
       .run = run_overview},
      {.words = "activity",
       .synopsis = "[--hours N] [--bucket-minutes M]",
       .summary = "the fleet's syncs over time, one line per time bucket",
       .details = "Example (the last 24 hours, hour by hour):\n"
                  "  fieldsync-admin activity --hours 24 --bucket-minutes 60",
       .options = {{"--hours", "N", "how far back, 1 to 192 (default 24)"},
                   {"--bucket-minutes", "M",
                    "bucket length, a multiple of 5 up to 1440 (default 60)"}},
       .run = run_activity},
      {.words = "devices",
       .synopsis = "[--state S] [--user U] [--team T] [--platform P] [--search TEXT] [--sort KEY]\n"
                   "                        [--limit N] [--offset N]",
       .summary = "the device registry: at-risk and stale devices first",
       .details =
           "States: healthy; stale (no successful sync for a while, 24 h by default); at risk\n"
           "(stale and holding work that has not reached the server, or failing sync after\n"
           "sync); revoked; retired. PENDING is the device's unsynced changes, FAILED its\n"
           "failed syncs in a row. Examples:\n"
           "  fieldsync-admin devices --state stale,at_risk\n"
           "  fieldsync-admin devices --user amira\n"
           "  fieldsync-admin devices --sort -pending --limit 10",
       .options = {{"--state", "S",
                    "healthy, stale, at_risk, revoked or retired; several with commas"},
                   {"--user", "U", "this user's devices"},
                   {"--team", "T", "the devices of this team's users"},
                   {"--platform", "P", "platforms starting with P (android, ios)"},
                   {"--search", "TEXT", "part of the device id or of its user's id or name"},
                   {"--sort", "KEY",
                    "state (default), last_sync, last_seen, enrolled, user, platform,\n"
                    "                        app_version, pending, failed_in_a_row, device_id; "
                    "-KEY descends"},
                   kLimit,
                   kOffset},
       .run = run_devices},
      {.words = "device",
       .synopsis = "DEVICE_ID [--history N]",
       .summary = "one device in full, with its recent syncs",
       .details =
           "Whose it is, its state and why, versions, last sync and attempt, unsynced work,\n"
           "the last error the server answered and the last one the device reported, totals\n"
           "since enrolment, and its newest syncs. Example:\n"
           "  fieldsync-admin device 0190c0de-7a1b-7c3d-8e4f-0123456789ab",
       .options = {{"--history", "N", "how many recent syncs (default 20, at most 100)"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "DEVICE_ID",
       .run = run_device},
      {.words = "revoke",
       .synopsis = "DEVICE_ID [--reason TEXT]",
       .summary = "revoke a lost or stolen device: it is wiped the next time it connects",
       .details =
           "Its token stops working at once. Work it had not synced is lost with it, so\n"
           "for a worker who is leaving use `retire` instead. Needs the enrol role. Example:\n"
           "  fieldsync-admin revoke 0190c0de-7a1b-7c3d-8e4f-0123456789ab --reason \"phone lost\"",
       .options = {{"--reason", "TEXT", "why (kept in the registry and the audit log)"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "DEVICE_ID",
       .run = run_revoke},
      {.words = "retire",
       .synopsis = "DEVICE_ID [--reason TEXT]",
       .summary = "retire a handed-back device: its last changes are accepted, then it is wiped",
       .details =
           "For a worker who leaves or changes phone: the device's next sync pushes what it\n"
           "still holds, then it wipes itself. Needs the enrol role. Example:\n"
           "  fieldsync-admin retire 0190c0de-7a1b-7c3d-8e4f-0123456789ab --reason \"left the "
           "team\"",
       .options = {{"--reason", "TEXT", "why (kept in the registry and the audit log)"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "DEVICE_ID",
       .run = run_retire},
      {.words = "enrol",
       .synopsis = "USER [--valid-hours N]",
       .summary = "make a one-time enrolment code for a user's new device (printed alone)",
       .details = "The code works once, for this user only, and expires (24 hours by default).\n"
                  "Needs the enrol role. Example:\n"
                  "  fieldsync-admin enrol amira --valid-hours 4",
       .options = {{"--valid-hours", "N", "how long the code works, up to 720 hours"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "USER",
       .run = run_enrol},
      {.words = "users",
       .summary = "list users: id, name, team, role",
       .details = "Examples:\n"
                  "  fieldsync-admin users\n"
                  "  fieldsync-admin users --json",
       .run = run_users},
      {.words = "users add",
       .synopsis = "USER --team TEAM [--role worker|manager] [--name NAME]",
       .summary = "add a user (a worker sees their own cases, a manager their team's)",
       .details = "Needs the manage role. Example:\n"
                  "  fieldsync-admin users add amira --team north --name \"Amira Shah\"",
       .options = {{"--team", "TEAM", "the user's team", true},
                   {"--role", "ROLE", "worker (default) or manager"},
                   {"--name", "NAME", "the name admins see (default: the id)"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "USER",
       .run = run_users_add},
      {.words = "teams",
       .summary = "list teams",
       .details = "Example:\n"
                  "  fieldsync-admin teams",
       .run = run_teams},
      {.words = "teams add",
       .synopsis = "TEAM [--name NAME]",
       .summary = "add a team",
       .details = "Needs the manage role. Example:\n"
                  "  fieldsync-admin teams add north --name \"North Family Support\"",
       .options = {{"--name", "NAME", "the team's name (default: the id)"}},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "TEAM",
       .run = run_teams_add},
      {.words = "cases",
       .summary = "list cases: id, team, allocated worker (never their content)",
       .details = "A case with no worker is its team's: the team's managers see it. Example:\n"
                  "  fieldsync-admin cases",
       .run = run_cases},
      {.words = "cases add",
       .synopsis = "(--to USER | --team TEAM) [--case-id ID] [--fields-file FILE]\n"
                   "                        [FIELD=VALUE ...]",
       .summary = "add a child's case, allocated to a worker (or to a team); prints its id",
       .details =
           "Fields come from --fields-file (a JSON object) and FIELD=VALUE operands (which\n"
           "win); child_name is required, status is open unless given. The case fields:\n"
           "child_name, date_of_birth and referral_date (YYYY-MM-DD), gender (female, male,\n"
           "not_known, indeterminate), family_id (an id shared by siblings), referrer,\n"
           "plan_type (none, child_in_need, child_protection, looked_after), status (open,\n"
           "closed). Other users of this machine can see command lines (ps) and your shell\n"
           "keeps them: put a real child's details in a file readable by you alone, or give\n"
           "them on standard input (--fields-file -). The worker's devices receive the case\n"
           "at their next sync. Needs the manage role. Examples:\n"
           "  fieldsync-admin cases add --to amira --fields-file new-case.json\n"
           "  fieldsync-admin cases add --team north child_name=\"Test Child\" \\\n"
           "    referral_date=2026-11-26",
       .options = {kToWorker,
                   kToTeam,
                   {"--case-id", "ID", "the case's id (default: a new one)"},
                   {"--fields-file", "FILE", "the case's fields as a JSON object (- reads stdin)"}},
       .max_operands = cli::kAnyNumber,
       .operand_name = "FIELD=VALUE",
       .run = run_cases_add},
      {.words = "allocate",
       .synopsis = "CASE_ID (--to USER | --team TEAM)",
       .summary = "allocate a case to a worker (or to a team, with no worker)",
       .details =
           "The new worker's devices receive the whole case at their next sync; the old\n"
           "worker's devices remove it once their own changes to it are in. Needs the manage\n"
           "role. Example:\n"
           "  fieldsync-admin allocate 7d1e0a52-3f4b-4c6d-9e8f-0a1b2c3d4e5f --to chen",
       .options = {kToWorker, kToTeam},
       .min_operands = 1,
       .max_operands = 1,
       .operand_name = "CASE_ID",
       .run = run_allocate},
      {.words = "conflicts",
       .synopsis = "[--state open|resolved|all] [--device ID] [--user U] [--limit N] [--offset N]",
       .summary = "values overwritten by someone who had not seen them (metadata, no values)",
       .details =
           "Nothing is lost: both values stay with the case, and the workers who own it see\n"
           "both on their devices and choose. Example:\n"
           "  fieldsync-admin conflicts --state open --user amira",
       .options = {{"--state", "S", "open, resolved or all (default: all)"},
                   {"--device", "ID", "either side's device"},
                   {"--user", "U", "either side's user"},
                   kLimit,
                   kOffset},
       .run = run_conflicts},
      {.words = "rejections",
       .synopsis = "[--device ID] [--user U] [--code C] [--since TIME] [--limit N] [--offset N]",
       .summary = "write groups the server refused, and why (metadata, no values)",
       .details = "The device keeps what was refused and shows it to the worker to make again.\n"
                  "Codes: validation, scope, frozen, clock_skew, duplicate_mismatch, malformed.\n"
                  "Example:\n"
                  "  fieldsync-admin rejections --since 7d --code validation",
       .options = {{"--device", "ID", "this device's"},
                   {"--user", "U", "this user's"},
                   {"--code", "C", "this rejection code"},
                   {"--since", "TIME", "an RFC 3339 time, a date or an age (24h, 7d)"},
                   kLimit,
                   kOffset},
       .run = run_rejections},
      {.words = "audit",
       .synopsis = "[--actor A] [--action X] [--device ID] [--case ID] [--since TIME]\n"
                   "                        [--until TIME] [--limit N] [--before SEQ] | --verify",
       .summary = "the tamper-evident audit log, newest first; --verify checks its hash chain",
       .details =
           "Every admin action, enrolment, sync that moved data, directive and refused\n"
           "credential. TIME is an RFC 3339 time, a date (2026-11-26) or an age (30m, 24h, 7d).\n"
           "--verify exits with 5 when a row was altered or removed. Examples:\n"
           "  fieldsync-admin audit --action device.revoked --since 30d\n"
           "  fieldsync-admin audit --device 0190c0de-7a1b-7c3d-8e4f-0123456789ab --limit 20\n"
           "  fieldsync-admin audit --verify",
       .options = {{"--actor", "A", "admin:<token id>, device:<device id>, console or server"},
                   {"--action", "X", "device.revoked, sync, auth.failed, ... (docs/http-api.md)"},
                   {"--device", "ID", "entries about this device"},
                   {"--case", "ID", "entries touching this case"},
                   {"--since", "TIME", "entries at or after TIME"},
                   {"--until", "TIME", "entries before TIME"},
                   {"--limit", "N", "entries per page, 1 to 1000 (default 100)"},
                   {"--before", "SEQ", "entries older than SEQ (the next page)"},
                   {"--verify", "", "check the whole log's hash chain instead of listing"}},
       .run = run_audit},
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
       .run = cli::run_help_command},
  };
  return kCommands;
}

}  // namespace

const cli::ProgramSpec& program() {
  static const cli::ProgramSpec kProgram = {
      .name = "fieldsync-admin",
      .description =
          "The central admins' tool of fieldsync: every device's sync health, the people, cases\n"
          "and devices of the council, and the audit log, over the server's admin API. Tables\n"
          "for people by default; --json prints the server's answer for scripts.\n"
          "`fieldsync-admin <command> --help` says more about each command; docs/admin-guide.md\n"
          "is the whole guide.\n\n"
          "A token holds roles: monitor (read), manage (users, teams, cases, allocations),\n"
          "enrol (enrolment codes, revoke, retire). An admin makes one on the server machine:\n"
          "  fieldsync-server admin create-token --data DIR --name \"Jo Admin\" --roles "
          "monitor,enrol\n\n"
          "Example:\n"
          "  export FIELDSYNC_ADMIN_TOKEN=\"$(cat ~/.fieldsync-admin-token)\"\n"
          "  fieldsync-admin devices --state stale,at_risk --server https://sync.example.org:8443",
      .common_title = "connection options",
      .common_options = connection_options(),
      .epilogue =
          "environment:\n"
          "  FIELDSYNC_ADMIN_TOKEN   the admin token, when neither --token-file nor --token is "
          "given\n"
          "  FIELDSYNC_ADMIN_SERVER  the server's URL, when --server is not given\n"
          "\nexit codes:\n"
          "  0  done\n"
          "  1  the server refused the request (an unknown device, a name taken, a bad value)\n"
          "  2  a usage mistake (a bad option, no token given)\n"
          "  3  the server could not be reached, or failed\n"
          "  4  the token was refused (expired, revoked, mistyped) or lacks the role needed\n"
          "  5  audit --verify: the audit log's hash chain is broken\n",
      .commands = commands(),
  };
  return kProgram;
}

}  // namespace fieldsync::admin

int main(int argc, char** argv) {
  return fieldsync::cli::run_program(fieldsync::admin::program(),
                                     std::vector<std::string>(argv + 1, argv + argc));
}
