#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/base/cancel.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/control/plan.hpp>

namespace gpuorch::kube {
class Client;
}

namespace gpuorch::control {

struct ExecutorOptions {
  /// Workloads worked on at once; the client's QPS limit still applies.
  int parallelism = 16;
  /// Event.reportingInstance (e.g. the pod or host name); may be empty.
  std::string reporting_instance;
  /// How often a write that lost a resourceVersion race is re-read and retried.
  int max_conflict_retries = 3;
  /// Stop starting new workloads after this monotonic time (--max-duration).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// Called between workloads (e.g. to renew a Lease); an error stops the pass.
  std::function<Status()> checkpoint;
  /// Called after each successful write of a workload itself (finalizer or
  /// status) with its namespace, name and the resourceVersion the server gave
  /// the result, from the thread that wrote it: a watcher can tell the echo
  /// of its own write from someone else's change.
  std::function<void(const std::string& namespace_name, const std::string& name, const std::string& resource_version)>
      on_workload_written;
};

/// What applying a plan did.
struct ExecutionReport {
  std::int64_t actions_applied = 0;
  std::int64_t writes = 0;             ///< API writes issued (creates, updates, patches, deletes)
  std::int64_t workloads_failed = 0;   ///< workloads whose actions stopped on an error
  std::int64_t workloads_skipped = 0;  ///< changed by someone else meanwhile: left for the next pass
  std::int64_t jobs_adopted = 0;       ///< create_job found our own Job already there
  std::int64_t events_aggregated = 0;  ///< repeated Events counted instead of recreated
  PlanCounts counts;                   ///< the plan's counts, for the workloads fully applied
  std::vector<std::string> errors;     ///< one line per failed workload
  bool interrupted = false;            ///< stopped by cancel, deadline or checkpoint
};

/// Applies a plan through the client, idempotently:
///  - the actions of one workload run in order and stop at the first failure;
///    different workloads run in parallel (ExecutorOptions::parallelism);
///  - workload writes carry the observed resourceVersion; a conflict is
///    re-read and retried when only metadata moved, skipped when the workload
///    itself changed (the next pass decides again);
///  - status goes through the /status subresource (merge patch);
///  - Jobs are created or adopted: AlreadyExists with our controller
///    ownerReference counts as created (a rerun after a crash);
///  - Jobs are deleted with background propagation and a uid precondition; the
///    finalizer is removed only once its Jobs are gone;
///  - Events are named "<workload>.<hash of uid and reason>", so a repeat
///    increments count/lastTimestamp of the existing Event instead of creating
///    another (reportingController gpuorch.io/reconciler).
/// Fails only when nothing could be attempted (cancelled before starting);
/// per-workload errors are in the report.
Result<ExecutionReport> execute(kube::Client& client, const Plan& plan, const ExecutorOptions& options = {},
                                const CancelToken* cancel = nullptr);

/// The name of the Event for (workload, uid, reason) that execute() creates or aggregates into.
std::string event_name(std::string_view workload, std::string_view uid, std::string_view reason);

/// The merge patch of /status that turns `before` into `after` (fields that
/// disappear are set to null), with `resource_version` as a precondition.
nlohmann::json status_patch(const model::WorkloadStatus& before, const model::WorkloadStatus& after,
                            std::string_view resource_version);

}  // namespace gpuorch::control
