// A PostgreSQL database left by an older fieldsync-server, opened by this one: built with the
// older migrations only (postgres_storage_schema.h) and filled as that server would have filled
// it, then opened. Its data must be kept, its version raised, and what the newer migrations added
// must work on top of the old data. The version before the last is the one a running service
// upgrades from; the SQLite file's upgrade is tested in test_admin_monitor.cpp. Tagged
// [postgres]: runs only in the PostgreSQL pass of the suite.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "audit_chain.h"
#include "fieldsync/crypto.h"
#include "fieldsync/dev/scratch_database.h"
#include "fieldsync/server/server_storage.h"
#include "postgres_observer.h"
#include "postgres_storage_schema.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

// Creates the schema as the server whose last migration was number `version` did.
void create_schema(Observer& older, std::size_t version) {
  REQUIRE(older.error_of(std::string(postgres_schema::kVersionTable)) == "");
  for (std::size_t i = 0; i < version; ++i)
    REQUIRE(older.error_of(std::string(postgres_schema::kMigrations[i])) == "");
  REQUIRE(older.error_of("INSERT INTO schema_version(version) VALUES (" + std::to_string(version) +
                         ")") == "");
}

std::string bytea(const Bytes& bytes) {
  return "'\\x" + crypto::to_hex(bytes) + "'::bytea";
}

AuditEntry older_entry(std::int64_t at_ms, const std::string& action, const CaseId& case_id) {
  AuditEntry entry;
  entry.at_ms = at_ms;
  entry.node = "node-1";
  entry.actor = "admin:t1";
  entry.actor_name = "setup";
  entry.action = action;
  entry.address = "127.0.0.1";
  entry.user_id = "amira";
  entry.case_ids = {case_id};
  entry.detail = "{}";
  return entry;
}

}  // namespace

TEST_CASE("A database of the version before the last is upgraded with its data and audit chain",
          "[postgres][migration]") {
  static_assert(postgres_schema::kMigrations.size() >= 2);
  constexpr std::size_t kOlder = postgres_schema::kMigrations.size() - 1;
  dev::ScratchDatabase database;
  const CaseId case_id = Uuid::random_v4();
  const OriginId device = Uuid::random_v4();
  std::string epoch;
  {
    Observer older(database.connection());  // writes as the older server did
    create_schema(older, kOlder);
    epoch = older.value("SELECT value FROM meta WHERE key = 'epoch'");
    REQUIRE(older.error_of(
                "INSERT INTO teams VALUES ('north', 'North Family Support');"
                "INSERT INTO users VALUES ('amira', 'north', 1, 'Amira Shah');"
                "INSERT INTO allocations VALUES ('" +
                case_id.to_string() +
                "', 'north', 'amira');"
                "INSERT INTO devices(id, user_id, status, token_hash, enrolled_at, last_seen, "
                "last_sync, status_reason, telemetry, syncs, changes_pushed) VALUES ('" +
                device.to_string() + "', 'amira', 1, '\\x00', 1, 2, 3, '', '{}', 7, 40)") == "");
    // Two audit entries chained as that server chained them, and the head it kept.
    Bytes previous = audit_genesis_hash();
    std::uint64_t seq = 0;
    for (const char* action : {"case.created", "enrolment_code.issued"}) {
      const AuditEntry entry =
          older_entry(1'709'280'000'000 + static_cast<std::int64_t>(seq), action, case_id);
      const Bytes hash = audit_row_hash(previous, ++seq, entry);
      REQUIRE(older.error_of("INSERT INTO audit_log VALUES (" + std::to_string(seq) + ", " +
                             std::to_string(entry.at_ms) + ", 'node-1', 'admin:t1', 'setup', '" +
                             entry.action + "', '127.0.0.1', NULL, 'amira', '{}', " +
                             bytea(previous) + ", " + bytea(hash) +
                             ");"
                             "INSERT INTO audit_cases VALUES (" +
                             std::to_string(seq) + ", '" + case_id.to_string() +
                             "');"
                             "UPDATE audit_head SET seq = " +
                             std::to_string(seq) + ", hash = " + bytea(hash)) == "");
      previous = hash;
    }
  }

  const std::unique_ptr<ServerStorage> storage = open_postgres_storage(database.connection(), 2);
  Observer observer(database.connection());
  CHECK(observer.value("SELECT version FROM schema_version") ==
        std::to_string(postgres_schema::kMigrations.size()));

  SECTION("its data is kept") {
    auto tx = storage->begin();
    CHECK(tx->epoch().to_string() == epoch);
    const std::optional<User> amira = tx->user("amira");
    REQUIRE(amira);
    CHECK(amira->team_id == "north");
    CHECK(amira->role == Role::kWorker);
    CHECK(tx->scope_of(*amira) == std::vector<CaseId>{case_id});
    const std::optional<Device> phone = tx->device(device);
    REQUIRE(phone);
    CHECK(phone->user_id == "amira");
    CHECK(phone->last_sync_ms == 3);
    CHECK(phone->activity.syncs == 7);
    CHECK(phone->activity.changes_pushed == 40);
  }

  SECTION("the audit chain goes on from the old head, through the newer pending entries") {
    run_transaction(*storage, [&](StorageTransaction& tx) {
      tx.append_audit(older_entry(1'709'290'000'000, "case.allocated", case_id));
    });
    CHECK(observer.value("SELECT count(*) FROM audit_pending") == "0");
    CHECK(observer.value("SELECT action FROM audit_log WHERE seq = 3") == "case.allocated");
    CHECK(observer.value("SELECT count(*) FROM audit_cases WHERE case_id = '" +
                         case_id.to_string() + "'") == "3");
    const AuditVerification chain = verify_audit_chain(*storage);
    INFO(chain.problem);
    CHECK(chain.intact);
    CHECK(chain.rows_checked == 3);
    CHECK(chain.head.seq == 3);
  }
}
