#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/obs/metrics.hpp>

namespace gpuorch::obs {

/// Where an HTTP endpoint listens, parsed from a flag value the way
/// controller-runtime reads --metrics-bind-address and
/// --health-probe-bind-address:
///   "0"               disabled (nullopt)
///   ":8080"           every interface (0.0.0.0), port 8080
///   "127.0.0.1:8080"  one address; "[::1]:8080" for IPv6
///   ":0"              every interface, a free port chosen by the kernel
/// A host without a port, a port outside 0..65535 or an unbracketed IPv6
/// address is an ErrorCode::usage error naming the value.
struct ListenAddress {
  std::string host;  ///< "" = every IPv4 interface
  int port = 0;      ///< 0 = any free port
  /// "host:port" as given (IPv6 in brackets; ":port" for every interface).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};
[[nodiscard]] Result<std::optional<ListenAddress>> parse_listen_address(std::string_view value);

/// One named health or readiness check. It returns an error (whose message
/// says why) while failing.
struct HealthCheck {
  std::string name;
  std::function<Status()> check;
};

/// The result of running a set of checks, rendered like the Kubernetes API
/// server and controller-runtime do: "ok" when all pass; otherwise one line
/// per check ("[+]name ok" / "[-]name failed: reason") and a final
/// "<endpoint> check failed". `verbose` lists the checks on success too.
struct CheckReport {
  bool ok = true;
  std::string body;
};
[[nodiscard]] CheckReport run_checks(const std::vector<HealthCheck>& checks, std::string_view endpoint, bool verbose);

/// What one server answers. Any of the three may be left out (its path then
/// answers 404). /healthz and /readyz also answer /healthz/<name> and
/// /readyz/<name> with that one check, and `?verbose` lists every check.
struct Endpoints {
  /// Serves GET /metrics in the text format 0.0.4 (nullptr: not served).
  const Registry* metrics = nullptr;
  /// GET /healthz: liveness (served when `serve_healthz`; no checks = always ok).
  bool serve_healthz = false;
  std::vector<HealthCheck> healthz;
  /// GET /readyz: readiness (served when `serve_readyz`).
  bool serve_readyz = false;
  std::vector<HealthCheck> readyz;
};

/// A small HTTP server (plain HTTP, like controller-runtime's probe and
/// metrics servers) for the watch loop's /metrics, /healthz and /readyz.
/// Requests are answered on a small thread pool; handlers only read the
/// registry and run the checks, which must be cheap and thread-safe.
class EndpointServer {
 public:
  /// Binds `address` and starts serving. A port that is taken, an address
  /// that is not local, or a privileged port is an ErrorCode::io error
  /// naming the address, `what` (e.g. "--metrics-addr") and the OS reason.
  static Result<std::unique_ptr<EndpointServer>> start(const ListenAddress& address, Endpoints endpoints,
                                                       std::string_view what);
  ~EndpointServer();
  EndpointServer(const EndpointServer&) = delete;
  EndpointServer& operator=(const EndpointServer&) = delete;

  /// The port actually bound (the chosen one when the address asked for 0).
  [[nodiscard]] int port() const;
  /// The bound address, e.g. "127.0.0.1:40123" (":8080" for every interface).
  [[nodiscard]] std::string address() const;
  /// Stops accepting and waits for the requests in flight. Idempotent.
  void stop();

 private:
  struct Impl;
  explicit EndpointServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// The watch loop's endpoints on their two addresses: /metrics on the
/// metrics address, /healthz and /readyz on the health address. When both
/// addresses are the same, one server answers all three paths; a disabled
/// address ("0") starts nothing for its paths.
class ObservabilityServers {
 public:
  struct Config {
    std::optional<ListenAddress> metrics_address;
    std::optional<ListenAddress> health_address;
    const Registry* registry = nullptr;
    std::vector<HealthCheck> healthz;
    std::vector<HealthCheck> readyz;
  };
  static Result<std::unique_ptr<ObservabilityServers>> start(Config config);
  /// nullptr when disabled.
  [[nodiscard]] EndpointServer* metrics() const { return m_metrics; }
  [[nodiscard]] EndpointServer* health() const { return m_health; }
  void stop();

 private:
  ObservabilityServers() = default;
  std::vector<std::unique_ptr<EndpointServer>> m_servers;
  EndpointServer* m_metrics = nullptr;
  EndpointServer* m_health = nullptr;
};

}  // namespace gpuorch::obs
