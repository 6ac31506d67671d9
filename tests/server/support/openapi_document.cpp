// Reading docs/openapi.yaml's paths, methods and roles. See openapi_document.h.
#include "openapi_document.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>

namespace fieldsync::server::testing {
namespace {

std::size_t indent_of(const std::string& line) {
  const std::size_t first = line.find_first_not_of(' ');
  return first == std::string::npos ? line.size() : first;
}

std::string trimmed(const std::string& text) {
  const std::size_t first = text.find_first_not_of(" \t");
  const std::size_t last = text.find_last_not_of(" \t\r");
  return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
}

// "[monitor, manage]" -> {"monitor", "manage"}; "[]" -> {}.
std::vector<std::string> flow_list(const std::string& text) {
  const std::string inner = trimmed(text);
  if (inner.size() < 2 || inner.front() != '[' || inner.back() != ']') {
    throw std::runtime_error("x-fieldsync-roles must be a [flow, list]: " + text);
  }
  std::vector<std::string> items;
  std::size_t start = 1;
  while (start < inner.size() - 1) {
    const std::size_t comma = std::min(inner.find(',', start), inner.size() - 1);
    const std::string item = trimmed(inner.substr(start, comma - start));
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

bool is_method(const std::string& key) {
  for (const char* method : {"get", "put", "post", "delete", "patch", "head", "options", "trace"}) {
    if (key == method) return true;
  }
  return false;
}

}  // namespace

std::vector<DocumentedOperation> read_openapi_operations(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file);
  std::vector<DocumentedOperation> operations;
  bool in_paths = false;
  bool seen_paths = false;
  std::string path;
  for (std::string line; std::getline(in, line);) {
    const std::string content = trimmed(line);
    if (content.empty() || content.front() == '#') continue;
    const std::size_t indent = indent_of(line);
    if (indent == 0) {
      in_paths = content == "paths:";
      seen_paths |= in_paths;
      continue;
    }
    if (!in_paths) continue;
    if (indent == 2 && content.front() == '/' && content.back() == ':') {
      path = content.substr(0, content.size() - 1);
    } else if (indent == 4 && content.back() == ':' &&
               is_method(content.substr(0, content.size() - 1))) {
      std::string method = content.substr(0, content.size() - 1);
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      operations.push_back({method, path, std::nullopt});
    } else if (indent == 6 && content.starts_with("x-fieldsync-roles:") && !operations.empty()) {
      operations.back().roles = flow_list(content.substr(std::string("x-fieldsync-roles:").size()));
    }
  }
  if (!seen_paths) throw std::runtime_error(file + " has no paths: section");
  return operations;
}

std::string openapi_file() {
  return FIELDSYNC_OPENAPI_FILE;
}

}  // namespace fieldsync::server::testing
