// The admin dashboard's static files (sync-server/dashboard/, built into the binary): GET /admin
// is the page (GET /admin/ a permanent redirect to it, for the address typed with a slash),
// GET /admin/<file> its scripts, styles and icon. Every answer, a 404 for a file
// that does not exist included, carries a Content-Security-Policy that lets the page load only
// this server's own scripts, styles and images and talk only to this server, so that nothing a
// device reported (shown as text) could run even if it reached the page as markup. The page
// reads the admin API with the browser's session cookie (docs/http-api.md, "Dashboard sessions").
#include <algorithm>

#include "embedded_file.h"
#include "server_app.h"

namespace fieldsync::server {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

Response with_dashboard_headers(Response response) {
  response.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  // The files change only with the binary; asking again each time keeps an upgrade's page whole.
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

Response dashboard_file(std::string_view name) {
  const std::vector<EmbeddedFile>& files = dashboard_files();
  const auto found =
      std::ranges::find_if(files, [name](const EmbeddedFile& file) { return file.name == name; });
  Response response;
  if (found == files.end()) {
    response.status = 404;
    response.content_type = "text/plain; charset=utf-8";
    response.body = "There is no such page. The dashboard is at /admin.\n";
  } else {
    response.content_type = std::string(found->content_type);
    response.body = std::string(found->bytes);
  }
  return with_dashboard_headers(std::move(response));
}

// 308 keeps the method (a HEAD stays a HEAD); the page links its files by absolute paths, so
// serving it at /admin/ would work too, but one address keeps bookmarks and logs alike.
Response redirect_to_page() {
  Response response;
  response.status = 308;
  response.content_type = "text/plain; charset=utf-8";
  response.body = "The dashboard is at /admin.\n";
  response.headers.emplace_back("Location", "/admin");
  return with_dashboard_headers(std::move(response));
}

}  // namespace

void add_dashboard_routes(http::Router& router, ServerContext&) {
  router.add({"GET", "/admin", "dashboard.page", [](const Request&, const http::PathParams&) {
                return dashboard_file("index.html");
              }});
  router.add({"GET", "/admin/", "dashboard.page_redirect",
              [](const Request&, const http::PathParams&) { return redirect_to_page(); }});
  router.add({"GET", "/admin/{file}", "dashboard.file",
              [](const Request&, const http::PathParams& params) {
                return dashboard_file(params.at("file"));
              }});
}

}  // namespace fieldsync::server
