// The watch loop's controller against an in-process sandbox: many workers
// placing at once on a cluster too small for everything never double-book,
// pending work is woken when capacity frees, retries follow the policy, and
// stop() drains.
#include <gpuorch/control/watch_controller.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/obs/metrics.hpp>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "harness.hpp"

using namespace gpuorch;
using namespace gpuorch::control;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::unique_ptr<chaos::Harness> start_sandbox(const chaos::TempDir& dir, int nodes, double failure_rate) {
  sandbox::SandboxOptions so;
  sandbox::NodePool pool;
  pool.name = "gpu";
  pool.count = nodes;
  pool.gpus_per_node = 8;
  so.cluster.pools = {pool};
  so.cluster.job_duration = milliseconds(300);
  so.cluster.failure_rate = failure_rate;
  so.cluster.seed = 11;
  so.cluster.tick = milliseconds(20);
  auto h = chaos::Harness::start(so, dir.path());
  REQUIRE_MESSAGE(h.ok(), (h.ok() ? "" : h.error().message()));
  REQUIRE((*h)->create_namespace("ml").ok());
  return std::move(*h);
}

json workload(const std::string& name, int gpus, int max_retries) {
  return {{"apiVersion", "gpuorch.io/v1alpha1"},
          {"kind", "GPUWorkload"},
          {"metadata", {{"name", name}, {"namespace", "ml"}}},
          {"spec",
           {{"modelName", "m"},
            {"gpuCount", gpus},
            {"image", "busybox"},
            {"retryPolicy", {{"maxRetries", max_retries}, {"backoffSeconds", 1}, {"maxBackoffSeconds", 1}}}}}};
}

bool all_terminal(chaos::Harness& h, std::size_t expected) {
  const auto all = h.workloads();
  if (all.size() != expected) {
    return false;
  }
  for (const auto& w : all) {
    const auto phase = w.value("status", json::object()).value("phase", "");
    if (phase != "Succeeded" && phase != "Failed") {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("WatchController runs every workload to the end without double booking") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, 3, 0.25);
  kube::ClientOptions co;
  co.qps = 0;
  auto client = h->new_client(co);
  REQUIRE(client.ok());
  WatchControllerOptions options;
  options.workers = 8;
  options.seed = 5;
  obs::Registry registry;
  WatchController controller(*client, options, &registry);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  CHECK(controller.synced());

  // 40 workloads of 1..8 GPUs at once on 24 GPUs: most wait for capacity.
  constexpr int k_count = 40;
  for (int i = 0; i < k_count; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("w-{:02}", i), 1 + (i * 3) % 8, 2)).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!all_terminal(*h, k_count) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  REQUIRE(all_terminal(*h, k_count));
  const auto stats = controller.stats();
  CHECK(controller.stop(std::chrono::seconds(10)));

  // The sandbox's scheduler checks every binding: a pod that did not fit
  // where its Job was pinned would be Unschedulable.
  const json cluster = h->sandbox().stats()["cluster"];
  CHECK(cluster.value("violations", -1) == 0);
  CHECK(cluster.value("unschedulable", -1) == 0);
  std::map<std::string, int> jobs_of;
  for (const auto& j : h->jobs()) {
    ++jobs_of[j["metadata"]["labels"].value("gpuorch.io/workload", "")];
  }
  int retried = 0;
  for (const auto& w : h->workloads()) {
    const auto name = w["metadata"].value("name", "");
    const auto status = w.value("status", json::object());
    const int retries = status.value("retryCount", 0);
    INFO(name << " " << status.dump());
    CHECK(jobs_of[name] == retries + 1);  // one Job per attempt, never two
    CHECK(retries <= 2);
    if (status.value("phase", "") == "Failed") {
      CHECK(retries == 2);
    }
    retried += retries > 0 ? 1 : 0;
  }
  CHECK(retried > 0);  // the failure rate made some retry
  CHECK(stats.jobs_created >= k_count);
  CHECK(stats.wakeups > 0);  // pending work started when capacity freed
  CHECK(stats.reservations == 0);
  const auto text = registry.expose();
  CHECK(text.find("gpuorch_workloads_scheduled_total") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_depth") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_work_duration_seconds_bucket") != std::string::npos);
}

TEST_CASE("WatchController resumes after cut watches and 410s and stop is prompt") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, 2, 0);
  sandbox::FaultConfig faults;
  faults.watch_cut_after = milliseconds(300);
  faults.watch_gone_rate = 0.5;
  h->sandbox().faults().set(faults);
  kube::ClientOptions co;
  co.qps = 0;
  auto client = h->new_client(co);
  REQUIRE(client.ok());
  WatchControllerOptions options;
  options.workers = 2;
  options.informer.backoff_base = milliseconds(20);
  WatchController controller(*client, options);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  for (int i = 0; i < 10; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("c-{}", i), 4, 0)).ok());
    std::this_thread::sleep_for(milliseconds(150));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!all_terminal(*h, 10) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  CHECK(all_terminal(*h, 10));
  const auto stats = controller.stats();
  CHECK(stats.watch_restarts + stats.relists > 0);
  CHECK(stats.relists > 0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(controller.stop(std::chrono::seconds(10)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(controller.stopped());
}
