// The client's side of the server's HTTP contract: see server_http.h. Thread-safe: no state.
#include "server_http.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "fieldsync/client/retry_policy.h"

namespace fieldsync::client {
namespace {

// A server's message is shown and logged; a long one is cut (between UTF-8 characters).
constexpr std::size_t kMaxMessageBytes = 300;

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

// The host of "scheme://host[:port][/...]", brackets kept for IPv6 ("[::1]").
std::string_view host_of(std::string_view rest) {
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.starts_with('[')) return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

std::string cut_message(std::string text) {
  if (text.size() <= kMaxMessageBytes) return text;
  std::size_t end = kMaxMessageBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text + "...";
}

// fieldsync's code whose name is `name`. Codes are numbered from 1 and only ever appended, so
// the names are walked until to_string no longer knows the number.
std::optional<ErrorCode> error_code_named(std::string_view name) {
  for (std::int32_t number = 1;; ++number) {
    const auto code = static_cast<ErrorCode>(number);
    const std::string_view known = to_string(code);
    if (known == "unknown") return std::nullopt;
    if (known == name) return code;
  }
}

}  // namespace

std::string server_endpoint(std::string_view server_url, std::string_view path) {
  const std::string url = lower(server_url.substr(0, std::min<std::size_t>(8, server_url.size())));
  std::string_view base = server_url;
  while (base.ends_with('/')) base.remove_suffix(1);
  if (url.starts_with("https://")) {
    if (host_of(base.substr(8)).empty()) {
      throw Error(ErrorCode::kInvalidArgument, "the server URL has no host");
    }
  } else if (url.starts_with("http://")) {
    if (!is_loopback(lower(host_of(base.substr(7))))) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the server URL must start with https:// (plain http is only for a server on "
                  "this machine: localhost, 127.0.0.1 or [::1])");
    }
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "the server URL must start with https://, e.g. https://sync.example.org");
  }
  return std::string(base) + std::string(path);
}

bool is_temporary_status(int status) {
  return status == 429 || (status >= 500 && status <= 599);
}

Error ErrorAnswer::to_error() const {
  std::string text = "HTTP " + std::to_string(status);
  if (!name.empty()) text += " " + name;
  text += message.empty() ? std::string(" from the server, with no explanation") : ": " + message;
  if (retry_after) {
    const auto seconds = (retry_after->count() + 999) / 1000;
    text += " (try again in " + std::to_string(seconds) + " s)";
  }
  if (const auto code = error_code_named(name)) return Error(*code, std::move(text));
  return Error(ErrorDomain::kHttp, status, std::move(text));
}

ErrorAnswer read_error_answer(const platform::HttpResponse& response,
                              std::chrono::system_clock::time_point now) {
  ErrorAnswer answer;
  answer.status = response.status;
  answer.retry_after = parse_retry_after(response.header("Retry-After"), now);
  // Not every error comes from fieldsync-server (a proxy, a load balancer): anything that is not
  // the documented JSON shape leaves the name and message empty.
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    const auto name = body.find("error");
    const auto message = body.find("message");
    if (name != body.end() && name->is_string()) {
      answer.name = cut_message(name->get<std::string>());
    }
    if (message != body.end() && message->is_string()) {
      answer.message = cut_message(message->get<std::string>());
    }
  }
  return answer;
}

WireFormat answer_format(const platform::HttpResponse& response) {
  const std::string type = lower(response.header("Content-Type"));
  std::string_view media = std::string_view(type).substr(0, type.find(';'));
  while (media.ends_with(' ')) media.remove_suffix(1);
  if (media == kBinaryContentType) return WireFormat::kBinary;
  if (media == kJsonContentType) return WireFormat::kJson;
  throw Error(ErrorCode::kMalformed,
              "the server answered " + std::to_string(response.status) + " with content type \"" +
                  cut_message(type) +
                  "\", not a sync response: is a captive portal or a proxy in the way?");
}

std::string_view content_type_of(WireFormat format) {
  return format == WireFormat::kBinary ? kBinaryContentType : kJsonContentType;
}

}  // namespace fieldsync::client
