// The sync server's HTTP/1.1 listener (Boost.Beast on Asio): keep-alive connections, optional
// TLS, caps on body size, time and open connections, and a graceful stop. Each complete request is
// handed to one Handler (in production Router::dispatch) and its Response is written back; the
// errors this layer produces itself (400 malformed HTTP, 408, 413, 503 over the connection cap)
// come from error_mapping.h like any other, and each is reported to on_refusal.
//
// I/O is asynchronous, so idle connections hold no thread; handlers run on the worker threads
// and may block (the storage is SQLite), which holds that one thread for as long.
// Plain HTTP is refused on a non-loopback address unless allowed explicitly (DESIGN.md section 5).
//
// Thread-safety: start(), stop() and port() may be called from any thread except a worker (a
// handler calling stop() would wait for itself). The Handler is called concurrently from all
// worker threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/http_types.h"
#include "http/server_log.h"

namespace fieldsync::server::http {

struct TlsFiles {
  std::string certificate_chain_file;  // PEM: the server's certificate, then intermediates
  std::string private_key_file;        // PEM, unencrypted
};

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";  // an IP address, v4 or v6, not a host name
  std::uint16_t port = 0;                  // 0: an ephemeral port; port() tells which
  // Handlers block on storage (a sync waits for its commit's fsync), so there are more threads
  // than cores: while some wait for the disk, others decode and encode, and commits made
  // meanwhile share the next fsync.
  unsigned threads = 8;
  std::size_t max_body_bytes = 32 * 1024 * 1024;
  // From a request's first byte to its last (headers and body). Also bounds the TLS handshake
  // plus the first request of a connection, and the writing of each response.
  std::chrono::milliseconds request_timeout{30'000};
  // How long a kept-alive connection may wait for its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  // How long stop() waits for requests in flight before closing their connections.
  std::chrono::milliseconds drain_timeout{10'000};
  // Connections open at once. One more is answered 503 with Retry-After and closed (after its
  // TLS handshake, on HTTPS); it holds no worker thread meanwhile. Each open connection holds a
  // file descriptor: keep the process's open-file limit (ulimit -n) above this.
  std::size_t max_connections = 1000;
  std::optional<TlsFiles> tls;  // TLS 1.2 or later when set
  bool allow_plain_non_loopback = false;
  // The access log (one line per request) and the server's own events; null: stderr.
  std::shared_ptr<ServerLog> log;
  // Hears of every refusal of the HTTP layer itself (http_types.h), from any worker thread at
  // once, so it must be quick and thread-safe (the server counts them in its metrics). May be null.
  std::function<void(Refusal)> on_refusal;
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  // Checks the options and loads the TLS files; binds nothing yet. Throws Error(kInvalidArgument)
  // for an unusable option (a bind address that is not an IP address, zero threads or
  // connections, plain HTTP on a non-loopback address without allow_plain_non_loopback, TLS files
  // that do not load).
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the worker threads; returns once connections are accepted.
  // Throws Error(kIo) when the address cannot be bound, Error(kInvalidArgument) when called twice.
  void start();

  // Runs `task` on a worker thread every `interval`, from start() until stop() (which lets a run in
  // progress finish). Call before start(). A task that throws is logged and runs again next time.
  void run_periodically(std::chrono::milliseconds interval, std::function<void()> task);

  // The bound port once start() has returned (the chosen one when options.port was 0), else 0.
  std::uint16_t port() const;

  // Stops accepting, closes idle connections, lets requests in flight finish and answers them
  // with Connection: close, then joins the threads. Connections still busy after drain_timeout are
  // closed; a handler still running then is waited for (a thread cannot be interrupted), and its
  // answer is lost. Idempotent.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync::server::http
