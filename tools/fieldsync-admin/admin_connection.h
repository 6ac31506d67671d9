// How fieldsync-admin reaches the admin API: the server's URL and the admin token from the
// command line or the environment (never required on the command line itself, where `ps` would
// show it), the calls themselves, and what each failure means for the person at the terminal,
// as one line and an exit code:
//
//   0 done; 1 the server refused the request (an unknown device, a name already taken, a bad
//   value); 2 a usage mistake (no token given, a bad option); 3 the server could not be reached or
//   failed; 4 the token was refused (401: expired, revoked or mistyped; 429: too many failures)
//   or lacks the role the command needs (403); 5 the audit log's hash chain is broken.
//
// Single-threaded, like the tool.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldsync/admin/admin_client.h"
#include "fieldsync/cli/command_frame.h"
#include "fieldsync/platform/http_transport.h"

namespace fieldsync::admin {

inline constexpr int kExitRefused = cli::kExitError;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitNotAllowed = 4;
inline constexpr int kExitAuditBroken = 5;

// The options every command that talks to the server takes.
const std::vector<cli::OptionSpec>& connection_options();

// A GET route's query parameters, percent-encoded; empty values are left out.
class QueryString {
 public:
  QueryString& add(std::string_view name, const std::string& value);
  QueryString& add(std::string_view name, const std::optional<std::string>& value) {
    return value ? add(name, *value) : *this;
  }
  // "?a=1&b=2", or empty.
  std::string text() const { return text_; }

 private:
  std::string text_;
};

class AdminConnection {
 public:
  // From --server (else $FIELDSYNC_ADMIN_SERVER, else http://127.0.0.1:8443) and --token-file
  // (else --token, else $FIELDSYNC_ADMIN_TOKEN). Throws UsageError when no token is given.
  explicit AdminConnection(const cli::Invocation& invocation);
  ~AdminConnection();

  // The answer's JSON; a failure throws cli::CommandFailure with the exit codes above.
  nlohmann::json get(const std::string& path, const QueryString& query = {});
  nlohmann::json post(const std::string& path, const nlohmann::json& body);

  const std::string& server_url() const { return server_url_; }

 private:
  nlohmann::json call(const std::string& method, const std::string& path,
                      const nlohmann::json& body);

  std::string server_url_;
  std::unique_ptr<platform::HttpTransport> transport_;
  AdminClient client_;  // on transport_, so declared after it: every call of the command
};

// `text` as a path segment of a URL (an id typed by a person may hold anything).
std::string path_segment(const std::string& text);

}  // namespace fieldsync::admin
