// TLS between the server and PostgreSQL, against the test server that tools/with-postgres starts
// with TLS on 127.0.0.1 and a certificate for localhost signed by a throwaway CA:
// - the storage opened in this process with sslmode=verify-full, that CA and host=localhost
//   connects, and the server says its connections are encrypted (pg_stat_ssl);
// - with a CA that did not sign the server's certificate, it is refused, and the error says why;
// - a real fieldsync-server started with such a --database URI serves a device's sync; started
//   with the wrong CA, it exits at start and its log says why.
// Tagged [postgres]: run in the `postgres` fixture only.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "fieldsync/client/casework.h"
#include "fieldsync/client/store.h"
#include "fieldsync/client/sync_engine.h"
#include "fieldsync/admin/admin_client.h"
#include "fieldsync/dev/scratch_database.h"
#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/dev/server_process.h"
#include "fieldsync/platform/http_transport.h"
#include "fieldsync/platform/key_wrapper.h"
#include "fieldsync/server/server_storage.h"

using namespace fieldsync;
using Catch::Matchers::Contains;

namespace {

// Names the storage's own connections in pg_stat_activity, so that they can be told from the
// test's.
constexpr const char* kApplicationName = "fieldsync-tls-test";

// The test server's TCP port, from its connection string (whose host is a Unix socket directory).
std::string test_server_port() {
  const std::optional<std::string> server = dev::test_postgres_server();
  REQUIRE(server);
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(server->c_str(), &error), &PQconninfoFree);
  PQfreemem(error);
  REQUIRE(options);
  for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
    if (std::string(option->keyword) == "port" && option->val) return option->val;
  }
  FAIL("the test server's connection string names no port");
  return {};
}

std::string test_server_ca() {
  const std::optional<std::string> ca = dev::test_postgres_ca();
  INFO("the test PostgreSQL has no TLS CA: start it with tools/with-postgres, or set "
       "FIELDSYNC_TEST_POSTGRES_CA to the CA file of your own server");
  REQUIRE(ca);
  return *ca;
}

// The scratch database over TCP to localhost, checked against `ca_file`.
std::string verified_uri(const dev::ScratchDatabase& database, const std::string& ca_file) {
  return "postgresql://postgres@localhost:" + test_server_port() + "/" + database.name() +
         "?sslmode=verify-full&sslrootcert=" + ca_file + "&application_name=" + kApplicationName;
}

// A self-signed CA of its own, which signed nothing the server holds.
std::string other_ca(const dev::ScratchDir& dir) {
  const std::string ca = dir.file("other-ca.crt");
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=another-ca -keyout '" + dir.file("other-ca.key") + "' -out '" + ca +
      "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  return ca;
}

// What the server says of the storage's connections to the database: how many there are over
// TCP, and how many of those are encrypted (pg_stat_ssl of their backends).
struct TlsCount {
  int connections = 0;
  int encrypted = 0;
};

TlsCount storage_connections(const dev::ScratchDatabase& database) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(database.connection().c_str()),
                                                    &PQfinish);
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  const char* values[] = {kApplicationName};
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexecParams(conn.get(),
                   "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a "
                   "JOIN pg_stat_ssl s ON s.pid = a.pid "
                   "WHERE a.application_name = $1 AND a.client_addr IS NOT NULL",
                   1, nullptr, values, nullptr, nullptr, 0),
      &PQclear);
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  return {std::atoi(PQgetvalue(result.get(), 0, 0)), std::atoi(PQgetvalue(result.get(), 0, 1))};
}

std::string server_binary() {
  return dev::locate_server_binary(FIELDSYNC_SERVER_BINARY);
}

}  // namespace

TEST_CASE("the storage reaches PostgreSQL over TLS checked with sslmode=verify-full",
          "[postgres]") {
  dev::ScratchDatabase database;
  const std::string ca = test_server_ca();

  SECTION("with the CA that signed the server's certificate: connected, encrypted") {
    const auto storage = server::open_postgres_storage(verified_uri(database, ca), 2);
    const server::AuditHead head = server::run_transaction(
        *storage, [](server::StorageTransaction& tx) { return tx.audit_head(); });
    CHECK(head.seq == 0);
    const TlsCount count = storage_connections(database);
    CHECK(count.connections >= 1);
    CHECK(count.encrypted == count.connections);
  }

  SECTION("with another CA: refused, saying that the certificate did not verify") {
    dev::ScratchDir dir;
    try {
      server::open_postgres_storage(verified_uri(database, other_ca(dir)), 2);
      FAIL("the storage connected although the server's certificate is not the CA's");
    } catch (const std::exception& error) {
      CHECK_THAT(error.what(), Contains("cannot connect to PostgreSQL") &&
                                   Contains("certificate verify failed"));
    }
    CHECK(storage_connections(database).connections == 0);
  }
}

TEST_CASE("fieldsync-server on PostgreSQL over verified TLS serves a device's sync",
          "[postgres]") {
  dev::ScratchDatabase database;
  const std::string ca = test_server_ca();
  dev::ScratchDir dir;

  dev::ServerProcessOptions options{server_binary(), dir.file("server")};
  options.database = verified_uri(database, ca);
  dev::ServerProcess process(options);
  const auto admin_transport = platform::make_curl_transport();
  admin::AdminClient admin(*admin_transport, process.url(), process.create_admin_token());
  admin.create_team("north", "North team");
  admin.create_user("ann", "north", "worker", "Ann Smith");
  const CaseId case_id = admin.create_case("ann", {{"child_name", "Ruby Jones"}});

  const auto transport = platform::make_curl_transport();
  const client::Enrolment enrolment =
      client::enrol(*transport, process.url(), admin.enrolment_code("ann"), {"linux", "test"});
  platform::MemoryKeyWrapper wrapper;
  client::StoreOptions store_options;
  store_options.path = dir.file("device.db");
  store_options.key_wrapper = &wrapper;
  store_options.kdf_iterations = 1000;
  const auto store =
      client::Store::create(store_options, "2580", {enrolment.device_id, enrolment.user_id});
  store->set_token(enrolment.token);
  client::Casework(*store).record_visit(
      case_id, {{"visit_type", Value::text("statutory_child_protection")},
                {"location_type", Value::text("home")},
                {"actual_start", Value::timestamp(store->now())},
                {"child_seen", Value::boolean(true)},
                {"seen_alone", Value::boolean(true)},
                {"observations", Value::text("Ruby showed me her drawings.")}});

  client::SyncSettings settings;
  settings.server_url = process.url();
  settings.client = {"linux", "test"};
  const client::SyncReport report = client::sync_with_server(
      *store, *transport, settings, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  REQUIRE(report.outcome == client::SyncOutcome::kCompleted);
  CHECK(report.changes_pushed == 6);  // the visit's six fields, acknowledged
  CHECK(store->cases() == std::vector<CaseId>{case_id});
  const TlsCount count = storage_connections(database);
  CHECK(count.connections >= 1);
  CHECK(count.encrypted == count.connections);
}

TEST_CASE("fieldsync-server given a CA that did not sign the database's certificate exits at "
          "start, saying why",
          "[postgres]") {
  dev::ScratchDatabase database;
  dev::ScratchDir dir;
  dev::ServerProcessOptions options{server_binary(), dir.file("server")};
  options.database = verified_uri(database, other_ca(dir));
  CHECK_THROWS_WITH(dev::ServerProcess(options), Contains("exited with status 1 at start"));
  const std::string log = dev::read_file(dir.file("server") + "/server.log");
  CHECK_THAT(log, Contains("cannot connect to PostgreSQL") &&
                      Contains("certificate verify failed"));
}
