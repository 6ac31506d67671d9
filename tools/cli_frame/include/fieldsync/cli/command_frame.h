// The command-line frame of fieldsync's tools (`fieldsync`, `fieldsync-admin`): a program and its
// commands described as data (words, options, operands, help text), one parser that turns the
// arguments into an Invocation, help pages rendered from the same descriptions, and run_program,
// which maps what a command throws to the exit code and the one line on stderr.
//
// Exit codes common to every tool: 0 done, 1 an error (one line on stderr), 2 a usage mistake
// (UsageError). A tool may add its own by throwing CommandFailure.
// Single-threaded, like the tools.
#pragma once

#include <cstddef>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fieldsync::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// The command line itself is wrong (unknown option, missing operand): exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure with an exit code of the tool's own (its message is the line printed on stderr).
class CommandFailure : public std::runtime_error {
 public:
  CommandFailure(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

struct OptionSpec {
  std::string_view name;        // "--case"
  std::string_view value_name;  // "ID"; empty for a flag
  std::string_view help;
  bool required = false;
};

class Invocation;
using CommandHandler = int (*)(const Invocation&);

inline constexpr std::size_t kAnyNumber = std::numeric_limits<std::size_t>::max();

struct CommandSpec {
  std::string_view words = {};     // "note amend"
  std::string_view synopsis = {};  // what follows the words in the usage line
  std::string_view summary = {};   // one line, for the list of commands
  std::string_view details = {};   // the rest of its --help page (may be empty)
  std::vector<OptionSpec> options = {};
  std::size_t min_operands = 0;
  std::size_t max_operands = 0;
  std::string_view operand_name = {};  // "NOTE_ID", in messages about operands
  bool uses_common_options = true;     // takes the program's common options
  CommandHandler run = nullptr;
  std::string (*more_help)() = nullptr;  // help made from data (the schema's fields)
};

// A tool: its name, what it is, the options most of its commands share (a device profile, a
// server connection), wherever they appear on the line, and its commands.
struct ProgramSpec {
  std::string_view name;          // "fieldsync"
  std::string_view description;   // the overview's paragraph, after its usage line
  std::string_view common_title;  // "device options"
  std::vector<OptionSpec> common_options;
  std::string_view epilogue;  // the end of the overview: environment, exit codes
  std::span<const CommandSpec> commands;
};

// One parsed command line.
class Invocation {
 public:
  Invocation(const ProgramSpec& program, const CommandSpec& command,
             std::map<std::string, std::string, std::less<>> options,
             std::vector<std::string> operands)
      : program_(program),
        command_(command),
        options_(std::move(options)),
        operands_(std::move(operands)) {}

  const ProgramSpec& program() const { return program_; }
  const CommandSpec& command() const { return command_; }
  bool flag(std::string_view name) const { return options_.contains(name); }
  std::optional<std::string> option(std::string_view name) const;
  // The option's value; the parser has already refused a line without a required option.
  const std::string& required_option(std::string_view name) const;
  const std::vector<std::string>& operands() const { return operands_; }

 private:
  const ProgramSpec& program_;
  const CommandSpec& command_;
  std::map<std::string, std::string, std::less<>> options_;
  std::vector<std::string> operands_;
};

// What the arguments after the program name ask for.
struct CommandLine {
  const CommandSpec* command = nullptr;  // null: no command was named (help is printed)
  std::string group;                     // a group named without a subcommand ("note")
  bool wants_help = false;               // --help or -h anywhere
  std::vector<std::string> rest;         // the arguments after the command's words
};

// Finds the command (the longest match of its words); common options may come before it. Throws
// UsageError for an unknown command, or for no command at all unless help was asked for.
CommandLine find_command(const ProgramSpec& program, std::span<const std::string> args);
// Parses the command's options and operands ("--name VALUE", "--name=VALUE", "--" ends options).
Invocation parse_invocation(const ProgramSpec& program, const CommandSpec& command,
                            std::span<const std::string> rest);

// `<tool> help`: every command with its summary, the common options, the epilogue.
// `<tool> COMMAND --help`: its usage line, details and options.
std::string overview_help(const ProgramSpec& program);
std::string command_help(const ProgramSpec& program, const CommandSpec& command);
// The subcommands of `group` ("note"), when it is named without one.
std::string group_help(const ProgramSpec& program, std::string_view group);
std::string usage_line(const ProgramSpec& program, const CommandSpec& command);

// The `help [COMMAND]` command: the overview, a group's subcommands or a command's page.
int run_help_command(const Invocation& invocation);

// Runs the command the arguments name and returns the exit code: help on stdout when asked for;
// a UsageError as "<tool>: <message> (<hint>)" with 2; a CommandFailure with its own code; any
// other exception with 1. A lone `--version` runs the `version` command.
int run_program(const ProgramSpec& program, std::vector<std::string> args);

}  // namespace fieldsync::cli
