#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/kubeconfig.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// The kubectl-style command-line overrides (`--kubeconfig --context --cluster
/// --user -n --server --token --certificate-authority --client-certificate
/// --client-key --insecure-skip-tls-verify --request-timeout --in-cluster`).
/// Empty strings mean "not given".
struct ConfigOverrides {
  std::string kubeconfig;
  std::string context;
  std::string cluster;
  std::string user;
  std::string namespace_name;
  std::string server;
  std::string token;
  std::string certificate_authority;
  std::string client_certificate;
  std::string client_key;
  std::string tls_server_name;
  std::optional<bool> insecure_skip_tls_verify;
  /// kubectl's --request-timeout: "0" (none), "30" (seconds), "5s", "1m30s", "250ms".
  std::string request_timeout;
  bool in_cluster = false;
};

/// The well-known in-cluster service-account paths.
inline constexpr const char* k_service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
inline constexpr const char* k_service_account_token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr const char* k_service_account_ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
inline constexpr const char* k_service_account_namespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Everything needed to talk to one API server as one identity: the result of
/// applying client-go's rules to the kubeconfig, the overrides and the
/// environment. File contents (CA, client certificate and key) are read here, so
/// the transport only ever handles PEM data in memory.
struct RestConfig {
  /// Scheme, host, port and optional path prefix, without a trailing slash.
  std::string server;
  std::string context_name;  ///< empty when in-cluster or built from --server alone
  std::string cluster_name;
  std::string user_name;
  std::string namespace_name = "default";
  bool namespace_from_flag = false;
  bool in_cluster = false;
  /// The kubeconfig files that were read (for error messages).
  std::vector<std::string> files;

  // TLS
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string ca_pem;
  std::string ca_source;  ///< where ca_pem came from ("certificate-authority-data of cluster \"x\"", a path)
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::string proxy_url;
  bool disable_compression = false;

  // Authentication. At most one of token/basic applies; exec is used when no
  // static credential is present (client-go's precedence).
  std::string bearer_token;
  /// Re-read periodically and on 401 (projected service-account tokens rotate).
  std::string bearer_token_file;
  std::string username;
  std::string password;
  std::optional<ExecConfig> exec;
  /// The cluster as seen by an exec plugin with provideClusterInfo
  /// (ExecCredential spec.cluster), JSON.
  std::string exec_cluster_info;

  // Impersonation (Impersonate-User, -Uid, -Group, Impersonate-Extra-*).
  std::string impersonate_user;
  std::string impersonate_uid;
  std::vector<std::string> impersonate_groups;
  std::map<std::string, std::vector<std::string>> impersonate_extra;

  /// Whole-request timeout; zero means none.
  std::chrono::milliseconds timeout{0};

  /// "user \"x\" in context \"y\"" or "the in-cluster service account", for auth errors.
  [[nodiscard]] std::string identity_description() const;
};

/// Parses kubectl's --request-timeout ("0", "30", "5s", "1m30s", "250ms", "1h").
Result<std::chrono::milliseconds> parse_request_timeout(const std::string& text);

/// Builds the RestConfig by client-go's rules: load the kubeconfig files (see
/// load_kubeconfig), resolve relative paths against the file that defined them,
/// pick the context (--context or current-context), its cluster and user
/// (--cluster/--user override), apply the overrides, validate (one auth method
/// per user, no auth-provider, files readable) and read the referenced files.
/// When no kubeconfig gives a server and the process runs in a pod (or
/// `in_cluster` is set), the in-cluster service-account config is used.
/// Configuration problems are ErrorCode::config and name the file and field.
Result<RestConfig> load_rest_config(const ConfigOverrides& overrides, const Environment& env, const FileSystem& fs);

/// The in-cluster config alone (KUBERNETES_SERVICE_HOST/PORT, service-account
/// token, CA and namespace), with the overrides that apply to it.
Result<RestConfig> in_cluster_config(const ConfigOverrides& overrides, const Environment& env, const FileSystem& fs);

}  // namespace gpuorch::kube
