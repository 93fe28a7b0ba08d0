// gpuorch reconcile: one complete controller pass (observe, plan, apply), then exit.

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/control/executor.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/control/watch_controller.hpp>
#include <gpuorch/kube/lease.hpp>
#include <gpuorch/obs/metrics.hpp>
#include <gpuorch/obs/pushgateway.hpp>
#include <gpuorch/obs/reconcile_metrics.hpp>
#include <gpuorch/obs/textfile.hpp>
#include <gpuorch/sandbox/cluster.hpp>
#include <gpuorch/sched/queue.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_connect.hpp"
#include "watch_ops.hpp"

namespace gpuorch::cli {
namespace {

struct ReconcileCliOptions {
  bool all_namespaces = false;
  bool dry_run = false;
  std::string output;
  std::string max_duration = "0";
  std::string default_image;
  std::string queueing = "best-effort";
  std::int64_t seed = -1;
  int parallelism = 16;
  std::string lease_name = "gpuorch-reconciler";
  std::string lease_namespace = "gpuorch-system";
  std::string metrics_file;
  std::string pushgateway;
  double qps = kube::ClientOptions{}.qps;
  int burst = kube::ClientOptions{}.burst;
  bool watch = false;
  int workers = 4;
  std::string resync_period = "10m";
  WatchOpsOptions ops;
  /// The --watch-only flags of watch_ops.hpp given on the command line.
  std::vector<std::string> watch_only_given;
};

// A 404 on the workload list means the CRD is not installed.
Error explain(Error error) {
  if (error.http_status() == 404 &&
      error.message().find("could not find the requested resource") != std::string::npos) {
    return Error(ErrorCode::not_found,
                 "the server doesn't have a resource type \"gpuworkloads\" (is the GPUWorkload CRD installed?)");
  }
  return error;
}

int fail(Context& ctx, const Error& error) {
  if (error.code() == ErrorCode::cancelled) {
    return k_exit_error;  // run_cli turns a signal into 130/143
  }
  print_error(ctx.io.err, error);
  return exit_code_for(error);
}

void print_plan(Context& ctx, const control::Plan& plan, const ReconcileCliOptions& o) {
  if (o.output == "json") {
    ctx.io.out << control::to_json(plan).dump(4) << '\n';
  } else {
    control::print_plan_table(ctx.io.out, plan, o.all_namespaces);
  }
}

// Metrics of one pass, written at the end (--metrics-file, --pushgateway).
class PassMetrics {
 public:
  explicit PassMetrics(const ReconcileCliOptions& o)
      : m_options(o),
        m_metrics(m_registry, {std::string(control::condition_reasons::invalid_spec),
                               std::string(control::condition_reasons::job_failed),
                               std::string(control::condition_reasons::job_deleted)}) {}

  [[nodiscard]] bool wanted() const { return !m_options.metrics_file.empty() || !m_options.pushgateway.empty(); }

  void record(const control::Plan& plan, const control::ExecutionReport& report) {
    m_metrics.workload_scheduled(static_cast<double>(report.counts.scheduled));
    m_metrics.workload_retried(static_cast<double>(report.counts.retries));
    for (const auto& [reason, count] : report.counts.failed) {
      for (std::int64_t i = 0; i < count; ++i) {
        m_metrics.workload_failed(reason);
      }
    }
    std::vector<std::pair<std::string, double>> phases;
    for (const auto& [phase, count] : plan.phases) {
      phases.emplace_back(phase, static_cast<double>(count));
    }
    m_metrics.set_workloads_by_phase(phases);
    std::vector<obs::NodeGpus> nodes;
    nodes.reserve(plan.node_gpus.size());
    for (const auto& n : plan.node_gpus) {
      nodes.push_back({n.node, static_cast<double>(n.free), static_cast<double>(n.total - n.free)});
    }
    m_metrics.set_node_gpus(nodes);
  }

  /// Records the pass's duration (and its completion time when it succeeded), then writes the metrics out.
  Status finish(std::chrono::duration<double> duration, bool success, std::chrono::system_clock::time_point now) {
    m_metrics.pass_finished(duration, success, now);
    if (!m_options.metrics_file.empty()) {
      GPUORCH_TRY(obs::write_textfile(m_options.metrics_file, m_registry));
    }
    if (!m_options.pushgateway.empty()) {
      obs::PushgatewayOptions po;
      po.url = m_options.pushgateway;
      GPUORCH_ASSIGN_OR_RETURN(auto gateway, obs::Pushgateway::create(po, process_environment()));
      GPUORCH_TRY(gateway.push(m_registry));
    }
    return Status();
  }

 private:
  const ReconcileCliOptions& m_options;
  obs::Registry m_registry;
  obs::ReconcileMetrics m_metrics;
};

// The pass itself: observe, plan, apply. Returns the exit code; `success`
// says whether the pass completed (for the last-success metric).
int run_pass(Context& ctx, const ReconcileCliOptions& o, kube::Client& client, sched::QueueingPolicy queueing,
             std::chrono::steady_clock::time_point started, std::chrono::milliseconds max_duration,
             kube::LeaseRenewer* renewer, PassMetrics& metrics, bool& success) {
  control::ObserveOptions observe;
  observe.namespace_name = o.all_namespaces ? std::string() : client.config().namespace_name;
  observe.now = client.clock().now();
  observe.seed = o.seed >= 0 ? static_cast<std::uint64_t>(o.seed) : std::random_device{}();
  auto observed = control::observe_cluster(client, observe, &ctx.cancel);
  if (!observed) {
    return fail(ctx, explain(std::move(observed).error()));
  }
  for (const auto& w : observed->warnings) {
    spdlog::warn("{}", w);
  }

  control::ReconcileOptions options;
  options.default_image = o.default_image;
  options.queueing = queueing;
  const control::Plan plan = control::reconcile(*observed, options);
  spdlog::debug("observed {} workloads, {} gpuorch Jobs, {} pods, {} nodes; {} actions planned",
                observed->workloads.size(), observed->jobs.size(), observed->pods.size(), observed->nodes.size(),
                plan.actions.size());

  if (o.dry_run) {
    print_plan(ctx, plan, o);
    success = true;
    return k_exit_ok;
  }

  control::ExecutorOptions exec;
  exec.parallelism = o.parallelism;
  if (max_duration.count() > 0) {
    exec.deadline = started + max_duration;
  }
  if (renewer != nullptr) {
    // Another reconciler may have taken over: stop writing at once.
    exec.checkpoint = [renewer]() -> Status {
      if (renewer->lost()) {
        return Error(ErrorCode::conflict, "lost the reconcile Lease to another reconciler");
      }
      return Status();
    };
  }
  auto report = control::execute(client, plan, exec, &ctx.cancel);
  if (!report) {
    return fail(ctx, report.error());
  }
  metrics.record(plan, *report);
  if (!o.output.empty()) {
    print_plan(ctx, plan, o);
  }
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::int64_t failed = 0;
  for (const auto& [reason, count] : report->counts.failed) {
    failed += count;
  }
  const auto phase_count = [&](std::string_view phase) {
    const auto it = plan.phases.find(std::string(phase));
    return it == plan.phases.end() ? std::int64_t{0} : it->second;
  };
  ctx.io.err << fmt::format(
      "reconciled {} workloads in {:.2f}s: {} scheduled, {} retries, {} succeeded, {} failed; now {} pending, {} "
      "scheduled or running; {} writes\n",
      observed->workloads.size(), elapsed, report->counts.scheduled, report->counts.retries, report->counts.succeeded,
      failed, phase_count("Pending"), phase_count("Scheduled") + phase_count("Running"), report->writes);
  if (ctx.cancel.cancelled()) {
    return k_exit_error;  // run_cli turns a signal into 130/143
  }
  if (report->interrupted) {
    const std::string why = renewer != nullptr && renewer->lost()
                                ? std::string("the pass stopped: another reconciler took the Lease")
                                : fmt::format(
                                      "the pass stopped after --max-duration {} with work left; the next pass "
                                      "continues it",
                                      o.max_duration);
    print_error(ctx.io.err, Error(ErrorCode::timeout, why));
    return k_exit_error;
  }
  if (report->workloads_failed > 0) {
    print_error(ctx.io.err, Error(ErrorCode::api, fmt::format("{} of {} workloads could not be reconciled",
                                                              report->workloads_failed, observed->workloads.size())));
    return k_exit_error;
  }
  success = true;
  return k_exit_ok;
}

// The watch controller as the leader-election runner sees it.
class ControllerLoop final : public WatchLoop {
 public:
  explicit ControllerLoop(control::WatchController& controller) : m_controller(controller) {}
  [[nodiscard]] bool synced() const override { return m_controller.synced(); }
  void lead() override { m_controller.start_workers(); }
  [[nodiscard]] Status liveness() const override { return m_controller.liveness(); }
  bool stop() override { return m_controller.stop(std::chrono::seconds(25)); }

 private:
  control::WatchController& m_controller;
};

// --watch: the controller loop until SIGTERM/SIGINT (exit 0 after draining
// and releasing the Lease) or until the Lease is lost (exit 1). With
// --leader-elect (the default) the loop runs only while this process holds
// the Lease -- the one the one-shot passes take, so a pass and a loop never
// place at once -- and a standby keeps its caches warm and serves its
// endpoints meanwhile.
int run_watch(Context& ctx, const ReconcileCliOptions& o, const std::shared_ptr<kube::Client>& client,
              sched::QueueingPolicy queueing, std::chrono::milliseconds resync, const WatchOpsConfig& ops) {
  control::WatchControllerOptions wo;
  wo.namespace_name = o.all_namespaces ? std::string() : client->config().namespace_name;
  wo.workers = o.workers;
  wo.resync_period = resync;
  wo.stall_timeout = ops.healthz_stall_timeout;
  wo.reconcile.default_image = o.default_image;
  wo.reconcile.queueing = queueing;
  wo.seed = o.seed >= 0 ? static_cast<std::uint64_t>(o.seed) : std::random_device{}();

  obs::Registry registry;
  std::unique_ptr<control::WatchController> controller;
  WatchOpsRun run;
  run.lease_namespace = o.lease_namespace;
  run.lease_name = o.lease_name;
  run.start_loop = [&](std::function<Status()> checkpoint) -> Result<std::unique_ptr<WatchLoop>> {
    // Leadership lost: no further write goes out.
    wo.executor.checkpoint = std::move(checkpoint);
    controller = std::make_unique<control::WatchController>(client, wo, &registry);
    controller->start(/*workers=*/false);  // the caches now, the workers once leading
    return std::unique_ptr<WatchLoop>(std::make_unique<ControllerLoop>(*controller));
  };
  const int code = run_watch_ops(ctx, ops, client, registry, run);
  if (code == k_exit_usage) {
    return code;
  }
  if (controller) {
    const auto stats = controller->stats();
    ctx.io.err << fmt::format(
        "watch loop stopped: {} reconciles, {} Jobs created, {} errors, {} writes, {} wake-ups, {} watch restarts, "
        "{} re-lists\n",
        stats.reconciles, stats.jobs_created, stats.errors, stats.writes, stats.wakeups, stats.watch_restarts,
        stats.relists);
  }
  if (!o.metrics_file.empty()) {
    if (auto written = obs::write_textfile(o.metrics_file, registry); !written.ok()) {
      print_error(ctx.io.err, std::move(written).error().wrap("writing the metrics"));
      return k_exit_error;
    }
  }
  return code;
}

int run_reconcile(Context& ctx, const ReconcileCliOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  auto max_duration = sandbox::parse_duration(o.max_duration);
  if (!max_duration.ok()) {
    print_error(ctx.io.err, Error(ErrorCode::usage, fmt::format("--max-duration: {}", max_duration.error().message())));
    return k_exit_usage;
  }
  auto queueing = sched::parse_queueing_policy(o.queueing);
  if (!queueing.ok()) {
    print_error(ctx.io.err, Error(ErrorCode::usage, fmt::format("--queueing: {}", queueing.error().message())));
    return k_exit_usage;
  }
  std::chrono::milliseconds resync{0};
  if (o.watch) {
    if (o.dry_run || !o.output.empty() || !o.pushgateway.empty() || *max_duration != std::chrono::milliseconds(0)) {
      print_error(ctx.io.err, Error(ErrorCode::usage,
                                    "--watch cannot be combined with --dry-run, -o, --pushgateway "
                                    "or --max-duration"));
      return k_exit_usage;
    }
    auto period = sandbox::parse_duration(o.resync_period);
    if (!period.ok()) {
      print_error(ctx.io.err, Error(ErrorCode::usage, fmt::format("--resync-period: {}", period.error().message())));
      return k_exit_usage;
    }
    resync = *period;
  } else if (!o.watch_only_given.empty()) {
    print_error(ctx.io.err,
                Error(ErrorCode::usage, fmt::format("{} only applies with --watch", o.watch_only_given[0])));
    return k_exit_usage;
  }
  WatchOpsConfig ops;
  if (o.watch) {
    auto parsed = parse_watch_ops(o.ops);
    if (!parsed.ok()) {
      print_error(ctx.io.err, parsed.error());
      return k_exit_usage;
    }
    ops = *parsed;
  }
  kube::ClientOptions client_options;
  client_options.qps = o.qps;
  client_options.burst = o.burst;
  auto client = connect(ctx, client_options);
  if (!client) {
    return fail(ctx, client.error());
  }
  if (o.watch) {
    return run_watch(ctx, o, *client, *queueing, resync, ops);
  }

  // The Lease guards every pass that writes: two reconcilers at once (an
  // overlapping CronJob run, a workstation beside it) must never both place.
  std::unique_ptr<kube::LeaseRenewer> renewer;
  if (!o.dry_run) {
    kube::LeaseLockConfig lc;
    lc.lease_namespace = o.lease_namespace;
    lc.name = o.lease_name;
    lc.identity = kube::default_lease_identity(process_environment(), (*client)->random());
    // A run killed by its CronJob deadline leaves its lease behind; the next run need not wait it out.
    lc.trust_record_times = true;
    auto lock = kube::LeaseLock::create(*client, lc);
    if (!lock) {
      return fail(ctx, lock.error());
    }
    auto held = (*lock)->try_acquire_or_renew();
    if (!held) {
      Error e = std::move(held).error();
      if (e.code() == ErrorCode::not_found) {
        e = Error(ErrorCode::not_found,
                  fmt::format("the Lease namespace \"{}\" does not exist: create it (kubectl create namespace {}) or "
                              "choose another with --lease-namespace",
                              o.lease_namespace, o.lease_namespace));
      }
      return fail(ctx, e);
    }
    if (!*held) {
      ctx.io.err << fmt::format("the Lease {}/{} is held by {}: another pass is running, this one exits\n",
                                o.lease_namespace, o.lease_name, (*lock)->observed_holder());
      return k_exit_ok;
    }
    renewer = std::make_unique<kube::LeaseRenewer>(
        *lock, [](const std::string& why) { spdlog::warn("lost the reconcile Lease: {}", why); });
  }

  PassMetrics metrics(o);
  bool success = false;
  int code = run_pass(ctx, o, **client, *queueing, started, *max_duration, renewer.get(), metrics, success);
  if (renewer) {
    if (auto released = renewer->stop_and_release(); !released.ok()) {
      spdlog::warn("releasing the Lease {}/{}: {}", o.lease_namespace, o.lease_name, released.error().message());
    }
  }
  if (!o.dry_run && metrics.wanted()) {
    const auto duration = std::chrono::steady_clock::now() - started;
    if (auto written = metrics.finish(duration, success, (*client)->clock().now()); !written.ok()) {
      print_error(ctx.io.err, std::move(written).error().wrap("writing the metrics"));
      code = code == k_exit_ok ? k_exit_error : code;
    }
  }
  return code;
}

}  // namespace

void setup_reconcile(CLI::App& root, Context& ctx) {
  auto o = std::make_shared<ReconcileCliOptions>();
  auto* cmd = root.add_subcommand("reconcile", "Run one controller pass over the GPUWorkloads, then exit");
  cmd->add_flag("-A,--all-namespaces", o->all_namespaces, "Reconcile GPUWorkloads in every namespace");
  cmd->add_flag("--dry-run", o->dry_run, "Print the plan (-o table|json) and write nothing");
  cmd->add_option("-o,--output", o->output, "Print the plan as table or json (with --dry-run: table by default)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--max-duration", o->max_duration,
                  "Stop starting new writes after this long (e.g. 30s, 5m; 0 = no limit)")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--default-image", o->default_image, "Image for workloads whose spec has none")->type_name("IMAGE");
  cmd->add_option("--queueing", o->queueing,
                  "best-effort: smaller work may start behind a blocked head; strict: keep queue order")
      ->type_name("POLICY")
      ->check(CLI::IsMember({"best-effort", "strict"}))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the Random strategy and retry jitter (default: random)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--parallelism", o->parallelism, "Workloads written at once (the client's QPS limit applies)")
      ->type_name("N")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--kube-api-qps", o->qps, "Requests per second to the API server, for all workers together")
      ->type_name("QPS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--kube-api-burst", o->burst, "Requests allowed at once above --kube-api-qps")
      ->type_name("N")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--lease-name", o->lease_name, "The Lease that guards the pass (coordination.k8s.io/v1)")
      ->type_name("NAME")
      ->capture_default_str();
  cmd->add_option("--lease-namespace", o->lease_namespace, "The namespace of that Lease")
      ->type_name("NS")
      ->capture_default_str();
  cmd->add_option("--metrics-file", o->metrics_file,
                  "Write the pass's metrics to FILE for node_exporter's textfile collector (atomically)")
      ->type_name("FILE");
  cmd->add_option("--pushgateway", o->pushgateway, "Push the pass's metrics to this Prometheus Pushgateway")
      ->type_name("URL");
  cmd->add_flag("--watch", o->watch,
                "Keep running: reconcile each workload as events arrive (informers, work queue, workers) until "
                "SIGTERM/SIGINT");
  cmd->add_option("--workers", o->workers, "With --watch: workloads reconciled at once")
      ->type_name("N")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--resync-period", o->resync_period,
                  "With --watch: queue every workload again this often, as a safety net (0 = never)")
      ->type_name("DURATION")
      ->capture_default_str();
  const auto watch_only = add_watch_ops_flags(*cmd, o->ops);
  cmd->callback([&ctx, o, watch_only] {
    for (const auto* option : watch_only) {
      if (option->count() > 0) {
        o->watch_only_given.push_back(option->get_name());
      }
    }
    ctx.cooperative_cancel = true;
    ctx.signal_ends_normally = o->watch;
    ctx.run = [&ctx, o] { return run_reconcile(ctx, *o); };
  });
}

}  // namespace gpuorch::cli
