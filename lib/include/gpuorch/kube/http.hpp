#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Case-insensitive header lookup helpers.
[[nodiscard]] std::optional<std::string> find_header(const Headers& headers, std::string_view name);
[[nodiscard]] std::vector<std::string> find_headers(const Headers& headers, std::string_view name);

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  /// Whole-transfer limit; zero means none (watches).
  std::chrono::milliseconds timeout{0};
  /// When set, the response body is streamed here instead of collected;
  /// returning false aborts the transfer (reported as ErrorCode::cancelled).
  std::function<bool(std::string_view)> on_data;
  /// Aborts the transfer when requested.
  std::stop_token stop;
  /// Client certificate for this request (exec plugins may supply one), PEM.
  /// Empty means the transport's configured certificate.
  std::string client_certificate_pem;
  std::string client_key_pem;
  /// Do not offer compressed encodings (streams whose events must not wait in a
  /// compressor's buffer).
  bool no_compression = false;
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
  /// "1.1" or "2".
  std::string http_version;
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

/// Transport failures carry one of these tags as Error::reason() (with
/// http_status 0), so retry logic can tell what is safe to repeat.
namespace transport_reason {
inline constexpr const char* k_connect_failed = "ConnectFailed";  ///< nothing was sent: safe to retry any verb
inline constexpr const char* k_resolve_failed = "ResolveFailed";  ///< DNS lookup failed
inline constexpr const char* k_timeout = "Timeout";               ///< may have been processed
inline constexpr const char* k_connection_reset = "ConnectionReset";
inline constexpr const char* k_tls_verify = "TLSVerify";  ///< the server certificate is not trusted
inline constexpr const char* k_tls = "TLS";               ///< other TLS failure (handshake, client cert)
inline constexpr const char* k_proxy = "Proxy";
}  // namespace transport_reason

/// Sends one HTTP request. Implementations must be thread-safe.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

/// TLS and proxy settings of a transport (from RestConfig).
struct TransportConfig {
  bool insecure_skip_tls_verify = false;
  std::string ca_pem;  ///< empty: the system's trusted roots
  std::string client_certificate_pem;
  std::string client_key_pem;
  /// Name to send as SNI and to verify the certificate against, instead of the URL's host.
  std::string tls_server_name;
  /// Explicit proxy (http, https or socks5 URL). When empty the injected
  /// environment's HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply, as in Go; loopback
  /// hosts are never proxied.
  std::string proxy_url;
  bool disable_compression = false;
  std::chrono::milliseconds connect_timeout{30000};
  std::string user_agent = "gpuorch";
};

/// libcurl (OpenSSL flavour) transport: a pool of reusable easy handles plus a
/// share handle (connections, DNS, TLS sessions), so requests reuse keep-alive
/// connections; HTTP/2 is negotiated over TLS when the server offers it. PEM data
/// is passed in memory (CURLOPT_*_BLOB), never through files.
class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(TransportConfig config, Environment env);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;

  /// Number of TCP connections opened so far (connection-reuse tests and benchmarks).
  [[nodiscard]] long connections_opened() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// The proxy Go's http.ProxyFromEnvironment would use for `url` ("" for none).
[[nodiscard]] std::string proxy_from_environment(const Environment& env, std::string_view url);

/// Masks secrets in a header value for logs: Authorization keeps only its
/// scheme, and headers whose name mentions token, secret, password, key or
/// cookie are masked entirely.
[[nodiscard]] std::string redact_header(std::string_view name, std::string_view value);
/// Removes user:password@ from a URL for logs.
[[nodiscard]] std::string redact_url(std::string_view url);

}  // namespace gpuorch::kube
