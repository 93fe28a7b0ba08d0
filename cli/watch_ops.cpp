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

/// The leader-election timing flags, one row each: what binds, parses and
/// checks them (client-go's flag names without its `--leader-elect-` prefix
/// repeated in code).
struct LeaseTimingFlag {
  const char* name;
  std::string WatchOpsOptions::*text;
  const char* help;
};
constexpr LeaseTimingFlag k_lease_duration_flag{
    "--leader-elect-lease-duration", &WatchOpsOptions::lease_duration,
    "With --watch: how long standbys wait after the leader's last renewal before taking over (whole seconds)"};
constexpr LeaseTimingFlag k_renew_deadline_flag{
    "--leader-elect-renew-deadline", &WatchOpsOptions::renew_deadline,
    "With --watch: the leader stops leading when it could not renew the Lease for this long"};
constexpr LeaseTimingFlag k_retry_period_flag{
    "--leader-elect-retry-period", &WatchOpsOptions::retry_period,
    "With --watch: how often the leader renews and standbys try to take the Lease"};

/// A positive duration (`10s`, `500ms`); the lease duration also in whole
/// seconds, as the Lease records leaseDurationSeconds.
Result<std::chrono::milliseconds> positive_duration(std::string_view flag, const std::string& text) {
  auto parsed = sandbox::parse_duration(text);
  if (!parsed.ok()) {
    return Error(ErrorCode::usage, fmt::format("{}: {}", flag, parsed.error().message()));
  }
  if (parsed->count() <= 0) {
    return Error(ErrorCode::usage, fmt::format("{}: must be positive, got {}", flag, text));
  }
  return *parsed;
}

Result<std::chrono::milliseconds> lease_timing(const LeaseTimingFlag& flag, const WatchOpsOptions& o,
                                               bool whole_seconds) {
  const std::string& text = o.*flag.text;
  GPUORCH_ASSIGN_OR_RETURN(const auto parsed, positive_duration(flag.name, text));
  if (whole_seconds && parsed.count() % 1000 != 0) {
    return Error(ErrorCode::usage,
                 fmt::format("{}: must be a whole number of seconds (the Lease records leaseDurationSeconds), got {}",
                             flag.name, text));
  }
  return parsed;
}

// "10s", or "500ms" when not whole seconds (the flags' own units).
std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? fmt::format("{}s", d.count() / 1000) : fmt::format("{}ms", d.count());
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
  for (const auto* flag : {&k_lease_duration_flag, &k_renew_deadline_flag, &k_retry_period_flag}) {
    added.push_back(
        cmd.add_option(flag->name, o.*flag->text, flag->help)->type_name("DURATION")->capture_default_str());
  }
  added.push_back(
      cmd.add_option("--metrics-addr", o.metrics_addr,
                     "With --watch: serve /metrics on this address (:8080, 127.0.0.1:8080, :0 = a free port, 0 = off)")
          ->type_name("ADDR")
          ->capture_default_str());
  added.push_back(cmd.add_option("--health-addr", o.health_addr,
                                 "With --watch: serve /healthz and /readyz on this address (0 = off)")
                      ->type_name("ADDR")
                      ->capture_default_str());
  added.push_back(cmd.add_option("--healthz-stall-timeout", o.healthz_stall_timeout,
                                 "With --watch: /healthz fails when the loop's ticker or every worker has been "
                                 "stuck this long (ready work untouched)")
                      ->type_name("DURATION")
                      ->capture_default_str());
  return added;
}

Result<WatchOpsConfig> parse_watch_ops(const WatchOpsOptions& o) {
  WatchOpsConfig config;
  config.leader_elect = o.leader_elect;
  GPUORCH_ASSIGN_OR_RETURN(const auto lease_duration, lease_timing(k_lease_duration_flag, o, true));
  config.lease_duration = std::chrono::duration_cast<std::chrono::seconds>(lease_duration);
  GPUORCH_ASSIGN_OR_RETURN(config.renew_deadline, lease_timing(k_renew_deadline_flag, o, false));
  GPUORCH_ASSIGN_OR_RETURN(config.retry_period, lease_timing(k_retry_period_flag, o, false));
  // client-go's checks: a leader must give up before a standby may take over,
  // and must get more than one renewal attempt (with jitter) per deadline.
  const auto must_exceed = [](const LeaseTimingFlag& a, std::chrono::milliseconds av, const char* factor,
                              const LeaseTimingFlag& b, std::chrono::milliseconds bv) {
    return Error(ErrorCode::usage, fmt::format("{} ({}) must be greater than {}{} ({})", a.name, duration_text(av),
                                               factor, b.name, duration_text(bv)));
  };
  if (lease_duration <= config.renew_deadline) {
    return must_exceed(k_lease_duration_flag, lease_duration, "", k_renew_deadline_flag, config.renew_deadline);
  }
  if (static_cast<double>(config.renew_deadline.count()) <= 1.2 * static_cast<double>(config.retry_period.count())) {
    return must_exceed(k_renew_deadline_flag, config.renew_deadline, "1.2 x ", k_retry_period_flag,
                       config.retry_period);
  }
  GPUORCH_ASSIGN_OR_RETURN(config.metrics_address, address("--metrics-addr", o.metrics_addr));
  GPUORCH_ASSIGN_OR_RETURN(config.health_address, address("--health-addr", o.health_addr));
  GPUORCH_ASSIGN_OR_RETURN(config.healthz_stall_timeout,
                           positive_duration("--healthz-stall-timeout", o.healthz_stall_timeout));
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

  // The loop, once created, for the health and readiness checks.
  std::mutex loop_mutex;
  std::unique_ptr<WatchLoop> loop;
  std::atomic<bool> leading{false};

  obs::ObservabilityServers::Config endpoints;
  endpoints.metrics_address = config.metrics_address;
  endpoints.health_address = config.health_address;
  endpoints.registry = &registry;
  endpoints.healthz = {{"ping", [] { return Status(); }}, {"watch-loop", [&]() -> Status {
                                                             std::lock_guard guard(loop_mutex);
                                                             return loop ? loop->liveness() : Status();
                                                           }}};
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
                                  return Status();  // a standby is ready while it stands by (its caches warm up)
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

  // The token of the current term of leadership: it stops on SIGTERM too;
  // only a stop without a signal means the Lease was lost, and then no
  // further write may go out. Without a term (standing by) nothing is written.
  std::mutex term_mutex;
  std::optional<std::stop_token> term;
  auto checkpoint = [&]() -> Status {
    std::lock_guard guard(term_mutex);
    if (!term) {
      return Error(ErrorCode::conflict, "not the leader");
    }
    if (term->stop_requested() && !ctx.cancel.cancelled()) {
      return Error(ErrorCode::conflict, "lost the Lease to another reconciler");
    }
    return Status();
  };
  // Every replica runs the caches; only the leader's workers write.
  auto started = run.start_loop(checkpoint);
  if (!started.ok()) {
    bridge.request_stop();
    bridge.join();
    (*servers)->stop();
    print_error(ctx.io.err, started.error());
    return exit_code_for(started.error());
  }
  WatchLoop* const the_loop = started->get();
  {
    std::lock_guard guard(loop_mutex);
    loop = std::move(*started);
  }

  bool drained = true;
  const auto lead = [&](std::stop_token token) {
    {
      std::lock_guard guard(term_mutex);
      term = token;
    }
    leading = true;
    the_loop->lead();
    while (!token.stop_requested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    spdlog::info("{}: finishing the workloads being reconciled",
                 ctx.cancel.cancelled() ? "stopping" : "leadership lost");
    // The workers stop taking keys at once; the ones in flight see the
    // checkpoint fail before their next write.
    drained = the_loop->stop();
  };

  Status status;
  if (elector) {
    status = elector->run(stop.get_token(), lead);
  } else {
    lead(stop.get_token());
  }
  leading = false;
  // A standby that never led (or a leader already stopped): stop the caches.
  if (!the_loop->stop()) {
    drained = false;
  }
  bridge.request_stop();
  bridge.join();
  (*servers)->stop();
  {
    std::lock_guard guard(loop_mutex);
    loop.reset();
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
