#include <doctest/doctest.h>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/kube_objects.hpp>

namespace gpuorch::sched {
namespace {

using nlohmann::json;

json node(json status) {
  return json{{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata", {{"name", "gpu-1"}, {"labels", {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"}}}}},
              {"status", std::move(status)}};
}

}  // namespace

TEST_CASE("node_from_json reads a Node as the API server returns it") {
  auto n = node({{"capacity", {{"cpu", "64"}, {"memory", "512Gi"}, {"nvidia.com/gpu", "8"}}},
                 {"allocatable", {{"cpu", "63500m"}, {"memory", "500Gi"}, {"nvidia.com/gpu", "8"}}},
                 {"conditions", json::array({{{"type", "Ready"}, {"status", "False"}}})}});
  n["metadata"]["annotations"] = {{"gpuorch.io/cost-per-gpu-hour", "2.5"}};
  n["spec"] = {{"unschedulable", true}, {"taints", json::array({{{"key", "gpu"}, {"effect", "NoExecute"}}})}};
  const auto spec = node_from_json(n).value_or_throw();
  CHECK(spec.name == "gpu-1");
  CHECK(spec.cpu_milli == 63500);  // allocatable, not capacity
  CHECK(spec.memory_bytes == 500LL << 30);
  CHECK(spec.gpu_count == 8);
  CHECK(spec.gpu_model == "NVIDIA-A100-SXM4-80GB");
  CHECK(spec.price_per_gpu_hour == 2.5);
  CHECK(spec.cordoned);
  CHECK_FALSE(spec.ready);
  REQUIRE(spec.taints.size() == 1);
  CHECK(spec.taints[0] == Taint{"gpu", "", "NoExecute"});
}

TEST_CASE("node_from_json: a label price wins over an annotation, capacity when allocatable is absent") {
  auto n = node({{"capacity", {{"cpu", 8}, {"memory", "32Gi"}}}});
  n["metadata"]["labels"]["gpuorch.io/cost-per-gpu-hour"] = "1.25";
  n["metadata"]["annotations"] = {{"gpuorch.io/cost-per-gpu-hour", "9"}};
  const auto spec = node_from_json(n).value_or_throw();
  CHECK(spec.cpu_milli == 8000);  // a YAML number is a quantity too
  CHECK(spec.gpu_count == 0);
  CHECK(spec.price_per_gpu_hour == 1.25);
  CHECK(spec.ready);  // no Ready condition: assumed ready, as a snapshot without status conditions
}

TEST_CASE("node_from_json names the node and the field, or the location a locator gives") {
  const auto bad_gpu = node_from_json(node({{"allocatable", {{"nvidia.com/gpu", "1500m"}}}}));
  REQUIRE_FALSE(bad_gpu.ok());
  CHECK(bad_gpu.error().code() == ErrorCode::invalid);
  CHECK(bad_gpu.error().message() ==
        "Node gpu-1: status.allocatable[nvidia.com/gpu]: must be a whole number of GPUs up to 64, got 1500m");
  CHECK(node_from_json(node(json::object())).error().message() ==
        "Node gpu-1: status.allocatable: required (or status.capacity)");
  auto unnamed = node({{"allocatable", json::object()}});
  unnamed["metadata"].erase("name");
  CHECK(node_from_json(unnamed).error().message() == "Node: metadata.name: required");
  auto bad_price = node({{"allocatable", json::object()}});
  bad_price["metadata"]["annotations"] = {{"gpuorch.io/cost-per-gpu-hour", "cheap"}};
  const model::Locator locate = [](const json::json_pointer& pointer, model::MarkTarget target) {
    return "n.yaml@" + pointer.to_string() + (target == model::MarkTarget::key ? "#key" : "");
  };
  CHECK(
      node_from_json(bad_price, locate).error().message() ==
      "n.yaml@/metadata/annotations/gpuorch.io~1cost-per-gpu-hour: metadata.annotations[gpuorch.io/cost-per-gpu-hour]: "
      "not a price per GPU-hour: \"cheap\"");
  auto bad_taint = node({{"allocatable", json::object()}});
  bad_taint["spec"] = {{"taints", json::array({{{"key", "a"}, {"effect", "Sometimes"}}})}};
  CHECK(node_from_json(bad_taint).error().message() ==
        "Node gpu-1: spec.taints[0].effect: must be NoSchedule, PreferNoSchedule or NoExecute, got \"Sometimes\"");
  CHECK(node_from_json(json::array()).error().message() == "Node: expected a Node object, got array");
}

TEST_CASE("request_from_workload carries every field placement uses") {
  const auto workload = model::workload_from_json(json::parse(R"({
    "apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
    "metadata": {"name": "train", "namespace": "ml", "creationTimestamp": "2024-05-01T12:00:00Z"},
    "spec": {"modelName": "llama", "gpuCount": 4, "priority": 7, "gpuType": "H100",
             "resources": {"cpu": "1500m", "memory": "64Gi"}, "nodeSelector": {"zone": "a"},
             "tolerations": [{"key": "spot", "operator": "Exists"}, {"key": "gpu", "value": "x", "effect": "NoSchedule"}]}
  })"))
                            .value_or_throw();
  const auto r = request_from_workload(workload);
  CHECK(r.name == "ml/train");
  CHECK(r.gpu_count == 4);
  CHECK(r.gpu_milli == 1000);
  CHECK(r.priority == 7);
  CHECK(r.cpu_milli == 1500);
  CHECK(r.memory_bytes == 64LL << 30);
  CHECK(r.gpu_models == std::vector<std::string>{"H100"});
  CHECK(r.node_selector == Labels{{"zone", "a"}});
  REQUIRE(r.tolerations.size() == 2);
  CHECK(r.tolerations[0] == Toleration{"spot", "Exists", "", ""});
  CHECK(r.tolerations[1] == Toleration{"gpu", "Equal", "x", "NoSchedule"});
  CHECK(r.creation_time == 1714564800);
  CHECK(r.validate().ok());

  model::Workload bare;
  bare.metadata.name = "solo";
  bare.spec.gpu_count = 1;
  const auto b = request_from_workload(bare);
  CHECK(b.name == "solo");
  CHECK(b.cpu_milli == 0);
  CHECK(b.gpu_models.empty());
  CHECK(b.creation_time == 0);
}

}  // namespace gpuorch::sched
