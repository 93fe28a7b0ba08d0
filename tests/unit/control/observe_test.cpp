#include <doctest/doctest.h>
#include <gpuorch/control/observe.hpp>

#include "control_test_util.hpp"

namespace gpuorch::control {
using namespace testing;

namespace {

ClusterSnapshot snapshot(const std::vector<json>& nodes, const std::vector<json>& pods, const std::vector<json>& jobs) {
  const Observed obs = observed_from_json({}, jobs, pods, nodes, {}, 0);
  REQUIRE(obs.warnings.empty());
  return build_cluster_state(obs);
}

std::int32_t free_gpus(const ClusterSnapshot& snap, const std::string& node) {
  const auto id = snap.state.find(node);
  REQUIRE(id.has_value());
  return snap.state.whole_free_gpus(*id);
}

}  // namespace

TEST_CASE("node specs come from allocatable, labels, taints, cordon and the Ready condition") {
  json n = node_json("gpu-1", 8, true, "NVIDIA-H100-80GB-HBM3");
  n["metadata"]["annotations"] = {{"gpuorch.io/cost-per-gpu-hour", "2.5"}};
  n["spec"]["unschedulable"] = true;
  n["spec"]["taints"] = json::array({{{"key", "gpu"}, {"value", "yes"}, {"effect", "NoSchedule"}}});
  const auto spec = node_spec_from_json(n).value_or_throw();
  CHECK(spec.name == "gpu-1");
  CHECK(spec.gpu_count == 8);
  CHECK(spec.cpu_milli == 64000);
  CHECK(spec.memory_bytes == 512LL << 30);
  CHECK(spec.gpu_model == "NVIDIA-H100-80GB-HBM3");
  REQUIRE(spec.price_per_gpu_hour.has_value());
  CHECK(*spec.price_per_gpu_hour == doctest::Approx(2.5));
  CHECK(spec.cordoned);
  REQUIRE(spec.taints.size() == 1);
  CHECK(spec.taints[0].effect == "NoSchedule");
  CHECK(spec.ready);
  CHECK_FALSE(node_spec_from_json(node_json("gpu-2", 4, false)).value_or_throw().ready);
}

TEST_CASE("malformed nodes and pods are reported, not fatal") {
  json bad = node_json("gpu-1", 8);
  bad["status"]["allocatable"]["nvidia.com/gpu"] = "eight";
  auto spec = node_spec_from_json(bad);
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.error().message().find("Node gpu-1") != std::string::npos);
  json too_many = node_json("gpu-1", 65);
  CHECK_FALSE(node_spec_from_json(too_many).ok());

  const std::vector<json> nodes = {bad, node_json("gpu-2", 4)};
  const Observed obs = observed_from_json({}, {}, {}, nodes, {}, 0);
  CHECK(obs.nodes.size() == 1);
  CHECK(obs.warnings.size() == 1);
}

TEST_CASE("job views: workload label, owner, pinned node, GPUs and outcome") {
  json j = job_json("ml", "train-0", "train", "gpu-3", 4, "job-uid");
  auto v = job_view_from_json(j).value_or_throw();
  CHECK(v.workload == "train");
  CHECK(v.owner_uid == "w-train");
  CHECK(v.owner_kind == "GPUWorkload");
  CHECK(v.node == "gpu-3");
  CHECK(v.gpus == 4);
  CHECK(v.live());
  finish_job(j, "Failed", "BackoffLimitExceeded");
  v = job_view_from_json(j).value_or_throw();
  CHECK(v.outcome == JobOutcome::failed);
  CHECK(v.outcome_reason == "BackoffLimitExceeded");
  CHECK_FALSE(v.live());
}

TEST_CASE("pod resources: containers summed, init containers as a floor, requests before limits") {
  json p = pod_json("ml", "p", "gpu-1", 2);
  p["spec"]["containers"].push_back(
      {{"name", "side"}, {"resources", {{"requests", {{"cpu", "500m"}, {"memory", "1Gi"}, {"nvidia.com/gpu", 1}}}}}});
  p["spec"]["initContainers"] =
      json::array({{{"name", "init"}, {"resources", {{"limits", {{"cpu", "4"}, {"nvidia.com/gpu", "1"}}}}}}});
  const auto v = pod_view_from_json(p).value_or_throw();
  CHECK(v.gpus == 3);
  CHECK(v.cpu_milli == 4000);
  CHECK(v.memory_bytes == 1LL << 30);
}

TEST_CASE("free GPUs: bound pods count, terminated and unbound pods do not") {
  const auto snap = snapshot({node_json("a", 8), node_json("b", 4)},
                             {pod_json("x", "p1", "a", 3), pod_json("x", "p2", "a", 1, "Pending"),
                              pod_json("x", "done", "a", 4, "Succeeded"), pod_json("x", "failed", "b", 4, "Failed"),
                              pod_json("x", "unbound", "", 4, "Pending"), pod_json("x", "elsewhere", "zz", 2)},
                             {});
  CHECK(free_gpus(snap, "a") == 4);
  CHECK(free_gpus(snap, "b") == 4);
  CHECK(snap.usage[*snap.state.find("a")].gpus_by_pods == 4);
}

TEST_CASE("free GPUs: a live gpuorch Job counts on its node until its pod is visible") {
  SUBCASE("no pod yet: the Job holds its GPUs") {
    const auto snap = snapshot({node_json("a", 8)}, {}, {job_json("ml", "w-0", "w", "a", 6, "u1")});
    CHECK(free_gpus(snap, "a") == 2);
    CHECK(snap.usage[0].gpus_by_jobs == 6);
  }
  SUBCASE("pod created but not bound: still the Job") {
    const auto snap = snapshot({node_json("a", 8)}, {pod_json("ml", "w-0-abc", "", 6, "Pending", "u1")},
                               {job_json("ml", "w-0", "w", "a", 6, "u1")});
    CHECK(free_gpus(snap, "a") == 2);
  }
  SUBCASE("pod bound: counted once, through the pod") {
    const auto snap = snapshot({node_json("a", 8)}, {pod_json("ml", "w-0-abc", "a", 6, "Running", "u1")},
                               {job_json("ml", "w-0", "w", "a", 6, "u1")});
    CHECK(free_gpus(snap, "a") == 2);
    CHECK(snap.usage[0].gpus_by_jobs == 0);
    CHECK(snap.usage[0].gpus_by_pods == 6);
  }
  SUBCASE("pod terminated: free even before the Job is marked finished") {
    const auto snap = snapshot({node_json("a", 8)}, {pod_json("ml", "w-0-abc", "a", 6, "Succeeded", "u1")},
                               {job_json("ml", "w-0", "w", "a", 6, "u1")});
    CHECK(free_gpus(snap, "a") == 8);
  }
  SUBCASE("finished or deleted Jobs hold nothing") {
    json done = job_json("ml", "w-0", "w", "a", 6, "u1");
    finish_job(done, "Complete");
    json deleting = job_json("ml", "v-0", "v", "a", 2, "u2");
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    const auto snap = snapshot({node_json("a", 8)}, {}, {done, deleting});
    CHECK(free_gpus(snap, "a") == 8);
  }
}

TEST_CASE("jobs without the workload label are not gpuorch's") {
  json j = job_json("ml", "other", "w", "a", 4, "u1");
  j["metadata"]["labels"] = json::object();
  const std::vector<json> jobs = {j};
  const std::vector<json> nodes = {node_json("a", 8)};
  const Observed obs = observed_from_json({}, jobs, {}, nodes, {}, 0);
  CHECK(obs.jobs.empty());
  CHECK(free_gpus(build_cluster_state(obs), "a") == 8);
}

TEST_CASE("an overcommitted node is full, with a warning") {
  const std::vector<json> nodes = {node_json("a", 4)};
  const std::vector<json> pods = {pod_json("x", "p1", "a", 3), pod_json("x", "p2", "a", 3)};
  const Observed obs = observed_from_json({}, {}, pods, nodes, {}, 0);
  const auto snap = build_cluster_state(obs);
  CHECK(free_gpus(snap, "a") == 0);
  CHECK(snap.usage[0].overcommitted);
  REQUIRE(snap.warnings.size() == 1);
  CHECK(snap.warnings[0].find("Node a") != std::string::npos);
}

TEST_CASE("observed keeps workloads and skips unreadable ones") {
  json bad = workload_json("ml", "bad", 1);
  bad["spec"]["gpuCount"] = "many";
  const std::vector<json> workloads = {workload_json("ml", "ok", 2), bad};
  const Observed obs = observed_from_json(workloads, {}, {}, {}, {}, 7);
  REQUIRE(obs.workloads.size() == 1);
  CHECK(obs.workloads[0].metadata.name == "ok");
  CHECK(obs.seed == 7);
  REQUIRE(obs.warnings.size() == 1);
  CHECK(obs.warnings[0].find("GPUWorkload ml/bad") != std::string::npos);
}

}  // namespace gpuorch::control
