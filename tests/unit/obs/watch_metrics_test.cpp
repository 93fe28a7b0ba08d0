#include <gpuorch/obs/watch_metrics.hpp>

#include <doctest/doctest.h>

using namespace gpuorch::obs;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("watch metrics: every family at zero before the loop does anything") {
  Registry registry;
  WatchMetrics metrics(registry, {"gpuworkloads", "nodes"});
  const auto text = registry.expose();
  CHECK(contains(text, "# TYPE gpuorch_workqueue_depth gauge\ngpuorch_workqueue_depth 0\n"));
  CHECK(contains(text, "# TYPE gpuorch_workqueue_adds_total counter\ngpuorch_workqueue_adds_total 0\n"));
  CHECK(contains(text, "# TYPE gpuorch_workqueue_retries_total counter\ngpuorch_workqueue_retries_total 0\n"));
  CHECK(contains(text, "# TYPE gpuorch_workqueue_work_duration_seconds histogram\n"));
  CHECK(contains(text, "gpuorch_workqueue_work_duration_seconds_bucket{le=\"" + format_value(0.0001) + "\"} 0\n"));
  CHECK(contains(text, "gpuorch_workqueue_work_duration_seconds_bucket{le=\"10\"} 0\n"));
  CHECK(contains(text, "gpuorch_workqueue_queue_duration_seconds_count 0\n"));
  CHECK(contains(text,
                 "# TYPE gpuorch_watch_reconnects_total counter\n"
                 "gpuorch_watch_reconnects_total{resource=\"gpuworkloads\"} 0\n"
                 "gpuorch_watch_reconnects_total{resource=\"nodes\"} 0\n"));
  CHECK(contains(text, "gpuorch_watch_relists_total{resource=\"nodes\"} 0\n"));
  CHECK(contains(text, "gpuorch_informer_synced{resource=\"gpuworkloads\"} 0\n"));
  // The leader families belong to LeaderMetrics.
  CHECK_FALSE(contains(text, "gpuorch_leader_election_master_status"));
}

TEST_CASE("watch metrics: queue - work - watch and leader updates") {
  Registry registry;
  WatchMetrics metrics(registry, {"pods"});
  metrics.set_queue_depth(7);
  metrics.queue_added();
  metrics.queue_added();
  metrics.queue_retried();
  metrics.observe_work(3ms);
  metrics.observe_queue_wait(20ms);
  metrics.watch_reconnected("pods");
  metrics.watch_relisted("pods");
  metrics.set_informer_synced("pods", true);
  LeaderMetrics leader(registry);
  leader.set_leader("gpuorch-reconciler", false);
  auto text = registry.expose();
  CHECK(contains(text, "gpuorch_workqueue_depth 7\n"));
  CHECK(contains(text, "gpuorch_workqueue_adds_total 2\n"));
  CHECK(contains(text, "gpuorch_workqueue_retries_total 1\n"));
  CHECK(contains(text, "gpuorch_workqueue_work_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
  CHECK(contains(text, "gpuorch_workqueue_work_duration_seconds_bucket{le=\"0.005\"} 1\n"));
  CHECK(contains(text, "gpuorch_workqueue_queue_duration_seconds_bucket{le=\"0.025\"} 1\n"));
  CHECK(contains(text, "gpuorch_watch_reconnects_total{resource=\"pods\"} 1\n"));
  CHECK(contains(text, "gpuorch_watch_relists_total{resource=\"pods\"} 1\n"));
  CHECK(contains(text, "gpuorch_informer_synced{resource=\"pods\"} 1\n"));
  CHECK(contains(text, "gpuorch_leader_election_master_status{name=\"gpuorch-reconciler\"} 0\n"));
  CHECK(contains(text, "gpuorch_leader_election_transitions_total{name=\"gpuorch-reconciler\"} 0\n"));
  // Becoming leader twice (lost in between) is two transitions; staying leader is none.
  leader.set_leader("gpuorch-reconciler", true);
  leader.set_leader("gpuorch-reconciler", true);
  leader.set_leader("gpuorch-reconciler", false);
  leader.set_leader("gpuorch-reconciler", true);
  text = registry.expose();
  CHECK(contains(text, "gpuorch_leader_election_master_status{name=\"gpuorch-reconciler\"} 1\n"));
  CHECK(contains(text, "gpuorch_leader_election_transitions_total{name=\"gpuorch-reconciler\"} 2\n"));
}
