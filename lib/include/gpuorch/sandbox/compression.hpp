#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>

namespace gpuorch::sandbox {

/// Responses at least this large are gzip-compressed when the client accepts
/// gzip; smaller ones go out plain. kube-apiserver's APIResponseCompression
/// uses the same threshold (128 KiB): below it, compressing costs both sides
/// more CPU than the bytes it saves on a local connection.
inline constexpr std::size_t k_gzip_threshold_bytes = 128 * 1024;

/// Whether an Accept-Encoding header value offers gzip, decided as
/// kube-apiserver does: one of its comma-separated tokens, trimmed, is exactly
/// "gzip" (a token with parameters such as "gzip;q=0.5" does not count).
bool accepts_gzip(std::string_view accept_encoding);

/// The Content-Encoding kube-apiserver would give a response body of
/// `body_size` bytes for this Accept-Encoding: "gzip" or "" (identity).
std::string_view response_encoding(std::string_view accept_encoding, std::size_t body_size);

/// `data` as a gzip member (RFC 1952) at compression level 1, the level
/// kube-apiserver uses for responses.
Result<std::string> gzip_compress(std::string_view data);

/// The data of a gzip stream (for tests and clients of the sandbox).
Result<std::string> gzip_decompress(std::string_view data);

}  // namespace gpuorch::sandbox
