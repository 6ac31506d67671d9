// docs/openapi.yaml describes the server as it is: every route the server registers is in it,
// and it describes no route the server lacks.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "openapi_document.h"
#include "server_fixture.h"

using namespace fieldsync::server;
using namespace fieldsync::server::testing;

TEST_CASE("docs/openapi.yaml describes exactly the routes the server registers",
          "[server][openapi]") {
  ServerFixture server;
  std::set<std::pair<std::string, std::string>> registered;
  for (const http::RouteSignature& route : server.app->router().routes())
    registered.insert({route.method, route.pattern});
  std::set<std::pair<std::string, std::string>> documented;
  for (const DocumentedOperation& operation : read_openapi_operations(openapi_file())) {
    INFO(operation.method << " " << operation.path);
    CHECK(documented.insert({operation.method, operation.path}).second);  // each once
  }

  for (const auto& [method, path] : registered) {
    INFO("registered but not documented: " << method << " " << path);
    CHECK(documented.contains({method, path}));
  }
  for (const auto& [method, path] : documented) {
    INFO("documented but not registered: " << method << " " << path);
    CHECK(registered.contains({method, path}));
  }
  CHECK(registered.size() > 20);
}

TEST_CASE("Every admin operation documents its roles", "[server][openapi]") {
  for (const DocumentedOperation& operation : read_openapi_operations(openapi_file())) {
    INFO(operation.method << " " << operation.path);
    const bool is_admin = operation.path.starts_with("/v1/admin/");
    const bool is_login = operation.method == "POST" && operation.path == "/v1/admin/session";
    CHECK(operation.roles.has_value() == (is_admin && !is_login));
    for (const std::string& role : operation.roles.value_or(std::vector<std::string>{})) {
      CHECK((role == "monitor" || role == "manage" || role == "enrol"));
    }
  }
}

TEST_CASE("The OpenAPI reader sees what a change to the file would change", "[server][openapi]") {
  const fieldsync::dev::ScratchDir dir;
  const std::string file = dir.file("api.yaml");
  std::ofstream(file) << "openapi: 3.0.3\n"
                         "paths:\n"
                         "  /v1/a/{id}:\n"
                         "    get:\n"
                         "      x-fieldsync-roles: [monitor, manage]\n"
                         "      responses:\n"
                         "        \"200\": {description: ok}\n"
                         "    delete:\n"
                         "      summary: \"get: not a method\"\n"
                         "  /v1/b:\n"
                         "    post:\n"
                         "      x-fieldsync-roles: []\n"
                         "components:\n"
                         "  schemas:\n"
                         "    get:\n"
                         "      type: object\n";
  const std::vector<DocumentedOperation> operations = read_openapi_operations(file);
  REQUIRE(operations.size() == 3);
  CHECK(operations[0].method == "GET");
  CHECK(operations[0].path == "/v1/a/{id}");
  CHECK(operations[0].roles == std::vector<std::string>{"monitor", "manage"});
  CHECK(operations[1].method == "DELETE");
  CHECK_FALSE(operations[1].roles.has_value());
  CHECK(operations[2].path == "/v1/b");
  CHECK(operations[2].roles == std::vector<std::string>{});
  CHECK_THROWS(read_openapi_operations(dir.file("missing.yaml")));
}
