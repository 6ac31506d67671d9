// A connection's life: (TLS handshake), then per request: wait for its first byte, read headers
// (answering Expect: 100-continue), read the body under the cap, call the handler, write the
// answer; then close gracefully or wait for the next request. One deadline timer serves every
// phase; what its expiry means depends on the phase (see on_deadline). A connection over the cap
// is answered 503 right after the handshake, without reading its request, and closed.
//
// Thread-safety: a connection's members are touched only on its strand. The registry locks.
#include "http/http_connection.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>

#include "fieldsync/error.h"
#include "http/error_mapping.h"

namespace fieldsync::server::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace wire = boost::beast::http;  // Beast's HTTP messages; `http` is this layer's namespace
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kHeaderLimitBytes = 16 * 1024;
constexpr std::size_t kReadChunkBytes = 16 * 1024;
// How long a closing connection waits for the peer's close (TLS close_notify, or the end of input
// it had not finished sending): enough for an answer to reach the peer before its socket resets.
constexpr std::chrono::milliseconds kCloseGrace{2'000};
constexpr std::string_view kContinueInterim = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view std_view(beast::string_view text) {
  return {text.data(), text.size()};
}

bool is_framing_header(std::string_view name) {
  return header_names_equal(name, "Content-Length") ||
         header_names_equal(name, "Transfer-Encoding") || header_names_equal(name, "Connection");
}

bool is_safe_header_text(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// A handler's answer that cannot go on the wire as it is (a status out of range, a header that
// would split the message) is a server fault.
bool is_sendable(const Response& response) {
  if (response.status < 200 || response.status > 599) return false;
  if ((response.status == 204 || response.status == 304) && !response.body.empty()) return false;
  if (!is_safe_header_text(response.content_type)) return false;
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || !is_safe_header_text(name) || !is_safe_header_text(value)) return false;
  }
  return true;
}

// The server owns the framing (Content-Length, Connection); a handler's copies of those are
// dropped. The answer to HEAD keeps its Content-Length but not its body.
wire::response<wire::string_body> to_wire(Response response, unsigned version, bool keep_alive,
                                          bool answers_head) {
  wire::response<wire::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(response.status));
  if (!response.content_type.empty()) {
    message.set(wire::field::content_type, response.content_type);
  }
  for (auto& [name, value] : response.headers) {
    if (!is_framing_header(name)) message.insert(name, value);
  }
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  if (response.status == 204) message.erase(wire::field::content_length);  // RFC 9110 8.6
  if (answers_head) message.body().clear();
  return message;
}

Request to_request(wire::request<wire::string_body>&& message, const std::string& remote_address) {
  Request request;
  request.method = std::string(std_view(message.method_string()));
  const std::string_view target = std_view(message.target());
  const std::size_t question_mark = target.find('?');
  request.path = std::string(target.substr(0, question_mark));
  if (question_mark != std::string_view::npos) {
    request.query = std::string(target.substr(question_mark + 1));
  }
  for (const auto& field : message) {
    request.headers.emplace_back(std_view(field.name_string()), std_view(field.value()));
  }
  request.body = std::move(message.body());
  request.remote_address = remote_address;
  return request;
}

bool expects_continue(const wire::request<wire::string_body>& message) {
  return message.version() >= 11 &&
         header_names_equal(std_view(message[wire::field::expect]), "100-continue");
}

// Beast's own parse errors (as opposed to the socket's, or the peer leaving mid-message).
bool is_malformed_http(error_code error) {
  static const auto& http_category = wire::make_error_code(wire::error::bad_method).category();
  return error.category() == http_category && error != wire::error::end_of_stream &&
         error != wire::error::partial_message;
}

std::int64_t whole_milliseconds(std::chrono::milliseconds duration) {
  return duration.count();
}

enum class Phase { kHandshake, kIdle, kReadingRequest, kHandling, kWriting, kClosing, kClosed };

// What the access log says about the exchange in progress.
struct Exchange {
  Clock::time_point started;
  std::string method;  // empty until the request line is read (never, for a refused connection)
  std::size_t request_bytes = 0;
  std::optional<Refusal> refusal;  // set when the HTTP layer answered by itself
};

// The access log's word for what is not known: the method of a request that was never read, the
// route of one no route saw.
constexpr std::string_view kUnknown = "-";

template <class Stream>
class StreamConnection final : public Connection,
                               public std::enable_shared_from_this<StreamConnection<Stream>> {
  static constexpr bool kIsTls = !std::is_same_v<Stream, tcp::socket>;

 public:
  template <class... StreamArguments>
  StreamConnection(const ConnectionEnvironment& environment, std::string remote_address,
                   tcp::socket socket, StreamArguments&... stream_arguments)
      : environment_(environment),
        remote_address_(std::move(remote_address)),
        stream_(std::move(socket), stream_arguments...),
        deadline_(stream_.get_executor()) {}

  ~StreamConnection() override { environment_.registry.remove(this); }

  void start() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void refuse_over_capacity() override {
    over_capacity_ = true;  // before the strand runs anything of this connection
    start();
  }

  void on_server_stopping() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->phase_ == Phase::kHandshake || self->phase_ == Phase::kIdle) self->close_now();
    });
  }

  // The flag reaches a handler that is running now (the posted close waits for it on the strand),
  // so that its answer is dropped rather than sent after all.
  void close() override {
    abandoned_.store(true);
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  const HttpServerOptions& options() const { return environment_.options; }

  template <class Member>
  auto continue_with(Member member) {
    return beast::bind_front_handler(member, this->shared_from_this());
  }

  // The first request's deadline runs from accept: it bounds the handshake and the wait too, so
  // a peer that connects and says nothing is dropped at the request timeout, not the idle one.
  void begin() {
    arm_deadline(options().request_timeout);
    if constexpr (kIsTls) {
      phase_ = Phase::kHandshake;
      stream_.async_handshake(asio::ssl::stream_base::server,
                              continue_with(&StreamConnection::on_handshake));
    } else {
      after_handshake();
    }
  }

  void on_handshake(error_code error) {
    if (error) return close_now();
    after_handshake();
  }

  void after_handshake() {
    if (over_capacity_) return answer_over_capacity();
    wait_for_request();
  }

  // Said at once, without reading the request: nothing of it would be used.
  void answer_over_capacity() {
    exchange_ = Exchange{Clock::now(), {}, 0, {}};
    report(Refusal::kConnectionLimit);
    answer_and_close(error_response(ErrorCode::kUnavailable,
                                    "the server has as many connections open as it takes (" +
                                        std::to_string(options().max_connections) +
                                        "); try again in a moment"));
  }

  void report(Refusal refusal) {
    exchange_.refusal = refusal;
    if (options().on_refusal) options().on_refusal(refusal);
  }

  // Waiting for a request's first byte is idleness; from that byte on, the request timeout runs.
  void wait_for_request() {
    if (buffer_.size() > 0) return read_header();  // the next request arrived with the last one
    phase_ = Phase::kIdle;
    if (!first_request_) arm_deadline(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunkBytes),
                            continue_with(&StreamConnection::on_first_bytes));
  }

  void on_first_bytes(error_code error, std::size_t bytes) {
    if (error) return close_now();  // the peer left, the wait ran out, or the server stops
    buffer_.commit(bytes);
    read_header();
  }

  void read_header() {
    phase_ = Phase::kReadingRequest;
    if (!first_request_) arm_deadline(options().request_timeout);
    first_request_ = false;
    exchange_ = Exchange{Clock::now(), {}, 0, {}};
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(options().max_body_bytes);  // a Content-Length over it fails here already
    wire::async_read_header(stream_, buffer_, *parser_,
                            continue_with(&StreamConnection::on_header));
  }

  void on_header(error_code error, std::size_t) {
    if (error || request_timed_out_) return on_read_failed(error);
    exchange_.method = std::string(std_view(parser_->get().method_string()));
    if (!expects_continue(parser_->get())) return read_body();
    asio::async_write(stream_, asio::buffer(kContinueInterim.data(), kContinueInterim.size()),
                      continue_with(&StreamConnection::on_continue_sent));
  }

  void on_continue_sent(error_code error, std::size_t) {
    if (error || request_timed_out_) return on_read_failed(error);
    read_body();
  }

  void read_body() {
    wire::async_read(stream_, buffer_, *parser_, continue_with(&StreamConnection::on_body));
  }

  void on_body(error_code error, std::size_t) {
    if (error || request_timed_out_) return on_read_failed(error);
    handle_request();
  }

  void on_read_failed(error_code error) {
    if (request_timed_out_) {
      report(Refusal::kRequestTimeout);
      return answer_and_close(error_response(
          ProtocolError::kRequestTimeout,
          "the request did not arrive whole within " +
              std::to_string(whole_milliseconds(options().request_timeout)) + " ms"));
    }
    if (error == wire::error::body_limit) {
      report(Refusal::kBodyTooLarge);
      return answer_and_close(error_response(
          ErrorCode::kTooLarge,
          "the body is over the cap of " + std::to_string(options().max_body_bytes) + " bytes"));
    }
    if (error == wire::error::header_limit) {
      report(Refusal::kHeadersTooLarge);
      return answer_and_close(error_response(
          ErrorCode::kTooLarge,
          "the request headers are over " + std::to_string(kHeaderLimitBytes) + " bytes"));
    }
    if (is_malformed_http(error)) {
      report(Refusal::kMalformed);
      return answer_and_close(
          error_response(ErrorCode::kMalformed, "the request is not valid HTTP/1.1"));
    }
    close_now();  // the peer went away or the connection failed: nobody to answer
  }

  // After a request that was not read to its end, the connection cannot carry another one.
  void answer_and_close(Response response) {
    close_after_answer_ = true;
    input_left_unread_ = true;
    send(std::move(response), 11);
  }

  void handle_request() {
    disarm_deadline();
    phase_ = Phase::kHandling;
    wire::request<wire::string_body> message = parser_->release();
    const unsigned version = message.version();
    const bool peer_keeps_alive = message.keep_alive();
    const Request request = to_request(std::move(message), remote_address_);
    exchange_.request_bytes = request.body.size();
    Response response = call_handler(request);
    if (abandoned_.load()) return close_now();
    // Asked after the handler, which may have run while the server began to stop.
    close_after_answer_ = !peer_keeps_alive || environment_.registry.stopping();
    send(std::move(response), version);
  }

  // Router::dispatch never throws, but the server takes any Handler.
  Response call_handler(const Request& request) {
    Response response;
    try {
      response = environment_.handler(request);
    } catch (const std::exception& error) {
      environment_.log.error("handler_failed", {{"cause", describe_for_log(error)}});
      return error_response(error);
    } catch (...) {
      environment_.log.error("handler_failed",
                             {{"cause", "a thrown value that is not a std::exception"}});
      return error_response(ErrorCode::kInternal, std::string(kGenericInternalMessage));
    }
    if (is_sendable(response)) return response;
    environment_.log.error("unsendable_response",
                           {{"route", response.route_name}, {"status", response.status}});
    Response fault = error_response(ErrorCode::kInternal, std::string(kGenericInternalMessage));
    fault.route_name = std::move(response.route_name);
    return fault;
  }

  void send(Response response, unsigned version) {
    phase_ = Phase::kWriting;
    answered_route_ = std::move(response.route_name);
    answer_ =
        to_wire(std::move(response), version, !close_after_answer_, exchange_.method == "HEAD");
    arm_deadline(options().request_timeout);
    wire::async_write(stream_, answer_, continue_with(&StreamConnection::on_written));
  }

  void on_written(error_code error, std::size_t) {
    log_access();
    if (error) return close_now();
    if (close_after_answer_ || environment_.registry.stopping()) return close_gracefully();
    parser_.reset();
    wait_for_request();
  }

  // Never the body, the query or a header: see server_log.h. An exchange the HTTP layer refused
  // by itself says which refusal it was.
  void log_access() {
    const std::chrono::duration<double, std::milli> duration = Clock::now() - exchange_.started;
    std::string route = answered_route_.empty() ? std::string("unmatched") : answered_route_;
    if (exchange_.refusal) route = kUnknown;
    std::vector<LogField> fields = {
        {"method", exchange_.method.empty() ? std::string(kUnknown) : exchange_.method},
        {"route", std::move(route)},
        {"status", answer_.result_int()},
        {"duration_ms", std::round(duration.count() * 1000.0) / 1000.0},
        {"request_bytes", exchange_.request_bytes},
        {"response_bytes", answer_.body().size()},
        {"remote", remote_address_}};
    if (exchange_.refusal) fields.push_back({"refused", to_string(*exchange_.refusal)});
    environment_.log.write(LogLevel::kInfo, "http_request", fields);
  }

  // Closing at once with unread input makes the kernel reset the connection, and the peer may
  // lose the answer; so the input is drained (plain) or close_notify exchanged (TLS) first, for
  // at most kCloseGrace.
  void close_gracefully() {
    phase_ = Phase::kClosing;
    arm_deadline(kCloseGrace);
    if constexpr (kIsTls) {
      stream_.async_shutdown(continue_with(&StreamConnection::on_closing_read));
    } else {
      error_code ignored;
      stream_.shutdown(tcp::socket::shutdown_send, ignored);
      if (!input_left_unread_) return close_now();
      discard_input();
    }
  }

  void discard_input() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadChunkBytes),
                            [self = this->shared_from_this()](error_code error, std::size_t) {
                              if (error) return self->close_now();
                              self->discard_input();
                            });
  }

  void on_closing_read(error_code) { close_now(); }

  void close_now() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    disarm_deadline();
    error_code ignored;
    beast::get_lowest_layer(stream_).close(ignored);
  }

  void arm_deadline(std::chrono::milliseconds after) {
    deadline_.expires_after(after);
    deadline_.async_wait(
        [self = this->shared_from_this(), generation = ++deadline_generation_](error_code error) {
          if (!error && generation == self->deadline_generation_) self->on_deadline();
        });
  }

  void disarm_deadline() {
    ++deadline_generation_;
    deadline_.cancel();
  }

  // A request cut short gets a 408 (its read is cancelled and on_read_failed answers); in any
  // other phase there is nothing useful to say, so the connection just closes.
  void on_deadline() {
    if (phase_ != Phase::kReadingRequest) return close_now();
    request_timed_out_ = true;
    error_code ignored;
    beast::get_lowest_layer(stream_).cancel(ignored);
  }

  const ConnectionEnvironment& environment_;
  const std::string remote_address_;
  Stream stream_;
  asio::steady_timer deadline_;
  std::uint64_t deadline_generation_ = 0;  // a timer completion from an older arming is stale

  std::atomic<bool> abandoned_{false};  // set by close() from any thread

  Phase phase_ = Phase::kIdle;
  bool over_capacity_ = false;  // set before start, then read on the strand only
  bool first_request_ = true;
  bool request_timed_out_ = false;
  bool close_after_answer_ = false;
  bool input_left_unread_ = false;
  beast::flat_buffer buffer_;
  std::optional<wire::request_parser<wire::string_body>> parser_;
  Exchange exchange_;
  wire::response<wire::string_body> answer_;  // alive until its write completes
  std::string answered_route_;
};

using PlainConnection = StreamConnection<tcp::socket>;
using TlsConnection = StreamConnection<asio::ssl::stream<tcp::socket>>;

}  // namespace

Admission ConnectionRegistry::admit(const std::shared_ptr<Connection>& connection,
                                    std::size_t max_serving) {
  const std::lock_guard lock(connections_mutex_);
  if (stopping_.load()) return Admission::kStopping;
  const bool serving = serving_ < max_serving;
  connections_.emplace(connection.get(), Entry{connection, serving});
  if (!serving) return Admission::kOverCapacity;
  ++serving_;
  return Admission::kServe;
}

void ConnectionRegistry::remove(const Connection* connection) {
  const std::lock_guard lock(connections_mutex_);
  const auto found = connections_.find(connection);
  if (found == connections_.end()) return;
  if (found->second.serving) --serving_;
  connections_.erase(found);
  if (connections_.empty()) emptied_.notify_all();
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::begin_stopping() {
  {
    // Under the lock, so that a connection is either added before this (and returned) or refused.
    const std::lock_guard lock(connections_mutex_);
    stopping_.store(true);
  }
  return live();
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::live() const {
  const std::lock_guard lock(connections_mutex_);
  std::vector<std::shared_ptr<Connection>> alive;
  for (const auto& [key, entry] : connections_) {
    if (auto locked = entry.connection.lock()) alive.push_back(std::move(locked));
  }
  return alive;
}

bool ConnectionRegistry::wait_until_empty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(connections_mutex_);
  return emptied_.wait_for(lock, timeout, [this] { return connections_.empty(); });
}

void accept_connection(const ConnectionEnvironment& environment, tcp::socket socket,
                       asio::ssl::context* tls) {
  error_code error;
  socket.set_option(tcp::no_delay(true),
                    error);  // answers are small: do not wait to fill a segment
  const tcp::endpoint peer = socket.remote_endpoint(error);
  if (error) return;  // already gone
  std::string remote_address = peer.address().to_string();

  std::shared_ptr<Connection> connection;
  if (tls) {
    connection = std::make_shared<TlsConnection>(environment, std::move(remote_address),
                                                 std::move(socket), *tls);
  } else {
    connection = std::make_shared<PlainConnection>(environment, std::move(remote_address),
                                                   std::move(socket));
  }
  switch (environment.registry.admit(connection, environment.options.max_connections)) {
    case Admission::kServe:
      connection->start();
      break;
    case Admission::kOverCapacity:
      connection->refuse_over_capacity();
      break;
    case Admission::kStopping:
      break;
  }
}

}  // namespace fieldsync::server::http
