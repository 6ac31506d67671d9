// Test clients and fixtures for the HTTP server (see http_test_client.h).
#include "http_test_client.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <curl/curl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>

namespace fieldsync::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace wire = boost::beast::http;

std::shared_ptr<server::http::ServerLog> silent_log() {
  static std::ostringstream never_written;
  return std::make_shared<server::http::ServerLog>(never_written, server::http::LogLevel::kOff);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> parsed;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
  return parsed;
}

server::http::HttpServerOptions test_server_options() {
  server::http::HttpServerOptions options;
  options.log = silent_log();
  return options;
}

std::unique_ptr<server::http::HttpServer> start_server(const server::http::Router& router,
                                                       server::http::HttpServerOptions options) {
  auto server = std::make_unique<server::http::HttpServer>(
      std::move(options),
      [&router](const server::http::Request& request) { return router.dispatch(request); });
  server->start();
  return server;
}

TestConnection::TestConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : stream_(io_context_), timeout_(timeout) {
  const asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
  const error_code error =
      run_bounded([&](auto done) { stream_.async_connect(server, std::move(done)); }, timeout_);
  if (error) throw std::runtime_error("cannot connect to the test server: " + error.message());
}

template <class Initiate>
error_code TestConnection::run_bounded(Initiate initiate, std::chrono::milliseconds timeout) {
  error_code result = asio::error::would_block;
  stream_.expires_after(timeout);
  initiate([&result](error_code error, auto&&...) { result = error; });
  io_context_.restart();
  io_context_.run();
  return result;
}

void TestConnection::send_raw(std::string_view bytes) {
  const error_code error = run_bounded(
      [&](auto done) { asio::async_write(stream_, asio::buffer(bytes), std::move(done)); },
      timeout_);
  if (error) throw std::runtime_error("cannot send to the test server: " + error.message());
}

WireResponse TestConnection::read_response() {
  WireResponse response;
  const error_code error = run_bounded(
      [&](auto done) { wire::async_read(stream_, buffer_, response, std::move(done)); }, timeout_);
  if (error) throw std::runtime_error("no whole response: " + error.message());
  return response;
}

WireResponse TestConnection::read_head_response() {
  wire::response_parser<wire::string_body> parser;
  parser.skip(true);
  const error_code error = run_bounded(
      [&](auto done) { wire::async_read(stream_, buffer_, parser, std::move(done)); }, timeout_);
  if (error) throw std::runtime_error("no whole response: " + error.message());
  return parser.release();
}

WireResponse TestConnection::request(std::string_view method, std::string_view target,
                                     std::string body,
                                     std::vector<std::pair<std::string, std::string>> headers) {
  std::string extra;
  for (const auto& [name, value] : headers) extra += name + ": " + value + "\r\n";
  send_raw(raw_request(method, target, body, extra));
  return read_response();
}

error_code TestConnection::read_until_closed(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return beast::error::timeout;
    std::size_t received = 0;
    error_code error = run_bounded(
        [&](auto done) {
          stream_.async_read_some(buffer_.prepare(4096), [&received, done = std::move(done)](
                                                             error_code e, std::size_t n) mutable {
            received = n;
            done(e);
          });
        },
        left);
    if (error) return error;
    buffer_.commit(received);
    buffer_.consume(buffer_.size());
  }
}

std::string raw_request(std::string_view method, std::string_view target, std::string_view body,
                        std::string_view extra_headers) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  text += "Host: 127.0.0.1\r\n";
  text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += std::string(extra_headers) + "\r\n";
  text += body;
  return text;
}

nlohmann::json json_body(const WireResponse& response) {
  return nlohmann::json::parse(response.body());
}

namespace {

std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

void run_openssl(const std::string& arguments, const dev::ScratchDir& directory) {
  const std::string command =
      "cd '" + directory.path().string() + "' && openssl " + arguments + " 2>>openssl.log";
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("openssl failed: " + arguments + "\n" +
                             dev::read_file(directory.file("openssl.log")));
  }
}

}  // namespace

CurlResult curl_get(const std::string& url, const std::string& ca_file) {
  CurlResult result;
  CURL* curl = curl_easy_init();
  if (!curl) throw std::runtime_error("curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);  // this CA only, not the system's store
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  result.curl_code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_easy_cleanup(curl);
  return result;
}

TestPki make_test_pki(const dev::ScratchDir& directory, const std::string& name) {
  const std::string ca = name + "-ca";
  const std::string server = name + "-server";
  const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  run_openssl("req -x509 " + ec_key + " -days 1 -subj '/CN=fieldsync test CA " + name +
                  "' -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign,cRLSign -keyout " +
                  ca + ".key -out " + ca + ".pem",
              directory);
  run_openssl(
      "req " + ec_key + " -subj '/CN=127.0.0.1' -keyout " + server + ".key -out " + server + ".csr",
      directory);
  std::ofstream(directory.file(server + ".ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                                    "basicConstraints=CA:FALSE\n"
                                                    "keyUsage=critical,digitalSignature\n"
                                                    "extendedKeyUsage=serverAuth\n";
  run_openssl("x509 -req -in " + server + ".csr -CA " + ca + ".pem -CAkey " + ca +
                  ".key -set_serial 2 -days 1 -extfile " + server + ".ext -out " + server + ".pem",
              directory);
  return {directory.file(ca + ".pem"), directory.file(server + ".pem"),
          directory.file(server + ".key")};
}

}  // namespace fieldsync::test
