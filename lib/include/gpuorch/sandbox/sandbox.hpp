#pragma once

#include <memory>
#include <string>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/cluster.hpp>
#include <gpuorch/sandbox/faults.hpp>
#include <gpuorch/sandbox/server.hpp>
#include <gpuorch/sandbox/store.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

struct SandboxOptions {
  ServerOptions server;  ///< a token is generated when empty
  ClusterOptions cluster;
  FaultConfig faults;
  std::string data_file;  ///< "" keeps everything in memory
  std::size_t watch_history = 20000;
  std::string name = "gpuorch-sandbox";  ///< kubeconfig cluster/user/context name
};

/// The whole sandbox: store, simulated cluster, fault injection, optional
/// persistence and the HTTPS API server, started and stopped together.
/// Control endpoints: GET /sandbox/v1/stats, GET|PUT /sandbox/v1/faults.
class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  /// Loads saved state, creates the nodes, generates the TLS material and
  /// starts serving and simulating.
  Status start();
  /// Stops serving and simulating; with --data, writes a final snapshot.
  Status stop();

  [[nodiscard]] std::string url() const;
  [[nodiscard]] int port() const;
  /// The kubeconfig clients use (CA embedded, token).
  [[nodiscard]] std::string kubeconfig() const;
  [[nodiscard]] const std::string& token() const;
  /// Binding checks and violations, injected faults, requests by status.
  [[nodiscard]] nlohmann::json stats() const;

  Store& store();
  SimulatedCluster& cluster();
  FaultInjector& faults();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gpuorch::sandbox
