// The gzip content coding of sync bodies (docs/http-api.md, "Compression"), shared by the client's
// sync engine and the server: realistic case notes shrink to a fraction on the wire, which matters
// on a phone's slow link. Both sides decide alike whether a body is worth compressing, and both
// inflate under a cap, so that a small hostile body cannot expand into gigabytes (a decompression
// bomb).
//
// Thread-safe: no shared state.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fieldsync {

inline constexpr std::string_view kGzipCoding = "gzip";

// Bodies shorter than this go as they are: the gzip header and the work outweigh the gain.
inline constexpr std::size_t kMinCompressibleBytes = 1024;

// `body` compressed with gzip, or nullopt when that is not worth it: it is shorter than
// kMinCompressibleBytes, or compressing a sample of it saves less than an eighth (random bytes,
// already compressed data), so that such bodies cost no time compressing them whole.
std::optional<std::string> gzip_if_worthwhile(std::string_view body);

// `data` compressed with gzip at zlib's fastest level.
std::string gzip(std::string_view data);

// The inflated form of a gzip body. Throws Error(kTooLarge) as soon as it would grow beyond
// `max_bytes`, and Error(kMalformed) for anything that is not one whole gzip stream (a corrupt or
// truncated body, trailing bytes, a wrong checksum).
std::string gunzip(std::string_view data, std::size_t max_bytes);

// Whether an Accept-Encoding header value accepts gzip: the token "gzip" (or "*") listed, in any
// case, without "q=0" (RFC 9110 section 12.5.3).
bool accepts_gzip(std::string_view accept_encoding);

// Whether a Content-Encoding header value is gzip (any case; "x-gzip" too), or identity (empty or
// "identity"). Any other coding is neither.
bool is_gzip_coding(std::string_view content_encoding);
bool is_identity_coding(std::string_view content_encoding);

}  // namespace fieldsync
