#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/model/time.hpp>
#include <gpuorch/model/workload.hpp>

namespace gpuorch::control {

/// What one action of a plan does.
enum class ActionKind {
  add_finalizer,     ///< add gpuorch.io/cleanup to the workload
  create_job,        ///< create (or adopt) the attempt's Job
  delete_job,        ///< delete a Job (background propagation)
  update_status,     ///< write the workload's status through /status
  emit_event,        ///< record a core/v1 Event about the workload (after the status write)
  remove_finalizer,  ///< remove gpuorch.io/cleanup (after every Job is gone)
};

/// "AddFinalizer", "CreateJob", ...
std::string_view to_string(ActionKind kind);

/// A core/v1 Event to record.
struct EventSpec {
  std::string type;  ///< Normal or Warning
  std::string reason;
  std::string message;
  friend bool operator==(const EventSpec&, const EventSpec&) = default;
};

/// One write the executor performs. Actions of one workload run in plan order;
/// a failed action stops the ones after it (for that workload only).
struct Action {
  ActionKind kind = ActionKind::update_status;
  std::string namespace_name;
  std::string workload;      ///< the workload's name
  std::string workload_uid;  ///< precondition: the workload this plan was made for
  /// The workload's resourceVersion when observed (precondition of its writes).
  std::string resource_version;
  /// The workload's finalizers when observed (add/remove_finalizer).
  std::vector<std::string> finalizers;
  /// Human-readable summary ("node gpu-3, 4 GPUs", "Pending -> Scheduled: ...").
  std::string detail;
  nlohmann::json job;                     ///< create_job: the Job object
  std::string job_name;                   ///< create_job, delete_job
  std::string job_uid;                    ///< delete_job: precondition uid
  model::WorkloadStatus status;           ///< update_status: the whole new status
  model::WorkloadStatus previous_status;  ///< update_status: the status it replaces
  EventSpec event;                        ///< emit_event
};

/// The effect a plan has on the workloads' life cycles, for metrics.
struct PlanCounts {
  std::int64_t scheduled = 0;                  ///< Jobs created (placements)
  std::int64_t retries = 0;                    ///< retries started
  std::map<std::string, std::int64_t> failed;  ///< workloads turned Failed, by reason
  std::int64_t succeeded = 0;                  ///< workloads turned Succeeded
  std::int64_t unschedulable = 0;              ///< pending workloads that did not fit
};

/// GPUs of one node once the plan is applied: what was in use plus this pass's placements.
struct NodeGpus {
  std::string node;
  std::int32_t total = 0;  ///< allocatable nvidia.com/gpu
  std::int32_t free = 0;   ///< whole GPUs with nothing on them
};

/// What one reconcile pass wants done: typed actions plus when to look again.
struct Plan {
  model::Time now{};
  std::vector<Action> actions;
  /// The earliest time something is due (a retry, a re-check); nullopt when nothing is.
  std::optional<model::Time> requeue_at;
  PlanCounts counts;
  /// Phase of every workload after the plan is applied (for gauges).
  std::map<std::string, std::int64_t> phases;
  /// Every node's GPUs after the pass (for gauges), in node order.
  std::vector<NodeGpus> node_gpus;
  /// Observation problems carried along (unreadable objects, overcommitted nodes).
  std::vector<std::string> warnings;

  [[nodiscard]] bool empty() const noexcept { return actions.empty(); }
};

/// The plan as JSON: {"kind": "ReconcilePlan", "now", "requeueAt", "actions": [...], ...}.
nlohmann::json to_json(const Plan& plan);

/// The plan as a kubectl-style table (NAMESPACE WORKLOAD ACTION DETAIL), one
/// line per action; "No actions." when empty. `all_namespaces` keeps the
/// NAMESPACE column.
void print_plan_table(std::ostream& out, const Plan& plan, bool all_namespaces);

}  // namespace gpuorch::control
