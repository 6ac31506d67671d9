// The admin dashboard's files as the server serves them (GET /admin, GET /admin/<file>): each
// with its content type and the headers that keep the page to this server's own code (a strict
// Content-Security-Policy among them), a 404 with the same headers for a file that does not
// exist, the built-in files identical to sync-server/dashboard/, and the page's code free of
// what the policy would block or what would put a device's text into the page as markup.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "embedded_file.h"
#include "server_fixture.h"

using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

const std::string kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void check_dashboard_headers(const http::Response& response) {
  CHECK(response.header("Content-Security-Policy") == kPolicy);
  CHECK(response.header("X-Content-Type-Options") == "nosniff");
  CHECK(response.header("Referrer-Policy") == "no-referrer");
  CHECK(response.header("X-Frame-Options") == "DENY");
  CHECK_FALSE(response.header("Set-Cookie").has_value());
  CHECK_FALSE(response.header("Access-Control-Allow-Origin").has_value());
}

std::string expected_type(const std::string& name) {
  const std::string extension = std::filesystem::path(name).extension().string();
  if (extension == ".html") return "text/html; charset=utf-8";
  if (extension == ".css") return "text/css; charset=utf-8";
  if (extension == ".js") return "text/javascript; charset=utf-8";
  if (extension == ".svg") return "image/svg+xml";
  return "unknown for " + name;
}

std::string read_source(const std::string& name) {
  std::ifstream in(std::filesystem::path(FIELDSYNC_DASHBOARD_DIR) / name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> embedded_names() {
  std::set<std::string> names;
  for (const EmbeddedFile& file : dashboard_files()) names.insert(std::string(file.name));
  return names;
}

// Every match of `pattern`'s first group in `text`.
std::vector<std::string> captures(const std::string& text, const std::string& pattern) {
  std::vector<std::string> found;
  const std::regex expression(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), expression);
       it != std::sregex_iterator(); ++it)
    found.push_back((*it)[1].str());
  return found;
}

}  // namespace

TEST_CASE("The dashboard's files are served with their type and a strict policy",
          "[server][dashboard]") {
  ServerFixture server;
  REQUIRE(dashboard_files().size() >= 5);

  const http::Response page = server.call("GET", "/admin");
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body == read_source("index.html"));
  check_dashboard_headers(page);

  for (const EmbeddedFile& file : dashboard_files()) {
    const std::string name(file.name);
    INFO(name);
    const http::Response response = server.call("GET", "/admin/" + name);
    CHECK(response.status == 200);
    CHECK(response.content_type == expected_type(name));
    CHECK(response.body == read_source(name));  // the build embedded the files as they are now
    CHECK_FALSE(response.body.empty());
    check_dashboard_headers(response);
  }
  // Every file in the folder is built in.
  std::set<std::string> in_folder;
  for (const auto& entry : std::filesystem::directory_iterator(FIELDSYNC_DASHBOARD_DIR))
    in_folder.insert(entry.path().filename().string());
  CHECK(in_folder == embedded_names());
}

TEST_CASE("A dashboard file that does not exist is a 404 with the same headers",
          "[server][dashboard]") {
  ServerFixture server;
  for (const std::string path :
       {"/admin/nothing.js", "/admin/index.htm", "/admin/APP.JS", "/admin/..", "/admin/%2e%2e"}) {
    INFO(path);
    const http::Response response = server.call("GET", path);
    CHECK(response.status == 404);
    CHECK(response.content_type == "text/plain; charset=utf-8");
    check_dashboard_headers(response);
  }
  // Paths deeper than one file, and other methods, are not the dashboard's.
  CHECK(server.call("GET", "/admin/a/b.js").status == 404);
  CHECK(server.call("POST", "/admin").status == 405);
  CHECK(server.call("DELETE", "/admin/app.js").status == 405);
}

TEST_CASE("/admin/ leads to the dashboard, and HEAD is answered like GET", "[server][dashboard]") {
  ServerFixture server;
  for (const char* method : {"GET", "HEAD"}) {
    INFO(method);
    const http::Response slash = server.call(method, "/admin/");
    CHECK(slash.status == 308);
    CHECK(slash.header("Location") == "/admin");
    check_dashboard_headers(slash);
  }
  const http::Response get = server.call("GET", "/admin");
  const http::Response head = server.call("HEAD", "/admin");
  CHECK(head.status == 200);
  CHECK(head.content_type == get.content_type);
  CHECK(head.headers == get.headers);
  CHECK(server.call("HEAD", "/admin/app.js").status == 200);
  CHECK(server.call("HEAD", "/admin/nothing.js").status == 404);
  const http::Response post = server.call("POST", "/admin/");
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");
}

TEST_CASE("The dashboard's page loads only built-in files and uses no inline code",
          "[server][dashboard]") {
  const std::set<std::string> names = embedded_names();
  const std::string index = read_source("index.html");
  // Everything the page links to is built in, and it links to nothing elsewhere.
  const std::vector<std::string> links = captures(index, R"((?:src|href)=\"([^\"#]+)\")");
  CHECK(links.size() >= 4);
  for (const std::string& link : links) {
    INFO(link);
    REQUIRE(link.starts_with("/admin/"));
    CHECK(names.contains(link.substr(7)));
  }
  CHECK(captures(index, R"((<script)(?![^>]*\bsrc=))").empty());  // no inline script
  CHECK(captures(index, R"(\s(style)=)").empty());                // no style attribute
  CHECK(captures(index, R"(\s(on[a-z]+)=)").empty());             // no handler attribute
  CHECK(captures(index, R"((<style))").empty());

  for (const std::string& name : names) {
    if (!name.ends_with(".js")) continue;
    INFO(name);
    const std::string script = read_source(name);
    for (const std::string& imported : captures(script, R"(from '\./([^']+)')")) {
      INFO(imported);
      CHECK(names.contains(imported));
    }
    // Text reaches the page through textContent and DOM calls only.
    for (const char* markup_sink :
         {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
          "localStorage", "sessionStorage"}) {
      INFO(markup_sink);
      CHECK(script.find(markup_sink) == std::string::npos);
    }
    // Nothing is fetched from elsewhere (the SVG namespace is a name, not a fetch).
    for (const std::string& address : captures(script, R"((https?://[^'\"\s]*))")) {
      CHECK(address == "http://www.w3.org/2000/svg");
    }
  }
}
