#include <gpuorch/obs/reconcile_metrics.hpp>

#include <doctest/doctest.h>

#include <gpuorch/base/error.hpp>

using namespace gpuorch::obs;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("reconcile metrics: every family with its name - type and zero values before the first pass") {
  Registry registry;
  ReconcileMetrics metrics(registry, {"RetriesExhausted"});
  const auto text = registry.expose();
  CHECK(contains(text, "# TYPE gpuorch_workloads_scheduled_total counter\ngpuorch_workloads_scheduled_total 0\n"));
  CHECK(contains(text,
                 "# TYPE gpuorch_workloads_failed_total counter\n"
                 "gpuorch_workloads_failed_total{reason=\"RetriesExhausted\"} 0\n"));
  CHECK(contains(text, "# TYPE gpuorch_workload_retries_total counter\ngpuorch_workload_retries_total 0\n"));
  CHECK(contains(text, "# TYPE gpuorch_reconcile_duration_seconds histogram\n"));
  CHECK(contains(text, "gpuorch_reconcile_duration_seconds_count 0\n"));
  // No pass has succeeded yet: the timestamp is absent, not 0 (1970).
  CHECK(!contains(text, "gpuorch_reconcile_last_success_timestamp_seconds"));
  CHECK(contains(text,
                 "# TYPE gpuorch_workloads gauge\n"
                 "gpuorch_workloads{phase=\"Failed\"} 0\n"
                 "gpuorch_workloads{phase=\"Pending\"} 0\n"
                 "gpuorch_workloads{phase=\"Running\"} 0\n"
                 "gpuorch_workloads{phase=\"Scheduled\"} 0\n"
                 "gpuorch_workloads{phase=\"Scheduling\"} 0\n"
                 "gpuorch_workloads{phase=\"Succeeded\"} 0\n"));
  CHECK(!contains(text, "gpuorch_node_gpus"));
}

TEST_CASE("reconcile metrics: a pass's events - phases and nodes") {
  Registry registry;
  ReconcileMetrics metrics(registry);
  metrics.workload_scheduled();
  metrics.workload_scheduled(2);
  metrics.workload_failed("RetriesExhausted");
  metrics.workload_failed("InvalidSpec");
  metrics.workload_failed("RetriesExhausted");
  metrics.workload_retried();
  metrics.set_workloads_by_phase({{"Pending", 4}, {"Running", 2}, {"Succeeded", 7}});
  metrics.set_node_gpus({{"gpu-b", 6, 2}, {"gpu-a", 0, 8}});
  const auto finished = std::chrono::system_clock::time_point(1'795'000'000s) + 250ms;
  metrics.pass_finished(1.5s, true, finished);
  const auto text = registry.expose();
  CHECK(contains(text, "gpuorch_workloads_scheduled_total 3\n"));
  CHECK(contains(text,
                 "gpuorch_workloads_failed_total{reason=\"InvalidSpec\"} 1\n"
                 "gpuorch_workloads_failed_total{reason=\"RetriesExhausted\"} 2\n"));
  CHECK(contains(text, "gpuorch_workload_retries_total 1\n"));
  CHECK(contains(text,
                 "gpuorch_reconcile_duration_seconds_bucket{le=\"1\"} 0\n"
                 "gpuorch_reconcile_duration_seconds_bucket{le=\"2.5\"} 1\n"));
  CHECK(contains(text, "gpuorch_reconcile_duration_seconds_sum 1.5\ngpuorch_reconcile_duration_seconds_count 1\n"));
  CHECK(contains(text, "gpuorch_reconcile_last_success_timestamp_seconds 1795000000.25\n"));
  CHECK(contains(text, "gpuorch_workloads{phase=\"Pending\"} 4\n"));
  CHECK(contains(text, "gpuorch_workloads{phase=\"Failed\"} 0\n"));
  CHECK(contains(text, "gpuorch_workloads{phase=\"Succeeded\"} 7\n"));
  CHECK(contains(text,
                 "gpuorch_node_gpus{node=\"gpu-a\",state=\"free\"} 0\n"
                 "gpuorch_node_gpus{node=\"gpu-a\",state=\"used\"} 8\n"
                 "gpuorch_node_gpus{node=\"gpu-b\",state=\"free\"} 6\n"
                 "gpuorch_node_gpus{node=\"gpu-b\",state=\"used\"} 2\n"));

  // A failed pass is timed but does not move the success time; a node that
  // left disappears, a phase no longer present drops to 0.
  metrics.pass_finished(0.02s, false, finished + 60s);
  metrics.set_node_gpus({{"gpu-b", 8, 0}});
  metrics.set_workloads_by_phase({{"Succeeded", 13}});
  const auto after = registry.expose();
  CHECK(contains(after, "gpuorch_reconcile_last_success_timestamp_seconds 1795000000.25\n"));
  CHECK(contains(after, "gpuorch_reconcile_duration_seconds_count 2\n"));
  CHECK(!contains(after, "gpu-a"));
  CHECK(contains(after, "gpuorch_node_gpus{node=\"gpu-b\",state=\"free\"} 8\n"));
  CHECK(contains(after, "gpuorch_workloads{phase=\"Pending\"} 0\n"));
  CHECK(contains(after, "gpuorch_workloads{phase=\"Succeeded\"} 13\n"));
}

TEST_CASE("reconcile metrics: share a registry with other families (watch mode adds its own)") {
  Registry registry;
  ReconcileMetrics metrics(registry);
  registry.gauge("gpuorch_workqueue_depth", "Items waiting in the work queue.").get().set(3);
  const auto text = registry.expose();
  CHECK(contains(text, "gpuorch_workqueue_depth 3\n"));
  CHECK(contains(text, "gpuorch_workloads_scheduled_total 0\n"));
  CHECK_THROWS_AS(ReconcileMetrics{registry}, gpuorch::Failure);
}
