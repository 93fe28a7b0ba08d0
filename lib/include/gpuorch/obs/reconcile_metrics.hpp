#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/obs/metrics.hpp>

namespace gpuorch::obs {

/// Metric names of the reconciler (documented in docs/operations.md).
namespace metric_names {
inline constexpr const char* k_scheduled_total = "gpuorch_workloads_scheduled_total";
inline constexpr const char* k_failed_total = "gpuorch_workloads_failed_total";
inline constexpr const char* k_retries_total = "gpuorch_workload_retries_total";
inline constexpr const char* k_reconcile_duration = "gpuorch_reconcile_duration_seconds";
inline constexpr const char* k_last_success = "gpuorch_reconcile_last_success_timestamp_seconds";
inline constexpr const char* k_workloads = "gpuorch_workloads";
inline constexpr const char* k_node_gpus = "gpuorch_node_gpus";
}  // namespace metric_names

/// GPUs of one node as the reconciler saw them in a pass.
struct NodeGpus {
  std::string node;
  double free = 0;
  double used = 0;
};

/// The reconciler's metrics, registered in a Registry the caller owns (so a
/// watch-mode process can add its own families beside them and serve the same
/// registry on /metrics):
///
///   gpuorch_workloads_scheduled_total                 counter    Jobs created for workloads
///   gpuorch_workloads_failed_total{reason}            counter    workloads that ended Failed, by reason
///   gpuorch_workload_retries_total                    counter    retries scheduled after a failed attempt
///   gpuorch_reconcile_duration_seconds                histogram  wall time of one reconcile pass
///   gpuorch_reconcile_last_success_timestamp_seconds  gauge      Unix time the last pass completed
///   gpuorch_workloads{phase}                          gauge      workloads by status.phase (all six phases)
///   gpuorch_node_gpus{node,state}                     gauge      GPUs per node, state "free" or "used"
///
/// Counters count events of this process: a one-shot run reports what its
/// own pass did, and its push (or textfile) replaces the previous run's. Alert
/// on the gauges and the last-success time, which mean the same in one-shot
/// and watch mode (packaging/prometheus/gpuorch-alerts.yaml).
class ReconcileMetrics {
 public:
  /// Registers the families. `failure_reasons` are set to zero up front so
  /// that rate() and absent() work before the first failure.
  explicit ReconcileMetrics(Registry& registry, const std::vector<std::string>& failure_reasons = {});

  /// A Job was created for a workload.
  void workload_scheduled(double count = 1) { m_scheduled.inc(count); }
  /// A workload reached phase Failed for `reason` (an UpperCamelCase reason constant).
  void workload_failed(std::string_view reason) { m_failed.with({reason}).inc(); }
  /// A retry of a failed attempt was scheduled.
  void workload_retried(double count = 1) { m_retries.inc(count); }

  /// Records a pass: its duration always; on success also the completion time.
  void pass_finished(std::chrono::duration<double> duration, bool success,
                     std::chrono::system_clock::time_point finished_at);

  /// Replaces the by-phase gauge. `counts` maps phase names (as in
  /// status.phase) to counts; phases not given are set to 0, so all six are
  /// always present.
  void set_workloads_by_phase(const std::vector<std::pair<std::string, double>>& counts);
  /// Replaces the per-node gauge: nodes not listed disappear.
  void set_node_gpus(const std::vector<NodeGpus>& nodes);

  [[nodiscard]] CounterFamily& scheduled() { return m_scheduled_family; }
  [[nodiscard]] CounterFamily& failed() { return m_failed; }
  [[nodiscard]] CounterFamily& retries() { return m_retries_family; }
  [[nodiscard]] HistogramFamily& duration() { return m_duration; }
  [[nodiscard]] GaugeFamily& last_success() { return m_last_success; }
  [[nodiscard]] GaugeFamily& workloads() { return m_workloads; }
  [[nodiscard]] GaugeFamily& node_gpus() { return m_node_gpus; }

 private:
  CounterFamily& m_scheduled_family;
  Counter& m_scheduled;
  CounterFamily& m_failed;
  CounterFamily& m_retries_family;
  Counter& m_retries;
  HistogramFamily& m_duration;
  GaugeFamily& m_last_success;
  GaugeFamily& m_workloads;
  GaugeFamily& m_node_gpus;
};

}  // namespace gpuorch::obs
