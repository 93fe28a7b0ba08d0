#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/base/cancel.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/model/time.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/cluster_state.hpp>

namespace gpuorch::kube {
class Client;
}

namespace gpuorch::control {

/// How a Job ended, from its Complete/Failed conditions.
enum class JobOutcome { none, complete, failed };

/// What the reconciler needs of a batch/v1 Job.
struct JobView {
  std::string namespace_name;
  std::string name;
  std::string uid;
  std::string resource_version;
  std::string workload;   ///< label gpuorch.io/workload ("" when absent)
  std::string owner_uid;  ///< uid of the controller ownerReference ("" when none)
  std::string owner_kind;
  /// The node the Job is pinned to by a required node affinity on metadata.name ("" when none).
  std::string node;
  std::int32_t gpus = 0;  ///< nvidia.com/gpu of the pod template (limits, else requests)
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  std::int64_t active = 0;
  std::int64_t ready = 0;
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  JobOutcome outcome = JobOutcome::none;
  std::string outcome_reason;   ///< the finishing condition's reason ("BackoffLimitExceeded")
  std::string outcome_message;  ///< and its message
  bool deleting = false;        ///< metadata.deletionTimestamp is set
  std::optional<model::Time> creation_timestamp;

  /// Neither finished nor being deleted: its pods may hold or soon hold GPUs.
  [[nodiscard]] bool live() const noexcept { return outcome == JobOutcome::none && !deleting; }
};

/// What the reconciler needs of a core/v1 Pod.
struct PodView {
  std::string namespace_name;
  std::string name;
  std::string node;           ///< spec.nodeName ("" while not bound)
  std::string phase;          ///< status.phase ("" when absent: Pending)
  std::string owner_job_uid;  ///< uid of a controller ownerReference of kind Job
  std::int32_t gpus = 0;      ///< effective nvidia.com/gpu request
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  bool deleting = false;

  /// Succeeded or Failed: its resources are free again.
  [[nodiscard]] bool terminated() const noexcept { return phase == "Succeeded" || phase == "Failed"; }
};

/// Reads a Node into a scheduling NodeSpec: sched::node_from_json, the reading
/// `gpuorch simulate` applies to node files (allocatable, GPU model from
/// nvidia.com/gpu.product, price from gpuorch.io/cost-per-gpu-hour, taints,
/// cordon, Ready). Fails (ErrorCode::invalid) on malformed fields.
Result<sched::NodeSpec> node_spec_from_json(const nlohmann::json& node);
/// Reads a Job. Fails (ErrorCode::invalid) on malformed quantities or a missing name.
Result<JobView> job_view_from_json(const nlohmann::json& job);
/// Reads a Pod; resources as the scheduler counts them: the sum over
/// containers, at least the largest init container. Fails like job_view_from_json.
Result<PodView> pod_view_from_json(const nlohmann::json& pod);

/// Everything one reconcile pass decides from. Pure data: no client, no clock.
struct Observed {
  std::vector<model::Workload> workloads;
  std::vector<JobView> jobs;  ///< gpuorch Jobs (label gpuorch.io/workload), every namespace
  std::vector<PodView> pods;  ///< pods that hold or may hold resources, and pods of gpuorch Jobs
  std::vector<sched::NodeSpec> nodes;
  /// The namespace the workloads were listed in ("" = every namespace).
  std::string namespace_name;
  model::Time now{};
  std::uint64_t seed = 0;
  /// Objects that could not be read ("GPUWorkload ml/x: ..."): they are skipped, not fatal.
  std::vector<std::string> warnings;
};

/// Builds Observed from the API objects (each a JSON object as the API
/// server returns it). Objects that cannot be read are skipped with a warning;
/// Jobs without the gpuorch.io/workload label and pods that neither hold
/// resources nor belong to a gpuorch Job are left out.
Observed observed_from_json(std::span<const nlohmann::json> workloads, std::span<const nlohmann::json> jobs,
                            std::span<const nlohmann::json> pods, std::span<const nlohmann::json> nodes,
                            model::Time now, std::uint64_t seed);

/// Usage of one node as observed, before any new placement.
struct NodeUsage {
  std::int32_t gpus_by_pods = 0;  ///< GPUs of non-terminated pods bound to the node
  std::int32_t gpus_by_jobs = 0;  ///< GPUs of live gpuorch Jobs pinned here whose pods are not visible
  /// More was requested on the node than it has (the state is clamped to full).
  bool overcommitted = false;
};

/// The schedulable state of the cluster as observed.
struct ClusterSnapshot {
  sched::ClusterState state;
  std::vector<NodeUsage> usage;  ///< by sched::NodeId
  std::vector<std::string> warnings;
};

/// What is in use on one node, summed from the pods and Jobs on it.
struct NodeTotals {
  std::int64_t gpus = 0;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  std::int64_t gpus_by_pods = 0;
  std::int64_t gpus_by_jobs = 0;
};

/// Books `totals` on node `id` of `snap` (clamped to what the node has: an
/// overcommitted node counts as full) and records its NodeUsage. Appends to
/// `warnings` when the node is overcommitted or the booking fails.
void book_node_usage(ClusterSnapshot& snap, sched::NodeId id, const NodeTotals& totals,
                     std::vector<std::string>& warnings);

/// Builds the ClusterState: every node with what is in use on it. Free GPUs =
/// allocatable - GPUs of non-terminated pods bound to the node - GPUs of live
/// gpuorch Jobs pinned to the node none of whose pods is visible yet (so a Job
/// created by an earlier pass is never double-booked while its pod is being
/// created). Pods of unknown nodes are ignored; a node whose usage exceeds its
/// capacity is counted as full. CPU and memory are accounted the same way.
/// Deterministic: the same input gives the same state.
ClusterSnapshot build_cluster_state(std::span<const sched::NodeSpec> nodes, std::span<const PodView> pods,
                                    std::span<const JobView> jobs);

/// Shorthand for build_cluster_state(observed.nodes, observed.pods, observed.jobs).
ClusterSnapshot build_cluster_state(const Observed& observed);

struct ObserveOptions {
  std::string namespace_name;    ///< workloads of this namespace; "" = every namespace
  std::int64_t page_size = 500;  ///< list page size (limit/continue)
  model::Time now{};
  std::uint64_t seed = 0;
};

/// Lists workloads (of the namespace), gpuorch Jobs, pods and nodes (cluster
/// wide: placement needs every pod's GPUs) with one paged list call per kind,
/// and builds Observed. Terminated pods are filtered by the server
/// (fieldSelector) where possible.
Result<Observed> observe_cluster(kube::Client& client, const ObserveOptions& options,
                                 const CancelToken* cancel = nullptr);

}  // namespace gpuorch::control
