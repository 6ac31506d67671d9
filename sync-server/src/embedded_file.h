// A file built into the server binary (cmake/EmbedFiles.cmake generates the tables), and the
// admin dashboard's files (sync-server/dashboard/), which dashboard_routes.cpp serves.
//
// Thread-safety: the tables are constant once built; read them from any thread.
#pragma once

#include <string_view>
#include <vector>

namespace fieldsync::server {

struct EmbeddedFile {
  std::string_view name;          // the file's name: "index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view bytes;
};

// Generated from sync-server/dashboard/ at build time.
const std::vector<EmbeddedFile>& dashboard_files();

}  // namespace fieldsync::server
