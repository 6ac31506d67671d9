// HttpServer: option checks, the TLS context, the listening socket, the worker threads and the
// graceful stop. Connections themselves live in http_connection.cpp.
//
// Thread-safety: start() and stop() serialise on lifecycle_mutex_; the acceptor runs on its own
// strand; everything else the workers touch is either immutable after construction or locks.
#include "http/http_server.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "fieldsync/error.h"
#include "http/error_mapping.h"
#include "http/http_connection.h"

namespace fieldsync::server::http {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// After a failed accept (out of file descriptors, say), wait before trying again, not spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

asio::ip::address parse_bind_address(const std::string& text) {
  error_code error;
  const asio::ip::address address = asio::ip::make_address(text, error);
  if (error) {
    throw Error(ErrorCode::kInvalidArgument,
                "the bind address \"" + text + "\" is not an IP address");
  }
  return address;
}

bool is_loopback(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

void check_options(const HttpServerOptions& options, const asio::ip::address& address) {
  if (options.threads == 0) throw Error(ErrorCode::kInvalidArgument, "the server needs a thread");
  if (options.max_connections == 0) {
    throw Error(ErrorCode::kInvalidArgument, "the server must take at least one connection");
  }
  if (options.request_timeout.count() <= 0 || options.idle_timeout.count() <= 0 ||
      options.drain_timeout.count() < 0) {
    throw Error(ErrorCode::kInvalidArgument, "the server's timeouts must be positive");
  }
  if (!options.tls && !options.allow_plain_non_loopback && !is_loopback(address)) {
    throw Error(ErrorCode::kInvalidArgument,
                "refusing plain HTTP on " + options.bind_address +
                    ", which is not a loopback address: give a TLS certificate and key, or allow "
                    "plain HTTP explicitly (only behind a proxy that terminates TLS)");
  }
}

std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown reason";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

[[noreturn]] void throw_tls_error(const std::string& what, const std::string& file,
                                  const error_code& error) {
  throw Error(ErrorCode::kInvalidArgument,
              "TLS: cannot load the " + what + " from \"" + file + "\": " + error.message());
}

asio::ssl::context make_tls_context(const TlsFiles& files) {
  asio::ssl::context context(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  // A client asking to renegotiate can make the server do handshakes at will: refuse it.
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                      SSL_OP_NO_RENEGOTIATION);

  error_code error;
  context.use_certificate_chain_file(files.certificate_chain_file, error);
  if (error) throw_tls_error("certificate chain", files.certificate_chain_file, error);
  context.use_private_key_file(files.private_key_file, asio::ssl::context::pem, error);
  if (error) throw_tls_error("private key", files.private_key_file, error);
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    throw Error(ErrorCode::kInvalidArgument,
                "TLS: the private key does not match the certificate: " + openssl_reason());
  }
  return context;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        log_(options_.log ? options_.log : ServerLog::standard_error()),
        address_(parse_bind_address(options_.bind_address)),
        environment_{options_, handler_, *log_, registry_},
        acceptor_(asio::make_strand(io_context_)),
        accept_retry_(acceptor_.get_executor()) {
    if (!handler_) throw Error(ErrorCode::kInvalidArgument, "the server needs a handler");
    check_options(options_, address_);
    if (options_.tls) tls_context_.emplace(make_tls_context(*options_.tls));
  }

  ~Impl() { stop(); }

  void run_periodically(std::chrono::milliseconds interval, std::function<void()> task) {
    const std::lock_guard lock(lifecycle_mutex_);
    if (started_) throw Error(ErrorCode::kInvalidArgument, "add periodic tasks before start()");
    if (interval.count() <= 0 || !task) {
      throw Error(ErrorCode::kInvalidArgument, "a periodic task needs a positive interval");
    }
    periodic_.push_back(std::make_unique<PeriodicTask>(
        PeriodicTask{interval, std::move(task), asio::steady_timer(asio::make_strand(io_context_))}));
  }

  void start() {
    const std::lock_guard lock(lifecycle_mutex_);
    if (started_) throw Error(ErrorCode::kInvalidArgument, "the server was already started");
    listen();
    started_ = true;
    work_guard_.emplace(io_context_.get_executor());
    for (const auto& periodic : periodic_) schedule(*periodic);
    accept_next();
    for (unsigned i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { run_worker(); });
    log_->info("http_listening", {{"address", options_.bind_address},
                                  {"port", port_.load()},
                                  {"tls", tls_context_.has_value()},
                                  {"threads", options_.threads}});
  }

  std::uint16_t port() const { return port_.load(); }

  void stop() {
    const std::lock_guard lock(lifecycle_mutex_);
    if (!started_ || stopped_) return;
    stopped_ = true;

    asio::post(acceptor_.get_executor(), [this] { stop_accepting(); });
    periodic_stopped_.store(true);
    for (const auto& periodic : periodic_) {
      asio::post(periodic->timer.get_executor(), [&timer = periodic->timer] { timer.cancel(); });
    }
    for (const auto& connection : registry_.begin_stopping()) connection->on_server_stopping();
    if (!registry_.wait_until_empty(options_.drain_timeout)) {
      const auto stragglers = registry_.live();
      log_->warning("http_drain_timeout", {{"connections_closed", stragglers.size()}});
      for (const auto& connection : stragglers) connection->close();
    }
    // With no connection, no acceptor and no guard, each worker's run() returns.
    work_guard_.reset();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    log_->info("http_stopped", {{"port", port_.load()}});
  }

 private:
  void listen() {
    const tcp::endpoint endpoint(address_, options_.port);
    try {
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(tcp::acceptor::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen(asio::socket_base::max_listen_connections);
    } catch (const boost::system::system_error& error) {
      error_code ignored;
      acceptor_.close(ignored);
      throw Error(ErrorCode::kIo, "cannot listen on " + options_.bind_address + " port " +
                                      std::to_string(options_.port) + ": " +
                                      error.code().message());
    }
    port_.store(acceptor_.local_endpoint().port());
  }

  // A task's runs follow one another on its timer's strand; stop() cancels the wait there, after
  // a run in progress has scheduled the next one, or sees periodic_stopped_ first.
  struct PeriodicTask {
    std::chrono::milliseconds interval;
    std::function<void()> task;
    asio::steady_timer timer;
  };

  void schedule(PeriodicTask& periodic) {
    periodic.timer.expires_after(periodic.interval);
    periodic.timer.async_wait([this, &periodic](error_code error) {
      if (error || periodic_stopped_.load()) return;
      try {
        periodic.task();
      } catch (const std::exception& failure) {
        log_->error("periodic_task_failed", {{"cause", describe_for_log(failure)}});
      }
      if (!periodic_stopped_.load()) schedule(periodic);
    });
  }

  // On the acceptor's strand from here on.
  void accept_next() {
    acceptor_.async_accept(
        asio::make_strand(io_context_),
        [this](error_code error, tcp::socket socket) { on_accept(error, std::move(socket)); });
  }

  void on_accept(error_code error, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (error) {
      log_->warning("http_accept_failed", {{"cause", error.message()}});
      accept_retry_.expires_after(kAcceptRetryDelay);
      accept_retry_.async_wait([this](error_code wait_error) {
        if (!wait_error && acceptor_.is_open()) accept_next();
      });
      return;
    }
    accept_connection(environment_, std::move(socket), tls_context_ ? &*tls_context_ : nullptr);
    accept_next();
  }

  void stop_accepting() {
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  }

  // A handler's exception never gets here (the connection catches it); anything else that
  // escapes a completion handler is logged and the worker goes on serving.
  void run_worker() {
    while (true) {
      try {
        io_context_.run();
        return;
      } catch (const std::exception& error) {
        log_->error("http_worker_exception", {{"cause", describe_for_log(error)}});
      }
    }
  }

  const HttpServerOptions options_;
  const Handler handler_;
  const std::shared_ptr<ServerLog> log_;
  const asio::ip::address address_;
  std::optional<asio::ssl::context> tls_context_;
  ConnectionRegistry registry_;
  const ConnectionEnvironment environment_;
  std::atomic<std::uint16_t> port_{0};

  std::mutex lifecycle_mutex_;  // guards started_, stopped_, threads_, work_guard_
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::thread> threads_;

  // Declared last so that it is destroyed first: the handlers it still holds own connections,
  // whose destructors use the registry above.
  asio::io_context io_context_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::vector<std::unique_ptr<PeriodicTask>> periodic_;  // fixed once started
  std::atomic<bool> periodic_stopped_{false};
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  impl_->start();
}

void HttpServer::run_periodically(std::chrono::milliseconds interval, std::function<void()> task) {
  impl_->run_periodically(interval, std::move(task));
}

std::uint16_t HttpServer::port() const {
  return impl_->port();
}

void HttpServer::stop() {
  impl_->stop();
}

}  // namespace fieldsync::server::http
