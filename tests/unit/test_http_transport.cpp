// The HTTP transport seam (platform/): the libcurl transport's failures are network errors that
// name what failed, header lookup ignores case, and the scripted fake answers in order and keeps
// what it was sent. A real exchange with a listener is covered by the server's integration tests.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"

using namespace fieldsync;
using namespace fieldsync::platform;
using namespace std::chrono_literals;

namespace {

// A loopback port nobody listens on: bound by the kernel's choice, then released.
int closed_loopback_port() {
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(sock);
  return ntohs(address.sin_port);
}

}  // namespace

TEST_CASE("curl: a refused connection is a network error naming the request", "[transport]") {
  const auto transport = make_curl_transport();
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(closed_loopback_port()) + "/v1/sync";
  request.body = "x";
  request.timeout = 5s;
  try {
    transport->send(request);
    FAIL("a closed port answered");
  } catch (const Error& error) {
    CHECK(error.domain() == ErrorDomain::kNetwork);
    CHECK(error.code() != 0);
    CHECK_THAT(error.what(), Catch::Contains("POST " + request.url + " failed"));
  }
  // The handle stays usable after a failure (the next sync reuses it).
  CHECK_THROWS_AS(transport->send(request), Error);
}

TEST_CASE("curl: a cancelled or impossible request fails as a network error", "[transport]") {
  const auto transport = make_curl_transport();
  HttpRequest request;
  request.url = "ftp://127.0.0.1/";  // only http and https are spoken
  CHECK_THROWS_MATCHES(transport->send(request), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.domain() == ErrorDomain::kNetwork;
                       }));
  request.url = "http://127.0.0.1:1/";
  request.headers = {{"X-Injected", "a\r\nHost: elsewhere"}};
  CHECK_THROWS_MATCHES(transport->send(request), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.is(ErrorCode::kInvalidArgument);
                       }));
}

TEST_CASE("Response headers are found whatever their case", "[transport]") {
  HttpResponse response;
  response.headers = {
      {"content-type", "application/json"}, {"Retry-After", "5"}, {"retry-after", "9"}};
  CHECK(response.header("Content-Type") == "application/json");
  CHECK(response.header("RETRY-AFTER") == "5");  // the first one
  CHECK(response.header("Location").empty());
}

TEST_CASE("The fake transport answers from its script and keeps every request", "[transport]") {
  FakeHttpTransport fake;
  fake.then_respond({204, {}, ""}).then_fail("unplugged");
  HttpRequest request;
  request.url = "https://sync.example.org/v1/sync";
  CHECK(fake.send(request).status == 204);
  CHECK_THROWS_MATCHES(fake.send(request), Error, Catch::Predicate<Error>([](const Error& e) {
                         return e.domain() == ErrorDomain::kNetwork &&
                                std::string(e.what()) == "unplugged";
                       }));
  CHECK_THROWS_AS(fake.send(request), Error);  // beyond the script
  CHECK(fake.requests().size() == 3);
  CHECK(fake.steps_left() == 0);
}
