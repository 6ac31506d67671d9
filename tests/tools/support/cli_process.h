// Runs one of fieldsync's command-line tools as a subprocess, as a script would: chosen
// environment variables, standard input from a string, and its exit code, standard output and
// standard error collected through files (so neither stream can fill a pipe and stall it).
// Test support only; one thread at a time.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/dev/scratch_dir.h"

namespace fieldsync::tooltest {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;

  nlohmann::json out_json() const { return nlohmann::json::parse(out); }
  // One clear line, as the tools promise for errors.
  bool err_is_one_line() const {
    return !err.empty() && err.back() == '\n' && err.find('\n') == err.size() - 1;
  }
};

// Variables to set for the child (nullopt: unset).
using Environment = std::map<std::string, std::optional<std::string>>;

inline void redirect_to_file(const std::string& path, int fd, int flags) {
  const int file = ::open(path.c_str(), flags, 0600);
  if (file < 0) ::_exit(126);
  ::dup2(file, fd);
  ::close(file);
}

// Runs `binary args...` with standard input from `input`, its files in `scratch`.
inline CliResult run_tool(const std::string& binary, const dev::ScratchDir& scratch,
                          const std::vector<std::string>& args, const Environment& environment,
                          const std::string& input = "") {
  const std::string in_file = scratch.file("cli.in");
  const std::string out_file = scratch.file("cli.out");
  const std::string err_file = scratch.file("cli.err");
  std::ofstream(in_file, std::ios::trunc) << input;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    redirect_to_file(in_file, STDIN_FILENO, O_RDONLY);
    redirect_to_file(out_file, STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
    redirect_to_file(err_file, STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
    for (const auto& [name, value] : environment) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    std::vector<std::string> owned = {binary};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : owned) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = dev::read_file(out_file);
  result.err = dev::read_file(err_file);
  return result;
}

inline std::string joined(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& arg : args) line += (line.empty() ? "" : " ") + arg;
  return line;
}

}  // namespace fieldsync::tooltest
