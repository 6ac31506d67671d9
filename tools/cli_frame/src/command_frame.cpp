// The command-line frame (command_frame.h): finding the command, parsing its options and
// operands, rendering help pages from the command table, and running a command to an exit code.
#include "fieldsync/cli/command_frame.h"

#include <algorithm>
#include <cstdio>
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

bool is_group(const ProgramSpec& program, std::string_view word) {
  return std::any_of(program.commands.begin(), program.commands.end(),
                     [&](const CommandSpec& command) {
                       const std::vector<std::string_view> words = split_words(command.words);
                       return words.size() > 1 && words[0] == word;
                     });
}

const OptionSpec* find_option(const ProgramSpec& program, const CommandSpec& command,
                              std::string_view name) {
  for (const OptionSpec& option : command.options) {
    if (option.name == name) return &option;
  }
  if (command.uses_common_options) {
    for (const OptionSpec& option : program.common_options) {
      if (option.name == name) return &option;
    }
  }
  return nullptr;
}

// A common option that takes a value (its value is then the next argument).
bool is_common_option_with_value(const ProgramSpec& program, std::string_view arg) {
  return std::any_of(
      program.common_options.begin(), program.common_options.end(),
      [&](const OptionSpec& option) { return option.name == arg && !option.value_name.empty(); });
}

std::string quoted_command(std::string_view program, std::string_view words) {
  return "`" + std::string(program) + " " + std::string(words) + "`";
}

void check_operand_count(const ProgramSpec& program, const CommandSpec& command,
                         const std::vector<std::string>& operands) {
  if (operands.size() < command.min_operands) {
    throw UsageError(quoted_command(program.name, command.words) + " needs " +
                     std::string(command.operand_name));
  }
  if (operands.size() > command.max_operands) {
    throw UsageError("unexpected argument for " + quoted_command(program.name, command.words) +
                     ": " + operands[command.max_operands]);
  }
}

void check_required_options(const ProgramSpec& program, const CommandSpec& command,
                            const std::map<std::string, std::string, std::less<>>& options) {
  for (const OptionSpec& option : command.options) {
    if (option.required && !options.contains(option.name)) {
      throw UsageError(quoted_command(program.name, command.words) + " needs " +
                       std::string(option.name) + " " + std::string(option.value_name));
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

void append_command_list(std::ostringstream& out, const ProgramSpec& program,
                         std::string_view group) {
  for (const CommandSpec& command : program.commands) {
    if (!group.empty() && split_words(command.words)[0] != group) continue;
    out << "  " << usage_line(program, command) << "\n      " << command.summary << "\n";
  }
}

std::string help_hint(const ProgramSpec& program, const CommandSpec* command) {
  if (!command || command->words == "help") {
    return "`" + std::string(program.name) + " help` lists the commands";
  }
  return quoted_command(program.name, std::string(command->words) + " --help") + " says more";
}

// No command named: the overview, or a group's subcommands ("fieldsync note"); on stdout when
// help was asked for, else on stderr as a usage mistake.
int help_without_command(const ProgramSpec& program, const CommandLine& line) {
  if (!line.wants_help && !line.rest.empty() && !line.rest.front().starts_with("-")) {
    throw UsageError("unknown command: " + line.group + " " + line.rest.front());
  }
  const std::string help =
      line.group.empty() ? overview_help(program) : group_help(program, line.group);
  std::fprintf(line.wants_help ? stdout : stderr, "%s", help.c_str());
  return line.wants_help ? kExitOk : kExitUsage;
}

}  // namespace

std::optional<std::string> Invocation::option(std::string_view name) const {
  const auto found = options_.find(name);
  if (found == options_.end()) return std::nullopt;
  return found->second;
}

const std::string& Invocation::required_option(std::string_view name) const {
  const auto found = options_.find(name);
  if (found == options_.end()) {
    throw UsageError(quoted_command(program_.name, command_.words) + " needs " + std::string(name));
  }
  return found->second;
}

CommandLine find_command(const ProgramSpec& program, std::span<const std::string> args) {
  CommandLine line;
  std::vector<std::string> leading_options;
  std::size_t at = 0;
  for (; at < args.size() && args[at].starts_with("-"); ++at) {
    if (is_help(args[at])) {
      line.wants_help = true;
      continue;
    }
    leading_options.push_back(args[at]);
    if (is_common_option_with_value(program, args[at]) && at + 1 < args.size()) {
      leading_options.push_back(args[++at]);
    }
  }
  if (at == args.size()) {
    if (!line.wants_help) throw UsageError("a command is needed");
    return line;
  }
  std::size_t words = 0;
  for (const CommandSpec& command : program.commands) {
    const std::size_t matched = matched_words(command, args, at);
    if (matched > words) {
      line.command = &command;
      words = matched;
    }
  }
  if (!line.command && !is_group(program, args[at])) {
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

Invocation parse_invocation(const ProgramSpec& program, const CommandSpec& command,
                            std::span<const std::string> rest) {
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
    const OptionSpec* spec = find_option(program, command, name);
    if (!spec) {
      throw UsageError("unknown option for " + quoted_command(program.name, command.words) + ": " +
                       name);
    }
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
  check_operand_count(program, command, operands);
  check_required_options(program, command, options);
  return Invocation(program, command, std::move(options), std::move(operands));
}

std::string usage_line(const ProgramSpec& program, const CommandSpec& command) {
  std::string line = std::string(program.name) + " " + std::string(command.words);
  if (!command.synopsis.empty()) line += " " + std::string(command.synopsis);
  return line;
}

std::string command_help(const ProgramSpec& program, const CommandSpec& command) {
  std::ostringstream out;
  out << "usage: " << usage_line(program, command) << "\n\n" << command.summary << "\n";
  if (!command.details.empty()) out << "\n" << command.details << "\n";
  if (command.more_help) out << "\n" << command.more_help();
  if (!command.options.empty()) {
    out << "\noptions:\n";
    append_option_list(out, command.options);
  }
  if (command.uses_common_options && !program.common_options.empty()) {
    out << "\n" << program.common_title << " (also accepted before the command):\n";
    append_option_list(out, program.common_options);
  }
  return out.str();
}

std::string group_help(const ProgramSpec& program, std::string_view group) {
  std::ostringstream out;
  out << quoted_command(program.name, group) << " needs one of:\n";
  append_command_list(out, program, group);
  out << "\n"
      << quoted_command(program.name, std::string(group) + " <subcommand> --help")
      << " says more.\n";
  return out.str();
}

std::string overview_help(const ProgramSpec& program) {
  std::ostringstream out;
  out << "usage: " << program.name << " <command> [options]\n\n"
      << program.description << "\n\ncommands:\n";
  append_command_list(out, program, "");
  if (!program.common_options.empty()) {
    out << "\n" << program.common_title << " (for every command that takes them):\n";
    append_option_list(out, program.common_options);
  }
  out << "\n" << program.epilogue;
  return out.str();
}

int run_help_command(const Invocation& invocation) {
  const ProgramSpec& program = invocation.program();
  if (invocation.operands().empty()) {
    std::printf("%s", overview_help(program).c_str());
    return kExitOk;
  }
  const CommandLine line = find_command(program, invocation.operands());
  if (!line.command) {
    std::printf("%s", group_help(program, line.group).c_str());
  } else if (!line.rest.empty()) {
    throw UsageError("unknown command: " + invocation.operands().front() + " " + line.rest.front());
  } else {
    std::printf("%s", command_help(program, *line.command).c_str());
  }
  return kExitOk;
}

int run_program(const ProgramSpec& program, std::vector<std::string> args) {
  if (args.size() == 1 && args[0] == "--version") args[0] = "version";
  const CommandSpec* command = nullptr;
  const std::string name(program.name);
  try {
    const CommandLine line = find_command(program, args);
    command = line.command;
    if (!command) return help_without_command(program, line);
    if (line.wants_help) {
      std::printf("%s", command_help(program, *command).c_str());
      return kExitOk;
    }
    return command->run(parse_invocation(program, *command, line.rest));
  } catch (const UsageError& error) {
    std::fprintf(stderr, "%s: %s (%s)\n", name.c_str(), error.what(),
                 help_hint(program, command).c_str());
    return kExitUsage;
  } catch (const CommandFailure& failure) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", name.c_str(), failure.what());
    return failure.exit_code();
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", name.c_str(), error.what());
    return kExitError;
  }
}

}  // namespace fieldsync::cli
