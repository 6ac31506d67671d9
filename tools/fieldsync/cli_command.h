// The command-line frame of the fieldsync tool: commands described as data (their words, options,
// operands and help text), one parser that turns the arguments into an Invocation, and the help
// pages rendered from the same descriptions. main.cpp holds the table; each cli_*.cpp file
// implements one group of commands.
//
// Exit codes: 0 done, 1 an error (one line on stderr), 2 a usage mistake (UsageError).
// Single-threaded, like the whole tool.
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
  bool uses_device = true;             // takes the device options (--device, --passcode-file)
  CommandHandler run = nullptr;
  std::string (*more_help)() = nullptr;  // help made from data (the schema's fields)
};

// The options every device command takes, wherever they appear on the line.
const std::vector<OptionSpec>& device_options();

// One parsed command line.
class Invocation {
 public:
  Invocation(const CommandSpec& command, std::map<std::string, std::string, std::less<>> options,
             std::vector<std::string> operands)
      : command_(command), options_(std::move(options)), operands_(std::move(operands)) {}

  const CommandSpec& command() const { return command_; }
  bool flag(std::string_view name) const { return options_.contains(name); }
  std::optional<std::string> option(std::string_view name) const;
  // The option's value; the parser has already refused a line without a required option.
  const std::string& required_option(std::string_view name) const;
  const std::vector<std::string>& operands() const { return operands_; }

 private:
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

// Finds the command (the longest match of its words); device options may come before it. Throws
// UsageError for an unknown command, or for no command at all unless help was asked for.
CommandLine find_command(std::span<const CommandSpec> table, std::span<const std::string> args);
// Parses the command's options and operands ("--name VALUE", "--name=VALUE", "--" ends options).
Invocation parse_invocation(const CommandSpec& command, std::span<const std::string> rest);

// `fieldsync help`: every command with its summary, the device options, the environment, the exit
// codes. `fieldsync COMMAND --help`: its usage line, details and options.
std::string overview_help(std::span<const CommandSpec> table);
std::string command_help(const CommandSpec& command);
// The subcommands of `group` ("note"), when it is named without one.
std::string group_help(std::span<const CommandSpec> table, std::string_view group);
std::string usage_line(const CommandSpec& command);

}  // namespace fieldsync::cli
