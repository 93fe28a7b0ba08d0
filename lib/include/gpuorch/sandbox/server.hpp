#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/faults.hpp>
#include <gpuorch/sandbox/store.hpp>
#include <gpuorch/sandbox/tls.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;                                  ///< 0: any free port
  bool tls = true;                               ///< false: plain HTTP (--insecure-http)
  std::string token;                             ///< bearer token clients must send; required
  std::size_t max_body_bytes = 3 * 1024 * 1024;  ///< larger bodies get 413
  std::chrono::milliseconds bookmark_interval{5000};
  std::size_t threads = 128;  ///< connections served at once (each watch holds one)
  std::string server_version = "v1.32.0";
};

/// Extra endpoints under /sandbox/v1/ (the control API): given the method,
/// the path below /sandbox/v1/ and the body, returns (HTTP status, JSON).
using ControlHandler = std::function<std::pair<int, nlohmann::json>(const std::string& method, const std::string& path,
                                                                    const std::string& body)>;

/// The Kubernetes-API-compatible HTTP(S) front of a Store: authentication,
/// discovery, routing of the REST verbs, content negotiation (JSON, YAML
/// bodies, server-side Tables), watch streams, metav1.Status errors and
/// fault injection.
class ApiServer {
 public:
  ApiServer(Store& store, FaultInjector& faults, ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  /// Binds and starts serving on a background thread. With TLS, `tls` holds
  /// the serving certificate and key.
  Status start(const TlsMaterial* tls);
  /// Stops accepting, ends watch streams, joins the serving thread.
  void stop();

  [[nodiscard]] int port() const;
  /// "https://127.0.0.1:PORT".
  [[nodiscard]] std::string url() const;
  void set_control_handler(ControlHandler handler);
  /// Requests served so far, by HTTP status code.
  [[nodiscard]] nlohmann::json request_counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// A kubeconfig (YAML) for the sandbox: one cluster, user and context named
/// `name`, the CA embedded, the bearer token.
std::string make_kubeconfig(const std::string& name, const std::string& server_url, const std::string& ca_pem,
                            const std::string& token, const std::string& ns = "default");

/// A random bearer token (hex, 32 bytes of entropy from the OS).
std::string generate_token();

}  // namespace gpuorch::sandbox
