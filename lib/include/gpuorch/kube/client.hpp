#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/exec_plugin.hpp>
#include <gpuorch/kube/http.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// A resource type: group ("" for the core group), version, plural resource,
/// and whether it lives in namespaces.
struct Gvr {
  std::string group;
  std::string version;
  std::string resource;
  bool namespaced = true;

  /// "v1" or "batch/v1".
  [[nodiscard]] std::string group_version() const;
  /// "pods" or "jobs.batch" (kubectl's resource.group form).
  [[nodiscard]] std::string qualified_resource() const;
  friend bool operator==(const Gvr&, const Gvr&) = default;
};

/// The resources gpuorch uses.
namespace resources {
Gvr namespaces();
Gvr nodes();
Gvr pods();
Gvr events();
Gvr jobs();
Gvr leases();
Gvr custom_resource_definitions();
Gvr gpu_workloads();
}  // namespace resources

/// "/api/v1/namespaces/ns/pods/name/status" or "/apis/batch/v1/jobs" (all
/// namespaces when `ns` is empty). Cluster-scoped resources ignore `ns`.
/// Path segments are percent-encoded.
[[nodiscard]] std::string resource_path(const Gvr& gvr, std::string_view ns, std::string_view name = {},
                                        std::string_view subresource = {});

enum class PatchType {
  merge,      ///< application/merge-patch+json
  json,       ///< application/json-patch+json
  strategic,  ///< application/strategic-merge-patch+json (built-in types only)
  apply,      ///< application/apply-patch+yaml (server-side apply)
};
[[nodiscard]] std::string_view content_type(PatchType type);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;  ///< page size; 0 = server default (everything)
  std::string continue_token;
  std::string resource_version;
  std::string resource_version_match;
};

struct WriteOptions {
  bool dry_run = false;  ///< dryRun=All
  std::string field_manager;
  /// Server-side apply only: take ownership of conflicting fields.
  bool force = false;
  std::string subresource;  ///< e.g. "status"
};

struct DeleteOptions {
  std::string propagation_policy;  ///< "", Foreground, Background, Orphan
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::optional<std::int64_t> grace_period_seconds;
  bool dry_run = false;
};

/// One REST call. `path` starts with '/'; the server's path prefix is added.
struct Request {
  std::string verb = "GET";
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::string content_type;
  /// Overrides the client's request timeout; zero means none (watches).
  std::optional<std::chrono::milliseconds> timeout;
  /// Streams a successful response body (watches); see HttpRequest::on_data.
  std::function<bool(std::string_view)> on_data;
  std::stop_token stop;
  /// Ask for an uncompressed answer (watches: events must not wait in a compressor).
  bool no_compression = false;
};

struct ClientOptions {
  double qps = 50;  ///< client-side rate limit; <= 0 disables
  int burst = 100;
  int max_retries = 5;          ///< for 429/5xx/resets on requests that are safe to repeat
  int max_connect_retries = 2;  ///< when the connection could not even be opened
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_cap{5000};
  std::chrono::seconds max_retry_after{60};
  /// kubectl's -v: 6 logs one line per request, 8 also headers (redacted) and bodies.
  int verbosity = 0;
  std::string user_agent = "gpuorch";
  /// Whether standard input is a terminal (exec plugins' interactiveMode).
  bool stdin_is_terminal = false;
  /// Token files are re-read at most this often (and at once after a 401).
  std::chrono::seconds token_file_refresh{60};
};

/// Effects the client uses; null members get the real implementation.
struct ClientDeps {
  std::shared_ptr<HttpTransport> transport;
  std::shared_ptr<Clock> clock;
  std::shared_ptr<Random> random;
  std::shared_ptr<ProcessRunner> process_runner;
  std::shared_ptr<const FileSystem> fs;
};

/// Decodes a non-2xx response (a metav1.Status when the server sent one) into
/// a typed Error: NotFound -> not_found; AlreadyExists and Conflict -> conflict;
/// Invalid -> invalid with field causes; 401 and 403 -> auth; everything else
/// api. The reason and HTTP status are kept; Retry-After too.
[[nodiscard]] Error decode_api_error(const HttpResponse& response, std::string_view verb, std::string_view url);

/// A Kubernetes API client for one server and identity. Thread-safe: the
/// reconciler shares one across worker threads.
class Client {
 public:
  static Result<std::shared_ptr<Client>> create(RestConfig config, ClientOptions options = {}, Environment env = {},
                                                ClientDeps deps = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// One call with authentication, rate limiting, retries of what is safe to
  /// retry, Warning headers and request logs. Non-2xx answers become typed errors.
  Result<HttpResponse> send(Request request);

  Result<nlohmann::json> get(const Gvr& gvr, std::string_view ns, std::string_view name,
                             std::string_view subresource = {});
  /// One page; `continue` of the result's metadata fetches the next.
  Result<nlohmann::json> list(const Gvr& gvr, std::string_view ns, const ListOptions& options = {});
  /// Every page, concatenated into one list object (metadata from the last page).
  Result<nlohmann::json> list_all(const Gvr& gvr, std::string_view ns, ListOptions options = {});
  Result<nlohmann::json> create(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  /// PUT of the whole object (metadata.resourceVersion makes it conditional).
  Result<nlohmann::json> update(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  Result<nlohmann::json> patch(const Gvr& gvr, std::string_view ns, std::string_view name, PatchType type,
                               const std::string& body, const WriteOptions& options = {});
  /// Server-side apply of `object` (its apiVersion, kind and metadata.name are required).
  Result<nlohmann::json> apply(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                               const WriteOptions& options);
  /// DELETE; returns the server's answer (the object while finalizers hold it, or a Status).
  Result<nlohmann::json> remove(const Gvr& gvr, std::string_view ns, std::string_view name,
                                const DeleteOptions& options = {});

  /// Receives each distinct server Warning header once (the CLI prints
  /// "Warning: ..."); by default they are logged.
  void set_warning_handler(std::function<void(const std::string&)> handler);

  [[nodiscard]] const RestConfig& config() const;
  [[nodiscard]] const ClientOptions& options() const;
  [[nodiscard]] Clock& clock() const;
  [[nodiscard]] Random& random() const;
  /// The full URL of `path` with `query` (percent-encoded).
  [[nodiscard]] std::string url(std::string_view path,
                                const std::vector<std::pair<std::string, std::string>>& query = {}) const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// Percent-encodes a query value or path segment (RFC 3986 unreserved kept).
[[nodiscard]] std::string url_encode(std::string_view text);

}  // namespace gpuorch::kube
