// The text of `gpuorch describe`, exactly, for fixed objects and a fixed clock.
#include <chrono>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "describe_printer.hpp"

#include <gpuorch/model/time.hpp>

using namespace gpuorch::cli;
using nlohmann::json;

namespace {

std::chrono::system_clock::time_point at(const char* text) {
  return gpuorch::model::parse_time(text).value_or_throw();
}

json running_workload() {
  return json::parse(R"({
    "apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
    "metadata": {"name": "llama-finetune", "namespace": "ml", "generation": 2, "uid": "u-1",
                 "creationTimestamp": "2026-11-29T07:00:00Z",
                 "labels": {"team": "nlp", "app": "llama"}, "finalizers": ["gpuorch.io/cleanup"]},
    "spec": {"modelName": "llama-3-8b", "gpuCount": 4, "priority": 100, "schedulingStrategy": "BestFit",
             "image": "ghcr.io/acme/train:1.4", "command": ["python", "train.py"], "args": ["--lr", "3e-4", "a b"],
             "env": [{"name": "MODE", "value": "fast"}, {"name": "SEED", "value": "7"}],
             "resources": {"cpu": "8", "memory": "64Gi"}, "gpuType": "H100",
             "tolerations": [{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
                             {"key": "nvidia.com/gpu", "operator": "Exists", "tolerationSeconds": 300}],
             "retryPolicy": {"maxRetries": 3, "backoffSeconds": 10, "maxBackoffSeconds": 300}},
    "status": {"phase": "Running", "assignedNode": "gpu-node-07", "jobName": "llama-finetune-1",
               "lastScheduleTime": "2026-11-29T07:50:00Z", "retryCount": 1, "observedGeneration": 2,
               "conditions": [{"type": "Scheduled", "status": "True", "reason": "JobCreated",
                               "message": "placed on gpu-node-07 by BestFit",
                               "lastTransitionTime": "2026-11-29T07:50:00Z"}]}
  })");
}

}  // namespace

TEST_CASE("describe: a running workload with its Jobs, pods, placement and Events") {
  DescribeInput input;
  input.workload = running_workload();
  input.jobs = {json::parse(R"({"metadata": {"name": "llama-finetune-0", "creationTimestamp": "2026-11-29T07:01:00Z"},
      "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}})"),
                json::parse(R"({"metadata": {"name": "llama-finetune-1", "creationTimestamp": "2026-11-29T07:50:00Z"},
      "status": {"active": 1}})")};
  input.pods = {
      json::parse(R"({"metadata": {"name": "llama-finetune-1-x7k2p", "creationTimestamp": "2026-11-29T07:50:01Z",
      "ownerReferences": [{"kind": "Job", "name": "llama-finetune-1"}]},
      "spec": {"nodeName": "gpu-node-07"}, "status": {"phase": "Running"}})")};
  input.events = {
      json::parse(R"({"type": "Normal", "reason": "Scheduled", "message": "placed on gpu-node-07",
          "firstTimestamp": "2026-11-29T07:50:00Z", "lastTimestamp": "2026-11-29T07:50:00Z", "count": 1,
          "source": {"component": "gpuorch.io/reconciler"}})"),
      json::parse(R"({"type": "Warning", "reason": "Retrying", "message": "attempt 1 failed:\nBackoffLimitExceeded",
          "firstTimestamp": "2026-11-29T07:20:00Z", "lastTimestamp": "2026-11-29T07:40:00Z", "count": 3,
          "reportingController": "gpuorch.io/reconciler"})")};
  PlacementView placement;
  placement.strategy = "BestFit";
  placement.assigned_node = "gpu-node-07";
  placement.total_nodes = 4;
  placement.feasible = 2;
  placement.summary = "2/4 nodes fit: 1 lack 4 free GPUs, 1 not Ready";
  placement.choice = "gpu-node-03";
  placement.top = {{"gpu-node-03", 0.875, 4, 8, "H100"}, {"gpu-node-07", 0.5, 6, 8, "H100"}};
  placement.filtered = {{"lack 4 free GPUs", {"gpu-node-01"}}, {"not Ready", {"gpu-node-02"}}};
  input.placement = placement;

  std::ostringstream out;
  print_describe(out, input, at("2026-11-29T08:00:00Z"));
  CHECK(out.str() == R"(Name:               llama-finetune
Namespace:          ml
Labels:             app=llama
                    team=nlp
Annotations:        <none>
API Version:        gpuorch.io/v1alpha1
Kind:               GPUWorkload
CreationTimestamp:  Sun, 29 Nov 2026 07:00:00 +0000
Finalizers:         gpuorch.io/cleanup
Spec:
  Model Name:           llama-3-8b
  GPU Count:            4
  GPU Type:             H100
  Priority:             100
  Scheduling Strategy:  BestFit
  Image:                ghcr.io/acme/train:1.4
  Command:              python train.py
  Args:                 --lr 3e-4 'a b'
  Environment:          MODE=fast
                        SEED=7
  Requests:             cpu: 8
                        memory: 64Gi
  Node Selector:        <none>
  Tolerations:          spot=true:NoSchedule
                        nvidia.com/gpu op=Exists for 300s
  Retry Policy:         3 retries, backoff 10s doubling up to 300s
Status:
  Phase:                Running
  Assigned Node:        gpu-node-07
  Job Name:             llama-finetune-1
  Last Schedule Time:   Sun, 29 Nov 2026 07:50:00 +0000
  Retries:              1 of 3
  Next Retry Time:      <none>
  Observed Generation:  2 (generation 2)
Conditions:
  Type       Status  Reason      Age  Message
  ----       ------  ------      ---  -------
  Scheduled  True    JobCreated  10m  placed on gpu-node-07 by BestFit
Jobs:
  Name              State                          Active  Succeeded  Failed  Age
  ----              -----                          ------  ---------  ------  ---
  llama-finetune-0  Failed (BackoffLimitExceeded)  0       0          1       59m
  llama-finetune-1  Running                        1       0          0       10m
Pods:
  Name                    Phase    Node         Job               Age
  ----                    -----    ----         ---               ---
  llama-finetune-1-x7k2p  Running  gpu-node-07  llama-finetune-1  9m59s
Placement:
  Strategy:      BestFit
  Evaluated On:  the cluster now (4 nodes), without this workload's own Jobs and pods
  Decision:      assigned to gpu-node-07, now ranked 2 of 2 fitting nodes (first choice now: gpu-node-03)
  Nodes:         2/4 nodes fit: 1 lack 4 free GPUs, 1 not Ready
  Filtered Nodes:
    Reason            Count  Nodes
    ------            -----  -----
    lack 4 free GPUs  1      gpu-node-01
    not Ready         1      gpu-node-02
  Top Candidates:
    Node         Score  Free GPUs  GPU Model
    ----         -----  ---------  ---------
    gpu-node-03  0.875  4/8        H100       <- first choice
    gpu-node-07  0.5    6/8        H100       <- assigned
Events:
  Type     Reason     Age                From                   Message
  ----     ------     ----               ----                   -------
  Warning  Retrying   20m (x3 over 40m)  gpuorch.io/reconciler  attempt 1 failed: BackoffLimitExceeded
  Normal   Scheduled  10m                gpuorch.io/reconciler  placed on gpu-node-07
)");
}

TEST_CASE("describe: a new workload, nothing known yet, and an unavailable explanation") {
  DescribeInput input;
  input.workload = json::parse(R"({"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
      "metadata": {"name": "w", "namespace": "default"}, "spec": {"modelName": "m", "gpuCount": 1}})");
  PlacementView placement;
  placement.strategy = "LeastLoaded";
  placement.error = "nodes is forbidden: User \"dev\" cannot list resource \"nodes\"";
  input.placement = placement;
  std::ostringstream out;
  print_describe(out, input, at("2026-11-29T08:00:00Z"));
  CHECK(out.str() == R"(Name:               w
Namespace:          default
Labels:             <none>
Annotations:        <none>
API Version:        gpuorch.io/v1alpha1
Kind:               GPUWorkload
CreationTimestamp:  <unset>
Finalizers:         <none>
Spec:
  Model Name:           m
  GPU Count:            1
  GPU Type:             <any>
  Priority:             0
  Scheduling Strategy:  LeastLoaded
  Image:                <the reconciler's default image>
  Command:              <none>
  Args:                 <none>
  Environment:          <none>
  Requests:             <none>
  Node Selector:        <none>
  Tolerations:          <none>
  Retry Policy:         3 retries, backoff 10s doubling up to 300s
Status:
  Phase:               <none> (not seen by a reconciler yet)
  Assigned Node:       <none>
  Job Name:            <none>
  Last Schedule Time:  <none>
  Retries:             0 of 3
  Next Retry Time:     <none>
Conditions:            <none>
Jobs:                  <none>
Pods:                  <none>
Placement:
  Strategy:     LeastLoaded
  Explanation:  <unavailable: nodes is forbidden: User "dev" cannot list resource "nodes">
Events:  <none>
)");
}

TEST_CASE("describe: a pending workload that does not fit, and many filtered nodes") {
  PlacementView placement;
  placement.strategy = "LeastLoaded";
  placement.total_nodes = 8;
  placement.summary = "0/8 nodes fit: 7 lack 2 free GPUs, 1 cordoned";
  placement.filtered = {{"lack 2 free GPUs", {"n0", "n1", "n2", "n3", "n4", "n5", "n6"}}, {"cordoned", {"n7"}}};
  DescribeInput input;
  input.workload = running_workload();
  input.workload["status"] = {{"phase", "Pending"}, {"retryCount", 2}, {"nextRetryTime", "2026-11-29T08:05:00Z"}};
  input.placement = placement;
  std::ostringstream out;
  print_describe(out, input, at("2026-11-29T08:00:00Z"));
  const auto text = out.str();
  CHECK(text.find("  Next Retry Time:      Sun, 29 Nov 2026 08:05:00 +0000\n") != std::string::npos);
  CHECK(text.find("  Decision:      does not fit on any node now\n") != std::string::npos);
  CHECK(text.find("    lack 2 free GPUs  7      n0, n1, n2, n3, n4, ... (2 more)\n") != std::string::npos);
  CHECK(text.find("Top Candidates") == std::string::npos);
}

TEST_CASE("describe: where a running workload went, against the strategy's choice now") {
  const auto decision = [](PlacementView p) {
    DescribeInput input;
    input.workload = running_workload();
    p.strategy = "BestFit";
    p.assigned_node = "gpu-node-07";
    input.placement = std::move(p);
    std::ostringstream out;
    print_describe(out, input, at("2026-11-29T08:00:00Z"));
    const auto text = out.str();
    const auto start = text.find("  Decision:      ");
    return text.substr(start + 17, text.find('\n', start) - start - 17);
  };
  PlacementView p;
  p.feasible = 3;
  p.choice = "gpu-node-07";
  p.top = {{"gpu-node-07", 2, 4, 8, "H100"}, {"gpu-node-01", 1, 8, 8, "H100"}};
  CHECK(decision(p) == "assigned to gpu-node-07, still the strategy's first choice");
  p.choice = "gpu-node-01";
  p.top = {{"gpu-node-01", 2, 4, 8, "H100"}, {"gpu-node-07", 2, 8, 8, "H100"}};
  CHECK(decision(p) == "assigned to gpu-node-07, which scores as high as the first choice now (gpu-node-01)");
  p.top = {{"gpu-node-01", 2, 4, 8, "H100"}};
  CHECK(decision(p) ==
        "assigned to gpu-node-07, which is not among the best candidates now (first choice now: gpu-node-01)");
  p.choice.clear();
  p.top.clear();
  CHECK(decision(p) == "assigned to gpu-node-07; it would not fit anywhere now");
}
