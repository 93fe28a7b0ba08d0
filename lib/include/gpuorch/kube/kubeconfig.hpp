#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// Named extensions (`extensions: [{name, extension}]`), kept as opaque JSON.
using Extensions = std::map<std::string, nlohmann::json>;

/// clientcmd's Cluster. `*_data` fields hold decoded bytes (PEM text).
struct ClusterEntry {
  std::string server;
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string certificate_authority;
  std::string certificate_authority_data;
  std::string proxy_url;
  bool disable_compression = false;
  Extensions extensions;
  /// The kubeconfig file this entry came from (relative paths resolve against it).
  std::string location_of_origin;
};

struct ExecEnvVar {
  std::string name;
  std::string value;
  friend bool operator==(const ExecEnvVar&, const ExecEnvVar&) = default;
};

/// An exec credential plugin (`user.exec`).
struct ExecConfig {
  std::string command;
  std::vector<std::string> args;
  std::vector<ExecEnvVar> env;
  std::string api_version;
  std::string install_hint;
  bool provide_cluster_info = false;
  /// "Never", "IfAvailable", "Always" or "" (v1beta1 then means IfAvailable).
  std::string interactive_mode;
};

/// The legacy `auth-provider` (gcp, azure, oidc); recognised only to reject it clearly.
struct AuthProviderConfig {
  std::string name;
  std::map<std::string, std::string> config;
};

/// clientcmd's AuthInfo (a kubeconfig `user`).
struct AuthInfoEntry {
  std::string client_certificate;
  std::string client_certificate_data;
  std::string client_key;
  std::string client_key_data;
  std::string token;
  std::string token_file;
  std::string impersonate;
  std::string impersonate_uid;
  std::vector<std::string> impersonate_groups;
  std::map<std::string, std::vector<std::string>> impersonate_user_extra;
  std::string username;
  std::string password;
  std::optional<AuthProviderConfig> auth_provider;
  std::optional<ExecConfig> exec;
  Extensions extensions;
  std::string location_of_origin;
};

struct ContextEntry {
  std::string cluster;
  std::string user;
  std::string namespace_name;
  Extensions extensions;
  std::string location_of_origin;
};

struct Preferences {
  bool colors = false;
  Extensions extensions;
};

/// One kubeconfig file, or several merged. Maps are keyed by name.
struct KubeConfig {
  Preferences preferences;
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, AuthInfoEntry> users;
  std::map<std::string, ContextEntry> contexts;
  std::string current_context;
  Extensions extensions;

  /// True when the file defines nothing at all (client-go's empty config).
  [[nodiscard]] bool empty() const;
};

/// Parses one kubeconfig file's text (YAML or JSON) with client-go's typing
/// rules: YAML 1.1 plain scalars resolve first, so `token: 123` or `password: yes`
/// are errors, as they are for kubectl. `filename` is recorded as each entry's
/// origin and named in errors: `error loading kubeconfig "/x": users[0].user.token: ...`.
/// Errors are ErrorCode::config.
Result<KubeConfig> parse_kubeconfig(std::string_view text, const std::string& filename);

/// The same as parse_kubeconfig, read with yaml-cpp only. parse_kubeconfig reads with libyaml
/// first (several times faster) and falls back to this for texts libyaml rejects and for every
/// error, whose messages and positions are yaml-cpp's; tests compare the two readers.
Result<KubeConfig> parse_kubeconfig_with_yaml_cpp(std::string_view text, const std::string& filename);

/// Merges configs in priority order with client-go's rules: the first file that
/// defines a map key (cluster, user, context, extension) wins the whole entry;
/// the first non-empty scalar (current-context, preferences.colors) wins.
KubeConfig merge_kubeconfigs(const std::vector<KubeConfig>& configs);

/// Rewrites the relative paths of entries (certificate-authority,
/// client-certificate, client-key, tokenFile, and exec.command when it contains
/// a '/') against the directory of the file that defined them. `cwd` makes a
/// relative file location absolute first.
void resolve_relative_paths(KubeConfig& config, std::string_view cwd);

/// The config as `kubectl config view --raw -o json` prints it (same keys,
/// omission of empty fields, names in order). Used by tests as an oracle check
/// and by `gpuorch config view`-like output.
nlohmann::json to_view_json(const KubeConfig& config);

/// Which files were read, in priority order, and the merged result.
struct LoadedKubeConfig {
  KubeConfig config;
  std::vector<std::string> files;  ///< files that existed and were read
  /// How the file list was chosen: "--kubeconfig", "KUBECONFIG", "default" or "none".
  std::string source;
};

/// Loads kubeconfig files by client-go's precedence:
///  - `explicit_path` (--kubeconfig) non-empty: only that file; missing = error;
///  - else $KUBECONFIG: ':'-separated, empty and duplicate entries dropped,
///    missing files skipped, the rest merged first-wins;
///  - else $HOME/.kube/config when it exists;
///  - else an empty config (source "none").
/// Paths are not resolved here; see resolve_relative_paths.
Result<LoadedKubeConfig> load_kubeconfig(const std::string& explicit_path, const Environment& env,
                                         const FileSystem& fs);

/// Base64 helpers with Go's StdEncoding rules (padding required, CR/LF ignored).
Result<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace gpuorch::kube
