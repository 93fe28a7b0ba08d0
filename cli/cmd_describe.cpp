// gpuorch describe: a GPUWorkload as kubectl describe shows objects, plus what
// the scheduling core says about it: why it is pending, or why it went where
// it went.

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <set>

#include <fmt/format.h>
#include <gpuorch/control/names.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/filter.hpp>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/strategy.hpp>
#include <nlohmann/json.hpp>

#include "cluster_snapshot.hpp"
#include "commands.hpp"
#include "describe_printer.hpp"
#include "exit_codes.hpp"
#include "kube_completion.hpp"
#include "kube_connect.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct DescribeOptions {
  std::vector<std::string> names;
  std::string selector;
};

/// How many scored candidates the explanation lists.
constexpr std::size_t k_top_candidates = 5;

bool is_missing_type(const Error& error) {
  return error.http_status() == 404 && error.message() == "the server could not find the requested resource";
}

Error missing_type_error() {
  return Error(ErrorCode::not_found,
               "the server doesn't have a resource type \"gpuworkloads\" (is the GPUWorkload CRD installed?)");
}

std::string string_at(const json& object, const char* section, const char* key) {
  if (auto s = object.find(section); s != object.end() && s->is_object()) {
    if (auto v = s->find(key); v != s->end() && v->is_string()) {
      return v->get<std::string>();
    }
  }
  return {};
}

std::vector<json> items_of(json list) {
  std::vector<json> items;
  if (auto it = list.find("items"); it != list.end() && it->is_array()) {
    for (auto& item : *it) {
      items.push_back(std::move(item));
    }
  }
  return items;
}

/// Oldest first, then by name: attempt 0 before attempt 1.
void sort_by_creation(std::vector<json>& objects) {
  std::stable_sort(objects.begin(), objects.end(), [](const json& a, const json& b) {
    const auto ta = string_at(a, "metadata", "creationTimestamp");
    const auto tb = string_at(b, "metadata", "creationTimestamp");
    if (ta != tb) {
      return ta < tb;
    }
    return string_at(a, "metadata", "name") < string_at(b, "metadata", "name");
  });
}

/// The placement explanation of one workload on the observed cluster, with
/// the workload's own Jobs and pods taken out (so that a running workload is
/// judged against everything else, as when it was placed).
PlacementView explain_placement(const Result<control::Observed>& observed, const model::Workload& workload) {
  PlacementView view;
  view.strategy = workload.spec.scheduling_strategy;
  if (!observed) {
    view.error = observed.error().message();
    return view;
  }
  const auto& ns = workload.metadata.namespace_name;
  const auto& name = workload.metadata.name;
  std::set<std::string> own_jobs;
  std::vector<control::JobView> jobs;
  for (const auto& job : observed->jobs) {
    if (job.namespace_name == ns && job.workload == name) {
      own_jobs.insert(job.uid);
    } else {
      jobs.push_back(job);
    }
  }
  std::vector<control::PodView> pods;
  for (const auto& pod : observed->pods) {
    if (pod.owner_job_uid.empty() || own_jobs.count(pod.owner_job_uid) == 0) {
      pods.push_back(pod);
    }
  }
  auto cluster = control::build_cluster_state(observed->nodes, pods, jobs);
  auto& state = cluster.state;
  auto request = placement_request(workload);
  if (!request) {
    view.error = request.error().message();
    return view;
  }
  sched::StrategyOptions options;
  options.seed = observed->seed;
  auto strategy = sched::make_strategy(workload.spec.scheduling_strategy, options);
  if (!strategy) {
    view.error = strategy.error().message();
    return view;
  }
  view.strategy = std::string((*strategy)->name());
  sched::Placer placer(state, **strategy);
  sched::PlaceOptions place_options;
  place_options.explain = true;
  place_options.commit = false;
  place_options.top = k_top_candidates;
  const auto decision = placer.place(*request, place_options);

  const sched::PreparedRequest prepared(state, *request);
  std::array<std::vector<std::string>, sched::k_filter_reason_count> by_reason;
  sched::FilterSummary summary;
  for (sched::NodeId id = 0; id < state.size(); ++id) {
    const auto reason = sched::check_node(state, id, prepared);
    summary.add(reason);
    if (reason != sched::FilterReason::fits) {
      by_reason[static_cast<std::size_t>(reason)].push_back(state.spec(id).name);
    }
  }
  view.total_nodes = summary.total;
  view.feasible = summary.feasible;
  view.summary = summary.describe(*request);
  // Largest groups first, like the summary line.
  std::vector<std::size_t> order(by_reason.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return by_reason[a].size() > by_reason[b].size(); });
  for (const auto r : order) {
    if (!by_reason[r].empty()) {
      view.filtered.push_back({sched::reason_phrase(static_cast<sched::FilterReason>(r), *request), by_reason[r]});
    }
  }
  if (decision.placed) {
    view.choice = state.spec(decision.node).name;
  }
  for (const auto& candidate : decision.top) {
    const auto& spec = state.spec(candidate.node);
    view.top.push_back(
        {spec.name, candidate.score, state.whole_free_gpus(candidate.node), spec.gpu_count, spec.gpu_model});
  }
  if (workload.status.phase &&
      (*workload.status.phase == model::Phase::scheduled || *workload.status.phase == model::Phase::running)) {
    view.assigned_node = workload.status.assigned_node;
  }
  return view;
}

class Describer {
 public:
  Describer(Context& ctx, kube::Client& client) : m_ctx(ctx), m_client(client) {}

  void describe(const json& object, bool first) {
    DescribeInput input;
    input.workload = object;
    const auto ns = string_at(object, "metadata", "namespace");
    const auto name = string_at(object, "metadata", "name");
    const auto uid = string_at(object, "metadata", "uid");

    kube::ListOptions jobs_selector;
    jobs_selector.label_selector = fmt::format("{}={}", control::k_workload_label, name);
    if (auto jobs = m_client.list_all(kube::resources::jobs(), ns, jobs_selector)) {
      input.jobs = items_of(std::move(jobs).value());
      sort_by_creation(input.jobs);
    } else {
      warn("cannot list the Jobs of " + name, jobs.error());
    }
    std::string job_uids;
    for (const auto& job : input.jobs) {
      job_uids += (job_uids.empty() ? "" : ",") + string_at(job, "metadata", "uid");
    }
    if (!job_uids.empty()) {
      kube::ListOptions pods_selector;
      pods_selector.label_selector = fmt::format("batch.kubernetes.io/controller-uid in ({})", job_uids);
      if (auto pods = m_client.list_all(kube::resources::pods(), ns, pods_selector)) {
        input.pods = items_of(std::move(pods).value());
        sort_by_creation(input.pods);
      } else {
        warn("cannot list the pods of " + name, pods.error());
      }
    }
    kube::ListOptions events_selector;
    events_selector.field_selector =
        fmt::format("involvedObject.name={},involvedObject.kind={}", name, model::k_workload_kind);
    if (auto events = m_client.list_all(kube::resources::events(), ns, events_selector)) {
      for (auto& event : items_of(std::move(events).value())) {
        // Events of an earlier object of the same name are not this one's.
        const auto event_uid = string_at(event, "involvedObject", "uid");
        if (uid.empty() || event_uid.empty() || event_uid == uid) {
          input.events.push_back(std::move(event));
        }
      }
    } else {
      warn("cannot list the Events of " + name, events.error());
    }

    auto workload = model::workload_from_json(object);
    if (!workload) {
      PlacementView view;
      view.strategy = string_at(object, "spec", "schedulingStrategy");
      view.error = "the GPUWorkload cannot be read: " + workload.error().message();
      input.placement = view;
    } else if (!workload->status.phase || !model::is_terminal(*workload->status.phase)) {
      input.placement = explain_placement(observed(ns), *workload);
    }
    if (!first) {
      m_ctx.io.out << "\n\n";
    }
    print_describe(m_ctx.io.out, input, std::chrono::system_clock::now());
  }

 private:
  void warn(const std::string& what, const Error& error) {
    m_ctx.io.err << "warning: " << what << ": " << error.message() << '\n';
  }

  /// The cluster as the reconciler observes it, read once (the first time a
  /// workload needs an explanation).
  const Result<control::Observed>& observed(const std::string& ns) {
    if (!m_observed) {
      control::ObserveOptions options;
      options.namespace_name = ns;
      options.now = std::chrono::system_clock::now();
      m_observed = control::observe_cluster(m_client, options, &m_ctx.cancel);
    }
    return *m_observed;
  }

  Context& m_ctx;
  kube::Client& m_client;
  std::optional<Result<control::Observed>> m_observed;
};

int run_describe(Context& ctx, const DescribeOptions& opts) {
  if (!opts.names.empty() && !opts.selector.empty()) {
    throw Failure(Error(ErrorCode::usage, "name cannot be provided when a selector is specified"));
  }
  auto client = connect(ctx);
  if (!client) {
    print_error(ctx.io.err, client.error());
    return exit_code_for(client.error());
  }
  const auto gvr = kube::resources::gpu_workloads();
  const std::string ns = (*client)->config().namespace_name;
  Describer describer(ctx, **client);
  bool first = true;
  int code = k_exit_ok;

  if (!opts.names.empty()) {
    for (const auto& name : opts.names) {
      auto object = (*client)->get(gvr, ns, name);
      if (!object) {
        const Error error = is_missing_type(object.error()) ? missing_type_error() : std::move(object).error();
        print_error(ctx.io.err, error);
        code = exit_code_for(error);
        continue;
      }
      describer.describe(*object, first);
      first = false;
    }
    return code;
  }

  kube::ListOptions list_options;
  list_options.label_selector = opts.selector;
  list_options.limit = 500;
  auto list = (*client)->list_all(gvr, ns, list_options);
  if (!list) {
    const Error error = list.error().http_status() == 404 ? missing_type_error() : std::move(list).error();
    print_error(ctx.io.err, error);
    return exit_code_for(error);
  }
  auto items = items_of(std::move(list).value());
  if (items.empty()) {
    ctx.io.err << "No resources found in " << ns << " namespace.\n";
    return k_exit_ok;
  }
  for (const auto& item : items) {
    describer.describe(item, first);
    first = false;
  }
  return k_exit_ok;
}

}  // namespace

void setup_describe(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<DescribeOptions>();
  auto* cmd = root.add_subcommand(
      "describe", "Show a GPUWorkload in detail: status, Jobs, pods, Events, and why it is pending or where it went");
  register_completer(
      ctx, cmd->add_option("NAME", opts->names, "Names of GPUWorkloads to describe (all in the namespace when none)"),
      complete_workload_names);
  cmd->add_option("-l,--selector", opts->selector, "Label selector to filter on, e.g. team=ml,tier!=batch")
      ->type_name("SELECTOR");
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_describe(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
