// One accepted connection of HttpServer, and the registry through which the server reaches all
// of them when it stops. Private to the HTTP layer (http_server.cpp is the only user).
//
// A connection reads requests one after the other (keep-alive), hands each to the Handler and
// writes the answer; every wait has a deadline. All of a connection's work runs on its own Asio
// strand, so its state needs no lock; the registry is shared and locks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/http_server.h"
#include "http/server_log.h"

namespace fieldsync::server::http {

class Connection {
 public:
  virtual ~Connection() = default;

  // Each posts to the connection's strand, so any thread may call them.
  virtual void start() = 0;
  // Instead of start(), for a connection over the cap: answers 503 (after the TLS handshake) and
  // closes.
  virtual void refuse_over_capacity() = 0;
  // Closes the connection if it is between requests; otherwise its answer says Connection: close.
  virtual void on_server_stopping() = 0;
  virtual void close() = 0;
};

// What the registry says of a connection just accepted.
enum class Admission {
  kServe,         // start it
  kOverCapacity,  // refuse it (it is registered, so that a stop closes it, but not counted)
  kStopping,      // drop it: the server is stopping
};

// Thread-safe: every member may be called from any thread.
class ConnectionRegistry {
 public:
  // Registers the connection; it is served while fewer than `max_serving` others are.
  Admission admit(const std::shared_ptr<Connection>& connection, std::size_t max_serving);
  void remove(const Connection* connection);

  // From now on admit() answers kStopping and stopping() is true. Returns the connections alive
  // now.
  std::vector<std::shared_ptr<Connection>> begin_stopping();
  bool stopping() const { return stopping_.load(); }

  std::vector<std::shared_ptr<Connection>> live() const;
  // True when no connection is left, false when `timeout` ran out first.
  bool wait_until_empty(std::chrono::milliseconds timeout);

 private:
  std::atomic<bool> stopping_{false};

  struct Entry {
    std::weak_ptr<Connection> connection;
    bool serving;  // counted against the cap
  };

  mutable std::mutex connections_mutex_;  // guards connections_ and serving_
  std::condition_variable emptied_;
  std::unordered_map<const Connection*, Entry> connections_;
  std::size_t serving_ = 0;
};

// What every connection shares with the server; all of it outlives the connections.
struct ConnectionEnvironment {
  const HttpServerOptions& options;
  const Handler& handler;
  ServerLog& log;
  ConnectionRegistry& registry;
};

// Takes over a socket just accepted (its executor a strand): sets TCP_NODELAY, registers the
// connection and starts reading. `tls` null: plain HTTP.
void accept_connection(const ConnectionEnvironment& environment,
                       boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls);

}  // namespace fieldsync::server::http
