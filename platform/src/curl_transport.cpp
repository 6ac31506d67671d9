// make_curl_transport: the desktop HttpTransport over libcurl's easy interface.
//
// One easy handle per transport, kept between calls so that libcurl reuses the connection and its
// TLS session: a sync is several round trips to one host. Options that never change are set once;
// those of a request are all set again on every call, so nothing leaks from one request to the
// next. libcurl's process-wide initialisation runs once, under std::call_once, before the first
// handle is made (and is never undone: the process may hold transports until it ends).
//
// Thread-safety: calls on one transport are serialised by a mutex; separate transports are
// independent (libcurl handles share nothing unless asked to).
#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>

#include "fieldsync/error.h"
#include "fieldsync/platform/http_transport.h"

namespace fieldsync::platform {
namespace {

[[noreturn]] void throw_curl(CURLcode code, const std::string& what) {
  throw Error(ErrorDomain::kNetwork, static_cast<std::int32_t>(code), what);
}

void initialise_curl_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  // curl_global_init is not safe to race with itself; call_once makes every thread wait for the
  // one that runs it.
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK) {
    throw_curl(result, std::string("libcurl could not initialise: ") + curl_easy_strerror(result));
  }
}

struct EasyHandleDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct HeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, HeaderListDeleter>;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// A header line from the shell of a request must not smuggle another header in.
void check_header_text(std::string_view text) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    throw Error(ErrorCode::kInvalidArgument, "an HTTP request header holds a line break");
  }
}

// What one exchange collects; the callbacks reach it through their user-data pointer.
struct Exchange {
  HttpResponse response;
  std::size_t max_response_bytes = 0;
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
  bool cancelled = false;
  bool tls = false;  // count the TLS records rather than the plaintext inside them
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user_data) {
  auto& exchange = *static_cast<Exchange*>(user_data);
  const std::size_t bytes = size * count;
  if (exchange.response.body.size() + bytes > exchange.max_response_bytes) {
    exchange.too_large = true;
    return 0;  // anything but `bytes` makes libcurl abort with CURLE_WRITE_ERROR
  }
  exchange.response.body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user_data) {
  auto& exchange = *static_cast<Exchange*>(user_data);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    // A new status line: headers seen so far belonged to an interim answer (100 Continue) or to
    // a proxy's CONNECT, not to the response we return.
    exchange.response.headers.clear();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;  // the blank line that ends the headers
  exchange.response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                         std::string(trim(line.substr(colon + 1))));
  return bytes;
}

int on_progress(void* user_data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& exchange = *static_cast<Exchange*>(user_data);
  if (exchange.cancel && exchange.cancel->load()) {
    exchange.cancelled = true;
    return 1;  // non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

// libcurl reports every chunk it writes to or reads from the connection here (CURLOPT_VERBOSE is
// on only when counting); its own text messages are ignored.
int on_debug(CURL*, curl_infotype type, char*, std::size_t size, void* user_data) {
  auto& exchange = *static_cast<Exchange*>(user_data);
  switch (type) {
    case CURLINFO_HEADER_OUT:
    case CURLINFO_DATA_OUT:
      if (!exchange.tls) exchange.bytes_sent += size;
      break;
    case CURLINFO_SSL_DATA_OUT:
      if (exchange.tls) exchange.bytes_sent += size;
      break;
    case CURLINFO_HEADER_IN:
    case CURLINFO_DATA_IN:
      if (!exchange.tls) exchange.bytes_received += size;
      break;
    case CURLINFO_SSL_DATA_IN:
      if (exchange.tls) exchange.bytes_received += size;
      break;
    default:
      break;
  }
  return 0;
}

class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(const CurlTransportOptions& options) : options_(options) {
    initialise_curl_once();
    handle_.reset(curl_easy_init());
    if (!handle_) throw_curl(CURLE_FAILED_INIT, "libcurl could not make an easy handle");
    set_constant_options();
  }

  HttpResponse send(const HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    Exchange exchange;
    exchange.max_response_bytes = options_.max_response_bytes;
    exchange.cancel = request.cancel;
    const HeaderList headers = header_list(request.headers);
    set_request_options(request, headers.get(), exchange);
    error_buffer_[0] = '\0';
    const CURLcode result = curl_easy_perform(handle_.get());
    count_traffic(exchange);
    if (result != CURLE_OK) throw_curl(result, failure_message(request, result, exchange));
    long status = 0;
    curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &status);
    exchange.response.status = static_cast<int>(status);
    return std::move(exchange.response);
  }

 private:
  template <class Value>
  void set(CURLoption option, Value value) {
    const CURLcode result = curl_easy_setopt(handle_.get(), option, value);
    if (result != CURLE_OK) {
      throw_curl(result, std::string("libcurl refused an option: ") + curl_easy_strerror(result));
    }
  }

  void set_constant_options() {
    set(CURLOPT_ERRORBUFFER, error_buffer_);
    set(CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: the shell owns the process's signals
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_XFERINFOFUNCTION, &on_progress);
    set(CURLOPT_NOPROGRESS, 0L);  // the progress callback is how a cancel reaches libcurl
    if (options_.traffic) {
      set(CURLOPT_DEBUGFUNCTION, &on_debug);
      set(CURLOPT_VERBOSE, 1L);  // what makes libcurl call on_debug
    }
  }

  void count_traffic(const Exchange& exchange) {
    if (!options_.traffic) return;
    options_.traffic->bytes_sent += exchange.bytes_sent;
    options_.traffic->bytes_received += exchange.bytes_received;
    ++options_.traffic->exchanges;
  }

  static HeaderList header_list(const HttpHeaders& headers) {
    HeaderList list;
    auto append = [&](const std::string& line) {
      curl_slist* longer = curl_slist_append(list.get(), line.c_str());
      if (!longer) throw std::bad_alloc();
      list.release();
      list.reset(longer);
    };
    for (const auto& [name, value] : headers) {
      check_header_text(name);
      check_header_text(value);
      append(name + ": " + value);
    }
    // libcurl would otherwise send "Expect: 100-continue" with larger bodies and wait for the
    // interim answer: a wasted round trip on every big push.
    append("Expect:");
    return list;
  }

  void set_request_options(const HttpRequest& request, curl_slist* headers, Exchange& exchange) {
    set(CURLOPT_URL, request.url.c_str());
    set(CURLOPT_HTTPHEADER, headers);
    if (request.method == "GET") {
      set(CURLOPT_HTTPGET, 1L);
      set(CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
    } else {
      set(CURLOPT_POSTFIELDS, request.body.data());
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set(CURLOPT_CUSTOMREQUEST,
          request.method == "POST" ? static_cast<const char*>(nullptr) : request.method.c_str());
    }
    // libcurl reads a zero timeout as "none": the least we ask for is a millisecond.
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, request.timeout.count())));
    set(CURLOPT_WRITEDATA, &exchange);
    set(CURLOPT_HEADERDATA, &exchange);
    set(CURLOPT_XFERINFODATA, &exchange);
    exchange.tls = request.url.starts_with("https:") || request.url.starts_with("HTTPS:");
    if (options_.traffic) set(CURLOPT_DEBUGDATA, &exchange);
  }

  std::string failure_message(const HttpRequest& request, CURLcode result,
                              const Exchange& exchange) const {
    std::string message = request.method + " " + request.url + " failed: ";
    if (exchange.cancelled) return message + "cancelled";
    if (exchange.too_large) {
      return message + "the answer is longer than " + std::to_string(options_.max_response_bytes) +
             " bytes";
    }
    // libcurl's own words are more precise ("Failed to connect to 127.0.0.1 port 9: Connection
    // refused") than the generic text of the code.
    message += error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(result);
    return message;
  }

  const CurlTransportOptions options_;
  std::mutex mutex_;
  // Guarded by mutex_ (the buffer first: the handle writes to it until its cleanup):
  char error_buffer_[CURL_ERROR_SIZE] = {};
  std::unique_ptr<CURL, EasyHandleDeleter> handle_;
};

}  // namespace

std::unique_ptr<HttpTransport> make_curl_transport(const CurlTransportOptions& options) {
  return std::make_unique<CurlTransport>(options);
}

}  // namespace fieldsync::platform
