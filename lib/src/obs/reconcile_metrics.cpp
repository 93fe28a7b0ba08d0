#include <gpuorch/obs/reconcile_metrics.hpp>

#include <set>

#include <gpuorch/model/workload.hpp>

namespace gpuorch::obs {

ReconcileMetrics::ReconcileMetrics(Registry& registry, const std::vector<std::string>& failure_reasons)
    : m_scheduled_family(registry.counter(metric_names::k_scheduled_total,
                                          "Jobs created for GPUWorkloads (one per scheduled attempt).")),
      m_scheduled(m_scheduled_family.get()),
      m_failed(registry.counter(metric_names::k_failed_total, "GPUWorkloads that ended in phase Failed, by reason.",
                                {"reason"})),
      m_retries_family(registry.counter(metric_names::k_retries_total,
                                        "Retries scheduled after a failed attempt of a GPUWorkload.")),
      m_retries(m_retries_family.get()),
      m_duration(registry.histogram(metric_names::k_reconcile_duration, "Wall time of one reconcile pass in seconds.",
                                    duration_buckets())),
      m_last_success(registry.gauge(metric_names::k_last_success,
                                    "Unix time in seconds at which the last reconcile pass completed successfully.")),
      m_workloads(registry.gauge(metric_names::k_workloads, "GPUWorkloads by status.phase.", {"phase"})),
      m_node_gpus(registry.gauge(metric_names::k_node_gpus,
                                 "GPUs per node as seen by the reconciler: state is free or used (free + used = "
                                 "allocatable).",
                                 {"node", "state"})) {
  for (const auto& reason : failure_reasons) {
    m_failed.with({reason});
  }
  // The last-success gauge has no value before a successful pass; leave it out
  // until then, so an alert on its absence fires for a reconciler that never succeeded.
  m_last_success.clear();
  set_workloads_by_phase({});
}

void ReconcileMetrics::pass_finished(std::chrono::duration<double> duration, bool success,
                                     std::chrono::system_clock::time_point finished_at) {
  m_duration.get().observe(duration.count());
  if (success) {
    // Whole seconds and the fraction separately: converting the nanosecond
    // count to double at once would lose the fraction's last digits.
    const auto since_epoch = finished_at.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto fraction = std::chrono::duration<double>(since_epoch - seconds);
    m_last_success.get().set(static_cast<double>(seconds.count()) + fraction.count());
  }
}

void ReconcileMetrics::set_workloads_by_phase(const std::vector<std::pair<std::string, double>>& counts) {
  for (const auto phase : model::k_phases) {
    double value = 0;
    for (const auto& [name, count] : counts) {
      if (name == model::to_string(phase)) {
        value += count;
      }
    }
    m_workloads.with({model::to_string(phase)}).set(value);
  }
  // Phases outside the enum (a newer CRD) are still reported as they come.
  for (const auto& [name, count] : counts) {
    if (!model::parse_phase(name)) {
      m_workloads.with({name}).set(count);
    }
  }
}

void ReconcileMetrics::set_node_gpus(const std::vector<NodeGpus>& nodes) {
  // Set the new values first, then drop nodes that left: a concurrent scrape
  // never sees a pass with no nodes at all.
  std::set<std::string, std::less<>> present;
  for (const auto& n : nodes) {
    present.insert(n.node);
    m_node_gpus.with({n.node, "free"}).set(n.free);
    m_node_gpus.with({n.node, "used"}).set(n.used);
  }
  std::vector<std::vector<std::string>> gone;
  m_node_gpus.for_each([&](const std::vector<std::string>& labels, const Gauge&) {
    if (!present.contains(labels[0])) {
      gone.push_back(labels);
    }
  });
  for (const auto& labels : gone) {
    m_node_gpus.remove(labels);
  }
}

}  // namespace gpuorch::obs
