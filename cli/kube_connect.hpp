#pragma once

#include <memory>
#include <stop_token>
#include <thread>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// The kubeconfig overrides given by the global flags.
kube::ConfigOverrides config_overrides(const GlobalOptions& global);

/// The process environment (the CLI is the one place that reads it).
kube::Environment process_environment();

/// Loads the configuration by kubectl's rules from the global flags and the
/// environment, and creates the client: request logs follow -v, server
/// warnings are printed once each as "Warning: ..." on stderr.
/// `options` are the client's settings before the global flags (-v) apply; a
/// command may raise its rate limit there (reconcile's --kube-api-qps).
Result<std::shared_ptr<kube::Client>> connect(Context& ctx, kube::ClientOptions options = {});

/// Turns the CLI's CancelToken into a std::stop_token for library calls that
/// take one (watches, informers, backoff sleeps): a small thread polls the
/// token and requests stop when it is cancelled, or when this object dies.
class StopBridge {
 public:
  explicit StopBridge(const CancelToken& cancel);
  ~StopBridge();
  StopBridge(const StopBridge&) = delete;
  StopBridge& operator=(const StopBridge&) = delete;
  [[nodiscard]] std::stop_token token() const { return m_source.get_token(); }

 private:
  std::stop_source m_source;
  std::jthread m_thread;
};

}  // namespace gpuorch::cli
