#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/obs/metrics.hpp>

namespace gpuorch::obs {

/// Metric names of the watch loop (`gpuorch reconcile --watch`), beside the
/// reconciler's (reconcile_metrics.hpp). The work-queue names follow
/// client-go's workqueue metrics with the gpuorch_ prefix and without the
/// `name` label (gpuorch has one queue); the leader-election gauge follows
/// client-go's leader_election_master_status.
namespace metric_names {
inline constexpr const char* k_queue_depth = "gpuorch_workqueue_depth";
inline constexpr const char* k_queue_adds_total = "gpuorch_workqueue_adds_total";
inline constexpr const char* k_queue_retries_total = "gpuorch_workqueue_retries_total";
inline constexpr const char* k_queue_duration = "gpuorch_workqueue_queue_duration_seconds";
inline constexpr const char* k_work_duration = "gpuorch_workqueue_work_duration_seconds";
inline constexpr const char* k_watch_reconnects_total = "gpuorch_watch_reconnects_total";
inline constexpr const char* k_watch_relists_total = "gpuorch_watch_relists_total";
inline constexpr const char* k_informer_synced = "gpuorch_informer_synced";
inline constexpr const char* k_leader = "gpuorch_leader_election_master_status";
inline constexpr const char* k_leader_transitions_total = "gpuorch_leader_election_transitions_total";
}  // namespace metric_names

/// Buckets of the work and queue-wait histograms (seconds): 100 µs to 10 s,
/// the range one workload's reconcile and its wait in the queue fall in.
[[nodiscard]] std::vector<double> work_duration_buckets();

/// The watch loop's own metrics, registered in the same Registry as
/// ReconcileMetrics so that /metrics serves both:
///
///   gpuorch_workqueue_depth                          gauge      keys waiting in the work queue
///   gpuorch_workqueue_adds_total                     counter    keys added (de-duplicated adds not counted)
///   gpuorch_workqueue_retries_total                  counter    keys requeued after an error (rate limited)
///   gpuorch_workqueue_queue_duration_seconds         histogram  time a key waited before a worker took it
///   gpuorch_workqueue_work_duration_seconds          histogram  time one reconcile of one key took
///   gpuorch_watch_reconnects_total{resource}         counter    watch streams re-opened after they ended or broke
///   gpuorch_watch_relists_total{resource}            counter    full re-lists (410 Gone, or a resync)
///   gpuorch_informer_synced{resource}                gauge      1 once the informer's first list is in its cache
///
/// `resources` (e.g. "gpuworkloads", "jobs", "pods", "nodes") get their
/// counters and gauges at zero up front, so rate() and absent() work at once.
/// All methods are thread-safe.
class WatchMetrics {
 public:
  explicit WatchMetrics(Registry& registry, const std::vector<std::string>& resources = {});

  void set_queue_depth(double depth) { m_depth.set(depth); }
  void queue_added() { m_adds.inc(); }
  void queue_retried() { m_retries.inc(); }
  void observe_queue_wait(std::chrono::duration<double> wait) { m_queue_duration.observe(wait.count()); }
  void observe_work(std::chrono::duration<double> work) { m_work_duration.observe(work.count()); }

  void watch_reconnected(std::string_view resource) { m_reconnects.with({resource}).inc(); }
  void watch_relisted(std::string_view resource) { m_relists.with({resource}).inc(); }
  void set_informer_synced(std::string_view resource, bool synced) { m_synced.with({resource}).set(synced ? 1 : 0); }

  [[nodiscard]] GaugeFamily& queue_depth() { return m_depth_family; }
  [[nodiscard]] CounterFamily& reconnects() { return m_reconnects; }
  [[nodiscard]] CounterFamily& relists() { return m_relists; }
  [[nodiscard]] GaugeFamily& informer_synced() { return m_synced; }
  [[nodiscard]] HistogramFamily& work_duration() { return m_work_family; }
  [[nodiscard]] HistogramFamily& queue_duration() { return m_queue_family; }

 private:
  GaugeFamily& m_depth_family;
  Gauge& m_depth;
  CounterFamily& m_adds_family;
  Counter& m_adds;
  CounterFamily& m_retries_family;
  Counter& m_retries;
  HistogramFamily& m_queue_family;
  Histogram& m_queue_duration;
  HistogramFamily& m_work_family;
  Histogram& m_work_duration;
  CounterFamily& m_reconnects;
  CounterFamily& m_relists;
  GaugeFamily& m_synced;
};

/// Leader election's metrics (client-go's leader_election_master_status,
/// with the gpuorch_ prefix), registered only by processes that elect:
///
///   gpuorch_leader_election_master_status{name}      gauge      1 while this process holds the Lease `name`
///   gpuorch_leader_election_transitions_total{name}  counter    times this process became leader
class LeaderMetrics {
 public:
  explicit LeaderMetrics(Registry& registry);
  /// Records leadership of the Lease `name`; a change to leading counts a transition.
  void set_leader(std::string_view name, bool leading);
  [[nodiscard]] GaugeFamily& leader() { return m_leader; }
  [[nodiscard]] CounterFamily& transitions() { return m_transitions; }

 private:
  std::mutex m_mutex;
  GaugeFamily& m_leader;
  CounterFamily& m_transitions;
};

}  // namespace gpuorch::obs
