#pragma once
// The operational side of `gpuorch reconcile --watch`: leader election over
// the Lease and the /metrics /healthz /readyz endpoints (flags, their
// validation, and running the loop under them).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/obs/http_server.hpp>
#include <gpuorch/obs/metrics.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// The flags as typed.
struct WatchOpsOptions {
  bool leader_elect = true;
  std::string lease_duration = "15s";
  std::string renew_deadline = "10s";
  std::string retry_period = "2s";
  std::string metrics_addr = ":8080";
  std::string health_addr = ":8081";
  std::string healthz_stall_timeout = "2m";
};

/// Binds --leader-elect, --leader-elect-lease-duration,
/// --leader-elect-renew-deadline, --leader-elect-retry-period, --metrics-addr
/// --health-addr and --healthz-stall-timeout; returns them (they apply only with --watch).
std::vector<CLI::Option*> add_watch_ops_flags(CLI::App& cmd, WatchOpsOptions& options);

/// The flags checked: positive durations, the lease duration in whole
/// seconds, lease duration > renew deadline > 1.2 x retry period (client-go's
/// rules), addresses parsed, a positive stall limit.
struct WatchOpsConfig {
  bool leader_elect = true;
  std::chrono::seconds lease_duration{15};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  std::optional<obs::ListenAddress> metrics_address;
  std::optional<obs::ListenAddress> health_address;
  /// WatchControllerOptions::stall_timeout: /healthz fails once the loop is
  /// wedged this long.
  std::chrono::milliseconds healthz_stall_timeout{std::chrono::minutes(2)};
};
[[nodiscard]] Result<WatchOpsConfig> parse_watch_ops(const WatchOpsOptions& options);

/// What the watch loop gives the runner: created with its caches running on
/// every replica (a warm standby takes over without a re-list), told to lead
/// (start its workers: writes) once this process holds the Lease (at once
/// without leader election), asked whether its caches have synced and
/// whether it is alive, and stopped (draining in-flight work) when the
/// process shuts down or loses leadership.
class WatchLoop {
 public:
  virtual ~WatchLoop() = default;
  [[nodiscard]] virtual bool synced() const = 0;
  /// Starts the workers.
  virtual void lead() = 0;
  /// The liveness check (/healthz): an error naming why the loop is wedged.
  [[nodiscard]] virtual Status liveness() const = 0;
  /// Stops taking work and waits for in-flight work; false when it did not drain.
  virtual bool stop() = 0;
};

struct WatchOpsRun {
  std::string lease_namespace;
  std::string lease_name;
  /// Creates the loop and starts its caches, before the campaign for the
  /// Lease. `checkpoint` fails unless this process leads (and at once when
  /// leadership is lost; not on shutdown, where in-flight work should
  /// finish): the loop checks it before each write batch.
  std::function<Result<std::unique_ptr<WatchLoop>>(std::function<Status()> checkpoint)> start_loop;
};

/// Serves the endpoints, campaigns for the Lease (unless --leader-elect=false),
/// runs the loop while leading, and stops on SIGTERM/SIGINT (ctx.cancel):
/// drain, release, exit 0. Returns the exit code: 0 after a signal; 1 when
/// leadership was lost, the loop did not drain, or an endpoint could not be
/// served; 2 for bad flags.
int run_watch_ops(Context& ctx, const WatchOpsConfig& config, const std::shared_ptr<kube::Client>& client,
                  obs::Registry& registry, const WatchOpsRun& run);

}  // namespace gpuorch::cli
