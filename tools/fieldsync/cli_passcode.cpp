// Reading the passcode (cli_passcode.h): from a file, the environment, the terminal without echo,
// or standard input. The terminal's echo comes back even when Ctrl-C ends the prompt.
#include "cli_passcode.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "fieldsync/error.h"

namespace fieldsync::cli {
namespace {

constexpr std::size_t kMaxPasscodeBytes = 1024;
constexpr const char* kPasscodeEnv = "FIELDSYNC_PASSCODE";

// The terminal's settings before the prompt, for the signal handler to put back.
termios saved_terminal;

extern "C" void restore_terminal_and_reraise(int signal_number) {
  ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Turns the terminal's echo off for its lifetime, and back on when Ctrl-C or a kill ends the
// process meanwhile.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_terminal) != 0) return;
    struct sigaction restore = {};
    restore.sa_handler = restore_terminal_and_reraise;
    ::sigaction(SIGINT, &restore, &previous_interrupt_);
    ::sigaction(SIGTERM, &restore, &previous_terminate_);
    termios quiet = saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    changed_ = ::tcsetattr(STDIN_FILENO, TCSADRAIN, &quiet) == 0;
  }
  ~EchoOff() {
    if (!changed_) return;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_terminal);
    ::sigaction(SIGINT, &previous_interrupt_, nullptr);
    ::sigaction(SIGTERM, &previous_terminate_, nullptr);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  bool changed_ = false;
  struct sigaction previous_interrupt_ = {};
  struct sigaction previous_terminate_ = {};
};

// The first line of `file` without its line ending; empty at end of file.
crypto::SecretBytes first_line(std::FILE* file, const std::string& where) {
  crypto::SecretBytes buffer(kMaxPasscodeBytes + 2);
  char* chars = reinterpret_cast<char*>(buffer.data());
  if (!std::fgets(chars, static_cast<int>(buffer.size()), file)) return {};
  std::size_t length = std::strlen(chars);
  const bool complete = length > 0 && chars[length - 1] == '\n';
  if (!complete && length > kMaxPasscodeBytes) {
    throw Error(ErrorCode::kInvalidArgument, "the passcode in " + where + " is longer than " +
                                                 std::to_string(kMaxPasscodeBytes) + " bytes");
  }
  while (length > 0 && (chars[length - 1] == '\n' || chars[length - 1] == '\r')) --length;
  return crypto::SecretBytes::copy_of(std::span(buffer.data(), length));
}

crypto::SecretBytes from_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (!file) {
    const int error = errno;
    throw Error(ErrorDomain::kPosix, error,
                "cannot read the passcode file " + path + ": " + std::strerror(error));
  }
  crypto::SecretBytes line;
  try {
    line = first_line(file, path);
  } catch (...) {
    std::fclose(file);
    throw;
  }
  std::fclose(file);
  return line;
}

crypto::SecretBytes ask_terminal(const char* question) {
  std::fputs(question, stderr);
  std::fflush(stderr);
  crypto::SecretBytes line;
  {
    EchoOff echo_off;
    line = first_line(stdin, "the terminal");
  }
  std::fputc('\n', stderr);
  return line;
}

bool asks_terminal(const PasscodeSource& source) {
  return !source.file && !std::getenv(kPasscodeEnv) && ::isatty(STDIN_FILENO);
}

Passcode non_empty(crypto::SecretBytes bytes) {
  if (bytes.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "no passcode: type it when asked, or give it on standard input, in $" +
                    std::string(kPasscodeEnv) + " or with --passcode-file");
  }
  return Passcode(std::move(bytes));
}

void check_new_passcode_length(const Passcode& passcode) {
  if (passcode.text().size() < kMinPasscodeLength) {
    throw Error(ErrorCode::kInvalidArgument, "the new passcode is too short: use " +
                                                 std::to_string(kMinPasscodeLength) +
                                                 " characters or more");
  }
}

}  // namespace

Passcode read_passcode(const PasscodeSource& source) {
  if (source.file) return non_empty(from_file(*source.file));
  if (const char* from_environment = std::getenv(kPasscodeEnv)) {
    return non_empty(crypto::SecretBytes::copy_of(std::span(
        reinterpret_cast<const std::uint8_t*>(from_environment), std::strlen(from_environment))));
  }
  if (::isatty(STDIN_FILENO)) return non_empty(ask_terminal("passcode: "));
  return non_empty(first_line(stdin, "standard input"));
}

Passcode read_new_passcode(const PasscodeSource& source) {
  if (!asks_terminal(source)) {
    Passcode passcode = read_passcode(source);
    check_new_passcode_length(passcode);
    return passcode;
  }
  Passcode passcode = non_empty(ask_terminal("new passcode (4 or more characters): "));
  check_new_passcode_length(passcode);
  const Passcode again = non_empty(ask_terminal("the same passcode again: "));
  if (again.text() != passcode.text()) {
    throw Error(ErrorCode::kInvalidArgument, "the two passcodes differ: try again");
  }
  return passcode;
}

}  // namespace fieldsync::cli
