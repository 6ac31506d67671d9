// Reaching the admin API (admin_connection.h): settings, calls through AdminClient, and one
// place that turns every failure into the sentence and exit code a person or a script needs.
#include "admin_connection.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "fieldsync/error.h"

namespace fieldsync::admin {
namespace {

using nlohmann::json;

constexpr const char* kDefaultServer = "http://127.0.0.1:8443";
constexpr const char* kMakeToken =
    "an admin makes one on the server machine with `fieldsync-server admin create-token`";

std::string from_environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string trimmed(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// The first line of the file. A file others may read is allowed, with a warning: the token is a
// password.
std::string token_from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw cli::UsageError("cannot read the token file " + path);
  std::string line;
  std::getline(in, line);
  line = trimmed(line);
  if (line.empty()) throw cli::UsageError("the token file " + path + " is empty");
  struct stat status {};
  if (::stat(path.c_str(), &status) == 0 && (status.st_mode & 077) != 0) {
    std::fprintf(stderr,
                 "fieldsync-admin: warning: %s can be read by other users of this machine "
                 "(chmod 600 it)\n",
                 path.c_str());
  }
  return line;
}

std::string server_url_of(const cli::Invocation& invocation) {
  std::string url =
      invocation.option("--server").value_or(from_environment("FIELDSYNC_ADMIN_SERVER"));
  if (url.empty()) url = kDefaultServer;
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    throw cli::UsageError("--server must be an http:// or https:// URL, not \"" + url + "\"");
  }
  while (url.ends_with('/')) url.pop_back();
  return url;
}

// What the command line names first, then the environment.
std::string token_of(const cli::Invocation& invocation) {
  if (const auto file = invocation.option("--token-file")) return token_from_file(*file);
  if (const auto token = invocation.option("--token")) return trimmed(*token);
  if (std::string token = trimmed(from_environment("FIELDSYNC_ADMIN_TOKEN")); !token.empty()) {
    return token;
  }
  throw cli::UsageError(std::string("no admin token: give --token-file FILE or set "
                                    "FIELDSYNC_ADMIN_TOKEN (") +
                        kMakeToken + ")");
}

bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string percent_encoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    if (is_unreserved(c)) {
      encoded += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xF];
    }
  }
  return encoded;
}

// What a refusal means for the person at the terminal, and what to do next.
[[noreturn]] void throw_refusal(const AdminError& error, const std::string& server_url) {
  const std::string said = error.message().empty() ? error.error() : error.message();
  switch (error.status()) {
    case 401:
      throw cli::CommandFailure(kExitNotAllowed,
                                "the server refused the admin token (" + said +
                                    "): it may have expired, been mistyped or be for another "
                                    "server; " +
                                    kMakeToken);
    case 403:
      throw cli::CommandFailure(kExitNotAllowed,
                                "not allowed: " + said +
                                    "; ask for a token that holds it (fieldsync-server admin "
                                    "create-token --roles ...)");
    case 429:
      throw cli::CommandFailure(kExitNotAllowed,
                                "too many failed logins from here or for this token: " + said);
    default:
      break;
  }
  if (error.status() >= 500) {
    throw cli::CommandFailure(kExitUnreachable, "the server at " + server_url + " failed (" +
                                                    std::to_string(error.status()) + "): " + said);
  }
  throw cli::CommandFailure(kExitRefused, said);
}

}  // namespace

const std::vector<cli::OptionSpec>& connection_options() {
  static const std::vector<cli::OptionSpec> kOptions = {
      {"--server", "URL",
       "the fieldsync-server (default: $FIELDSYNC_ADMIN_SERVER, else\n"
       "                        http://127.0.0.1:8443)"},
      {"--ca-file", "FILE", "trust this PEM bundle for https instead of the system's CAs"},
      {"--token-file", "FILE", "read the admin token from the first line of FILE (chmod 600)"},
      {"--token", "TOKEN",
       "the admin token itself; avoid it: other users see command lines (ps). Use\n"
       "                        --token-file or $FIELDSYNC_ADMIN_TOKEN"},
      {"--json", "", "print the server's JSON answer (for scripts) instead of a table"},
  };
  return kOptions;
}

QueryString& QueryString::add(std::string_view name, const std::string& value) {
  if (value.empty()) return *this;
  text_ += text_.empty() ? "?" : "&";
  text_ += std::string(name) + "=" + percent_encoded(value);
  return *this;
}

std::string path_segment(const std::string& text) {
  return percent_encoded(text);
}

AdminConnection::AdminConnection(const cli::Invocation& invocation)
    : server_url_(server_url_of(invocation)),
      transport_(
          platform::make_curl_transport({.ca_file = invocation.option("--ca-file").value_or(""),
                                         .user_agent = "fieldsync-admin"})),
      client_(*transport_, server_url_, token_of(invocation)) {}

AdminConnection::~AdminConnection() = default;

json AdminConnection::get(const std::string& path, const QueryString& query) {
  return call("GET", path + query.text(), nullptr);
}

json AdminConnection::post(const std::string& path, const json& body) {
  return call("POST", path, body);
}

json AdminConnection::call(const std::string& method, const std::string& path, const json& body) {
  json answer;
  try {
    answer = client_.call(method, path, body);
  } catch (const AdminError& error) {
    throw_refusal(error, server_url_);
  } catch (const Error& error) {
    if (error.domain() != ErrorDomain::kNetwork) throw;
    throw cli::CommandFailure(kExitUnreachable,
                              "cannot reach the server at " + server_url_ + " (" + error.what() +
                                  "); is fieldsync-server running there? (--server URL)");
  }
  if (answer.is_discarded()) {
    throw cli::CommandFailure(kExitUnreachable, "the server at " + server_url_ +
                                                    " did not answer in JSON: is it a "
                                                    "fieldsync-server?");
  }
  return answer;
}

}  // namespace fieldsync::admin
