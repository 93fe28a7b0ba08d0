#include "watch_ops.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/kube/leader_election.hpp>
#include <gpuorch/kube/lease.hpp>
#include <gpuorch/obs/watch_metrics.hpp>
#include <gpuorch/sandbox/cluster.hpp>

#include "exit_codes.hpp"
#include "kube_connect.hpp"

namespace gpuorch::cli {

namespace {

Result<std::chrono::seconds> whole_seconds(std::string_view flag, const std::string& text) {
  auto parsed = sandbox::parse_duration(text);
  if (!parsed.ok()) {
    return Error(ErrorCode::usage, fmt::format("{}: {}", flag, parsed.error().message()));
  }
  if (parsed->count() <= 0 || parsed->count() % 1000 != 0) {
    return Error(
        ErrorCode::usage,
        fmt::format("{}: must be a positive whole number of seconds (a Lease counts in seconds), got {}", flag, text));
  }
  return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
}

Result<std::optional<obs::ListenAddress>> address(std::string_view flag, const std::string& text) {
  auto parsed = obs::parse_listen_address(text);
  if (!parsed.ok()) {
    return Error(ErrorCode::usage, fmt::format("{}: {}", flag, parsed.error().message()));
  }
  return *parsed;
}

}  // namespace

std::vector<CLI::Option*> add_watch_ops_flags(CLI::App& cmd, WatchOpsOptions& o) {
  std::vector<CLI::Option*> added;
  added.push_back(cmd.add_flag("--leader-elect", o.leader_elect,
                               "With --watch: reconcile only while holding the Lease, standing by otherwise "
                               "(default on; --leader-elect=false: no Lease)"));
  added.push_back(
      cmd.add_option("--leader-elect-lease-duration", o.lease_duration,
                     "With --watch: how long standbys wait after the leader's last renewal before taking over")
          ->type_name("DURATION")
          ->capture_default_str());
  added.push_back(
      cmd.add_option("--leader-elect-renew-deadline", o.renew_deadline,
                     "With --watch: the leader stops leading when it could not renew the Lease for this long")
          ->type_name("DURATION")
          ->capture_default_str());
  added.push_back(cmd.add_option("--leader-elect-retry-period", o.retry_period,
                                 "With --watch: how often the leader renews and standbys try to take the Lease")
                      ->type_name("DURATION")
                      ->capture_default_str());
  added.push_back(
      cmd.add_option("--metrics-addr", o.metrics_addr,
                     "With --watch: serve /metrics on this address (:8080, 127.0.0.1:8080, :0 = a free port, 0 = off)")
          ->type_name("ADDR")
          ->capture_default_str());
  added.push_back(cmd.add_option("--health-addr", o.health_addr,
                                 "With --watch: serve /healthz and /readyz on this address (0 = off)")
                      ->type_name("ADDR")
                      ->capture_default_str());
  return added;
}

Result<WatchOpsConfig> parse_watch_ops(const WatchOpsOptions& o) {
  WatchOpsConfig config;
  config.leader_elect = o.leader_elect;
  GPUORCH_ASSIGN_OR_RETURN(config.lease_duration, whole_seconds("--leader-elect-lease-duration", o.lease_duration));
  GPUORCH_ASSIGN_OR_RETURN(config.renew_deadline, whole_seconds("--leader-elect-renew-deadline", o.renew_deadline));
  GPUORCH_ASSIGN_OR_RETURN(config.retry_period, whole_seconds("--leader-elect-retry-period", o.retry_period));
  // client-go's checks: a leader must give up before a standby may take over,
  // and must get more than one renewal attempt (with jitter) per deadline.
  if (config.lease_duration <= config.renew_deadline) {
    return Error(ErrorCode::usage, fmt::format("--leader-elect-lease-duration ({}s) must be greater than "
                                               "--leader-elect-renew-deadline ({}s)",
                                               config.lease_duration.count(), config.renew_deadline.count()));
  }
  if (static_cast<double>(config.renew_deadline.count()) <= 1.2 * static_cast<double>(config.retry_period.count())) {
    return Error(ErrorCode::usage, fmt::format("--leader-elect-renew-deadline ({}s) must be greater than 1.2 x "
                                               "--leader-elect-retry-period ({}s)",
                                               config.renew_deadline.count(), config.retry_period.count()));
  }
  GPUORCH_ASSIGN_OR_RETURN(config.metrics_address, address("--metrics-addr", o.metrics_addr));
  GPUORCH_ASSIGN_OR_RETURN(config.health_address, address("--health-addr", o.health_addr));
  return config;
}

int run_watch_ops(Context& ctx, const WatchOpsConfig& config, const std::shared_ptr<kube::Client>& client,
                  obs::Registry& registry, const WatchOpsRun& run) {
  obs::LeaderMetrics leader_metrics(registry);
  std::shared_ptr<kube::LeaseLock> lock;
  std::unique_ptr<kube::LeaderElector> elector;
  if (config.leader_elect) {
    kube::LeaseLockConfig lc;
    lc.lease_namespace = run.lease_namespace;
    lc.name = run.lease_name;
    lc.identity = kube::default_lease_identity(process_environment(), client->random());
    lc.lease_duration = config.lease_duration;
    lc.renew_deadline = config.renew_deadline;
    lc.retry_period = config.retry_period;
    // As the one-shot pass does: a Lease whose own renewTime is a lease
    // duration in the past is free at once, so a replica restarted after its
    // predecessor was killed (or a standby that started after the kill) does
    // not wait out a full lease duration of local observation first. This
    // trusts the cluster's clocks to agree to well within the lease duration.
    lc.trust_record_times = true;
    auto created = kube::LeaseLock::create(client, lc);
    if (!created.ok()) {
      print_error(ctx.io.err, created.error());
      return exit_code_for(created.error());
    }
    lock = *created;
    kube::LeaderCallbacks callbacks;
    callbacks.on_started_leading = [&] { leader_metrics.set_leader(run.lease_name, true); };
    callbacks.on_stopped_leading = [&](const std::string&) { leader_metrics.set_leader(run.lease_name, false); };
    elector = std::make_unique<kube::LeaderElector>(lock, callbacks);
    leader_metrics.set_leader(run.lease_name, false);
  } else {
    spdlog::warn("--leader-elect=false: reconciling without the Lease {}/{}; run no other reconciler beside this one",
                 run.lease_namespace, run.lease_name);
  }

  // The loop, once started, for the readiness check.
  std::mutex loop_mutex;
  WatchLoop* loop = nullptr;
  std::atomic<bool> leading{!config.leader_elect};

  obs::ObservabilityServers::Config endpoints;
  endpoints.metrics_address = config.metrics_address;
  endpoints.health_address = config.health_address;
  endpoints.registry = &registry;
  endpoints.healthz = {{"ping", [] { return Status(); }}};
  endpoints.readyz.push_back({"shutdown", [&ctx]() -> Status {
                                if (ctx.cancel.cancelled()) {
                                  return Error(ErrorCode::cancelled, "shutting down");
                                }
                                return Status();
                              }});
  if (elector) {
    endpoints.readyz.push_back({"leader-election", [&]() -> Status {
                                  if (leading) {
                                    return Status();
                                  }
                                  // A standby is ready while it can read the Lease: it could take over.
                                  if (auto why = elector->last_error(); !why.empty()) {
                                    return Error(ErrorCode::transport, why);
                                  }
                                  if (!lock->observed_record()) {
                                    return Error(ErrorCode::internal, "the Lease has not been read yet");
                                  }
                                  return Status();
                                }});
  }
  endpoints.readyz.push_back({"informers", [&]() -> Status {
                                if (!leading) {
                                  return Status();  // a standby keeps no caches
                                }
                                std::lock_guard guard(loop_mutex);
                                if (loop == nullptr || !loop->synced()) {
                                  return Error(ErrorCode::internal, "caches not synced yet");
                                }
                                return Status();
                              }});
  auto servers = obs::ObservabilityServers::start(std::move(endpoints));
  if (!servers.ok()) {
    print_error(ctx.io.err, servers.error());
    return k_exit_error;
  }

  // SIGTERM/SIGINT arrive as ctx.cancel; the elector and the loop take a stop token.
  std::stop_source stop;
  std::jthread bridge([&ctx, &stop](const std::stop_token& done) {
    while (!done.stop_requested() && ctx.cancel.wait_for(std::chrono::milliseconds(50))) {
    }
    if (ctx.cancel.cancelled()) {
      stop.request_stop();
    }
  });

  Status start_status;
  bool drained = true;
  const auto lead = [&](std::stop_token token) {
    leading = true;
    // The token stops on SIGTERM too; only a stop without a signal means the
    // Lease was lost, and then no further write may go out.
    auto checkpoint = [&ctx, token]() -> Status {
      if (token.stop_requested() && !ctx.cancel.cancelled()) {
        return Error(ErrorCode::conflict, "lost the Lease to another reconciler");
      }
      return Status();
    };
    auto started = run.start_loop(checkpoint);
    if (!started.ok()) {
      start_status = std::move(started).error();
      return;
    }
    {
      std::lock_guard guard(loop_mutex);
      loop = started->get();
    }
    while (!token.stop_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    spdlog::info("{}: finishing the workloads being reconciled",
                 ctx.cancel.cancelled() ? "stopping" : "leadership lost");
    drained = (*started)->stop();
    std::lock_guard guard(loop_mutex);
    loop = nullptr;
  };

  Status status;
  if (elector) {
    status = elector->run(stop.get_token(), lead);
  } else {
    lead(stop.get_token());
  }
  leading = false;
  bridge.request_stop();
  bridge.join();
  (*servers)->stop();
  if (!start_status.ok()) {
    print_error(ctx.io.err, start_status.error());
    return exit_code_for(start_status.error());
  }
  if (!status.ok()) {
    print_error(ctx.io.err, status.error());
    return k_exit_error;
  }
  if (!drained) {
    print_error(ctx.io.err, Error(ErrorCode::timeout, "in-flight work did not finish within the grace period"));
    return k_exit_error;
  }
  return k_exit_ok;
}

}  // namespace gpuorch::cli
