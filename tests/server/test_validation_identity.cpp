// Validation and identity at the server (DESIGN.md sections 3 and 5): each write group is checked
// against the record as merged (schema rules: kValidation; frozen fields of a submitted note:
// kFrozen), and answered with the server's current values when refused; identity comes from the
// token (every version stamped by the authenticated device) and a record's collection and case
// from the store; devices may not create case records; a group is accepted or refused whole.
#include <catch2/catch.hpp>

#include "server_fixture.h"

using namespace fieldsync;
using namespace fieldsync::server;
using namespace fieldsync::server::testing;

namespace {

// The one rejection of a push that must have been refused; nothing acknowledged.
Rejection refused(ServerFixture& server, TestDevice& device, const WriteGroup& group) {
  const SyncResponse answer = server.sync(device, {group});
  CHECK(answer.acks.empty());
  REQUIRE(answer.rejections.size() == 1);
  CHECK(answer.rejections[0].write_group == group.id);
  CHECK_FALSE(answer.rejections[0].message.empty());
  return answer.rejections[0];
}

bool exists(ServerFixture& server, const RecordId& record) {
  return server.inspect(
      [&](StorageTransaction& tx) { return !tx.record_homes(std::span(&record, 1)).empty(); });
}

Value current_value(ServerFixture& server, const RecordId& record, const std::string& field) {
  const auto stored = server.inspect([&](StorageTransaction& tx) {
    return tx.current_field({record, field});
  });
  return stored ? stored->change.value : Value::null();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("Each group is validated against the record as merged", "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup created =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
  server.sync(work.amira_tablet);
  const Version seen_version = version_of(created, visit, "child_seen");

  SECTION("seen alone without seen: validation, answered with the server's current values") {
    // The tablet says the child was not seen, but the merged visit still says "seen alone".
    const WriteGroup edit = server.write(
        work.amira_tablet, "visit", visit, work.case_a,
        {{"child_seen", boolean(false), {seen_version}}, {"reason_not_seen", text("no_answer")}});
    const Rejection rejection = refused(server, work.amira_tablet, edit);
    CHECK(rejection.code == RejectionCode::kValidation);
    CHECK(contains(rejection.message, "seen_alone"));
    // The touched fields as the server holds them: child_seen (true); reason_not_seen is unset.
    REQUIRE(rejection.server_values.size() == 1);
    CHECK(rejection.server_values[0].field == "child_seen");
    CHECK(rejection.server_values[0].value == boolean(true));
    CHECK(rejection.server_values[0].version == seen_version);
    CHECK(current_value(server, visit, "child_seen") == boolean(true));
    CHECK(current_value(server, visit, "reason_not_seen").is_null());
    CHECK_FALSE(mentions_record(server.sync(work.amira_phone), visit));
  }
  SECTION("the same edit that also clears seen_alone is valid, and accepted") {
    const WriteGroup edit =
        server.write(work.amira_tablet, "visit", visit, work.case_a,
                     {{"child_seen", boolean(false), {seen_version}},
                      {"seen_alone", Value::null(), {version_of(created, visit, "seen_alone")}},
                      {"reason_not_seen", text("no_answer")}});
    CHECK(server.sync(work.amira_tablet, {edit}).acks.size() == 1);
    CHECK(current_value(server, visit, "child_seen") == boolean(false));
  }
  SECTION("a new visit that breaks a rule: validation, with no server values") {
    const RecordId other = Uuid::random_v4();
    std::vector<FieldEdit> fields = valid_visit("");
    fields[2].value = boolean(false);  // child_seen, while seen_alone stays true
    fields.push_back({"reason_not_seen", text("refused_access")});
    const Rejection rejection =
        refused(server, work.amira_phone,
                server.write(work.amira_phone, "visit", other, work.case_a, fields));
    CHECK(rejection.code == RejectionCode::kValidation);
    CHECK(rejection.server_values.empty());
    CHECK_FALSE(exists(server, other));
  }
  SECTION("a new visit without a required field") {
    const RecordId other = Uuid::random_v4();
    const Rejection rejection =
        refused(server, work.amira_phone,
                server.write(work.amira_phone, "visit", other, work.case_a,
                             {{"observations", text("no type, no start")}}));
    CHECK(rejection.code == RejectionCode::kValidation);
    CHECK_FALSE(exists(server, other));
  }
}

TEST_CASE("A submitted note's frozen fields cannot change", "[server][reconcile]") {
  ServerFixture server;
  Casework work(server);
  const RecordId note = Uuid::random_v4();
  const auto note_fields = [](const std::string& status) {
    return std::vector<FieldEdit>{{"status", text(status)},
                                  {"content", text("Mother says the boiler is fixed.")},
                                  {"note_type", text("case_note")},
                                  {"event_time", timestamp_at(kStartMs - 7'200'000)},
                                  {"submitted_at", timestamp_at(kStartMs)}};
  };

  SECTION("a submitted note") {
    const WriteGroup created =
        server.write(work.amira_phone, "note", note, work.case_a, note_fields("submitted"));
    REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
    const Version content_version = version_of(created, note, "content");

    SECTION("its content: frozen, answered with the content as submitted") {
      const Rejection rejection =
          refused(server, work.amira_phone,
                  server.write(
                      work.amira_phone, "note", note, work.case_a,
                      {{"content", text("Mother says the boiler is broken."), {content_version}}}));
      CHECK(rejection.code == RejectionCode::kFrozen);
      CHECK(contains(rejection.message, "content"));
      REQUIRE(rejection.server_values.size() == 1);
      CHECK(rejection.server_values[0].value == text("Mother says the boiler is fixed."));
      CHECK(current_value(server, note, "content") == text("Mother says the boiler is fixed."));
    }
    SECTION("its status back to draft: frozen") {
      const Rejection rejection =
          refused(server, work.amira_phone,
                  server.write(work.amira_phone, "note", note, work.case_a,
                               {{"status", text("draft"), {version_of(created, note, "status")}}}));
      CHECK(rejection.code == RejectionCode::kFrozen);
    }
    SECTION("marking it recorded in error, with a reason: accepted") {
      const WriteGroup marked =
          server.write(work.amira_phone, "note", note, work.case_a,
                       {{"recorded_in_error", boolean(true)},
                        {"recorded_in_error_reason", text("wrong child's file")}});
      CHECK(server.sync(work.amira_phone, {marked}).acks.size() == 1);
    }
  }
  SECTION("a draft's content may change until it is submitted") {
    const WriteGroup created =
        server.write(work.amira_phone, "note", note, work.case_a, note_fields("draft"));
    REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
    const WriteGroup edited = server.write(
        work.amira_phone, "note", note, work.case_a,
        {{"content", text("Rewritten draft."), {version_of(created, note, "content")}}});
    CHECK(server.sync(work.amira_phone, {edited}).acks.size() == 1);
    CHECK(current_value(server, note, "content") == text("Rewritten draft."));
  }
}

TEST_CASE("Identity comes from the token, a record's home from the store", "[server][scope]") {
  ServerFixture server;
  Casework work(server);
  const CaseId case_a2 = server.create_case("amira", "Ava's brother");
  server.sync(work.amira_phone);
  const RecordId visit = Uuid::random_v4();
  const WriteGroup created =
      server.write(work.amira_phone, "visit", visit, work.case_a, valid_visit("first"));
  REQUIRE(server.sync(work.amira_phone, {created}).acks.size() == 1);
  const RecordId fresh = Uuid::random_v4();

  SECTION("a change stamped by another device than the token's") {
    WriteGroup group =
        server.write(work.amira_phone, "visit", fresh, work.case_a, valid_visit("forged"));
    group.changes[1].version.origin = work.amira_tablet.id;
    CHECK(refused(server, work.amira_phone, group).code == RejectionCode::kScope);
    CHECK_FALSE(exists(server, fresh));
  }
  SECTION("an existing record claimed under another case") {
    const WriteGroup group = server.write(
        work.amira_phone, "visit", visit, case_a2,
        {{"observations", text("moved"), {version_of(created, visit, "observations")}}});
    CHECK(refused(server, work.amira_phone, group).code == RejectionCode::kScope);
    CHECK(current_value(server, visit, "observations") == text("first"));
  }
  SECTION("an existing record claimed under another collection") {
    const WriteGroup group = server.write(work.amira_phone, "assessment", visit, work.case_a,
                                          {{"outcome", text("relabelled")}});
    CHECK(refused(server, work.amira_phone, group).code == RejectionCode::kScope);
  }
  SECTION("one new record claimed under two cases in one group") {
    WriteGroup group =
        server.write(work.amira_phone, "visit", fresh, work.case_a, valid_visit("split"));
    group.changes.back().case_id = case_a2;
    const Rejection rejection = refused(server, work.amira_phone, group);
    CHECK((rejection.code == RejectionCode::kScope || rejection.code == RejectionCode::kMalformed));
    CHECK_FALSE(exists(server, fresh));
  }
  SECTION("a case record created by a device") {
    const CaseId new_case = Uuid::random_v4();
    const WriteGroup group = server.write(work.amira_phone, "case", new_case, new_case,
                                          {{"child_name", text("Zoe")}, {"status", text("open")}});
    const Rejection rejection = refused(server, work.amira_phone, group);
    CHECK(rejection.code == RejectionCode::kScope);
    CHECK(contains(rejection.message, "cases are created"));
    CHECK_FALSE(exists(server, new_case));
  }
  SECTION("an existing case record's fields may be edited by the worker it is allocated to") {
    const WriteGroup group = server.write(work.amira_phone, "case", work.case_a, work.case_a,
                                          {{"referrer", text("school nurse")}});
    CHECK(server.sync(work.amira_phone, {group}).acks.size() == 1);
    CHECK(current_value(server, work.case_a, "referrer") == text("school nurse"));
  }
  SECTION("a case not allocated to the user") {
    const WriteGroup group =
        server.write(work.amira_phone, "visit", fresh, work.case_b, valid_visit("not mine"));
    const Rejection rejection = refused(server, work.amira_phone, group);
    CHECK(rejection.code == RejectionCode::kScope);
    CHECK(contains(rejection.message, "not allocated"));
  }
  SECTION("a group over two cases, one out of scope, is refused whole") {
    const RecordId other = Uuid::random_v4();
    const WriteGroup group = server.write(
        work.amira_phone, {RecordEdit{"visit", fresh, work.case_a, valid_visit("sibling visit")},
                           RecordEdit{"visit", other, work.case_b, valid_visit("sibling visit")}});
    CHECK(refused(server, work.amira_phone, group).code == RejectionCode::kScope);
    CHECK_FALSE(exists(server, fresh));
    CHECK_FALSE(exists(server, other));
    CHECK_FALSE(mentions_record(server.sync(work.amira_tablet), fresh));
  }
  SECTION("impossible content: malformed") {
    WriteGroup group =
        server.write(work.amira_phone, "visit", fresh, work.case_a, valid_visit("odd"));
    SECTION("a change naming another write group") {
      group.changes[0].write_group = Uuid::random_v4();
    }
    SECTION("a change without a sequence number") {
      group.changes[0].device_seq = 0;
    }
    SECTION("no changes at all") {
      group.changes.clear();
    }
    SECTION("a field name with a NUL in it") {
      group.changes[0].field = std::string("observ\0ations", 13);
    }
    SECTION("a collection name with a NUL in it") {
      for (Change& change : group.changes) change.collection = std::string("vis\0it", 6);
    }
    CHECK(refused(server, work.amira_phone, group).code == RejectionCode::kMalformed);
    CHECK_FALSE(exists(server, fresh));
  }
}
