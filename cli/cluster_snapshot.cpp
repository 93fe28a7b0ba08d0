#include "cluster_snapshot.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gpuorch/control/observe.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/yaml.hpp>
#include <gpuorch/sched/kube_objects.hpp>

#include "kube_connect.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::ordered_json;

/// A workload that still waits for a node: not yet seen, Pending (also while
/// backing off between attempts) or Scheduling. Scheduled and Running ones
/// hold GPUs through their Jobs and pods, which the cluster state counts.
bool waits_for_a_node(const model::Workload& w) {
  if (w.metadata.deletion_timestamp) {
    return false;
  }
  return !w.status.phase || *w.status.phase == model::Phase::pending || *w.status.phase == model::Phase::scheduling;
}

Error explain_list_error(Error error) {
  if (error.http_status() == 404 && error.message() == "the server could not find the requested resource") {
    return Error(ErrorCode::not_found,
                 "the server doesn't have a resource type \"gpuworkloads\" (is the GPUWorkload CRD installed?)");
  }
  return error;
}

Status write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) {
    return Error(ErrorCode::io, fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  file << content;
  file.close();
  if (!file) {
    return Error(ErrorCode::io, fmt::format("cannot write {}", path.string()));
  }
  return {};
}

}  // namespace

Result<sched::Request> placement_request(const model::Workload& w) {
  auto r = sched::request_from_workload(w);
  GPUORCH_TRY(r.validate());
  return r;
}

Result<ClusterSnapshotData> load_cluster_snapshot(Context& ctx, bool all_namespaces) {
  GPUORCH_ASSIGN_OR_RETURN(auto client, connect(ctx));
  control::ObserveOptions options;
  const auto ns = client->config().namespace_name;
  options.namespace_name = all_namespaces ? std::string() : ns;
  options.now = std::chrono::system_clock::now();
  auto observed = control::observe_cluster(*client, options, &ctx.cancel);
  if (!observed) {
    return explain_list_error(std::move(observed).error());
  }
  const auto cluster = control::build_cluster_state(*observed);

  ClusterSnapshotData out;
  out.scope = all_namespaces ? "all namespaces" : "namespace " + ns;
  out.warnings = observed->warnings;
  out.warnings.insert(out.warnings.end(), cluster.warnings.begin(), cluster.warnings.end());
  const auto& state = cluster.state;
  for (sched::NodeId id = 0; id < state.size(); ++id) {
    const auto& spec = state.spec(id);
    out.nodes.push_back(spec);
    sched::NodeInUse used;
    used.node = spec.name;
    used.gpus = spec.gpu_count - state.whole_free_gpus(id);
    used.cpu_milli = spec.cpu_milli - state.cpu_free(id);
    used.memory_bytes = spec.memory_bytes - state.memory_free(id);
    if (used.gpus > 0 || used.cpu_milli > 0 || used.memory_bytes > 0) {
      out.in_use.push_back(std::move(used));
    }
  }
  for (const auto& w : observed->workloads) {
    if (!waits_for_a_node(w)) {
      continue;
    }
    auto request = placement_request(w);
    if (!request) {
      out.warnings.push_back(
          fmt::format("GPUWorkload {}/{}: {}", w.metadata.namespace_name, w.metadata.name, request.error().message()));
      continue;
    }
    out.pending.push_back(std::move(request).value());
    out.pending_workloads.push_back(w);
  }
  for (const auto& warning : out.warnings) {
    ctx.io.err << "warning: " << warning << '\n';
  }
  return out;
}

std::string node_pool_yaml(const std::vector<sched::NodeSpec>& nodes, const std::vector<sched::NodeInUse>& in_use) {
  std::map<std::string, const sched::NodeInUse*> used_by_node;
  for (const auto& u : in_use) {
    used_by_node[u.node] = &u;
  }
  const auto memory = [](std::int64_t bytes) {
    return model::Quantity::from_units(bytes, model::Quantity::Format::binary_si).to_string();
  };
  // One node per line, as a JSON object (YAML's flow style): diffs stay readable.
  std::string out = fmt::format("apiVersion: {}\nkind: NodePool\nnodes:\n", model::k_api_version);
  if (nodes.empty()) {
    return out + "  []\n";
  }
  for (const auto& n : nodes) {
    ordered_json node;
    node["name"] = n.name;
    node["gpus"] = n.gpu_count;
    if (!n.gpu_model.empty()) {
      node["gpuModel"] = n.gpu_model;
    }
    node["cpu"] = model::Quantity::from_milli(n.cpu_milli).to_string();
    node["memory"] = memory(n.memory_bytes);
    if (!n.labels.empty()) {
      ordered_json labels = ordered_json::object();
      for (const auto& [key, value] : n.labels) {
        labels[key] = value;
      }
      node["labels"] = std::move(labels);
    }
    if (!n.taints.empty()) {
      ordered_json taints = ordered_json::array();
      for (const auto& t : n.taints) {
        ordered_json taint{{"key", t.key}};
        if (!t.value.empty()) {
          taint["value"] = t.value;
        }
        taint["effect"] = t.effect;
        taints.push_back(std::move(taint));
      }
      node["taints"] = std::move(taints);
    }
    if (n.price_per_gpu_hour) {
      node["costPerGPUHour"] = *n.price_per_gpu_hour;
    }
    node["ready"] = n.ready;
    node["cordoned"] = n.cordoned;
    if (auto it = used_by_node.find(n.name); it != used_by_node.end()) {
      node["used"] = {{"gpus", it->second->gpus},
                      {"cpu", model::Quantity::from_milli(it->second->cpu_milli).to_string()},
                      {"memory", memory(it->second->memory_bytes)}};
    }
    out += "  - " + node.dump() + "\n";
  }
  return out;
}

Result<SnapshotPaths> save_cluster_snapshot(const ClusterSnapshotData& snapshot, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error(ErrorCode::io, fmt::format("cannot create {}: {}", dir, ec.message()));
  }
  const std::filesystem::path base(dir);
  SnapshotPaths paths{(base / "nodes.yaml").string(), (base / "workloads.yaml").string()};
  GPUORCH_TRY(write_file(paths.nodes,
                         "# Nodes of a cluster snapshot (gpuorch simulate --from-cluster --save-snapshot).\n"
                         "# used: what running pods and gpuorch Jobs held when it was taken.\n" +
                             node_pool_yaml(snapshot.nodes, snapshot.in_use)));
  // Only what placement reads: identity, creation time (queue order) and spec.
  std::vector<nlohmann::json> documents;
  for (const auto& w : snapshot.pending_workloads) {
    nlohmann::json metadata{{"name", w.metadata.name}, {"namespace", w.metadata.namespace_name}};
    if (w.metadata.creation_timestamp) {
      metadata["creationTimestamp"] = model::format_time(*w.metadata.creation_timestamp);
    }
    documents.push_back({{"apiVersion", std::string(model::k_api_version)},
                         {"kind", std::string(model::k_workload_kind)},
                         {"metadata", std::move(metadata)},
                         {"spec", model::to_json(w.spec)}});
  }
  GPUORCH_TRY(
      write_file(paths.workloads, "# Pending GPUWorkloads of a cluster snapshot (gpuorch simulate --from-cluster).\n" +
                                      (documents.empty() ? std::string("apiVersion: v1\nkind: List\nitems: []\n")
                                                         : model::to_yaml_stream(documents))));
  return paths;
}

std::string describe_snapshot(const ClusterSnapshotData& snapshot) {
  std::int64_t gpus = 0;
  std::int64_t used = 0;
  for (const auto& n : snapshot.nodes) {
    gpus += n.gpu_count;
  }
  for (const auto& u : snapshot.in_use) {
    used += u.gpus;
  }
  return fmt::format("Snapshot of the cluster: {} node{}, {} GPUs ({} in use), {} pending GPUWorkload{} in {}",
                     snapshot.nodes.size(), snapshot.nodes.size() == 1 ? "" : "s", gpus, used, snapshot.pending.size(),
                     snapshot.pending.size() == 1 ? "" : "s", snapshot.scope);
}

}  // namespace gpuorch::cli
