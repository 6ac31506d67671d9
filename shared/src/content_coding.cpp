// gzip for sync bodies over zlib's one-shot deflate and streaming inflate. See content_coding.h.
#include "fieldsync/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "fieldsync/error.h"

namespace fieldsync {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KB window, gzip header and trailer
constexpr int kMemoryLevel = 8;           // zlib's default
// A body is worth compressing when gzip takes at least an eighth off: below that, the receiver's
// inflating costs more than the bytes saved, even on a slow link.
constexpr std::size_t kWorthwhileNumerator = 7;
constexpr std::size_t kWorthwhileDenominator = 8;
// A long body is first judged by compressing this much of it.
constexpr std::size_t kSampleBytes = 32 * 1024;
constexpr std::size_t kInflateChunkBytes = 64 * 1024;

bool saves_enough(std::size_t compressed, std::size_t original) {
  return compressed * kWorthwhileDenominator <= original * kWorthwhileNumerator;
}

std::string lower_trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  std::string result(text.substr(first, last - first + 1));
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

// An item of an Accept-Encoding list weighted "q=0" (or 0.0, 0.00, 0.000): refused.
bool weighted_zero(std::string_view parameters) {
  std::size_t at = 0;
  while (at < parameters.size()) {
    const std::size_t end = std::min(parameters.find(';', at), parameters.size());
    const std::string parameter = lower_trimmed(parameters.substr(at, end - at));
    if (parameter.starts_with("q=")) {
      const std::string_view weight = std::string_view(parameter).substr(2);
      return !weight.empty() && weight.find_first_not_of("0.") == std::string_view::npos;
    }
    at = end + 1;
  }
  return false;
}

}  // namespace

std::string gzip(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, kMemoryLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(ErrorCode::kInternal, "zlib could not start compressing");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw Error(ErrorCode::kInternal, "zlib could not compress a body");
  return out;
}

std::optional<std::string> gzip_if_worthwhile(std::string_view body) {
  if (body.size() < kMinCompressibleBytes) return std::nullopt;
  if (body.size() > 2 * kSampleBytes &&
      !saves_enough(gzip(body.substr(0, kSampleBytes)).size(), kSampleBytes)) {
    return std::nullopt;
  }
  std::string compressed = gzip(body);
  if (!saves_enough(compressed.size(), body.size())) return std::nullopt;
  return compressed;
}

std::string gunzip(std::string_view data, std::size_t max_bytes) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    throw Error(ErrorCode::kTooLarge, "a compressed body over 4 GiB");
  }
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindowBits) != Z_OK) {
    throw Error(ErrorCode::kInternal, "zlib could not start inflating");
  }
  struct End {
    z_stream& stream;
    ~End() { inflateEnd(&stream); }
  } end{stream};
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());

  std::string out;
  // The trailer's length (modulo 4 GiB) is a hint for the first allocation, never trusted beyond
  // the cap.
  if (data.size() >= 4) {
    const auto* tail = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    const std::size_t stated = tail[0] | (tail[1] << 8) | (tail[2] << 16) |
                               (static_cast<std::size_t>(tail[3]) << 24);
    out.reserve(std::min(stated, max_bytes));
  }
  int result = Z_OK;
  while (result != Z_STREAM_END) {
    if (out.size() >= max_bytes) {
      // Full: anything more than the end of the stream is over the cap.
      char probe = 0;
      stream.next_out = reinterpret_cast<Bytef*>(&probe);
      stream.avail_out = 1;
      result = inflate(&stream, Z_NO_FLUSH);
      if (stream.avail_out == 0) {
        throw Error(ErrorCode::kTooLarge, "the body inflates to more than " +
                                              std::to_string(max_bytes) + " bytes");
      }
    } else {
      const std::size_t before = out.size();
      const std::size_t room = std::min(kInflateChunkBytes, max_bytes - before);
      out.resize(before + room);
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      stream.avail_out = static_cast<uInt>(room);
      result = inflate(&stream, Z_NO_FLUSH);
      out.resize(before + room - stream.avail_out);
    }
    if (result == Z_STREAM_END) break;
    if (result == Z_BUF_ERROR && stream.avail_in == 0) {
      throw Error(ErrorCode::kMalformed, "the gzip body is cut short");
    }
    if (result != Z_OK && result != Z_BUF_ERROR) {
      throw Error(ErrorCode::kMalformed, "the body is not valid gzip");
    }
  }
  if (stream.avail_in != 0) throw Error(ErrorCode::kMalformed, "bytes follow the gzip body");
  return out;
}

bool accepts_gzip(std::string_view accept_encoding) {
  std::size_t at = 0;
  while (at <= accept_encoding.size()) {
    const std::size_t end = std::min(accept_encoding.find(',', at), accept_encoding.size());
    const std::string_view item = accept_encoding.substr(at, end - at);
    const std::size_t semicolon = std::min(item.find(';'), item.size());
    const std::string coding = lower_trimmed(item.substr(0, semicolon));
    if ((coding == "gzip" || coding == "x-gzip" || coding == "*") &&
        !weighted_zero(item.substr(std::min(semicolon + 1, item.size())))) {
      return true;
    }
    at = end + 1;
  }
  return false;
}

bool is_gzip_coding(std::string_view content_encoding) {
  const std::string coding = lower_trimmed(content_encoding);
  return coding == "gzip" || coding == "x-gzip";
}

bool is_identity_coding(std::string_view content_encoding) {
  const std::string coding = lower_trimmed(content_encoding);
  return coding.empty() || coding == "identity";
}

}  // namespace fieldsync
