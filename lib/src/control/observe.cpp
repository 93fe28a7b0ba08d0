// Observation: API objects -> typed views -> the scheduling state. Everything
// except observe_cluster is pure, so `describe` and `simulate --from-cluster`
// see exactly the free GPUs that `reconcile` places on.

#include <gpuorch/control/observe.hpp>

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

#include <gpuorch/control/names.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/quantity.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/kube_objects.hpp>

namespace gpuorch::control {
namespace {

using nlohmann::json;

const json& empty_object() {
  static const json k_empty = json::object();
  return k_empty;
}

// The member `key` when it is an object, else an empty object.
const json& object_at(const json& j, std::string_view key) {
  if (!j.is_object()) {
    return empty_object();
  }
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty_object();
}

std::string string_at(const json& j, std::string_view key) {
  if (!j.is_object()) {
    return {};
  }
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_at(const json& j, std::string_view key) {
  if (!j.is_object()) {
    return 0;
  }
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

Error invalid(std::string_view what, std::string_view message) {
  return Error(ErrorCode::invalid, fmt::format("{}: {}", what, message));
}

// A quantity value from a resource list: strings ("500m") and plain numbers.
Result<model::Quantity> quantity_of(const json& value, std::string_view what, std::string_view field) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_integer()) {
    text = std::to_string(value.get<std::int64_t>());
  } else if (value.is_number()) {
    text = fmt::format("{}", value.get<double>());
  } else {
    return invalid(what, fmt::format("{}: not a quantity", field));
  }
  auto q = model::Quantity::parse(text);
  if (!q.ok()) {
    return invalid(what, fmt::format("{}: {}", field, q.error().message()));
  }
  return *q;
}

struct Resources {
  std::int64_t gpus = 0;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
};

// What one container asks for. Extended resources such as nvidia.com/gpu
// are set as limits (requests default to them); cpu/memory requests default
// to the limits too, as the API server defaults them.
Result<Resources> container_resources(const json& container, std::string_view what) {
  Resources r;
  const json& res = object_at(container, "resources");
  const json& requests = object_at(res, "requests");
  const json& limits = object_at(res, "limits");
  const auto pick = [&](std::string_view key) -> const json* {
    if (const auto it = requests.find(key); it != requests.end()) {
      return &*it;
    }
    if (const auto it = limits.find(key); it != limits.end()) {
      return &*it;
    }
    return nullptr;
  };
  if (const json* g = pick(sched::k_gpu_resource)) {
    GPUORCH_ASSIGN_OR_RETURN(const auto q, quantity_of(*g, what, "resources[nvidia.com/gpu]"));
    r.gpus = q.value();
  }
  if (const json* c = pick("cpu")) {
    GPUORCH_ASSIGN_OR_RETURN(const auto q, quantity_of(*c, what, "resources.cpu"));
    r.cpu_milli = q.milli();
  }
  if (const json* m = pick("memory")) {
    GPUORCH_ASSIGN_OR_RETURN(const auto q, quantity_of(*m, what, "resources.memory"));
    r.memory_bytes = q.value();
  }
  return r;
}

// The effective request of a pod spec, as kube-scheduler computes it: the sum
// over containers, and at least the largest init container (per resource).
Result<Resources> pod_spec_resources(const json& spec, std::string_view what) {
  Resources sum;
  if (const auto it = spec.find("containers"); it != spec.end() && it->is_array()) {
    for (const json& c : *it) {
      GPUORCH_ASSIGN_OR_RETURN(const auto r, container_resources(c, what));
      sum.gpus += r.gpus;
      sum.cpu_milli += r.cpu_milli;
      sum.memory_bytes += r.memory_bytes;
    }
  }
  if (const auto it = spec.find("initContainers"); it != spec.end() && it->is_array()) {
    for (const json& c : *it) {
      GPUORCH_ASSIGN_OR_RETURN(const auto r, container_resources(c, what));
      sum.gpus = std::max(sum.gpus, r.gpus);
      sum.cpu_milli = std::max(sum.cpu_milli, r.cpu_milli);
      sum.memory_bytes = std::max(sum.memory_bytes, r.memory_bytes);
    }
  }
  return sum;
}

std::int32_t clamp_gpus(std::int64_t gpus) {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(gpus, 0, 1'000'000));
}

// The node a pod spec is pinned to by a required node affinity term on
// metadata.name with exactly one value (what gpuorch's Job builder writes).
std::string pinned_node(const json& pod_spec) {
  const json& required = object_at(object_at(object_at(pod_spec, "affinity"), "nodeAffinity"),
                                   "requiredDuringSchedulingIgnoredDuringExecution");
  const auto terms = required.find("nodeSelectorTerms");
  if (terms == required.end() || !terms->is_array()) {
    return {};
  }
  for (const json& term : *terms) {
    const auto fields = term.find("matchFields");
    if (fields == term.end() || !fields->is_array()) {
      continue;
    }
    for (const json& e : *fields) {
      if (string_at(e, "key") != "metadata.name" || string_at(e, "operator") != "In") {
        continue;
      }
      const auto values = e.find("values");
      if (values != e.end() && values->is_array() && values->size() == 1 && (*values)[0].is_string()) {
        return (*values)[0].get<std::string>();
      }
    }
  }
  return {};
}

std::string object_name(std::string_view kind, const json& obj) {
  const json& meta = object_at(obj, "metadata");
  const auto ns = string_at(meta, "namespace");
  return ns.empty() ? fmt::format("{} {}", kind, string_at(meta, "name"))
                    : fmt::format("{} {}/{}", kind, ns, string_at(meta, "name"));
}

}  // namespace

// One reading of a Node for every caller: `simulate`'s node files and the
// reconciler's observed cluster go through the same sched conversion.
Result<sched::NodeSpec> node_spec_from_json(const json& node) {
  return sched::node_from_json(node);
}

Result<JobView> job_view_from_json(const json& job) {
  const std::string what = object_name("Job", job);
  const json& meta = object_at(job, "metadata");
  JobView v;
  v.namespace_name = string_at(meta, "namespace");
  v.name = string_at(meta, "name");
  if (v.name.empty()) {
    return invalid(what, "metadata.name is required");
  }
  v.uid = string_at(meta, "uid");
  v.resource_version = string_at(meta, "resourceVersion");
  v.workload = string_at(object_at(meta, "labels"), k_workload_label);
  v.deleting = !string_at(meta, "deletionTimestamp").empty();
  if (const auto created = string_at(meta, "creationTimestamp"); !created.empty()) {
    if (auto t = model::parse_time(created); t.ok()) {
      v.creation_timestamp = *t;
    }
  }
  if (const auto refs = meta.find("ownerReferences"); refs != meta.end() && refs->is_array()) {
    for (const json& ref : *refs) {
      if (ref.value("controller", false) && ref.is_object()) {
        v.owner_uid = string_at(ref, "uid");
        v.owner_kind = string_at(ref, "kind");
      }
    }
  }
  const json& pod_spec = object_at(object_at(object_at(job, "spec"), "template"), "spec");
  v.node = pinned_node(pod_spec);
  GPUORCH_ASSIGN_OR_RETURN(const auto res, pod_spec_resources(pod_spec, what));
  v.gpus = clamp_gpus(res.gpus);
  v.cpu_milli = res.cpu_milli;
  v.memory_bytes = res.memory_bytes;
  const json& status = object_at(job, "status");
  v.active = int_at(status, "active");
  v.ready = int_at(status, "ready");
  v.succeeded = int_at(status, "succeeded");
  v.failed = int_at(status, "failed");
  if (const auto it = status.find("conditions"); it != status.end() && it->is_array()) {
    for (const json& c : *it) {
      if (string_at(c, "status") != "True") {
        continue;
      }
      const auto type = string_at(c, "type");
      if (type == "Complete" || type == "Failed") {
        v.outcome = type == "Complete" ? JobOutcome::complete : JobOutcome::failed;
        v.outcome_reason = string_at(c, "reason");
        v.outcome_message = string_at(c, "message");
      }
    }
  }
  return v;
}

Result<PodView> pod_view_from_json(const json& pod) {
  const std::string what = object_name("Pod", pod);
  const json& meta = object_at(pod, "metadata");
  PodView v;
  v.namespace_name = string_at(meta, "namespace");
  v.name = string_at(meta, "name");
  if (v.name.empty()) {
    return invalid(what, "metadata.name is required");
  }
  v.deleting = !string_at(meta, "deletionTimestamp").empty();
  if (const auto refs = meta.find("ownerReferences"); refs != meta.end() && refs->is_array()) {
    for (const json& ref : *refs) {
      if (ref.is_object() && ref.value("controller", false) && string_at(ref, "kind") == "Job") {
        v.owner_job_uid = string_at(ref, "uid");
      }
    }
  }
  const json& spec = object_at(pod, "spec");
  v.node = string_at(spec, "nodeName");
  v.phase = string_at(object_at(pod, "status"), "phase");
  GPUORCH_ASSIGN_OR_RETURN(const auto res, pod_spec_resources(spec, what));
  v.gpus = clamp_gpus(res.gpus);
  v.cpu_milli = res.cpu_milli;
  v.memory_bytes = res.memory_bytes;
  return v;
}

Observed observed_from_json(std::span<const json> workloads, std::span<const json> jobs, std::span<const json> pods,
                            std::span<const json> nodes, model::Time now, std::uint64_t seed) {
  Observed out;
  out.now = now;
  out.seed = seed;
  out.workloads.reserve(workloads.size());
  for (const json& w : workloads) {
    auto workload = model::workload_from_json(w);
    if (!workload.ok()) {
      out.warnings.push_back(fmt::format("{}: {}", object_name("GPUWorkload", w), workload.error().describe()));
      continue;
    }
    out.workloads.push_back(std::move(*workload));
  }
  std::unordered_set<std::string> job_uids;
  for (const json& j : jobs) {
    auto job = job_view_from_json(j);
    if (!job.ok()) {
      out.warnings.push_back(job.error().message());
      continue;
    }
    if (job->workload.empty()) {
      continue;
    }
    job_uids.insert(job->uid);
    out.jobs.push_back(std::move(*job));
  }
  for (const json& p : pods) {
    auto pod = pod_view_from_json(p);
    if (!pod.ok()) {
      out.warnings.push_back(pod.error().message());
      continue;
    }
    const bool holds =
        !pod->node.empty() && !pod->terminated() && (pod->gpus > 0 || pod->cpu_milli > 0 || pod->memory_bytes > 0);
    const bool ours = !pod->owner_job_uid.empty() && job_uids.contains(pod->owner_job_uid);
    if (holds || ours) {
      out.pods.push_back(std::move(*pod));
    }
  }
  out.nodes.reserve(nodes.size());
  for (const json& n : nodes) {
    auto node = node_spec_from_json(n);
    if (!node.ok()) {
      out.warnings.push_back(node.error().message());
      continue;
    }
    out.nodes.push_back(std::move(*node));
  }
  return out;
}

void book_node_usage(ClusterSnapshot& snap, sched::NodeId id, const NodeTotals& totals,
                     std::vector<std::string>& warnings) {
  const auto& spec = snap.state.spec(id);
  auto& usage = snap.usage[id];
  usage.gpus_by_pods = static_cast<std::int32_t>(totals.gpus_by_pods);
  usage.gpus_by_jobs = static_cast<std::int32_t>(totals.gpus_by_jobs);
  usage.overcommitted =
      totals.gpus > spec.gpu_count || totals.cpu_milli > spec.cpu_milli || totals.memory_bytes > spec.memory_bytes;
  if (usage.overcommitted) {
    warnings.push_back(fmt::format(
        "Node {}: more is in use than it has (GPUs {}/{}, CPU {}m/{}m, memory {}/{}); counted as full", spec.name,
        totals.gpus, spec.gpu_count, totals.cpu_milli, spec.cpu_milli, totals.memory_bytes, spec.memory_bytes));
  }
  sched::Allocation a;
  a.cpu_milli = std::clamp<std::int64_t>(totals.cpu_milli, 0, spec.cpu_milli);
  a.memory_bytes = std::clamp<std::int64_t>(totals.memory_bytes, 0, spec.memory_bytes);
  const auto used = static_cast<int>(std::clamp<std::int64_t>(totals.gpus, 0, spec.gpu_count));
  a.gpu_mask = used >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << used) - 1;
  a.gpu_milli = sched::k_milli_per_gpu;
  if (a.cpu_milli == 0 && a.memory_bytes == 0 && a.gpu_mask == 0) {
    return;
  }
  if (auto s = snap.state.allocate(id, a); !s.ok()) {
    warnings.push_back(fmt::format("Node {}: {}", spec.name, s.error().message()));
  }
}

ClusterSnapshot build_cluster_state(std::span<const sched::NodeSpec> nodes, std::span<const PodView> pods,
                                    std::span<const JobView> jobs) {
  ClusterSnapshot snap;
  for (const auto& n : nodes) {
    auto id = snap.state.add_node(n);
    if (!id.ok()) {
      snap.warnings.push_back(fmt::format("Node {}: {}", n.name, id.error().message()));
    }
  }
  const std::size_t count = snap.state.size();
  snap.usage.resize(count);
  std::vector<NodeTotals> totals(count);

  // Jobs whose pods are visible: a bound live pod counts for itself; a
  // terminated pod means the Job's GPUs are free (or about to be).
  std::unordered_set<std::string> jobs_with_pods;
  for (const auto& p : pods) {
    if (!p.owner_job_uid.empty() && (p.terminated() || !p.node.empty())) {
      jobs_with_pods.insert(p.owner_job_uid);
    }
    if (p.node.empty() || p.terminated()) {
      continue;
    }
    const auto id = snap.state.find(p.node);
    if (!id) {
      continue;
    }
    auto& t = totals[*id];
    t.gpus += p.gpus;
    t.cpu_milli += p.cpu_milli;
    t.memory_bytes += p.memory_bytes;
    t.gpus_by_pods += p.gpus;
  }
  for (const auto& j : jobs) {
    if (!j.live() || j.node.empty() || jobs_with_pods.contains(j.uid)) {
      continue;
    }
    const auto id = snap.state.find(j.node);
    if (!id) {
      continue;
    }
    auto& t = totals[*id];
    t.gpus += j.gpus;
    t.cpu_milli += j.cpu_milli;
    t.memory_bytes += j.memory_bytes;
    t.gpus_by_jobs += j.gpus;
  }
  for (sched::NodeId id = 0; id < count; ++id) {
    book_node_usage(snap, id, totals[id], snap.warnings);
  }
  return snap;
}

ClusterSnapshot build_cluster_state(const Observed& observed) {
  return build_cluster_state(observed.nodes, observed.pods, observed.jobs);
}

Result<Observed> observe_cluster(kube::Client& client, const ObserveOptions& options, const CancelToken* cancel) {
  const auto check = [&]() -> Status {
    if (cancel != nullptr) {
      return cancel->check("observing the cluster");
    }
    return Status();
  };
  const auto items_of = [](json& list) {
    std::vector<json> items;
    if (auto it = list.find("items"); it != list.end() && it->is_array()) {
      items.reserve(it->size());
      for (auto& item : *it) {
        items.push_back(std::move(item));
      }
    }
    return items;
  };
  kube::ListOptions paged;
  paged.limit = options.page_size;

  GPUORCH_TRY(check());
  GPUORCH_ASSIGN_OR_RETURN(auto workload_list,
                           client.list_all(kube::resources::gpu_workloads(), options.namespace_name, paged));
  GPUORCH_TRY(check());
  kube::ListOptions job_options = paged;
  job_options.label_selector = std::string(k_workload_label);
  GPUORCH_ASSIGN_OR_RETURN(auto job_list, client.list_all(kube::resources::jobs(), "", job_options));
  GPUORCH_TRY(check());
  kube::ListOptions pod_options = paged;
  pod_options.field_selector = "status.phase!=Succeeded,status.phase!=Failed";
  GPUORCH_ASSIGN_OR_RETURN(auto pod_list, client.list_all(kube::resources::pods(), "", pod_options));
  GPUORCH_TRY(check());
  GPUORCH_ASSIGN_OR_RETURN(auto node_list, client.list_all(kube::resources::nodes(), "", paged));

  const auto workloads = items_of(workload_list);
  const auto jobs = items_of(job_list);
  const auto pods = items_of(pod_list);
  const auto nodes = items_of(node_list);
  auto observed = observed_from_json(workloads, jobs, pods, nodes, options.now, options.seed);
  observed.namespace_name = options.namespace_name;
  return observed;
}

}  // namespace gpuorch::control
