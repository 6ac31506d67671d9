// The sync engine against a scripted server (FakeHttpTransport answering with real encoded
// messages) on a fake timer: round trips until done, retries with backoff for network failures,
// 5xx and 429 (never before Retry-After), other 4xx at once, paging, the deadline, cancel, the
// round limit, directives, telemetry, and enrolment.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "fieldsync/client/casework.h"
#include "fieldsync/error.h"
#include "store_fixture.h"
#include "sync_fakes.h"

using namespace fieldsync;
using namespace fieldsync::testing;
using namespace std::chrono_literals;
using client::SyncOutcome;
using client::SyncReport;
using platform::FakeHttpTransport;
using platform::HttpRequest;

namespace {

constexpr const char* kToken = "0190f1a23b4c7d5e8f60718293a4b5c6.9f3a";

// A store with a token and a case, a visit waiting in its outbox, and an engine set up to sync
// it with a scripted server on a fake timer.
struct SyncFixture : StoreFixture {
  FakeHttpTransport server;
  FakeSyncTimer timer;
  client::SyncSettings settings;
  std::vector<client::SyncProgress> progress;
  CaseId case_id;

  SyncFixture() {
    store->set_token(kToken);
    case_id = receive_case("Robin");
    client::Casework(*store).record_visit(case_id, seen_alone_visit("garden"));
    settings.server_url = "https://sync.example.org";
    settings.client = {"android 14", "2.3.1"};
    settings.timer = &timer;
    settings.jitter_seed = 42;
    settings.on_progress = [this](const client::SyncProgress& step) { progress.push_back(step); };
  }

  SyncReport sync(std::chrono::milliseconds budget = 30s,
                  const std::atomic<bool>* cancel = nullptr) {
    return client::sync_with_server(*store, server, settings, timer.now() + budget, cancel);
  }

  std::int64_t server_time() { return clock.wall_ms(); }
};

auto error_is(ErrorCode code, std::string fragment) {
  return Catch::Predicate<std::optional<Error>>(
      [code, fragment](const std::optional<Error>& e) {
        return e && e->is(code) && std::string(e->what()).find(fragment) != std::string::npos;
      },
      "an error with the right code mentioning " + fragment);
}

}  // namespace

TEST_CASE("A sync pushes the outbox, pulls what is new and stops when both are done", "[sync]") {
  SyncFixture fixture;
  SyncResponse page;
  page.next_cursor = "cursor-1";
  page.changes = {server_change("case", fixture.case_id, fixture.case_id, "status",
                                Value::text("closed"), Hlc(1'709'200'000'000, 0))};
  fixture.server.then(accept_all(fixture.server_time(), page));

  const SyncReport report = fixture.sync();

  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK_FALSE(report.error);
  CHECK(report.rounds == 1);
  CHECK(report.requests == 1);
  CHECK(report.groups_acked == 1);
  CHECK(report.changes_pushed == 5);
  CHECK(report.changes_pulled == 1);
  CHECK(report.outbox_remaining == 0);
  CHECK(fixture.store->outbox().empty());
  CHECK(fixture.store->record(fixture.case_id)->get("status")->as_text() == "closed");

  const HttpRequest sent = fixture.server.requests().at(0);
  CHECK(sent.method == "POST");
  CHECK(sent.url == "https://sync.example.org/v1/sync");
  CHECK(header_of(sent, "Authorization") == std::string("Bearer ") + kToken);
  CHECK(header_of(sent, "Content-Type") == "application/x-fieldsync");
  const SyncRequest request = request_of(sent);
  CHECK(request.write_groups.size() == 1);
  CHECK(request.telemetry.app_version == "2.3.1");
  CHECK(request.telemetry.platform == "android 14");
  CHECK(request.telemetry.core_version == std::string(client::core_version()));
  CHECK(request.telemetry.pending_count == 5);
  CHECK(request.telemetry.last_error_code.empty());

  REQUIRE(fixture.progress.size() == 1);
  CHECK(fixture.progress[0].round == 1);
  CHECK(fixture.progress[0].changes_pushed == 5);
  CHECK(fixture.progress[0].changes_pulled == 1);
  CHECK(fixture.progress[0].outbox_remaining == 0);
  CHECK(fixture.progress[0].retry_in == 0ms);
}

TEST_CASE("A 503 is retried after a backoff wait, then the sync goes on", "[sync]") {
  SyncFixture fixture;
  fixture.server.then_respond(error_answer(503, "unavailable", "shutting down"))
      .then(accept_all(fixture.server_time()));

  const SyncReport report = fixture.sync();

  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK_FALSE(report.error);  // retried away
  CHECK(report.requests == 2);
  CHECK(fixture.store->outbox().empty());
  REQUIRE(fixture.timer.waits().size() == 1);
  CHECK(fixture.timer.waits()[0] <= 500ms);  // the first retry's ceiling
  // The shell heard about the wait before it began.
  REQUIRE(fixture.progress.size() == 2);
  CHECK(fixture.progress[0].retry_in == fixture.timer.waits()[0]);
  CHECK(fixture.progress[0].round == 0);
  // Both requests carried the same group: a retry resends, it does not skip.
  CHECK(request_of(fixture.server.requests()[0]).write_groups ==
        request_of(fixture.server.requests()[1]).write_groups);
}

TEST_CASE("Network failures and 5xx back off with growing, capped waits", "[sync]") {
  SyncFixture fixture;
  fixture.settings.retry.initial_delay = 1000ms;
  fixture.settings.retry.max_delay = 4000ms;
  fixture.server.then_fail("connection refused")
      .then_respond(error_answer(500, "internal", "a fault"))
      .then_respond({502, {}, "<html>Bad gateway</html>"})  // a proxy's page, not our JSON
      .then_fail("timed out")
      .then(accept_all(fixture.server_time()));

  const SyncReport report = fixture.sync(10min);

  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK(report.requests == 5);
  const auto& waits = fixture.timer.waits();
  REQUIRE(waits.size() == 4);
  CHECK(waits[0] <= 1000ms);
  CHECK(waits[1] <= 2000ms);
  CHECK(waits[2] <= 4000ms);
  CHECK(waits[3] <= 4000ms);  // capped
}

TEST_CASE("A 429 waits at least its Retry-After", "[sync]") {
  SyncFixture fixture;
  fixture.server.then_respond(error_answer(429, "rate_limited", "too many attempts", "7"))
      .then(accept_all(fixture.server_time()));

  const SyncReport report = fixture.sync();

  CHECK(report.outcome == SyncOutcome::kCompleted);
  REQUIRE(fixture.timer.waits().size() == 1);
  CHECK(fixture.timer.waits()[0] >= 7s);
}

TEST_CASE("A Retry-After beyond the deadline stops the sync now instead of sleeping past it",
          "[sync]") {
  SyncFixture fixture;
  fixture.server.then_respond(error_answer(503, "unavailable", "overloaded", "120"));

  const SyncReport report = fixture.sync(25s);

  CHECK(report.outcome == SyncOutcome::kDeadlineReached);
  CHECK(fixture.timer.waits().empty());
  CHECK_THAT(report.error, error_is(ErrorCode::kUnavailable, "overloaded"));
  CHECK(report.http_status == 503);
  CHECK(fixture.store->outbox().size() == 1);  // nothing lost: pushed next time
}

TEST_CASE("Other 4xx answers stop the sync at once, without a retry", "[sync]") {
  SyncFixture fixture;
  SECTION("400: the server's name and message come back") {
    fixture.server.then_respond(error_answer(400, "invalid_argument", "cursor from nowhere"));
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kFailed);
    CHECK_THAT(report.error, error_is(ErrorCode::kInvalidArgument, "HTTP 400"));
    CHECK_THAT(report.error, error_is(ErrorCode::kInvalidArgument, "cursor from nowhere"));
    CHECK(report.http_status == 400);
    CHECK(report.server_error == "invalid_argument");
  }
  SECTION("401: unauthorized, and nothing is wiped") {
    fixture.server.then_respond(error_answer(401, "unauthorized", "the token is not valid"));
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kFailed);
    CHECK_THAT(report.error, error_is(ErrorCode::kUnauthorized, "the token is not valid"));
    CHECK(fixture.store->state() == client::StoreState::kUnlocked);
    CHECK(fixture.store->outbox().size() == 1);
    CHECK(fixture.store->token() == std::string(kToken));
  }
  SECTION("a status the server's table does not name keeps the HTTP domain") {
    fixture.server.then_respond({418, {}, ""});
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kFailed);
    REQUIRE(report.error);
    CHECK(report.error->domain() == ErrorDomain::kHttp);
    CHECK(report.error->code() == 418);
  }
  CHECK(fixture.server.requests().size() == 1);
  CHECK(fixture.timer.waits().empty());
}

TEST_CASE("A 200 that is not a sync answer (a captive portal) fails clearly", "[sync]") {
  SyncFixture fixture;
  fixture.server.then_respond({200, {{"Content-Type", "text/html"}}, "<html>Log in</html>"});
  const SyncReport report = fixture.sync();
  CHECK(report.outcome == SyncOutcome::kFailed);
  CHECK_THAT(report.error, error_is(ErrorCode::kMalformed, "captive portal"));
}

TEST_CASE("Too many failed attempts in a row end the sync with the last error", "[sync]") {
  SyncFixture fixture;
  fixture.settings.retry.max_attempts = 3;
  fixture.server.then_fail("refused").then_fail("refused").then_fail("still refused");
  const SyncReport report = fixture.sync(1h);
  CHECK(report.outcome == SyncOutcome::kFailed);
  REQUIRE(report.error);
  CHECK(report.error->domain() == ErrorDomain::kNetwork);
  CHECK(std::string(report.error->what()) == "still refused");
  CHECK(fixture.timer.waits().size() == 2);
}

TEST_CASE("Pages are pulled while the server says more, each with the cursor before it", "[sync]") {
  SyncFixture fixture;
  for (int page = 1; page <= 3; ++page) {
    SyncResponse extra;
    extra.next_cursor = "cursor-" + std::to_string(page);
    extra.more = page < 3;
    extra.changes = {server_change("case", fixture.case_id, fixture.case_id, "status",
                                   Value::text("page " + std::to_string(page)),
                                   Hlc(1'709'200'000'000 + page, 0))};
    fixture.server.then(accept_all(fixture.server_time(), extra));
  }

  const SyncReport report = fixture.sync();

  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK(report.rounds == 3);
  CHECK(report.changes_pulled == 3);
  const auto requests = fixture.server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(request_of(requests[0]).cursor.empty());
  CHECK(request_of(requests[1]).cursor == "cursor-1");
  CHECK(request_of(requests[2]).cursor == "cursor-2");
  CHECK(request_of(requests[0]).write_groups.size() == 1);
  CHECK(request_of(requests[1]).write_groups.empty());  // pushed in the first round trip
  CHECK(fixture.store->record(fixture.case_id)->get("status")->as_text() == "page 3");
  CHECK(fixture.progress.size() == 3);
}

TEST_CASE("A server that says more forever is cut off by the round limit", "[sync]") {
  SyncFixture fixture;
  fixture.settings.max_rounds = 4;
  SyncResponse forever;
  forever.more = true;
  for (int i = 0; i < 10; ++i) fixture.server.then(accept_all(fixture.server_time(), forever));

  const SyncReport report = fixture.sync();

  CHECK(report.outcome == SyncOutcome::kRoundLimitReached);
  CHECK(report.rounds == 4);
  CHECK(fixture.server.requests().size() == 4);
}

TEST_CASE("The deadline stops the sync between round trips, keeping what was applied", "[sync]") {
  SyncFixture fixture;
  for (int page = 1; page <= 10; ++page) {
    fixture.server.then([&fixture, page](const HttpRequest& http) {
      fixture.timer.advance(4s);  // each round trip takes four seconds
      SyncResponse extra;
      extra.next_cursor = "cursor-" + std::to_string(page);
      extra.more = true;
      return accept_all(fixture.server_time(), extra)(http);
    });
  }

  const SyncReport report = fixture.sync(10s);

  CHECK(report.outcome == SyncOutcome::kDeadlineReached);
  CHECK(report.rounds == 3);  // at 0, 4 and 8 s; at 12 s the window is over
  CHECK_FALSE(report.error);
  CHECK(fixture.store->prepare_sync(10, {}).cursor == "cursor-3");
  // No request was given more time than the window had left.
  const auto requests = fixture.server.requests();
  CHECK(requests[0].timeout == 10s);
  CHECK(requests[2].timeout == 2s);
}

TEST_CASE("A cancel stops the sync between round trips, and wakes a wait", "[sync]") {
  SyncFixture fixture;
  std::atomic<bool> cancel{false};
  SECTION("set while a round trip is in flight: its answer is applied, then the sync stops") {
    SyncResponse extra;
    extra.more = true;
    extra.next_cursor = "cursor-1";
    fixture.server.then([&](const HttpRequest& http) {
      cancel = true;
      CHECK(http.cancel == &cancel);  // handed to the transport, which may abandon the request
      return accept_all(fixture.server_time(), extra)(http);
    });
    const SyncReport report = fixture.sync(30s, &cancel);
    CHECK(report.outcome == SyncOutcome::kCancelled);
    CHECK(report.rounds == 1);
    CHECK(fixture.store->outbox().empty());
    CHECK(fixture.store->prepare_sync(10, {}).cursor == "cursor-1");
  }
  SECTION("set while waiting to retry") {
    fixture.server.then_respond(error_answer(503, "unavailable", "busy", "20"));
    fixture.timer.on_wait([&] { cancel = true; });
    const SyncReport report = fixture.sync(60s, &cancel);
    CHECK(report.outcome == SyncOutcome::kCancelled);
    CHECK(fixture.server.requests().size() == 1);
  }
  SECTION("set before the sync begins: nothing is sent") {
    cancel = true;
    CHECK(fixture.sync(30s, &cancel).outcome == SyncOutcome::kCancelled);
    CHECK(fixture.server.requests().empty());
  }
}

TEST_CASE("The last sync error is sent as telemetry with the next sync, then cleared", "[sync]") {
  SyncFixture fixture;
  fixture.server.then_respond(error_answer(403, "forbidden", "not your team's device"));
  CHECK(fixture.sync().outcome == SyncOutcome::kFailed);

  fixture.reopen();  // a restart in between loses nothing
  fixture.store->unlock(StoreFixture::kPasscode);
  fixture.server.then(accept_all(fixture.server_time()));
  CHECK(fixture.sync().outcome == SyncOutcome::kCompleted);
  const Telemetry sent = request_of(fixture.server.requests().at(1)).telemetry;
  CHECK(sent.last_error_code == "forbidden");
  CHECK_THAT(sent.last_error_message, Catch::Contains("HTTP 403 forbidden"));
  CHECK_THAT(sent.last_error_message, Catch::Contains("not your team's device"));

  fixture.server.then(accept_all(fixture.server_time()));
  fixture.sync();
  CHECK(request_of(fixture.server.requests().at(2)).telemetry.last_error_code.empty());

  SECTION("a network failure is named by its domain and code") {
    fixture.settings.retry.max_attempts = 1;
    fixture.server.then_fail("no route to host");
    fixture.sync();
    fixture.server.then(accept_all(fixture.server_time()));
    fixture.sync();
    const Telemetry next = request_of(fixture.server.requests().back()).telemetry;
    CHECK(next.last_error_code == "network:7");
    CHECK(next.last_error_message == "no route to host");
  }
}

TEST_CASE("Directives end the sync with their own outcomes", "[sync]") {
  SyncFixture fixture;
  SECTION("upgrade required") {
    SyncResponse extra;
    extra.directives = {{1, DirectiveKind::kUpgradeRequired, {}, "0.2.0"}};
    fixture.server.then(accept_all(fixture.server_time(), extra));
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kUpgradeRequired);
    CHECK(report.minimum_core_version == "0.2.0");
  }
  SECTION("wipe") {
    SyncResponse extra;
    extra.directives = {{2, DirectiveKind::kWipe, {}, "device revoked"}};
    fixture.server.then(accept_all(fixture.server_time(), extra));
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kWiped);
    CHECK(fixture.store->state() == client::StoreState::kWiped);
    CHECK_FALSE(report.error);
  }
}

TEST_CASE("A device that was never enrolled, or a locked store, fails before any request",
          "[sync]") {
  SyncFixture fixture;
  SECTION("no token") {
    fixture.store->set_token("");
    CHECK_THAT(fixture.sync().error, error_is(ErrorCode::kUnauthorized, "enrol"));
  }
  SECTION("locked") {
    fixture.store->lock();
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kFailed);
    CHECK_THAT(report.error, error_is(ErrorCode::kLocked, "locked"));
  }
  CHECK(fixture.server.requests().empty());
}

TEST_CASE("Unusable settings are refused before anything happens", "[sync]") {
  SyncFixture fixture;
  fixture.settings.server_url = "http://sync.example.org";  // plain HTTP off this machine
  CHECK_THROWS_MATCHES(fixture.sync(), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.is(ErrorCode::kInvalidArgument);
                       }));
  fixture.settings.server_url = "http://127.0.0.1:8080/";  // loopback: tests and the demo
  fixture.server.then(accept_all(fixture.server_time()));
  CHECK(fixture.sync().outcome == SyncOutcome::kCompleted);
  CHECK(fixture.server.requests().at(0).url == "http://127.0.0.1:8080/v1/sync");
}

TEST_CASE("JSON bodies can be asked for, for debugging", "[sync]") {
  SyncFixture fixture;
  fixture.settings.format = WireFormat::kJson;
  fixture.server.then([&](const HttpRequest& http) {
    CHECK(header_of(http, "Content-Type") == "application/json");
    const SyncRequest request = request_of(http, WireFormat::kJson);
    SyncResponse response;
    response.server_time_ms = fixture.server_time();
    for (const WriteGroup& group : request.write_groups) response.acks.push_back(group.id);
    return sync_answer(response, WireFormat::kJson);
  });
  CHECK(fixture.sync().outcome == SyncOutcome::kCompleted);
  CHECK(fixture.store->outbox().empty());
}

// --- Compression ---

namespace {

// Visits with long, repetitive notes: a push that gzip shrinks well.
void record_long_visits(SyncFixture& fixture, int count) {
  for (int i = 0; i < count; ++i) {
    client::Fields visit = seen_alone_visit("garden");
    std::string notes;
    while (notes.size() < 2000) notes += "The kitchen was warm and Robin showed me the garden. ";
    visit["observations"] = Value::text(notes);
    client::Casework(*fixture.store).record_visit(fixture.case_id, visit);
  }
}

}  // namespace

TEST_CASE("Bodies travel in gzip both ways when they shrink", "[sync][compression]") {
  SyncFixture fixture;
  record_long_visits(fixture, 5);
  SyncResponse page;
  page.next_cursor = "cursor-1";
  for (int i = 0; i < 20; ++i) {
    page.changes.push_back(server_change("case", fixture.case_id, fixture.case_id, "referrer",
                                         Value::text(std::string(500, 'r')),
                                         Hlc(1'709'200'000'000 + i, 0)));
  }
  fixture.server.then([&](const HttpRequest& http) {
    CHECK(header_of(http, "Accept-Encoding") == "gzip");
    CHECK(header_of(http, "Content-Encoding") == "gzip");
    CHECK(http.body.size() * 4 < body_of(http).size());
    platform::HttpResponse answer = accept_all(fixture.server_time(), page)(http);
    answer.body = gzip(answer.body);
    answer.headers.emplace_back("Content-Encoding", "gzip");
    return answer;
  });
  const SyncReport report = fixture.sync();
  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK(report.changes_pushed == 6 * 5);
  CHECK(report.changes_pulled == 20);
  CHECK(fixture.store->record(fixture.case_id)->get("referrer")->as_text() ==
        std::string(500, 'r'));
}

TEST_CASE("A server that refuses gzip requests gets them plain", "[sync][compression]") {
  SyncFixture fixture;
  record_long_visits(fixture, 5);
  fixture.server
      .then([](const HttpRequest& http) {
        CHECK(header_of(http, "Content-Encoding") == "gzip");
        return error_answer(415, "unsupported_media_type", "no gzip here");
      })
      .then([&](const HttpRequest& http) {
        CHECK(header_of(http, "Content-Encoding").empty());
        return accept_all(fixture.server_time())(http);
      });
  const SyncReport report = fixture.sync();
  CHECK(report.outcome == SyncOutcome::kCompleted);
  CHECK(report.requests == 2);
  CHECK(fixture.server.steps_left() == 0);
}

TEST_CASE("Compression can be turned off, and a bomb in an answer is refused", "[sync][compression]") {
  SyncFixture fixture;
  record_long_visits(fixture, 5);
  SECTION("off: nothing compressed, nothing asked for") {
    fixture.settings.compress = false;
    fixture.server.then([&](const HttpRequest& http) {
      CHECK(header_of(http, "Content-Encoding").empty());
      CHECK(header_of(http, "Accept-Encoding").empty());
      return accept_all(fixture.server_time())(http);
    });
    CHECK(fixture.sync().outcome == SyncOutcome::kCompleted);
  }
  SECTION("an answer that inflates past the decoder's cap") {
    fixture.server.then([](const HttpRequest&) {
      return platform::HttpResponse{200,
                                    {{"Content-Type", std::string(kBinaryContentType)},
                                     {"Content-Encoding", "gzip"}},
                                    gzip(std::string(DecodeLimits{}.max_body_bytes + 1, 'x'))};
    });
    const SyncReport report = fixture.sync();
    CHECK(report.outcome == SyncOutcome::kFailed);
    CHECK_THAT(report.error, error_is(ErrorCode::kTooLarge, "inflates"));
    CHECK_FALSE(fixture.store->outbox().empty());
  }
}

// --- Enrolment ---

TEST_CASE("Enrolment trades a one-time code for the device's identity and token", "[sync][enrol]") {
  FakeHttpTransport server;
  const client::ClientInfo client{"ios 17.4", "1.0"};
  SECTION("accepted") {
    server.then([](const HttpRequest& http) {
      CHECK(http.url == "https://sync.example.org/v1/enrol");
      const auto body = nlohmann::json::parse(http.body);
      CHECK(body.at("code") == "AB12-CD34");
      CHECK(body.at("platform") == "ios 17.4");
      CHECK(body.at("app_version") == "1.0");
      CHECK(body.at("core_version") == std::string(client::core_version()));
      return platform::HttpResponse{
          200,
          {{"Content-Type", "application/json"}},
          R"({"device_id": "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6", "user_id": "alice",
              "token": "0190f1a23b4c7d5e8f60718293a4b5c6.9f3a", "server_time_ms": 1764150000000})"};
    });
    const client::Enrolment enrolment =
        client::enrol(server, "https://sync.example.org/", "AB12-CD34", client);
    CHECK(enrolment.device_id.to_string() == "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6");
    CHECK(enrolment.user_id == "alice");
    CHECK(enrolment.token == "0190f1a23b4c7d5e8f60718293a4b5c6.9f3a");
    CHECK(enrolment.server_time_ms == 1764150000000);
  }
  SECTION("a used code") {
    server.then_respond(error_answer(401, "unauthorized", "the code was already used"));
    CHECK_THROWS_MATCHES(client::enrol(server, "https://sync.example.org", "AB12-CD34", client),
                         Error, Catch::Predicate<Error>([](const Error& e) {
                           return e.is(ErrorCode::kUnauthorized) &&
                                  std::string(e.what()).find("already used") != std::string::npos;
                         }));
  }
  SECTION("too many attempts: the wait is in the message") {
    server.then_respond(error_answer(429, "rate_limited", "too many failed attempts", "30"));
    CHECK_THROWS_MATCHES(client::enrol(server, "https://sync.example.org", "AB12-CD34", client),
                         Error, Catch::Predicate<Error>([](const Error& e) {
                           return e.is(ErrorCode::kRateLimited) &&
                                  std::string(e.what()).find("try again in 30 s") !=
                                      std::string::npos;
                         }));
  }
  SECTION("no network") {
    server.then_fail("could not resolve host");
    CHECK_THROWS_MATCHES(client::enrol(server, "https://sync.example.org", "AB12-CD34", client),
                         Error, Catch::Predicate<Error>([](const Error& e) {
                           return e.domain() == ErrorDomain::kNetwork;
                         }));
  }
  SECTION("an answer without a token") {
    server.then_respond({200, {}, R"({"device_id": "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6"})"});
    CHECK_THROWS_MATCHES(
        client::enrol(server, "https://sync.example.org", "AB12-CD34", client), Error,
        Catch::Predicate<Error>([](const Error& e) { return e.is(ErrorCode::kMalformed); }));
  }
}
