// Clients and fixtures for the HTTP server's socket tests: a raw Beast connection whose every
// wait is bounded (a server bug fails a test instead of hanging it), a libcurl GET for HTTPS with
// a chosen CA, a throwaway PKI made with the openssl tool, and a server with a silent log.
// One thread at a time per object.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "fieldsync/dev/scratch_dir.h"
#include "http/http_server.h"
#include "http/router.h"
#include "http/server_log.h"

namespace fieldsync::test {

using namespace std::chrono_literals;
using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;
using boost::system::error_code;

// A log that writes nothing (threshold kOff), for servers and routers whose lines don't matter.
std::shared_ptr<server::http::ServerLog> silent_log();

// A log kept in memory. Read lines() only once the writers have stopped (after HttpServer::stop).
// Each line of a JSON-lines text (the server's log) parsed; a line that is not JSON throws.
std::vector<nlohmann::json> json_lines(const std::string& text);

class CapturedLog {
 public:
  CapturedLog() : log_(std::make_shared<server::http::ServerLog>(sink_)) {}
  const std::shared_ptr<server::http::ServerLog>& log() const { return log_; }
  std::string text() const { return sink_.str(); }
  std::vector<nlohmann::json> lines() const { return json_lines(text()); }

 private:
  std::ostringstream sink_;
  std::shared_ptr<server::http::ServerLog> log_;
};

// Options for a test server: loopback, ephemeral port, silent log.
server::http::HttpServerOptions test_server_options();

// A started server that dispatches to `router` (which must outlive it).
std::unique_ptr<server::http::HttpServer> start_server(
    const server::http::Router& router,
    server::http::HttpServerOptions options = test_server_options());

// One client connection to 127.0.0.1:port.
class TestConnection {
 public:
  explicit TestConnection(std::uint16_t port, std::chrono::milliseconds timeout = 5s);

  // Throws std::runtime_error when the bytes cannot be written within the timeout.
  void send_raw(std::string_view bytes);
  // The next response; throws std::runtime_error (with Beast's reason) when none arrives whole.
  WireResponse read_response();
  // The answer to a HEAD request: headers only, whatever its Content-Length says.
  WireResponse read_head_response();
  // send + read of a simple request.
  WireResponse request(std::string_view method, std::string_view target, std::string body = {},
                       std::vector<std::pair<std::string, std::string>> headers = {});
  // Reads (and drops) until the connection ends; the error that ended it: asio::error::eof when
  // the server closed it, beast::error::timeout when it was still open after `within`.
  error_code read_until_closed(std::chrono::milliseconds within);

 private:
  template <class Initiate>
  error_code run_bounded(Initiate initiate, std::chrono::milliseconds timeout);

  boost::asio::io_context io_context_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

// A raw request text for send_raw.
std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view extra_headers = {});

nlohmann::json json_body(const WireResponse& response);

struct CurlResult {
  int curl_code = 0;  // CURLcode: 0 is CURLE_OK
  long status = 0;
  std::string body;
};

// GET `url` with libcurl, trusting only the CA in `ca_file` (and checking the host name).
CurlResult curl_get(const std::string& url, const std::string& ca_file);

// A CA and a server certificate for 127.0.0.1 and localhost that it signed, made with the openssl
// command-line tool into `directory`. Throws std::runtime_error when the tool fails.
struct TestPki {
  std::string ca_certificate_file;
  std::string server_certificate_file;
  std::string server_key_file;
};
TestPki make_test_pki(const dev::ScratchDir& directory, const std::string& name);

}  // namespace fieldsync::test
