#pragma once

#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/request.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// What `gpuorch simulate --from-cluster` works on: the live cluster's nodes,
/// what its running pods (and gpuorch Jobs whose pods are not there yet) use,
/// and the GPUWorkloads still waiting for a node.
struct ClusterSnapshotData {
  std::string scope;  ///< "namespace ml" or "all namespaces"
  std::vector<sched::NodeSpec> nodes;
  std::vector<sched::NodeInUse> in_use;
  std::vector<sched::Request> pending;             ///< named "namespace/name"
  std::vector<model::Workload> pending_workloads;  ///< the same, as read (for --save-snapshot)
  std::vector<std::string> warnings;
};

/// What placing a workload asks of one node (GPUs, requests, GPU model,
/// nodeSelector, tolerations, priority, creation time), named after it.
Result<sched::Request> placement_request(const model::Workload& workload);

/// Reads the cluster selected by the global flags, building the schedulable
/// state exactly as the reconciler does (control::observe_cluster and
/// control::build_cluster_state).
Result<ClusterSnapshotData> load_cluster_snapshot(Context& ctx, bool all_namespaces);

struct SnapshotPaths {
  std::string nodes;
  std::string workloads;
};

/// Writes DIR/nodes.yaml (a gpuorch NodePool with `used:` per busy node) and
/// DIR/workloads.yaml (the pending GPUWorkloads), creating DIR when missing.
/// `gpuorch simulate --nodes DIR/nodes.yaml --workloads DIR/workloads.yaml`
/// then reproduces the --from-cluster run offline.
Result<SnapshotPaths> save_cluster_snapshot(const ClusterSnapshotData& snapshot, const std::string& dir);

/// The NodePool document of the snapshot's nodes (what nodes.yaml holds).
std::string node_pool_yaml(const std::vector<sched::NodeSpec>& nodes, const std::vector<sched::NodeInUse>& in_use);

/// One line for stderr: "Snapshot of the cluster: 4 nodes, 32 GPUs (12 in use), 3 pending GPUWorkloads in namespace
/// ml".
std::string describe_snapshot(const ClusterSnapshotData& snapshot);

}  // namespace gpuorch::cli
