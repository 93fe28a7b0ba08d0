// `gpuorch simulate` and `gpuorch reconcile` must see one cluster the same
// way: simulate reads Node and GPUWorkload files through sched::parse_nodes /
// parse_workloads, the reconciler reads the same objects from the API server
// through control::observed_from_json. Both end in sched::node_from_json and
// sched::request_from_workload; this checks the results and the decisions.
#include <doctest/doctest.h>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/queue.hpp>
#include <gpuorch/sched/strategy.hpp>

#include <map>

#include "control_test_util.hpp"

namespace gpuorch::control {
using namespace testing;

namespace {

// Nodes that exercise every field the scheduler reads: allocatable versus
// capacity, GPU product, price by label and by annotation, taints, cordon,
// readiness.
std::vector<json> cluster_nodes() {
  json priced = node_json("h100-a", 8, true, "NVIDIA-H100-80GB-HBM3");
  priced["metadata"]["labels"]["gpuorch.io/cost-per-gpu-hour"] = "3.5";
  priced["metadata"]["labels"]["zone"] = "a";

  json tainted = node_json("h100-b", 8, true, "NVIDIA-H100-80GB-HBM3");
  tainted["metadata"]["annotations"] = {{"gpuorch.io/cost-per-gpu-hour", "2"}};
  tainted["spec"]["taints"] = json::array({{{"key", "spot"}, {"value", "true"}, {"effect", "NoSchedule"}}});
  tainted["metadata"]["labels"]["zone"] = "b";

  json capacity_only = node_json("a100-a", 4, true, "NVIDIA-A100-SXM4-80GB");
  capacity_only["status"]["capacity"] = capacity_only["status"]["allocatable"];
  capacity_only["status"].erase("allocatable");
  capacity_only["status"]["capacity"]["cpu"] = "16";
  capacity_only["status"]["capacity"]["memory"] = "128Gi";

  json cordoned = node_json("a100-b", 4, true, "NVIDIA-A100-SXM4-80GB");
  cordoned["spec"]["unschedulable"] = true;

  return {priced, tainted, capacity_only, cordoned, node_json("h100-down", 8, false, "NVIDIA-H100-80GB-HBM3")};
}

// Workloads that exercise every field placement reads, all with one strategy
// (simulate's queue mode runs one strategy for the whole queue).
std::vector<json> pending_workloads(const std::string& strategy) {
  std::vector<json> out;
  const auto add = [&](const std::string& name, int gpus, int priority, const char* created) {
    json w = workload_json("ml", name, gpus, priority, created);
    w["metadata"]["finalizers"] = json::array({"gpuorch.io/cleanup"});
    w["spec"]["schedulingStrategy"] = strategy;
    out.push_back(std::move(w));
    return &out.back();
  };
  add("big", 8, 100, "2026-01-01T00:00:00Z");
  // Only the tainted node is in zone b: placed there only if the toleration
  // (operator defaulted to Equal) matches its taint.
  json* spot = add("tolerates-spot", 4, 10, "2026-01-01T00:00:05Z");
  spot->at("spec")["tolerations"] = json::array({{{"key", "spot"}, {"value", "true"}, {"effect", "NoSchedule"}}});
  spot->at("spec")["nodeSelector"] = {{"zone", "b"}};
  add("exists-any", 2, 10, "2026-01-01T00:00:01Z")->at("spec")["tolerations"] = json::array({{{"operator", "Exists"}}});
  add("a100-only", 2, 50, "2026-01-01T00:00:00Z")->at("spec")["gpuType"] = "A100";
  add("zone-a", 1, 200, "2026-01-01T00:00:02Z")->at("spec")["nodeSelector"] = {{"zone", "a"}};
  json* sized = add("cpu-heavy", 1, 0, "2026-01-01T00:00:03Z");
  sized->at("spec")["resources"] = {{"cpu", "60"}, {"memory", "100Gi"}};
  add("same-time-b", 1, 5, "2026-01-01T00:00:04Z");
  add("same-time-a", 1, 5, "2026-01-01T00:00:04Z");
  add("too-big", 16, 1000, "2026-01-01T00:00:00Z");
  return out;
}

std::string as_list(const char* kind, const std::vector<json>& items) {
  return json{{"apiVersion", "v1"}, {"kind", kind}, {"items", items}}.dump(2);
}

// What simulate decides: its readers, then one queue through a Placer.
std::map<std::string, std::string> simulate_decisions(const std::string& strategy) {
  const auto nodes = sched::parse_nodes(as_list("NodeList", cluster_nodes()), "nodes.json").value_or_throw();
  const auto workloads =
      sched::parse_workloads(as_list("GPUWorkloadList", pending_workloads(strategy)), "workloads.json")
          .value_or_throw();
  sched::ClusterState state;
  for (const auto& n : nodes.nodes) {
    REQUIRE(state.add_node(n).ok());
  }
  auto made = sched::make_strategy(strategy, {}).value_or_throw();
  sched::Placer placer(state, *made);
  std::map<std::string, std::string> out;
  for (const auto& o : sched::schedule_queue(placer, workloads.workloads, sched::QueueingPolicy::best_effort)) {
    out[workloads.workloads[o.index].name] = o.decision.placed ? state.spec(o.decision.node).name : "";
  }
  return out;
}

// What one reconcile pass decides from the same objects, as the API server returns them.
std::map<std::string, std::string> reconcile_decisions(const std::string& strategy) {
  const auto nodes = cluster_nodes();
  const auto workloads = pending_workloads(strategy);
  const Observed obs =
      observed_from_json(workloads, {}, {}, nodes, model::parse_time("2026-03-01T00:00:00Z").value_or_throw(), 0);
  REQUIRE(obs.warnings.empty());
  const Plan plan = reconcile(obs);
  std::map<std::string, std::string> out;
  for (const auto& a : plan.actions) {
    if (a.kind == ActionKind::update_status) {
      out[a.namespace_name + "/" + a.workload] = a.status.assigned_node;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("simulate and reconcile read the same Node objects into the same node specs") {
  const auto nodes = cluster_nodes();
  const auto from_file = sched::parse_nodes(as_list("NodeList", nodes), "nodes.json").value_or_throw();
  const Observed obs = observed_from_json({}, {}, {}, nodes, {}, 0);
  REQUIRE(obs.warnings.empty());
  REQUIRE(from_file.nodes.size() == obs.nodes.size());
  for (std::size_t i = 0; i < obs.nodes.size(); ++i) {
    const auto& s = from_file.nodes[i];
    const auto& r = obs.nodes[i];
    CAPTURE(r.name);
    CHECK(s.name == r.name);
    CHECK(s.cpu_milli == r.cpu_milli);
    CHECK(s.memory_bytes == r.memory_bytes);
    CHECK(s.gpu_count == r.gpu_count);
    CHECK(s.gpu_model == r.gpu_model);
    CHECK(s.labels == r.labels);
    CHECK(s.taints == r.taints);
    CHECK(s.ready == r.ready);
    CHECK(s.cordoned == r.cordoned);
    CHECK(s.price_per_gpu_hour == r.price_per_gpu_hour);
  }
  // The cases are really different nodes (the comparison above is not vacuous).
  CHECK(obs.nodes[0].price_per_gpu_hour == 3.5);
  CHECK(obs.nodes[1].price_per_gpu_hour == 2.0);
  CHECK(obs.nodes[1].taints.size() == 1);
  CHECK(obs.nodes[2].cpu_milli == 16000);
  CHECK(obs.nodes[3].cordoned);
  CHECK_FALSE(obs.nodes[4].ready);
}

TEST_CASE("simulate's queue and a reconcile pass place the same workloads on the same nodes") {
  for (const std::string strategy : {"BestFit", "LeastLoaded", "CostOptimized"}) {
    CAPTURE(strategy);
    const auto simulated = simulate_decisions(strategy);
    const auto reconciled = reconcile_decisions(strategy);
    CHECK(simulated == reconciled);
    // Both saw the constraints: nodeSelector and gpuType pin, the toleration
    // without an operator admits the tainted node, the 8-GPU workload finds no
    // untainted Ready node with 8 free GPUs once zone-a (higher priority) took one.
    CHECK(simulated.size() == 9);
    CHECK(reconciled.at("ml/zone-a") == "h100-a");
    CHECK(reconciled.at("ml/a100-only") == "a100-a");
    CHECK(reconciled.at("ml/tolerates-spot") == "h100-b");
    CHECK(reconciled.at("ml/big").empty());
    CHECK(reconciled.at("ml/too-big").empty());
  }
}

}  // namespace gpuorch::control
