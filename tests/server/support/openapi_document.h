// What docs/openapi.yaml says about each operation, read with just enough YAML for the file's own
// layout: under `paths:`, a path at two spaces of indent, its methods at four, and an operation's
// `x-fieldsync-roles: [a, b]` at six. The tests hold the server's route table and the roles each
// route admits against it. Test support only.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fieldsync::server::testing {

struct DocumentedOperation {
  std::string method;  // upper case, as routes name it: "GET"
  std::string path;    // "/v1/admin/devices/{id}"
  // The admin roles any one of which grants it (empty: any admin); nullopt when not an admin route.
  std::optional<std::vector<std::string>> roles;
};

// Throws std::runtime_error when the file cannot be read or has no `paths:` section.
std::vector<DocumentedOperation> read_openapi_operations(const std::string& file);

// The repository's docs/openapi.yaml.
std::string openapi_file();

}  // namespace fieldsync::server::testing
