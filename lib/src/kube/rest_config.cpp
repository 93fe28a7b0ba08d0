#include <gpuorch/kube/rest_config.hpp>

#include <cmath>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <gpuorch/base/strings.hpp>

namespace gpuorch::kube {
namespace {

Error config_error(std::string message) {
  return Error(ErrorCode::config, std::move(message));
}

std::string file_list(const std::vector<std::string>& files) {
  if (files.empty()) {
    return "no kubeconfig file";
  }
  if (files.size() == 1) {
    return fmt::format("kubeconfig \"{}\"", files.front());
  }
  return fmt::format("kubeconfig files {}", fmt::join(files, ":"));
}

std::string origin_of(const std::string& location, const std::vector<std::string>& files) {
  if (!location.empty()) {
    return fmt::format("\"{}\"", location);
  }
  return file_list(files);
}

bool in_cluster_possible(const Environment& env, const FileSystem& fs) {
  return !env.value("KUBERNETES_SERVICE_HOST").empty() && !env.value("KUBERNETES_SERVICE_PORT").empty() &&
         fs.is_regular_file(k_service_account_token);
}

std::string join_host_port(const std::string& host, const std::string& port) {
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return fmt::format("[{}]:{}", host, port);
  }
  return fmt::format("{}:{}", host, port);
}

/// Reads a file named by a kubeconfig field, naming the field and owner on failure.
Result<std::string> read_referenced(const FileSystem& fs, const std::string& path, std::string_view field,
                                    std::string_view owner) {
  auto data = fs.read_file(path);
  if (!data) {
    return config_error(fmt::format("unable to read {} \"{}\" for {}: {}", field, path, owner, data.error().message()));
  }
  return data;
}

Status validate_proxy_url(const std::string& proxy, std::string_view owner) {
  if (proxy.empty()) {
    return {};
  }
  const auto scheme_end = proxy.find("://");
  const std::string scheme = scheme_end == std::string::npos ? std::string() : proxy.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https" && scheme != "socks5") {
    return config_error(fmt::format("proxy-url \"{}\" of {}: unsupported scheme \"{}\", must be http, https or socks5",
                                    proxy, owner, scheme));
  }
  return {};
}

std::string normalize_server(std::string server, bool tls) {
  if (server.find("://") == std::string::npos) {
    server = (tls ? "https://" : "http://") + server;
  }
  while (server.size() > 1 && server.back() == '/') {
    server.pop_back();
  }
  return server;
}

bool is_https(const std::string& server) {
  return server.rfind("https://", 0) == 0;
}

Status validate_exec(const ExecConfig& exec, const std::string& user_name, const std::string& origin) {
  const auto owner = fmt::format("user \"{}\" in {}", user_name, origin);
  if (exec.command.empty()) {
    return config_error(fmt::format("users[{}].user.exec.command: must be set for {}", user_name, owner));
  }
  if (exec.api_version.empty()) {
    return config_error(fmt::format(
        "users[{}].user.exec.apiVersion: must be set for {} (client.authentication.k8s.io/v1)", user_name, owner));
  }
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1") {
    return config_error(fmt::format(
        "users[{}].user.exec.apiVersion: unsupported \"{}\" for {}; use client.authentication.k8s.io/v1 or v1beta1",
        user_name, exec.api_version, owner));
  }
  for (std::size_t i = 0; i < exec.env.size(); ++i) {
    if (exec.env[i].name.empty()) {
      return config_error(fmt::format("users[{}].user.exec.env[{}].name: must be set for {}", user_name, i, owner));
    }
  }
  const auto& mode = exec.interactive_mode;
  if (mode.empty()) {
    if (exec.api_version == "client.authentication.k8s.io/v1") {
      return config_error(
          fmt::format("users[{}].user.exec.interactiveMode: must be set for {} with client.authentication.k8s.io/v1 "
                      "(Never, IfAvailable or Always)",
                      user_name, owner));
    }
  } else if (mode != "Never" && mode != "IfAvailable" && mode != "Always") {
    return config_error(fmt::format(
        "users[{}].user.exec.interactiveMode: invalid value \"{}\" for {}, must be Never, IfAvailable or Always",
        user_name, mode, owner));
  }
  return {};
}

std::string exec_cluster_json(const RestConfig& rc, const ClusterEntry& cluster) {
  nlohmann::json out = nlohmann::json::object();
  out["server"] = rc.server;
  if (!rc.tls_server_name.empty()) {
    out["tls-server-name"] = rc.tls_server_name;
  }
  if (rc.insecure_skip_tls_verify) {
    out["insecure-skip-tls-verify"] = true;
  }
  if (!rc.ca_pem.empty()) {
    out["certificate-authority-data"] = base64_encode(rc.ca_pem);
  }
  if (!rc.proxy_url.empty()) {
    out["proxy-url"] = rc.proxy_url;
  }
  if (rc.disable_compression) {
    out["disable-compression"] = true;
  }
  if (auto it = cluster.extensions.find("client.authentication.k8s.io/exec"); it != cluster.extensions.end()) {
    out["config"] = it->second;
  }
  return out.dump();
}

}  // namespace

std::string RestConfig::identity_description() const {
  if (in_cluster) {
    return "the in-cluster service account";
  }
  if (context_name.empty()) {
    return user_name.empty() ? fmt::format("the credentials for {}", server) : fmt::format("user \"{}\"", user_name);
  }
  return fmt::format("user \"{}\" in context \"{}\"", user_name, context_name);
}

Result<std::chrono::milliseconds> parse_request_timeout(const std::string& text) {
  const auto invalid = [&] {
    return Error(ErrorCode::usage,
                 fmt::format("invalid --request-timeout \"{}\": must be a whole number of seconds or a number with a "
                             "unit (e.g. 30s, 2m, 1h)",
                             text));
  };
  if (text.empty() || text == "0") {
    return std::chrono::milliseconds(0);
  }
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    return std::chrono::milliseconds(std::stoll(text) * 1000);
  }
  double total_ms = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto number_end = text.find_first_not_of("0123456789.", pos);
    if (number_end == pos || number_end == std::string::npos) {
      return invalid();
    }
    double value = 0;
    try {
      value = std::stod(text.substr(pos, number_end - pos));
    } catch (const std::exception&) {
      return invalid();
    }
    auto unit_end = text.find_first_of("0123456789.", number_end);
    if (unit_end == std::string::npos) {
      unit_end = text.size();
    }
    const std::string unit = text.substr(number_end, unit_end - number_end);
    double scale = 0;
    if (unit == "h") {
      scale = 3600e3;
    } else if (unit == "m") {
      scale = 60e3;
    } else if (unit == "s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "us" || unit == "µs") {
      scale = 1e-3;
    } else if (unit == "ns") {
      scale = 1e-6;
    } else {
      return invalid();
    }
    total_ms += value * scale;
    pos = unit_end;
  }
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(total_ms)));
}

Result<RestConfig> in_cluster_config(const ConfigOverrides& overrides, const Environment& env, const FileSystem& fs) {
  const std::string host = env.value("KUBERNETES_SERVICE_HOST");
  const std::string port = env.value("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return config_error(
        "unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined");
  }
  RestConfig rc;
  rc.in_cluster = true;
  rc.server =
      overrides.server.empty() ? "https://" + join_host_port(host, port) : normalize_server(overrides.server, true);
  if (!overrides.token.empty()) {
    rc.bearer_token = overrides.token;
  } else {
    auto token = fs.read_file(k_service_account_token);
    if (!token) {
      return config_error(
          fmt::format("unable to load in-cluster configuration: service-account token: {}", token.error().message()));
    }
    rc.bearer_token = trim(*token);
    rc.bearer_token_file = k_service_account_token;
  }
  if (overrides.insecure_skip_tls_verify.value_or(false)) {
    rc.insecure_skip_tls_verify = true;
  } else if (!overrides.certificate_authority.empty()) {
    GPUORCH_ASSIGN_OR_RETURN(rc.ca_pem, read_referenced(fs, overrides.certificate_authority, "certificate-authority",
                                                        "--certificate-authority"));
    rc.ca_source = overrides.certificate_authority;
  } else if (fs.is_regular_file(k_service_account_ca)) {
    // Like client-go: an unreadable ca.crt falls back to the system roots.
    if (auto ca = fs.read_file(k_service_account_ca)) {
      rc.ca_pem = std::move(ca).value();
      rc.ca_source = k_service_account_ca;
    }
  }
  rc.tls_server_name = overrides.tls_server_name;
  if (!overrides.namespace_name.empty()) {
    rc.namespace_name = overrides.namespace_name;
    rc.namespace_from_flag = true;
  } else if (auto ns = env.value("POD_NAMESPACE"); !ns.empty()) {
    rc.namespace_name = ns;
  } else if (auto file = fs.read_file(k_service_account_namespace); file && !trim(*file).empty()) {
    rc.namespace_name = trim(*file);
  }
  GPUORCH_ASSIGN_OR_RETURN(rc.timeout, parse_request_timeout(overrides.request_timeout));
  nlohmann::json cluster = {{"server", rc.server}};
  if (!rc.ca_pem.empty()) {
    cluster["certificate-authority-data"] = base64_encode(rc.ca_pem);
  }
  rc.exec_cluster_info = cluster.dump();
  return rc;
}

Result<RestConfig> load_rest_config(const ConfigOverrides& overrides, const Environment& env, const FileSystem& fs) {
  if (overrides.in_cluster) {
    return in_cluster_config(overrides, env, fs);
  }
  GPUORCH_ASSIGN_OR_RETURN(auto loaded, load_kubeconfig(overrides.kubeconfig, env, fs));
  KubeConfig& config = loaded.config;
  resolve_relative_paths(config, fs.current_directory());
  const auto& files = loaded.files;

  RestConfig rc;
  rc.files = files;
  rc.context_name = overrides.context.empty() ? config.current_context : overrides.context;
  ContextEntry context;
  if (!rc.context_name.empty()) {
    auto it = config.contexts.find(rc.context_name);
    if (it == config.contexts.end()) {
      return config_error(fmt::format("context \"{}\" not found in {}", rc.context_name, file_list(files)));
    }
    context = it->second;
  }
  rc.cluster_name = overrides.cluster.empty() ? context.cluster : overrides.cluster;
  rc.user_name = overrides.user.empty() ? context.user : overrides.user;

  AuthInfoEntry user;
  if (!rc.user_name.empty()) {
    auto it = config.users.find(rc.user_name);
    if (it == config.users.end()) {
      return config_error(fmt::format("user \"{}\"{} not found in {}", rc.user_name,
                                      rc.context_name.empty() ? "" : fmt::format(" of context \"{}\"", rc.context_name),
                                      file_list(files)));
    }
    user = it->second;
  }
  ClusterEntry cluster;
  if (!rc.cluster_name.empty()) {
    auto it = config.clusters.find(rc.cluster_name);
    if (it == config.clusters.end()) {
      return config_error(fmt::format("cluster \"{}\"{} not found in {}", rc.cluster_name,
                                      rc.context_name.empty() ? "" : fmt::format(" of context \"{}\"", rc.context_name),
                                      file_list(files)));
    }
    cluster = it->second;
  }

  // Cluster overrides, in client-go's order.
  if (!overrides.server.empty()) {
    cluster.server = overrides.server;
  }
  const bool insecure_override = overrides.insecure_skip_tls_verify.value_or(false);
  if (insecure_override || !overrides.certificate_authority.empty()) {
    cluster.insecure_skip_tls_verify = insecure_override;
    cluster.certificate_authority = overrides.certificate_authority;
    cluster.certificate_authority_data.clear();
  }
  if (!overrides.tls_server_name.empty() || !overrides.server.empty()) {
    cluster.tls_server_name = overrides.tls_server_name;
  }

  const bool cluster_empty = cluster.server.empty() && cluster.certificate_authority.empty() &&
                             cluster.certificate_authority_data.empty() && !cluster.insecure_skip_tls_verify &&
                             cluster.tls_server_name.empty() && cluster.proxy_url.empty();
  if (cluster_empty) {
    if (in_cluster_possible(env, fs) && config.empty()) {
      return in_cluster_config(overrides, env, fs);
    }
    if (config.empty()) {
      return config_error(fmt::format(
          "no configuration has been provided ({}): set KUBECONFIG, pass --kubeconfig or --server, or run in a pod",
          loaded.source == "none" ? std::string("HOME and KUBECONFIG are unset")
                                  : (files.empty() ? "no kubeconfig file found" : file_list(files))));
    }
    if (rc.cluster_name.empty()) {
      return config_error(
          fmt::format("no cluster selected: {} has no current-context (pass --context or --server)", file_list(files)));
    }
  }
  const std::string cluster_owner =
      fmt::format("cluster \"{}\" in {}", rc.cluster_name, origin_of(cluster.location_of_origin, files));
  if (cluster.server.empty()) {
    return config_error(
        fmt::format("clusters[{}].cluster.server: no server defined for {}", rc.cluster_name, cluster_owner));
  }
  if (cluster.insecure_skip_tls_verify &&
      (!cluster.certificate_authority.empty() || !cluster.certificate_authority_data.empty())) {
    return config_error(fmt::format(
        "clusters[{}].cluster: certificate-authority and insecure-skip-tls-verify cannot both be set for {}",
        rc.cluster_name, cluster_owner));
  }
  GPUORCH_TRY(validate_proxy_url(cluster.proxy_url, cluster_owner));

  rc.insecure_skip_tls_verify = cluster.insecure_skip_tls_verify;
  rc.tls_server_name = cluster.tls_server_name;
  rc.proxy_url = cluster.proxy_url;
  rc.disable_compression = cluster.disable_compression;
  if (!cluster.certificate_authority_data.empty()) {
    rc.ca_pem = cluster.certificate_authority_data;
    rc.ca_source = fmt::format("certificate-authority-data of {}", cluster_owner);
  } else if (!cluster.certificate_authority.empty()) {
    GPUORCH_ASSIGN_OR_RETURN(
        rc.ca_pem, read_referenced(fs, cluster.certificate_authority, "certificate-authority", cluster_owner));
    rc.ca_source = cluster.certificate_authority;
  }

  // User overrides: --token replaces both token and tokenFile.
  if (!overrides.token.empty()) {
    user.token = overrides.token;
    user.token_file.clear();
  }
  if (!overrides.client_certificate.empty()) {
    user.client_certificate = overrides.client_certificate;
    user.client_certificate_data.clear();
  }
  if (!overrides.client_key.empty()) {
    user.client_key = overrides.client_key;
    user.client_key_data.clear();
  }

  const std::string user_origin = origin_of(user.location_of_origin, files);
  const std::string user_owner = fmt::format("user \"{}\" in {}", rc.user_name, user_origin);
  if (user.auth_provider) {
    return config_error(fmt::format(
        "users[{}].user.auth-provider: {} uses the legacy auth-provider \"{}\", which kubectl removed in 1.26 and "
        "gpuorch does not support; configure an exec credential plugin instead (e.g. gke-gcloud-auth-plugin, "
        "kubelogin)",
        rc.user_name, user_owner, user.auth_provider->name));
  }
  std::vector<std::string> methods;
  if (!user.token.empty() || !user.token_file.empty()) {
    methods.emplace_back("token");
  }
  if (!user.username.empty() || !user.password.empty()) {
    methods.emplace_back("basicAuth");
  }
  if (methods.size() > 1) {
    return config_error(
        fmt::format("users[{}].user: more than one authentication method found for {}: {}; only one is allowed",
                    rc.user_name, user_owner, fmt::join(methods, ", ")));
  }
  if (!user.client_certificate.empty() && !user.client_certificate_data.empty()) {
    return config_error(
        fmt::format("users[{}].user: client-certificate and client-certificate-data are both set for {}; set only one",
                    rc.user_name, user_owner));
  }
  if (!user.client_key.empty() && !user.client_key_data.empty()) {
    return config_error(fmt::format("users[{}].user: client-key and client-key-data are both set for {}; set only one",
                                    rc.user_name, user_owner));
  }
  const bool has_cert = !user.client_certificate.empty() || !user.client_certificate_data.empty();
  const bool has_key = !user.client_key.empty() || !user.client_key_data.empty();
  if (has_cert != has_key) {
    return config_error(fmt::format("users[{}].user: {} is set but {} is missing for {}", rc.user_name,
                                    has_cert ? "client-certificate" : "client-key",
                                    has_cert ? "client-key" : "client-certificate", user_owner));
  }
  if (user.exec) {
    GPUORCH_TRY(validate_exec(*user.exec, rc.user_name, user_origin));
  }

  const bool tls_material = !rc.ca_pem.empty() || rc.insecure_skip_tls_verify || has_cert;
  rc.server = normalize_server(cluster.server, tls_material);

  // Like client-go, credentials are only sent over TLS.
  if (is_https(rc.server)) {
    if (!user.token.empty()) {
      rc.bearer_token = user.token;
      rc.bearer_token_file = user.token_file;
    } else if (!user.token_file.empty()) {
      GPUORCH_ASSIGN_OR_RETURN(auto token, read_referenced(fs, user.token_file, "tokenFile", user_owner));
      rc.bearer_token = trim(token);
      rc.bearer_token_file = user.token_file;
    }
    rc.username = user.username;
    rc.password = user.password;
    if (has_cert) {
      if (!user.client_certificate_data.empty()) {
        rc.client_certificate_pem = user.client_certificate_data;
      } else {
        GPUORCH_ASSIGN_OR_RETURN(rc.client_certificate_pem,
                                 read_referenced(fs, user.client_certificate, "client-certificate", user_owner));
      }
      if (!user.client_key_data.empty()) {
        rc.client_key_pem = user.client_key_data;
      } else {
        GPUORCH_ASSIGN_OR_RETURN(rc.client_key_pem, read_referenced(fs, user.client_key, "client-key", user_owner));
      }
    }
    rc.impersonate_user = user.impersonate;
    rc.impersonate_uid = user.impersonate_uid;
    rc.impersonate_groups = user.impersonate_groups;
    rc.impersonate_extra = user.impersonate_user_extra;
    if (user.exec) {
      rc.exec = user.exec;
      rc.exec_cluster_info = exec_cluster_json(rc, cluster);
    }
  }

  if (!overrides.namespace_name.empty()) {
    rc.namespace_name = overrides.namespace_name;
    rc.namespace_from_flag = true;
  } else if (!context.namespace_name.empty()) {
    rc.namespace_name = context.namespace_name;
  }
  GPUORCH_ASSIGN_OR_RETURN(rc.timeout, parse_request_timeout(overrides.request_timeout));
  return rc;
}

}  // namespace gpuorch::kube
