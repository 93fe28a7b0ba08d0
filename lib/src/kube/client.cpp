#include <gpuorch/kube/client.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/base/strings.hpp>
#include <gpuorch/kube/rate_limiter.hpp>
#include <gpuorch/model/api_status.hpp>

namespace gpuorch::kube {
namespace {

using nlohmann::json;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

int parse_retry_after(const HttpResponse& response) {
  if (auto value = response.header("Retry-After")) {
    const auto text = trim(*value);
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() < 8) {
      return std::stoi(std::string(text));
    }
  }
  return 0;
}

/// "299 - \"text\"" -> text (RFC 7234 warning with agent "-").
std::string warning_text(std::string_view header) {
  const auto quote = header.find('"');
  if (quote == std::string_view::npos) {
    return std::string(trim(header));
  }
  std::string out;
  for (std::size_t i = quote + 1; i < header.size(); ++i) {
    if (header[i] == '\\' && i + 1 < header.size()) {
      out += header[++i];
    } else if (header[i] == '"') {
      break;
    } else {
      out += header[i];
    }
  }
  return out;
}

std::string truncate_for_log(std::string_view body) {
  constexpr std::size_t k_max = 1024;
  if (body.size() <= k_max) {
    return std::string(body);
  }
  return fmt::format("{} [truncated {} chars]", body.substr(0, k_max), body.size() - k_max);
}

std::string format_duration(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) {
    return fmt::format("{}s", ms.count() / 1000);
  }
  return fmt::format("{}ms", ms.count());
}

/// Credentials for each request, with token-file rotation and exec refresh.
class Authenticator {
 public:
  struct Applied {
    Headers headers;
    std::string client_certificate_pem;
    std::string client_key_pem;
    std::string token;  // what was sent, to tell whether a refresh changed it
  };

  Authenticator(const RestConfig& config, const FileSystem& fs, Clock& clock, std::chrono::seconds refresh,
                std::unique_ptr<ExecCredentialProvider> exec)
      : m_config(config), m_fs(fs), m_clock(clock), m_refresh(refresh), m_exec(std::move(exec)) {
    m_token = config.bearer_token;
    m_token_read = clock.monotonic();
  }

  Result<Applied> apply() {
    Applied applied;
    if (!m_config.bearer_token.empty() || !m_config.bearer_token_file.empty()) {
      applied.token = current_token(false);
      if (!applied.token.empty()) {
        applied.headers.emplace_back("Authorization", "Bearer " + applied.token);
      }
    } else if (!m_config.username.empty() || !m_config.password.empty()) {
      applied.headers.emplace_back("Authorization",
                                   "Basic " + base64_encode(m_config.username + ":" + m_config.password));
    } else if (m_exec && m_config.client_certificate_pem.empty()) {
      GPUORCH_ASSIGN_OR_RETURN(auto credential, m_exec->get());
      if (!credential.token.empty()) {
        applied.token = credential.token;
        applied.headers.emplace_back("Authorization", "Bearer " + credential.token);
      }
      applied.client_certificate_pem = credential.client_certificate_pem;
      applied.client_key_pem = credential.client_key_pem;
    }
    if (!m_config.impersonate_user.empty()) {
      applied.headers.emplace_back("Impersonate-User", m_config.impersonate_user);
    }
    if (!m_config.impersonate_uid.empty()) {
      applied.headers.emplace_back("Impersonate-Uid", m_config.impersonate_uid);
    }
    for (const auto& group : m_config.impersonate_groups) {
      applied.headers.emplace_back("Impersonate-Group", group);
    }
    for (const auto& [key, values] : m_config.impersonate_extra) {
      for (const auto& value : values) {
        applied.headers.emplace_back("Impersonate-Extra-" + url_encode(key), value);
      }
    }
    return applied;
  }

  /// After a 401: refresh what can be refreshed. True when a retry may succeed.
  bool refresh_after_unauthorized(const Applied& used) {
    if (!m_config.bearer_token_file.empty()) {
      return current_token(true) != used.token;
    }
    if (m_exec && m_config.bearer_token.empty() && m_config.username.empty() && m_config.password.empty()) {
      m_exec->invalidate();
      return true;
    }
    return false;
  }

 private:
  std::string current_token(bool force) {
    std::lock_guard lock(m_mutex);
    if (!m_config.bearer_token_file.empty() && (force || m_clock.monotonic() - m_token_read >= m_refresh)) {
      // The file wins while it is readable (projected tokens rotate); the last
      // good token is kept otherwise.
      if (auto text = m_fs.read_file(m_config.bearer_token_file); text && !trim(*text).empty()) {
        m_token = trim(*text);
      } else if (!text) {
        spdlog::warn("cannot re-read token file {}: {}", m_config.bearer_token_file, text.error().message());
      }
      m_token_read = m_clock.monotonic();
    }
    return m_token;
  }

  const RestConfig& m_config;
  const FileSystem& m_fs;
  Clock& m_clock;
  std::chrono::seconds m_refresh;
  std::unique_ptr<ExecCredentialProvider> m_exec;
  std::mutex m_mutex;
  std::string m_token;
  std::chrono::steady_clock::time_point m_token_read;
};

bool is_read(std::string_view verb) {
  return verb == "GET" || verb == "HEAD";
}

}  // namespace

std::string Gvr::group_version() const {
  return group.empty() ? version : group + "/" + version;
}

std::string Gvr::qualified_resource() const {
  return group.empty() ? resource : resource + "." + group;
}

namespace resources {
Gvr namespaces() {
  return {"", "v1", "namespaces", false};
}
Gvr nodes() {
  return {"", "v1", "nodes", false};
}
Gvr pods() {
  return {"", "v1", "pods", true};
}
Gvr events() {
  return {"", "v1", "events", true};
}
Gvr jobs() {
  return {"batch", "v1", "jobs", true};
}
Gvr leases() {
  return {"coordination.k8s.io", "v1", "leases", true};
}
Gvr custom_resource_definitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
}
Gvr gpu_workloads() {
  return {"gpuorch.io", "v1alpha1", "gpuworkloads", true};
}
}  // namespace resources

std::string url_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string resource_path(const Gvr& gvr, std::string_view ns, std::string_view name, std::string_view subresource) {
  std::string path = gvr.group.empty() ? "/api/" + gvr.version : "/apis/" + gvr.group + "/" + gvr.version;
  if (gvr.namespaced && !ns.empty()) {
    path += "/namespaces/" + url_encode(ns);
  }
  path += "/" + gvr.resource;
  if (!name.empty()) {
    path += "/" + url_encode(name);
    if (!subresource.empty()) {
      path += "/" + std::string(subresource);
    }
  }
  return path;
}

std::string_view content_type(PatchType type) {
  switch (type) {
    case PatchType::merge:
      return "application/merge-patch+json";
    case PatchType::json:
      return "application/json-patch+json";
    case PatchType::strategic:
      return "application/strategic-merge-patch+json";
    case PatchType::apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

Error decode_api_error(const HttpResponse& response, std::string_view verb, std::string_view url) {
  const int status = response.status;
  std::string reason;
  std::string message;
  std::vector<FieldCause> causes;
  int retry_after = parse_retry_after(response);
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.value("kind", std::string()) == "Status") {
    reason = body.value("reason", std::string());
    message = body.value("message", std::string());
    if (auto details = body.find("details"); details != body.end() && details->is_object()) {
      if (auto list = details->find("causes"); list != details->end() && list->is_array()) {
        for (const auto& cause : *list) {
          if (!cause.is_object()) {
            continue;
          }
          FieldCause c;
          c.field = cause.value("field", std::string());
          c.message = cause.value("message", std::string());
          c.reason = cause.value("reason", std::string());
          causes.push_back(std::move(c));
        }
      }
      if (retry_after == 0) {
        retry_after = details->value("retryAfterSeconds", 0);
      }
    }
  } else if (!trim(response.body).empty()) {
    message = trim(response.body).substr(0, 512);
  }
  if (reason.empty()) {
    // A create that collides is AlreadyExists; every other 409 is a Conflict (as client-go decides).
    reason = status == 409 && verb == "POST" ? model::k_reason_already_exists : model::status_reason_for_code(status);
  }
  if (message.empty()) {
    message = fmt::format("the server responded with {} {} to {} {}", status, reason_phrase(status), verb, url);
  }
  ErrorCode code = ErrorCode::api;
  if (reason == model::k_reason_not_found) {
    code = ErrorCode::not_found;
  } else if (reason == model::k_reason_already_exists || reason == model::k_reason_conflict || status == 409) {
    code = ErrorCode::conflict;
  } else if (reason == model::k_reason_invalid || status == 422) {
    code = ErrorCode::invalid;
  } else if (status == 401 || status == 403) {
    code = ErrorCode::auth;
  }
  return Error(code, std::move(message))
      .with_http(status, std::move(reason))
      .with_causes(std::move(causes))
      .with_retry_after(retry_after);
}

struct Client::Impl {
  RestConfig config;
  ClientOptions options;
  Environment env;
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<Random> random;
  std::shared_ptr<ProcessRunner> process_runner;
  std::shared_ptr<const FileSystem> fs;
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<Authenticator> auth;
  std::mutex random_mutex;
  std::mutex warnings_mutex;
  std::set<std::string> warnings_seen;
  std::function<void(const std::string&)> warning_handler;

  std::chrono::nanoseconds backoff(int attempt) {
    const double base = std::chrono::duration<double, std::milli>(options.backoff_base).count();
    const double cap = std::chrono::duration<double, std::milli>(options.backoff_cap).count();
    double delay = std::min(cap, base * std::pow(2.0, attempt));
    double r = 0.5;
    {
      std::lock_guard lock(random_mutex);
      r = random->uniform();
    }
    // ±20 % jitter keeps many clients from retrying in lockstep.
    delay = std::min(cap, delay * (0.8 + 0.4 * r));
    return std::chrono::nanoseconds(static_cast<long long>(delay * 1e6));
  }

  void surface_warnings(const HttpResponse& response) {
    for (const auto& value : find_headers(response.headers, "Warning")) {
      auto text = warning_text(value);
      if (text.empty()) {
        continue;
      }
      std::function<void(const std::string&)> handler;
      {
        std::lock_guard lock(warnings_mutex);
        if (!warnings_seen.insert(text).second) {
          continue;
        }
        handler = warning_handler;
      }
      if (handler) {
        handler(text);
      } else {
        spdlog::warn("{}", text);
      }
    }
  }

  Error transport_error(Error error, const std::string& verb, const std::string& url) const {
    const auto& reason = error.reason();
    std::string message;
    if (reason == transport_reason::k_tls_verify) {
      message = fmt::format(
          "the TLS certificate of {} is not trusted ({}): {}; check certificate-authority(-data) of the cluster in "
          "the kubeconfig or pass --certificate-authority (and tls-server-name if the certificate names another "
          "host)",
          config.server,
          config.ca_source.empty() ? "verified against the system's trusted roots"
                                   : "verified against " + config.ca_source,
          error.message());
    } else if (reason == transport_reason::k_timeout) {
      message = fmt::format("{} {}: {}", verb, url, error.message());
    } else {
      message = fmt::format("cannot reach the Kubernetes API server at {} ({} {}): {}", config.server, verb,
                            redact_url(url), error.message());
    }
    return Error(error.code(), std::move(message)).with_http(0, reason);
  }

  Error with_identity(Error error) const {
    if (error.http_status() == 401) {
      return Error(ErrorCode::auth,
                   fmt::format("You must be logged in to the server: it did not accept the credentials of {} ({})",
                               config.identity_description(), error.message()))
          .with_http(401, error.reason());
    }
    if (error.http_status() == 403) {
      return Error(ErrorCode::auth,
                   fmt::format("{} (authenticated as {})", error.message(), config.identity_description()))
          .with_http(403, error.reason())
          .with_causes(error.causes());
    }
    return error;
  }

  void log_request(const HttpRequest& request, const Result<HttpResponse>& response,
                   std::chrono::steady_clock::duration latency) const {
    if (options.verbosity < 6) {
      return;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(latency).count();
    if (options.verbosity >= 8) {
      spdlog::debug("{} {}", request.method, redact_url(request.url));
      spdlog::debug("Request Headers:");
      for (const auto& [name, value] : request.headers) {
        spdlog::debug("    {}: {}", name, redact_header(name, value));
      }
      if (!request.body.empty()) {
        spdlog::debug("Request Body: {}", truncate_for_log(request.body));
      }
    }
    if (response) {
      spdlog::debug("{} {} {} {} in {} milliseconds", request.method, redact_url(request.url), response->status,
                    reason_phrase(response->status), ms);
      if (options.verbosity >= 8) {
        spdlog::debug("Response Headers:");
        for (const auto& [name, value] : response->headers) {
          spdlog::debug("    {}: {}", name, redact_header(name, value));
        }
        if (!response->body.empty()) {
          spdlog::debug("Response Body: {}", truncate_for_log(response->body));
        }
      }
    } else {
      spdlog::debug("{} {} failed in {} milliseconds: {}", request.method, redact_url(request.url), ms,
                    response.error().message());
    }
  }
};

Client::Client(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Client::~Client() = default;

Result<std::shared_ptr<Client>> Client::create(RestConfig config, ClientOptions options, Environment env,
                                               ClientDeps deps) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->options = std::move(options);
  impl->env = std::move(env);
  impl->clock = deps.clock ? deps.clock : std::make_shared<SystemClock>();
  impl->random = deps.random ? deps.random : std::make_shared<SeededRandom>(std::random_device{}());
  impl->process_runner = deps.process_runner ? deps.process_runner : std::make_shared<PosixProcessRunner>();
  impl->fs = deps.fs ? deps.fs : std::make_shared<RealFileSystem>();
  if (deps.transport) {
    impl->transport = deps.transport;
  } else {
    TransportConfig transport;
    transport.insecure_skip_tls_verify = impl->config.insecure_skip_tls_verify;
    transport.ca_pem = impl->config.ca_pem;
    transport.client_certificate_pem = impl->config.client_certificate_pem;
    transport.client_key_pem = impl->config.client_key_pem;
    transport.tls_server_name = impl->config.tls_server_name;
    transport.proxy_url = impl->config.proxy_url;
    transport.disable_compression = impl->config.disable_compression;
    transport.user_agent = impl->options.user_agent;
    impl->transport = std::make_shared<CurlTransport>(std::move(transport), impl->env);
  }
  impl->limiter = std::make_unique<RateLimiter>(impl->options.qps, impl->options.burst, *impl->clock);
  std::unique_ptr<ExecCredentialProvider> exec;
  if (impl->config.exec) {
    exec = std::make_unique<ExecCredentialProvider>(
        *impl->config.exec, impl->config.exec_cluster_info, impl->env, *impl->process_runner, *impl->clock,
        impl->options.stdin_is_terminal, impl->config.identity_description());
  }
  impl->auth = std::make_unique<Authenticator>(impl->config, *impl->fs, *impl->clock, impl->options.token_file_refresh,
                                               std::move(exec));
  return std::shared_ptr<Client>(new Client(std::move(impl)));
}

const RestConfig& Client::config() const {
  return m_impl->config;
}
const ClientOptions& Client::options() const {
  return m_impl->options;
}
Clock& Client::clock() const {
  return *m_impl->clock;
}
Random& Client::random() const {
  return *m_impl->random;
}

void Client::set_warning_handler(std::function<void(const std::string&)> handler) {
  std::lock_guard lock(m_impl->warnings_mutex);
  m_impl->warning_handler = std::move(handler);
}

std::string Client::url(std::string_view path, const std::vector<std::pair<std::string, std::string>>& query) const {
  std::string out = m_impl->config.server;
  out += path;
  char sep = '?';
  for (const auto& [key, value] : query) {
    out += sep;
    out += url_encode(key);
    out += '=';
    out += url_encode(value);
    sep = '&';
  }
  return out;
}

Result<HttpResponse> Client::send(Request request) {
  auto& impl = *m_impl;
  const auto timeout = request.timeout.value_or(impl.config.timeout);
  const auto start = impl.clock->monotonic();
  const bool has_deadline = timeout.count() > 0;
  const auto deadline = start + timeout;
  const std::string url = this->url(request.path, request.query);
  bool auth_retried = false;
  int attempt = 0;
  int connect_attempt = 0;

  while (true) {
    if (!impl.limiter->acquire(request.stop)) {
      return Error(ErrorCode::cancelled, "request cancelled");
    }
    GPUORCH_ASSIGN_OR_RETURN(auto credentials, impl.auth->apply());
    HttpRequest http;
    http.method = request.verb;
    http.url = url;
    http.headers.emplace_back("Accept", "application/json");
    if (!request.body.empty() || !request.content_type.empty()) {
      http.headers.emplace_back("Content-Type",
                                request.content_type.empty() ? std::string("application/json") : request.content_type);
    }
    for (auto& header : credentials.headers) {
      http.headers.push_back(std::move(header));
    }
    http.body = request.body;
    http.on_data = request.on_data;
    http.stop = request.stop;
    http.no_compression = request.no_compression;
    http.client_certificate_pem = credentials.client_certificate_pem;
    http.client_key_pem = credentials.client_key_pem;
    if (has_deadline) {
      http.timeout =
          std::max(std::chrono::milliseconds(1),
                   std::chrono::duration_cast<std::chrono::milliseconds>(deadline - impl.clock->monotonic()));
    }

    const auto sent = impl.clock->monotonic();
    auto response = impl.transport->send(http);
    impl.log_request(http, response, impl.clock->monotonic() - sent);

    std::optional<std::chrono::nanoseconds> delay;
    std::optional<Error> failure;
    if (!response) {
      const auto& error = response.error();
      if (error.code() == ErrorCode::cancelled) {
        return std::move(response).error();
      }
      const std::string reason = error.reason();
      if (reason == transport_reason::k_connect_failed && connect_attempt < impl.options.max_connect_retries) {
        delay = impl.backoff(connect_attempt++);
      } else if ((reason == transport_reason::k_connection_reset || reason == transport_reason::k_timeout) &&
                 is_read(request.verb) && !request.on_data && attempt < impl.options.max_retries) {
        delay = impl.backoff(attempt++);
      }
      failure = impl.transport_error(std::move(response).error(), request.verb, url);
      if (reason == transport_reason::k_timeout && has_deadline) {
        failure = Error(ErrorCode::transport,
                        fmt::format("{} {}: no answer within the request timeout of {} (--request-timeout)",
                                    request.verb, url, format_duration(timeout)))
                      .with_http(0, transport_reason::k_timeout);
      }
    } else {
      impl.surface_warnings(*response);
      const int status = response->status;
      if (status >= 200 && status < 300) {
        return response;
      }
      if (status == 401 && !auth_retried && impl.auth->refresh_after_unauthorized(credentials)) {
        auth_retried = true;
        continue;
      }
      Error error = decode_api_error(*response, request.verb, url);
      const bool has_retry_after = response->header("Retry-After").has_value();
      const bool retryable =
          status == 429 || (status >= 500 && (is_read(request.verb) || has_retry_after) && status != 501);
      if (retryable && attempt < impl.options.max_retries && !request.on_data) {
        delay = error.retry_after_seconds() > 0
                    ? std::chrono::nanoseconds(std::chrono::seconds(
                          std::min<long long>(error.retry_after_seconds(), impl.options.max_retry_after.count())))
                    : impl.backoff(attempt);
        ++attempt;
      } else if (retryable && request.on_data && attempt < impl.options.max_retries) {
        delay = impl.backoff(attempt++);
      }
      failure = impl.with_identity(std::move(error));
    }
    if (!delay) {
      return std::move(*failure);
    }
    if (has_deadline && impl.clock->monotonic() + *delay >= deadline) {
      return std::move(*failure);
    }
    spdlog::debug("retrying {} {} in {} ms: {}", request.verb, redact_url(url),
                  std::chrono::duration_cast<std::chrono::milliseconds>(*delay).count(), failure->message());
    if (!impl.clock->sleep_for(*delay, request.stop)) {
      return Error(ErrorCode::cancelled, "request cancelled");
    }
  }
}

namespace {

Result<json> parse_body(const HttpResponse& response, std::string_view what) {
  if (response.body.empty()) {
    return json::object();
  }
  json body = json::parse(response.body, nullptr, false);
  if (body.is_discarded()) {
    return Error(ErrorCode::api, fmt::format("{}: the server's answer is not JSON", what));
  }
  return body;
}

void add_write_options(std::vector<std::pair<std::string, std::string>>& query, const WriteOptions& options) {
  if (options.dry_run) {
    query.emplace_back("dryRun", "All");
  }
  if (!options.field_manager.empty()) {
    query.emplace_back("fieldManager", options.field_manager);
  }
}

std::string object_name(const json& object) {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    return md->value("name", std::string());
  }
  return {};
}

}  // namespace

Result<json> Client::get(const Gvr& gvr, std::string_view ns, std::string_view name, std::string_view subresource) {
  Request request;
  request.path = resource_path(gvr, ns, name, subresource);
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "get");
}

Result<json> Client::list(const Gvr& gvr, std::string_view ns, const ListOptions& options) {
  Request request;
  request.path = resource_path(gvr, ns);
  if (!options.label_selector.empty()) {
    request.query.emplace_back("labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    request.query.emplace_back("fieldSelector", options.field_selector);
  }
  if (options.limit > 0) {
    request.query.emplace_back("limit", std::to_string(options.limit));
  }
  if (!options.continue_token.empty()) {
    request.query.emplace_back("continue", options.continue_token);
  }
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (!options.resource_version_match.empty()) {
    request.query.emplace_back("resourceVersionMatch", options.resource_version_match);
  }
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "list");
}

Result<json> Client::list_all(const Gvr& gvr, std::string_view ns, ListOptions options) {
  json combined;
  json items = json::array();
  while (true) {
    GPUORCH_ASSIGN_OR_RETURN(auto page, list(gvr, ns, options));
    if (auto it = page.find("items"); it != page.end() && it->is_array()) {
      for (auto& item : *it) {
        items.push_back(std::move(item));
      }
    }
    std::string next;
    if (auto md = page.find("metadata"); md != page.end() && md->is_object()) {
      next = md->value("continue", std::string());
    }
    combined = std::move(page);
    if (next.empty()) {
      break;
    }
    options.continue_token = next;
    // Later pages are served from the first page's snapshot.
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
  combined["items"] = std::move(items);
  if (combined.contains("metadata") && combined["metadata"].is_object()) {
    combined["metadata"].erase("continue");
    combined["metadata"].erase("remainingItemCount");
  }
  return combined;
}

Result<json> Client::create(const Gvr& gvr, std::string_view ns, const json& object, const WriteOptions& options) {
  Request request;
  request.verb = "POST";
  request.path = resource_path(gvr, ns);
  add_write_options(request.query, options);
  request.body = object.dump();
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "create");
}

Result<json> Client::update(const Gvr& gvr, std::string_view ns, const json& object, const WriteOptions& options) {
  const auto name = object_name(object);
  if (name.empty()) {
    return Error(ErrorCode::usage, "update: the object has no metadata.name");
  }
  Request request;
  request.verb = "PUT";
  request.path = resource_path(gvr, ns, name, options.subresource);
  add_write_options(request.query, options);
  request.body = object.dump();
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "update");
}

Result<json> Client::patch(const Gvr& gvr, std::string_view ns, std::string_view name, PatchType type,
                           const std::string& body, const WriteOptions& options) {
  if (type == PatchType::apply && options.field_manager.empty()) {
    return Error(ErrorCode::usage, "server-side apply needs a field manager");
  }
  Request request;
  request.verb = "PATCH";
  request.path = resource_path(gvr, ns, name, options.subresource);
  add_write_options(request.query, options);
  if (type == PatchType::apply && options.force) {
    request.query.emplace_back("force", "true");
  }
  request.content_type = std::string(content_type(type));
  request.body = body;
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "patch");
}

Result<json> Client::apply(const Gvr& gvr, std::string_view ns, const json& object, const WriteOptions& options) {
  const auto name = object_name(object);
  if (name.empty()) {
    return Error(ErrorCode::usage, "apply: the object has no metadata.name");
  }
  // JSON is YAML, so the apply-patch+yaml content type takes it as is.
  return patch(gvr, ns, name, PatchType::apply, object.dump(), options);
}

Result<json> Client::remove(const Gvr& gvr, std::string_view ns, std::string_view name, const DeleteOptions& options) {
  Request request;
  request.verb = "DELETE";
  request.path = resource_path(gvr, ns, name);
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (!options.precondition_uid.empty()) {
    body["preconditions"]["uid"] = options.precondition_uid;
  }
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (options.grace_period_seconds) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  if (options.dry_run) {
    body["dryRun"] = json::array({"All"});
    request.query.emplace_back("dryRun", "All");
  }
  request.body = body.dump();
  GPUORCH_ASSIGN_OR_RETURN(auto response, send(std::move(request)));
  return parse_body(response, "delete");
}

}  // namespace gpuorch::kube
