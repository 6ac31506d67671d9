// The error table of docs/http-api.md, in code. Thread-safe: no state.
#include "http/error_mapping.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <typeinfo>

namespace fieldsync::server::http {

namespace {

struct ErrorShape {
  int status;
  std::string_view name;
};

constexpr ErrorShape kInternalShape{500, "internal"};

// One row per code, with no default: a new ErrorCode does not compile (-Wswitch, -Werror) until
// someone decides its status here and in docs/http-api.md.
std::optional<ErrorShape> documented_shape(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kValidation:
    case ErrorCode::kFrozen:
    case ErrorCode::kMalformed:
    case ErrorCode::kUnsupportedVersion:
      return ErrorShape{400, to_string(code)};
    case ErrorCode::kUnauthorized:
      return ErrorShape{401, to_string(code)};
    case ErrorCode::kForbidden:
      return ErrorShape{403, to_string(code)};
    case ErrorCode::kNotFound:
      return ErrorShape{404, to_string(code)};
    case ErrorCode::kConflict:
      return ErrorShape{409, to_string(code)};
    case ErrorCode::kTooLarge:
      return ErrorShape{413, to_string(code)};
    case ErrorCode::kRateLimited:
      return ErrorShape{429, to_string(code)};
    case ErrorCode::kUnavailable:
      return ErrorShape{503, to_string(code)};
    case ErrorCode::kInternal:
    case ErrorCode::kIo:
      return ErrorShape{500, to_string(code)};
    // Not in the table: they describe the device's store or a stamp, and reaching HTTP is a bug.
    case ErrorCode::kIntegrity:
    case ErrorCode::kLocked:
    case ErrorCode::kClockSkew:
      return std::nullopt;
  }
  return std::nullopt;  // a number outside the enumeration
}

ErrorShape shape_of(ProtocolError error) {
  switch (error) {
    case ProtocolError::kMethodNotAllowed:
      return {405, "method_not_allowed"};
    case ProtocolError::kUnsupportedMediaType:
      return {415, "unsupported_media_type"};
    case ProtocolError::kRequestTimeout:
      return {408, "request_timeout"};
  }
  return kInternalShape;
}

Response make_error(ErrorShape shape, std::string_view message) {
  return json_response(shape.status, {{"error", shape.name}, {"message", message}});
}

void add_retry_after(Response& response, std::chrono::seconds wait) {
  const auto seconds = std::max(wait, kMinimumRetryAfter).count();
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
}

Response rate_limited_response(std::chrono::seconds retry_after, std::string_view message) {
  Response response = make_error(*documented_shape(ErrorCode::kRateLimited), message);
  add_retry_after(response, retry_after);
  return response;
}

}  // namespace

Response error_response(ErrorCode code, std::string message) {
  const std::optional<ErrorShape> shape = documented_shape(code);
  if (!shape) return make_error(kInternalShape, kGenericInternalMessage);
  if (code == ErrorCode::kRateLimited) return rate_limited_response(kMinimumRetryAfter, message);

  Response response = make_error(*shape, message);
  if (code == ErrorCode::kUnavailable) add_retry_after(response, kMinimumRetryAfter);
  return response;
}

Response error_response(ProtocolError error, std::string message) {
  return make_error(shape_of(error), message);
}

Response error_response(const std::exception& error) {
  if (const auto* limited = dynamic_cast<const RateLimitedError*>(&error)) {
    return rate_limited_response(limited->retry_after(), limited->what());
  }
  const auto* fieldsync_error = dynamic_cast<const Error*>(&error);
  if (fieldsync_error && fieldsync_error->domain() == ErrorDomain::kFieldsync) {
    return error_response(static_cast<ErrorCode>(fieldsync_error->code()), fieldsync_error->what());
  }
  return make_error(kInternalShape, kGenericInternalMessage);
}

std::string describe_for_log(const std::exception& error) {
  if (dynamic_cast<const Error*>(&error)) return error.what();
  return std::string("an exception of type ") + typeid(error).name();
}

}  // namespace fieldsync::server::http
