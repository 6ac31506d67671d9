// HTTPS: a throwaway CA and server certificate made with the openssl tool; a libcurl client that
// trusts that CA gets through, one that trusts another CA fails verification.
#include <catch2/catch.hpp>

#include <curl/curl.h>

#include "fieldsync/dev/scratch_dir.h"
#include "fieldsync/error.h"
#include "http/http_server.h"
#include "http/router.h"
#include "http_test_client.h"

using namespace fieldsync;
using namespace fieldsync::server::http;
using namespace fieldsync::test;

TEST_CASE("HttpServer serves HTTPS that a client verifies against the right CA only",
          "[http][tls]") {
  const dev::ScratchDir directory;
  const TestPki pki = make_test_pki(directory, "fieldsync");
  const TestPki stranger = make_test_pki(directory, "stranger");

  Router router(silent_log());
  router.add({"GET", "/v1/hello", "hello", [](const Request&, const PathParams&) {
                return json_response(200, {{"hello", "over TLS"}});
              }});
  HttpServerOptions options = test_server_options();
  options.tls = TlsFiles{pki.server_certificate_file, pki.server_key_file};
  auto server = start_server(router, options);
  const std::string url = "https://127.0.0.1:" + std::to_string(server->port()) + "/v1/hello";

  SECTION("a client that trusts the server's CA gets the answer") {
    const CurlResult result = curl_get(url, pki.ca_certificate_file);
    REQUIRE(result.curl_code == CURLE_OK);
    CHECK(result.status == 200);
    CHECK(nlohmann::json::parse(result.body) == nlohmann::json{{"hello", "over TLS"}});
    // And again: each connection is verified, the server handles several.
    CHECK(curl_get(url, pki.ca_certificate_file).status == 200);
  }

  SECTION("a client that trusts another CA refuses the server") {
    const CurlResult result = curl_get(url, stranger.ca_certificate_file);
    CHECK(result.curl_code == CURLE_PEER_FAILED_VERIFICATION);
    CHECK(result.body.empty());
  }

  SECTION("plain HTTP to the TLS port gets no answer") {
    TestConnection plain(server->port(), 2s);
    plain.send_raw(raw_request("GET", "/v1/hello", ""));
    CHECK_THROWS(plain.read_response());
  }

  SECTION("with TLS, a non-loopback address is allowed") {
    HttpServerOptions everywhere = options;
    everywhere.bind_address = "0.0.0.0";
    CHECK_NOTHROW(HttpServer(everywhere, [](const Request&) { return json_response(200, {}); }));
  }

  SECTION("TLS files that do not load or do not match are refused up front") {
    HttpServerOptions broken = options;
    broken.tls->private_key_file = stranger.server_key_file;
    CHECK_THROWS_AS(HttpServer(broken, [](const Request&) { return json_response(200, {}); }),
                    Error);
    broken.tls->certificate_chain_file = directory.file("missing.pem");
    CHECK_THROWS_AS(HttpServer(broken, [](const Request&) { return json_response(200, {}); }),
                    Error);
  }
}
