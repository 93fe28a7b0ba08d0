#include <gpuorch/obs/watch_metrics.hpp>

namespace gpuorch::obs {

std::vector<double> work_duration_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

WatchMetrics::WatchMetrics(Registry& registry, const std::vector<std::string>& resources)
    : m_depth_family(registry.gauge(metric_names::k_queue_depth, "Keys waiting in the work queue.")),
      m_depth(m_depth_family.get()),
      m_adds_family(registry.counter(metric_names::k_queue_adds_total,
                                     "Keys added to the work queue (adds of a key already waiting are not counted).")),
      m_adds(m_adds_family.get()),
      m_retries_family(registry.counter(metric_names::k_queue_retries_total,
                                        "Keys requeued with backoff after a failed reconcile.")),
      m_retries(m_retries_family.get()),
      m_queue_family(registry.histogram(metric_names::k_queue_duration,
                                        "Seconds a key waited in the work queue before a worker took it.",
                                        work_duration_buckets())),
      m_queue_duration(m_queue_family.get()),
      m_work_family(registry.histogram(metric_names::k_work_duration,
                                       "Seconds one reconcile of one work-queue key took.", work_duration_buckets())),
      m_work_duration(m_work_family.get()),
      m_reconnects(registry.counter(metric_names::k_watch_reconnects_total,
                                    "Watch streams re-opened after they ended or broke, by resource.", {"resource"})),
      m_relists(registry.counter(metric_names::k_watch_relists_total,
                                 "Full lists of a resource after the first (410 Gone or a resync), by resource.",
                                 {"resource"})),
      m_synced(registry.gauge(metric_names::k_informer_synced,
                              "1 once the informer of a resource has its first complete list cached, else 0.",
                              {"resource"})) {
  for (const auto& resource : resources) {
    m_reconnects.with({resource});
    m_relists.with({resource});
    m_synced.with({resource}).set(0);
  }
}

LeaderMetrics::LeaderMetrics(Registry& registry)
    : m_leader(registry.gauge(metric_names::k_leader,
                              "1 while this process holds the leader-election Lease name, else 0.", {"name"})),
      m_transitions(registry.counter(metric_names::k_leader_transitions_total,
                                     "Times this process became the leader of the Lease name.", {"name"})) {}

void LeaderMetrics::set_leader(std::string_view name, bool leading) {
  std::lock_guard lock(m_mutex);
  Gauge& gauge = m_leader.with({name});
  const bool was_leading = gauge.value() != 0;
  gauge.set(leading ? 1 : 0);
  if (leading && !was_leading) {
    m_transitions.with({name}).inc();
  } else {
    m_transitions.with({name});
  }
}

}  // namespace gpuorch::obs
