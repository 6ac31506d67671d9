// The HTTP transport contract (DESIGN.md sections 4 and 7): how the sync engine reaches the
// server. The desktop default is libcurl (make_curl_transport); a mobile shell may supply its own
// through the C API (URLSession on iOS, OkHttp on Android). FakeHttpTransport is the fake for
// tests: it answers from a script and keeps every request.
//
// A transport does one request at a time per call; it follows no redirects and never retries: the
// sync engine owns retries and backoff. Network failures (no route, refused, timed out, TLS
// verification failed, cancelled) throw Error(ErrorDomain::kNetwork, ...); any HTTP status, 4xx and
// 5xx included, is a normal HttpResponse.
//
// Threading: an HttpTransport may be called from one thread at a time (the one running the sync);
// the implementations here also serialise calls made from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fieldsync::platform {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "POST";
  std::string url;  // absolute: https://host:port/v1/sync
  HttpHeaders headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};  // the whole exchange, connection included
  // Polled while the exchange runs (about once a second at least): when it becomes true the
  // transport gives up with a kNetwork error. Not owned; may be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names as the server sent them; compare case-insensitively
  std::string body;

  // The first header called `name` (case-insensitive), or empty.
  std::string header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

// What a transport wrote to and read from its connections, headers included: for measuring
// (fieldsync-bench counts bytes on the wire per record with it). Any thread may read it.
struct TrafficCounters {
  std::atomic<std::uint64_t> bytes_sent{0};      // request lines, headers and bodies
  std::atomic<std::uint64_t> bytes_received{0};  // status lines, headers and bodies
  std::atomic<std::uint64_t> exchanges{0};       // requests sent, failed ones included
};

struct CurlTransportOptions {
  std::string ca_file;  // PEM bundle to trust instead of the system's (a pinned CA)
  std::chrono::milliseconds connect_timeout{10'000};
  std::string user_agent = "fieldsync";
  // A longer answer is refused as a network failure before it fills memory (a hostile or broken
  // server); the decoders cap what they accept well below this.
  std::size_t max_response_bytes = 64u << 20;
  // Not owned; null: nothing is counted. When set, every byte libcurl writes to the connection and
  // reads from it is added (under https the TLS records, as they cross the socket).
  TrafficCounters* traffic = nullptr;
};

// libcurl: keeps one connection alive between calls (reuse), verifies TLS peers and host names,
// speaks only http and https, and installs no signal handlers.
std::unique_ptr<HttpTransport> make_curl_transport(const CurlTransportOptions& options = {});

// The fake for tests: each request is answered by the next scripted step (a handler that may look
// at the request, a canned response, or a network failure). A request beyond the script is a
// network failure naming the URL, so a test that sends too much fails loudly.
class FakeHttpTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  FakeHttpTransport& then(Handler handler);
  FakeHttpTransport& then_respond(HttpResponse response);
  FakeHttpTransport& then_fail(std::string message);  // as a refused connection would

  HttpResponse send(const HttpRequest& request) override;

  std::vector<HttpRequest> requests() const;  // every request sent, oldest first
  std::size_t steps_left() const;

 private:
  mutable std::mutex mutex_;
  // Guarded by mutex_:
  std::vector<Handler> script_;
  std::size_t next_step_ = 0;
  std::vector<HttpRequest> requests_;
};

}  // namespace fieldsync::platform
