// The command-line frame (cli_command.h): finding the command, parsing its options and operands,
// and rendering help pages from the command table.
#include "cli_command.h"

#include <algorithm>
#include <sstream>

namespace fieldsync::cli {
namespace {

constexpr std::size_t kOptionHelpColumn = 24;

bool is_help(const std::string& arg) {
  return arg == "--help" || arg == "-h";
}

std::vector<std::string_view> split_words(std::string_view words) {
  std::vector<std::string_view> parts;
  while (!words.empty()) {
    const std::size_t space = words.find(' ');
    parts.push_back(words.substr(0, space));
    words = space == std::string_view::npos ? std::string_view() : words.substr(space + 1);
  }
  return parts;
}

// How many of `args`, from `at`, the command's words take; 0 when they do not match.
std::size_t matched_words(const CommandSpec& command, std::span<const std::string> args,
                          std::size_t at) {
  const std::vector<std::string_view> words = split_words(command.words);
  if (args.size() - at < words.size()) return 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (args[at + i] != words[i]) return 0;
  }
  return words.size();
}

bool is_group(std::span<const CommandSpec> table, std::string_view word) {
  return std::any_of(table.begin(), table.end(), [&](const CommandSpec& command) {
    const std::vector<std::string_view> words = split_words(command.words);
    return words.size() > 1 && words[0] == word;
  });
}

const OptionSpec* find_option(const CommandSpec& command, std::string_view name) {
  for (const OptionSpec& option : command.options) {
    if (option.name == name) return &option;
  }
  if (command.uses_device) {
    for (const OptionSpec& option : device_options()) {
      if (option.name == name) return &option;
    }
  }
  return nullptr;
}

// Each of them takes a value.
bool is_device_option(std::string_view arg) {
  return std::any_of(device_options().begin(), device_options().end(),
                     [&](const OptionSpec& option) { return option.name == arg; });
}

std::string quoted_command(const CommandSpec& command) {
  return "`fieldsync " + std::string(command.words) + "`";
}

void check_operand_count(const CommandSpec& command, const std::vector<std::string>& operands) {
  if (operands.size() < command.min_operands) {
    throw UsageError(quoted_command(command) + " needs " + std::string(command.operand_name));
  }
  if (operands.size() > command.max_operands) {
    throw UsageError("unexpected argument for " + quoted_command(command) + ": " +
                     operands[command.max_operands]);
  }
}

void check_required_options(const CommandSpec& command,
                            const std::map<std::string, std::string, std::less<>>& options) {
  for (const OptionSpec& option : command.options) {
    if (option.required && !options.contains(option.name)) {
      throw UsageError(quoted_command(command) + " needs " + std::string(option.name) + " " +
                       std::string(option.value_name));
    }
  }
}

void append_option_list(std::ostringstream& out, const std::vector<OptionSpec>& options) {
  for (const OptionSpec& option : options) {
    std::string left = std::string(option.name);
    if (!option.value_name.empty()) left += " " + std::string(option.value_name);
    out << "  " << left;
    if (left.size() + 2 < kOptionHelpColumn) {
      out << std::string(kOptionHelpColumn - left.size() - 2, ' ');
    } else {
      out << "\n" << std::string(kOptionHelpColumn, ' ');
    }
    out << option.help << "\n";
  }
}

void append_command_list(std::ostringstream& out, std::span<const CommandSpec> table,
                         std::string_view group) {
  for (const CommandSpec& command : table) {
    if (!group.empty() && split_words(command.words)[0] != group) continue;
    out << "  " << usage_line(command) << "\n      " << command.summary << "\n";
  }
}

}  // namespace

const std::vector<OptionSpec>& device_options() {
  static const std::vector<OptionSpec> kDeviceOptions = {
      {"--device", "DIR",
       "the device profile (default: $FIELDSYNC_DEVICE, else ./fieldsync-device)"},
      {"--passcode-file", "FILE",
       "read the passcode from the first line of FILE (for tests and scripts)"},
  };
  return kDeviceOptions;
}

std::optional<std::string> Invocation::option(std::string_view name) const {
  const auto found = options_.find(name);
  if (found == options_.end()) return std::nullopt;
  return found->second;
}

const std::string& Invocation::required_option(std::string_view name) const {
  const auto found = options_.find(name);
  if (found == options_.end()) {
    throw UsageError("`fieldsync " + std::string(command_.words) + "` needs " + std::string(name));
  }
  return found->second;
}

CommandLine find_command(std::span<const CommandSpec> table, std::span<const std::string> args) {
  CommandLine line;
  std::vector<std::string> leading_options;
  std::size_t at = 0;
  for (; at < args.size() && args[at].starts_with("-"); ++at) {
    if (is_help(args[at])) {
      line.wants_help = true;
      continue;
    }
    leading_options.push_back(args[at]);
    if (is_device_option(args[at]) && at + 1 < args.size()) {
      leading_options.push_back(args[++at]);
    }
  }
  if (at == args.size()) {
    if (!line.wants_help) throw UsageError("a command is needed");
    return line;
  }
  std::size_t words = 0;
  for (const CommandSpec& command : table) {
    const std::size_t matched = matched_words(command, args, at);
    if (matched > words) {
      line.command = &command;
      words = matched;
    }
  }
  if (!line.command && !is_group(table, args[at])) {
    throw UsageError("unknown command: " + args[at]);
  }
  if (!line.command) {
    line.group = args[at];
    words = 1;
  }
  line.rest.assign(args.begin() + static_cast<std::ptrdiff_t>(at + words), args.end());
  line.rest.insert(line.rest.end(), leading_options.begin(), leading_options.end());
  const auto end_of_options = std::find(line.rest.begin(), line.rest.end(), "--");
  line.wants_help = line.wants_help || std::any_of(line.rest.begin(), end_of_options, is_help);
  return line;
}

Invocation parse_invocation(const CommandSpec& command, std::span<const std::string> rest) {
  std::map<std::string, std::string, std::less<>> options;
  std::vector<std::string> operands;
  bool options_ended = false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& arg = rest[i];
    if (options_ended || !arg.starts_with("-") || arg == "-") {
      operands.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const std::size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const OptionSpec* spec = find_option(command, name);
    if (!spec) throw UsageError("unknown option for " + quoted_command(command) + ": " + name);
    if (options.contains(name)) throw UsageError(name + " is given twice");
    if (spec->value_name.empty()) {
      if (equals != std::string::npos) throw UsageError(name + " takes no value");
      options[name] = "";
    } else if (equals != std::string::npos) {
      options[name] = arg.substr(equals + 1);
    } else if (i + 1 < rest.size()) {
      options[name] = rest[++i];
    } else {
      throw UsageError(name + " needs a value (" + std::string(spec->value_name) + ")");
    }
  }
  check_operand_count(command, operands);
  check_required_options(command, options);
  return Invocation(command, std::move(options), std::move(operands));
}

std::string usage_line(const CommandSpec& command) {
  std::string line = "fieldsync " + std::string(command.words);
  if (!command.synopsis.empty()) line += " " + std::string(command.synopsis);
  return line;
}

std::string command_help(const CommandSpec& command) {
  std::ostringstream out;
  out << "usage: " << usage_line(command) << "\n\n" << command.summary << "\n";
  if (!command.details.empty()) out << "\n" << command.details << "\n";
  if (command.more_help) out << "\n" << command.more_help();
  if (!command.options.empty()) {
    out << "\noptions:\n";
    append_option_list(out, command.options);
  }
  if (command.uses_device) {
    out << "\ndevice options (also accepted before the command):\n";
    append_option_list(out, device_options());
  }
  return out.str();
}

std::string group_help(std::span<const CommandSpec> table, std::string_view group) {
  std::ostringstream out;
  out << "`fieldsync " << group << "` needs one of:\n";
  append_command_list(out, table, group);
  out << "\n`fieldsync " << group << " <subcommand> --help` says more.\n";
  return out.str();
}

std::string overview_help(std::span<const CommandSpec> table) {
  std::ostringstream out;
  out << "usage: fieldsync <command> [options]\n\n"
         "The field-device tool of fieldsync: a social worker's encrypted, offline-first device\n"
         "on the command line. `fieldsync <command> --help` says more about each command.\n\n"
         "commands:\n";
  append_command_list(out, table, "");
  out << "\ndevice options (for every command that uses the device):\n";
  append_option_list(out, device_options());
  out << "\nenvironment:\n"
         "  FIELDSYNC_DEVICE      the device profile directory, when --device is not given\n"
         "  FIELDSYNC_PASSCODE    the passcode (for tests and scripts; a person is asked on the\n"
         "                        terminal, without echo; otherwise the first line of stdin)\n"
         "\nexit codes: 0 done, 1 an error (one line on stderr), 2 a usage mistake\n";
  return out.str();
}

}  // namespace fieldsync::cli
