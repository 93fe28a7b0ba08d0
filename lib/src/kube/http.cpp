#include <gpuorch/kube/http.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <gpuorch/base/strings.hpp>

namespace gpuorch::kube {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

struct UrlParts {
  std::string scheme;
  std::string host;  // without brackets
  std::string port;  // explicit or default
};

UrlParts split_url(std::string_view url) {
  UrlParts parts;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return parts;
  }
  parts.scheme = lower(url.substr(0, scheme_end));
  auto rest = url.substr(scheme_end + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    parts.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      parts.port = std::string(authority.substr(close + 2));
    }
  } else {
    const auto colon = authority.rfind(':');
    parts.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      parts.port = std::string(authority.substr(colon + 1));
    }
  }
  if (parts.port.empty()) {
    parts.port = parts.scheme == "https" ? "443" : "80";
  }
  return parts;
}

bool is_loopback(const std::string& host) {
  const auto h = lower(host);
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0 ||
         (h.size() > 10 && h.compare(h.size() - 10, 10, ".localhost") == 0);
}

bool no_proxy_matches(std::string_view no_proxy, const UrlParts& url) {
  std::size_t pos = 0;
  const auto host = lower(url.host);
  while (pos <= no_proxy.size()) {
    auto next = no_proxy.find(',', pos);
    if (next == std::string_view::npos) {
      next = no_proxy.size();
    }
    auto entry = lower(trim(no_proxy.substr(pos, next - pos)));
    pos = next + 1;
    if (entry.empty()) {
      continue;
    }
    if (entry == "*") {
      return true;
    }
    // An entry may carry a port: it then only matches that port.
    std::string entry_port;
    if (entry.front() != '[' && std::count(entry.begin(), entry.end(), ':') == 1) {
      entry_port = entry.substr(entry.find(':') + 1);
      entry.resize(entry.find(':'));
    }
    if (!entry_port.empty() && entry_port != url.port) {
      continue;
    }
    if (entry.front() == '.') {
      entry.erase(0, 1);
    }
    if (host == entry ||
        (host.size() > entry.size() && host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
         host[host.size() - entry.size() - 1] == '.')) {
      return true;
    }
  }
  return false;
}

/// What curl should be told about a proxy URL (Go's socks5 resolves names remotely).
std::string curl_proxy(std::string proxy) {
  if (proxy.rfind("socks5://", 0) == 0) {
    proxy.replace(0, 6, "socks5h");
  }
  return proxy;
}

std::once_flag g_curl_init;

struct ShareLocks {
  std::array<std::mutex, CURL_LOCK_DATA_LAST> mutexes;
};

void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<ShareLocks*>(user)->mutexes.at(static_cast<std::size_t>(data)).lock();
}
void share_unlock(CURL*, curl_lock_data data, void* user) {
  static_cast<ShareLocks*>(user)->mutexes.at(static_cast<std::size_t>(data)).unlock();
}

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse response;
  bool aborted_by_handler = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const auto bytes = size * count;
  if (transfer->request->on_data) {
    if (transfer->response.status >= 200 && transfer->response.status < 300) {
      if (!transfer->request->on_data(std::string_view(data, bytes))) {
        transfer->aborted_by_handler = true;
        return 0;
      }
      return bytes;
    }
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const auto bytes = size * count;
  std::string_view line(data, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after 100 Continue or a proxy CONNECT): start over.
    transfer->response.headers.clear();
    const auto space = line.find(' ');
    if (space != std::string_view::npos) {
      transfer->response.http_version = std::string(line.substr(5, space - 5));
      transfer->response.status = std::atoi(std::string(line.substr(space + 1, 3)).c_str());
    }
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->request->stop.stop_requested() ? 1 : 0;
}

void set_blob(CURL* curl, CURLoption option, const std::string& data) {
  curl_blob blob{};
  blob.data = const_cast<char*>(data.data());
  blob.len = data.size();
  blob.flags = CURL_BLOB_COPY;
  curl_easy_setopt(curl, option, &blob);
}

// How many connections the shared cache keeps open. libcurl's default is 5,
// and it counts the ones in use: with a controller's four watch streams open,
// nearly every other request closed its connection when done, and the next
// one paid a new TLS connection (a new SSL_CTX, the CA parsed again). client-go
// keeps up to 25 idle connections per host, beside the ones in use.
constexpr long k_max_connections = 64;

// libcurl turns on SSL_MODE_RELEASE_BUFFERS, so OpenSSL frees a connection's
// 16 KiB read buffer whenever it is drained and allocates it again on the
// next read: on a watch stream, once per event. That allocation is large
// enough to make glibc consolidate every small free chunk of the thread's
// arena first (malloc_consolidate), which after parsing JSON events is a
// long walk: 8 % of the watch loop's CPU. Keeping the buffers costs about
// 33 KiB per open connection.
CURLcode keep_tls_buffers(CURL* /*curl*/, void* ssl_ctx, void* /*user*/) {
  SSL_CTX_clear_mode(static_cast<SSL_CTX*>(ssl_ctx), SSL_MODE_RELEASE_BUFFERS);
  return CURLE_OK;
}

// Whether libcurl's TLS is OpenSSL's (the SSL_CTX callback hands over an
// SSL_CTX only then; Debian's libcurl4-openssl-dev, what the build expects).
bool curl_uses_openssl() {
  static const bool openssl = [] {
    const auto* info = curl_version_info(CURLVERSION_NOW);
    return info != nullptr && info->ssl_version != nullptr &&
           std::string_view(info->ssl_version).starts_with("OpenSSL");
  }();
  return openssl;
}

}  // namespace

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

std::vector<std::string> find_headers(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      out.push_back(value);
    }
  }
  return out;
}

std::string proxy_from_environment(const Environment& env, std::string_view url) {
  const auto parts = split_url(url);
  if (parts.host.empty() || is_loopback(parts.host)) {
    return {};
  }
  const auto first_of = [&](const char* upper, const char* lower_name) {
    auto value = env.value(upper);
    return value.empty() ? env.value(lower_name) : value;
  };
  std::string proxy =
      parts.scheme == "https" ? first_of("HTTPS_PROXY", "https_proxy") : first_of("HTTP_PROXY", "http_proxy");
  if (proxy.empty()) {
    return {};
  }
  if (no_proxy_matches(first_of("NO_PROXY", "no_proxy"), parts)) {
    return {};
  }
  if (proxy.find("://") == std::string::npos) {
    proxy = "http://" + proxy;
  }
  return proxy;
}

std::string redact_header(std::string_view name, std::string_view value) {
  const auto n = lower(name);
  if (n == "authorization" || n == "proxy-authorization") {
    const auto space = value.find(' ');
    return space == std::string_view::npos ? "<masked>" : std::string(value.substr(0, space)) + " <masked>";
  }
  for (const char* word : {"token", "secret", "password", "key", "cookie", "credential"}) {
    if (n.find(word) != std::string::npos) {
      return "<masked>";
    }
  }
  return std::string(value);
}

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(url);
  }
  const auto authority_end = url.find_first_of("/?#", scheme_end + 3);
  const auto at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < scheme_end) {
    return std::string(url);
  }
  return std::string(url.substr(0, scheme_end + 3)) + "<masked>@" + std::string(url.substr(at + 1));
}

struct CurlTransport::Impl {
  TransportConfig config;
  Environment env;
  CURLSH* share = nullptr;
  ShareLocks locks;
  std::mutex pool_mutex;
  std::vector<CURL*> pool;
  std::atomic<long> connects{0};

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!pool.empty()) {
        CURL* curl = pool.back();
        pool.pop_back();
        curl_easy_reset(curl);
        return curl;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* curl) {
    std::lock_guard lock(pool_mutex);
    pool.push_back(curl);
  }
};

CurlTransport::CurlTransport(TransportConfig config, Environment env) : m_impl(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  m_impl->config = std::move(config);
  m_impl->env = std::move(env);
  m_impl->share = curl_share_init();
  curl_share_setopt(m_impl->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(m_impl->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(m_impl->share, CURLSHOPT_USERDATA, &m_impl->locks);
  curl_share_setopt(m_impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(m_impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt(m_impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
}

CurlTransport::~CurlTransport() {
  for (CURL* curl : m_impl->pool) {
    curl_easy_cleanup(curl);
  }
  curl_share_cleanup(m_impl->share);
}

long CurlTransport::connections_opened() const {
  return m_impl->connects.load();
}

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
  const auto& config = m_impl->config;
  CURL* curl = m_impl->acquire();
  if (curl == nullptr) {
    return Error(ErrorCode::internal, "curl_easy_init failed");
  }
  Transfer transfer;
  transfer.request = &request;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;

  std::string url = request.url;
  const auto parts = split_url(url);
  if (!config.tls_server_name.empty() && parts.scheme == "https") {
    // Send the configured name as SNI and verify against it, while connecting
    // to the real address and keeping the real Host header.
    CURLU* handle = curl_url();
    if (curl_url_set(handle, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
        curl_url_set(handle, CURLUPART_HOST, config.tls_server_name.c_str(), 0) == CURLUE_OK) {
      char* rewritten = nullptr;
      if (curl_url_get(handle, CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
        url = rewritten;
        curl_free(rewritten);
      }
    }
    curl_url_cleanup(handle);
    const bool v6 = parts.host.find(':') != std::string::npos;
    const auto target = v6 ? "[" + parts.host + "]" : parts.host;
    connect_to = curl_slist_append(
        connect_to, fmt::format("{}:{}:{}:{}", config.tls_server_name, parts.port, target, parts.port).c_str());
    headers = curl_slist_append(headers, fmt::format("Host: {}:{}", target, parts.port).c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  // Kubernetes speaks http and https only. gpuorch's binaries also leave out the
  // libraries behind libcurl's other protocols and GSS-API (curl_unused.cpp).
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_SOCKS5_AUTH, static_cast<long>(CURLAUTH_BASIC));
  curl_easy_setopt(curl, CURLOPT_SHARE, m_impl->share);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer.data());
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, k_max_connections);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, config.user_agent.c_str());
  if (!config.disable_compression && !request.no_compression) {
    // gzip only, like client-go: kube-apiserver compresses nothing else (and only large
    // responses), while offering br/zstd made servers that honour them spend far more on a
    // small answer than the transfer saves.
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
  }

  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    }
  }
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", name, value).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  // TLS
  if (curl_uses_openssl()) {
    curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, keep_tls_buffers);
  }
  if (config.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config.ca_pem.empty()) {
      // Only the configured CA, as client-go does: no system bundle or directory.
      set_blob(curl, CURLOPT_CAINFO_BLOB, config.ca_pem);
      curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
    }
  }
  const auto& cert =
      request.client_certificate_pem.empty() ? config.client_certificate_pem : request.client_certificate_pem;
  const auto& key = request.client_certificate_pem.empty() ? config.client_key_pem : request.client_key_pem;
  if (!cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    set_blob(curl, CURLOPT_SSLCERT_BLOB, cert);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    set_blob(curl, CURLOPT_SSLKEY_BLOB, key);
  }

  // Proxy: explicit, else Go's environment rules (never libcurl's own getenv).
  const std::string proxy =
      config.proxy_url.empty() ? proxy_from_environment(m_impl->env, request.url) : config.proxy_url;
  curl_easy_setopt(curl, CURLOPT_PROXY, curl_proxy(proxy).c_str());
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "");

  if (request.timeout.count() > 0) {
    const long timeout_ms = request.timeout.count();
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  }
  auto connect_timeout = config.connect_timeout;
  if (request.timeout.count() > 0 && request.timeout < connect_timeout) {
    connect_timeout = request.timeout;
  }
  const long connect_timeout_ms = connect_timeout.count();
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);

  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

  const CURLcode code = curl_easy_perform(curl);
  long connects = 0;
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
  m_impl->connects += connects;
  double connect_time = 0;
  curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME, &connect_time);
  long http_version = 0;
  curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &http_version);
  // Unset the per-request lists before they are freed; the handle goes back to the pool.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_CONNECT_TO, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  m_impl->release(curl);

  if (code == CURLE_OK) {
    if (http_version == CURL_HTTP_VERSION_2_0) {
      transfer.response.http_version = "2";
    }
    return std::move(transfer.response);
  }
  std::string detail = error_buffer[0] != '\0' ? std::string(error_buffer.data()) : curl_easy_strerror(code);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '.')) {
    detail.pop_back();
  }
  // "Failed to connect to h port p after 3 ms: ...": the timing only adds noise.
  if (auto after = detail.find(" after "); after != std::string::npos) {
    if (auto ms = detail.find(" ms", after); ms != std::string::npos && ms < after + 20) {
      detail.erase(after, ms + 3 - after);
    }
  }
  const auto fail = [&](ErrorCode category, const char* reason, std::string message) {
    return Error(category, std::move(message)).with_http(0, reason);
  };
  switch (code) {
    case CURLE_ABORTED_BY_CALLBACK:
      return fail(ErrorCode::cancelled, "Cancelled", "request cancelled");
    case CURLE_WRITE_ERROR:
      if (transfer.aborted_by_handler || request.stop.stop_requested()) {
        return fail(ErrorCode::cancelled, "Cancelled", "request cancelled");
      }
      return fail(ErrorCode::transport, transport_reason::k_connection_reset, detail);
    case CURLE_COULDNT_CONNECT:
      return fail(ErrorCode::transport, transport_reason::k_connect_failed, "connection refused: " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(ErrorCode::transport, transport_reason::k_resolve_failed, "no such host: " + detail);
    case CURLE_COULDNT_RESOLVE_PROXY:
      return fail(ErrorCode::transport, transport_reason::k_proxy, "proxy host not found: " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      if (connect_time <= 0.0) {
        return fail(ErrorCode::transport, transport_reason::k_connect_failed, "connection timed out: " + detail);
      }
      return fail(ErrorCode::transport, transport_reason::k_timeout, "request timed out: " + detail);
    case CURLE_PEER_FAILED_VERIFICATION:
      return fail(ErrorCode::transport, transport_reason::k_tls_verify, detail);
    case CURLE_SSL_CACERT_BADFILE:
      return fail(ErrorCode::transport, transport_reason::k_tls,
                  "the certificate authority data is not a valid PEM certificate: " + detail);
    case CURLE_SSL_CERTPROBLEM:
      return fail(ErrorCode::transport, transport_reason::k_tls,
                  "the client certificate or key is not valid PEM or they do not match: " + detail);
    case CURLE_SSL_CONNECT_ERROR:
      return fail(ErrorCode::transport, transport_reason::k_tls, "TLS handshake failed: " + detail);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return fail(ErrorCode::transport, transport_reason::k_connection_reset, "connection lost: " + detail);
    default:
      return fail(ErrorCode::transport, "Transport", detail);
  }
}

}  // namespace gpuorch::kube
