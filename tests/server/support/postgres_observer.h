// A plain libpq connection to a test database, beside the storage's own connections: to ask the
// server what those are doing (a blocked transaction is recognised by asking pg_stat_activity,
// never by waiting a while), to read tables as they are, and to write what the storage would not
// (a row behind the audit log's triggers, a database as an older server left it). Test support
// for the [postgres] test cases. One thread at a time.
#pragma once

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <thread>

namespace fieldsync::server::testing {

class Observer {
 public:
  explicit Observer(const std::string& connection) : conn_(PQconnectdb(connection.c_str())) {
    REQUIRE(PQstatus(conn_) == CONNECTION_OK);
  }
  ~Observer() { PQfinish(conn_); }
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  std::string value(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    INFO(PQerrorMessage(conn_));
    REQUIRE(PQresultStatus(result) == PGRES_TUPLES_OK);
    std::string text = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return text;
  }

  // Runs a statement; the server's error message, empty if it succeeded.
  std::string error_of(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    PQclear(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? "" : PQerrorMessage(conn_);
  }

  // Returns once some other session of this database waits for a lock.
  void wait_until_one_blocks() {
    for (;;) {
      if (value("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'") != "0") {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 private:
  PGconn* conn_;
};

}  // namespace fieldsync::server::testing
