#include <gpuorch/sandbox/compression.hpp>

#include <array>
#include <limits>

#include <zlib.h>

namespace gpuorch::sandbox {
namespace {

// zlib's windowBits: 15 for the largest window, +16 for a gzip header and
// trailer instead of zlib's (RFC 1952 rather than RFC 1950).
constexpr int k_gzip_window_bits = 15 + 16;
// kube-apiserver compresses with gzip.BestSpeed (defaultGzipContentEncodingLevel).
constexpr int k_gzip_level = 1;
constexpr std::size_t k_chunk = 64 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

Error zlib_error(const char* what, int code, const z_stream& stream) {
  return Error(ErrorCode::internal, std::string(what) + " failed (zlib " + std::to_string(code) +
                                        (stream.msg != nullptr ? std::string(": ") + stream.msg : std::string()) + ")");
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view token = trim(accept_encoding.substr(0, comma));
    if (token == "gzip") {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    accept_encoding.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view response_encoding(std::string_view accept_encoding, std::size_t body_size) {
  return body_size >= k_gzip_threshold_bytes && accepts_gzip(accept_encoding) ? "gzip" : "";
}

Result<std::string> gzip_compress(std::string_view data) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return Error(ErrorCode::internal,
                 "a response body of " + std::to_string(data.size()) + " bytes is too large to gzip");
  }
  z_stream stream{};
  int rc = deflateInit2(&stream, k_gzip_level, Z_DEFLATED, k_gzip_window_bits, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    return zlib_error("deflateInit2", rc, stream);
  }
  std::string out;
  out.resize(deflateBound(&stream, data.size()));
  // zlib's API is not const-correct; deflate only reads next_in.
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  rc = deflate(&stream, Z_FINISH);
  const std::size_t written = stream.total_out;
  const Error failure = zlib_error("deflate", rc, stream);
  deflateEnd(&stream);
  // deflateBound is an upper bound for one Z_FINISH call, so anything but
  // Z_STREAM_END is a failure, not a full buffer.
  if (rc != Z_STREAM_END) {
    return failure;
  }
  out.resize(written);
  return out;
}

Result<std::string> gzip_decompress(std::string_view data) {
  if (data.size() > std::numeric_limits<uInt>::max()) {
    return Error(ErrorCode::invalid, "gzip data of " + std::to_string(data.size()) + " bytes is too large");
  }
  z_stream stream{};
  int rc = inflateInit2(&stream, k_gzip_window_bits);
  if (rc != Z_OK) {
    return zlib_error("inflateInit2", rc, stream);
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, k_chunk> buffer{};
  do {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      Error e = zlib_error("inflate", rc == Z_BUF_ERROR ? Z_DATA_ERROR : rc, stream);
      inflateEnd(&stream);
      return Error(ErrorCode::invalid, "not a complete gzip stream: " + e.message());
    }
    out.append(buffer.data(), buffer.size() - stream.avail_out);
  } while (rc != Z_STREAM_END);
  const bool trailing = stream.avail_in != 0;
  inflateEnd(&stream);
  if (trailing) {
    return Error(ErrorCode::invalid, "not a single gzip stream: data follows its end");
  }
  return out;
}

}  // namespace gpuorch::sandbox
