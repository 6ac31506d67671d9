// A throwaway PostgreSQL database for tests and benchmarks: created with a random name on the
// server that FIELDSYNC_TEST_POSTGRES names (a libpq connection string to a maintenance database,
// e.g. postgres), or on a server given by its caller, dropped (WITH (FORCE)) when the object is destroyed. tools/with-postgres starts
// such a server and sets the variable; under ctest, the `postgres` fixture starts one and
// FIELDSYNC_TEST_POSTGRES_STATE names the file that holds its connection string.
// Development support only.
//
// One thread at a time per object.
#pragma once

#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fieldsync::dev {

// The test server's connection string, if one was given to this process.
inline std::optional<std::string> test_postgres_server() {
  if (const char* uri = std::getenv("FIELDSYNC_TEST_POSTGRES"); uri && *uri) return std::string(uri);
  if (const char* state = std::getenv("FIELDSYNC_TEST_POSTGRES_STATE"); state && *state) {
    std::ifstream file(state);
    std::string uri;
    if (std::getline(file, uri) && !uri.empty()) return uri;
  }
  return std::nullopt;
}

// The CA file that signed the test server's TLS certificate (tools/with-postgres makes one at
// start): FIELDSYNC_TEST_POSTGRES_CA, else the fourth line of the state file; none if not given.
inline std::optional<std::string> test_postgres_ca() {
  if (const char* ca = std::getenv("FIELDSYNC_TEST_POSTGRES_CA"); ca && *ca) return std::string(ca);
  if (const char* state = std::getenv("FIELDSYNC_TEST_POSTGRES_STATE"); state && *state) {
    std::ifstream file(state);
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
      if (number == 4 && !line.empty()) return line;
    }
  }
  return std::nullopt;
}

class ScratchDatabase {
 public:
  // Throws std::runtime_error, with what to do, when no test server is given or reachable.
  ScratchDatabase() : ScratchDatabase(require_server()) {}
  // On the server that `server` names (a libpq connection string or URI to a database there
  // from which databases may be created, e.g. postgres).
  explicit ScratchDatabase(std::string server) : server_(std::move(server)) {
    std::random_device random;
    name_ = "fieldsync_test_" + std::to_string(random()) + std::to_string(random());
    run_on_server("CREATE DATABASE " + name_ + " TEMPLATE template0");
    connection_ = with_database(server_, name_);
  }
  ~ScratchDatabase() {
    try {
      for (const std::string& copy : copies_) {
        run_on_server("DROP DATABASE IF EXISTS " + copy + " WITH (FORCE)");
      }
      run_on_server("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
      // Destructors must not throw; the whole throwaway server goes away anyway.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  // Drops the database now, as a lost database server would leave its clients (their
  // connections are ended).
  void drop() { run_on_server("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"); }

  // A libpq connection string for the database (key=value pairs).
  const std::string& connection() const { return connection_; }
  const std::string& name() const { return name_; }
  // The same as a postgres:// URI, as fieldsync-server --database takes it:
  // postgresql:///NAME?host=...&port=...&user=... (every setting the server's string gave).
  std::string uri() const {
    std::string result = "postgresql:///" + name_;
    char separator = '?';
    for (const auto& [keyword, value] : parsed(server_)) {
      if (keyword == "dbname") continue;
      result += separator + keyword + "=" + percent_encoded(value);
      separator = '&';
    }
    return result;
  }

  // A copy of the database as it is now (a backup), dropped with this object; returns its name.
  // No one may be connected to the database meanwhile (PostgreSQL copies through a template).
  std::string copy(const std::string& suffix) {
    const std::string copy_name = name_ + "_" + suffix;
    run_on_server("CREATE DATABASE " + copy_name + " TEMPLATE " + name_);
    copies_.push_back(copy_name);
    return copy_name;
  }
  // Replaces the database with a copy made by copy() (a restore); the copy stays.
  void replace_with(const std::string& copy_name) {
    run_on_server("DROP DATABASE " + name_ + " WITH (FORCE)");
    run_on_server("CREATE DATABASE " + name_ + " TEMPLATE " + copy_name);
  }

 private:
  using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

  static std::string require_server() {
    auto server = test_postgres_server();
    if (!server) {
      throw std::runtime_error(
          "no PostgreSQL for the tests: run them with ctest (its `postgres` fixture starts one), "
          "tools/test, or tools/with-postgres COMMAND, or set FIELDSYNC_TEST_POSTGRES to a "
          "connection string of a server where databases may be created");
    }
    return *server;
  }

  static Conn connect(const std::string& conninfo) {
    Conn conn(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
      throw std::runtime_error("cannot connect to the test PostgreSQL (" + conninfo +
                               "): " + (conn ? PQerrorMessage(conn.get()) : "out of memory"));
    }
    return conn;
  }

  void run_on_server(const std::string& sql) const {
    Conn conn = connect(server_);
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      throw std::runtime_error(sql + ": " + PQerrorMessage(conn.get()));
    }
  }

  // The settings a connection string gives explicitly, in libpq's order.
  static std::vector<std::pair<std::string, std::string>> parsed(const std::string& conninfo) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
        PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
    if (!options) {
      const std::string message = error ? error : "out of memory";
      PQfreemem(error);
      throw std::runtime_error("not a PostgreSQL connection string (" + conninfo + "): " + message);
    }
    std::vector<std::pair<std::string, std::string>> settings;
    for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
      if (option->val) settings.emplace_back(option->keyword, option->val);
    }
    return settings;
  }

  // The server's connection string with another database, as key=value pairs.
  static std::string with_database(const std::string& conninfo, const std::string& database) {
    std::string result = "dbname=" + quoted(database);
    for (const auto& [keyword, value] : parsed(conninfo)) {
      if (keyword != "dbname") result += " " + keyword + "=" + quoted(value);
    }
    return result;
  }

  static std::string percent_encoded(const std::string& value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : value) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
        out.push_back(static_cast<char>(c));
      } else {
        out += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    return out;
  }

  static std::string quoted(const std::string& value) {
    std::string out = "'";
    for (const char c : value) {
      if (c == '\'' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out + "'";
  }

  std::string server_;
  std::string name_;
  std::string connection_;
  std::vector<std::string> copies_;
};

}  // namespace fieldsync::dev
