// gpuorch reconcile: one complete controller pass (observe, plan, apply), then exit.

#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/control/executor.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/sandbox/cluster.hpp>
#include <gpuorch/sched/queue.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_connect.hpp"

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
  double qps = kube::ClientOptions{}.qps;
  int burst = kube::ClientOptions{}.burst;
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
  kube::ClientOptions client_options;
  client_options.qps = o.qps;
  client_options.burst = o.burst;
  auto client = connect(ctx, client_options);
  if (!client) {
    return fail(ctx, client.error());
  }

  control::ObserveOptions observe;
  observe.namespace_name = o.all_namespaces ? std::string() : (*client)->config().namespace_name;
  observe.now = (*client)->clock().now();
  observe.seed = o.seed >= 0 ? static_cast<std::uint64_t>(o.seed) : std::random_device{}();
  auto observed = control::observe_cluster(**client, observe, &ctx.cancel);
  if (!observed) {
    return fail(ctx, explain(std::move(observed).error()));
  }
  for (const auto& w : observed->warnings) {
    spdlog::warn("{}", w);
  }

  control::ReconcileOptions options;
  options.default_image = o.default_image;
  options.queueing = *queueing;
  const control::Plan plan = control::reconcile(*observed, options);
  spdlog::debug("observed {} workloads, {} gpuorch Jobs, {} pods, {} nodes; {} actions planned",
                observed->workloads.size(), observed->jobs.size(), observed->pods.size(), observed->nodes.size(),
                plan.actions.size());

  if (o.dry_run) {
    print_plan(ctx, plan, o);
    return k_exit_ok;
  }

  control::ExecutorOptions exec;
  exec.parallelism = o.parallelism;
  if (max_duration->count() > 0) {
    exec.deadline = started + *max_duration;
  }
  auto report = control::execute(**client, plan, exec, &ctx.cancel);
  if (!report) {
    return fail(ctx, report.error());
  }
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
    print_error(ctx.io.err,
                Error(ErrorCode::timeout, fmt::format("the pass stopped after --max-duration {} with work left; "
                                                      "the next pass continues it",
                                                      o.max_duration)));
    return k_exit_error;
  }
  if (report->workloads_failed > 0) {
    print_error(ctx.io.err, Error(ErrorCode::api, fmt::format("{} of {} workloads could not be reconciled",
                                                              report->workloads_failed, observed->workloads.size())));
    return k_exit_error;
  }
  return k_exit_ok;
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
  cmd->callback([&ctx, o] {
    ctx.cooperative_cancel = true;
    ctx.run = [&ctx, o] { return run_reconcile(ctx, *o); };
  });
}

}  // namespace gpuorch::cli
