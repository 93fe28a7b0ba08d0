#include <doctest/doctest.h>
#include <gpuorch/sched/inputs.hpp>

namespace gpuorch::sched {

TEST_CASE("Alibaba node CSV") {
  const std::string csv =
      "sn,cpu_milli,memory_mib,gpu,model\r\n"
      "node-0,64000,262144,2,P100\r\n"
      "node-1,96000,393216,8,G2\r\n"
      "cpu-0,32000,131072,0,\r\n";
  CHECK(detect_format(csv) == InputFormat::alibaba_nodes);
  const auto input = parse_nodes(csv, "nodes.csv").value_or_throw();
  REQUIRE(input.nodes.size() == 3);
  CHECK(input.nodes[1].name == "node-1");
  CHECK(input.nodes[1].cpu_milli == 96000);
  CHECK(input.nodes[1].memory_bytes == 393216LL << 20);
  CHECK(input.nodes[1].gpu_count == 8);
  CHECK(input.nodes[1].gpu_model == "G2");
  CHECK(input.nodes[2].gpu_count == 0);

  const auto bad = parse_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,1,2,P100\nn1,lots,1,2,P100\n", "nodes.csv");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::config);
  CHECK(bad.error().message() == "nodes.csv:3: cpu_milli: not a number: \"lots\"");
  const auto short_row = parse_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000\n", "n.csv");
  CHECK(short_row.error().message() == "n.csv:2: memory_mib: missing (the row has 2 of 5 columns)");
}

TEST_CASE("Alibaba pod CSV") {
  const std::string csv =
      "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
      "pod-0,12000,16384,1,1000,,LS,Running,0,100,10\n"
      "pod-1,6000,12288,1,460,V100M16|V100M32,LS,Running,5,50,5\n"
      "pod-2,32000,0,0,0,,BE,Succeeded,7,,\n"
      "pod-3,88000,100000,8,1000,,LS,Running,9,19,9\n";
  CHECK(detect_format(csv) == InputFormat::alibaba_pods);
  const auto input = parse_workloads(csv, "pods.csv").value_or_throw();
  REQUIRE(input.workloads.size() == 4);
  const auto& share = input.workloads[1];
  CHECK(share.gpu_count == 1);
  CHECK(share.gpu_milli == 460);
  CHECK(share.shares_gpu());
  CHECK(share.gpu_models == std::vector<std::string>{"V100M16", "V100M32"});
  CHECK(share.creation_time == 5);
  CHECK(share.duration == 45);
  CHECK(input.workloads[0].duration == 90);
  CHECK(input.workloads[2].gpu_count == 0);
  CHECK(input.workloads[2].total_gpu_milli() == 0);
  CHECK(input.workloads[3].total_gpu_milli() == 8000);

  const auto bad = parse_workloads("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,500\n", "pods.csv");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "pods.csv:2: gpu_milli: a share (500) is only possible with num_gpu 1, got 2");
}

TEST_CASE("Philly CSV") {
  const std::string csv =
      "timestamp,duration,num_gpus,gpu_time,cluster\n"
      "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n"
      "2017-10-09 06:13:03,2951.4,16,2951.0,6214e9\n";
  CHECK(detect_format(csv) == InputFormat::philly);
  const auto input = parse_workloads(csv, "philly.csv").value_or_throw();
  REQUIRE(input.workloads.size() == 2);
  CHECK(input.workloads[0].name == "philly-00000-11cb48");
  CHECK(input.workloads[0].creation_time == 1507532515);  // date -u -d '2017-10-09 07:01:55' +%s
  CHECK(input.workloads[0].duration == 66);
  CHECK(input.workloads[1].gpu_count == 16);
  CHECK(input.workloads[1].duration == 2951);
  const auto bad = parse_workloads("timestamp,duration,num_gpus\n2017-13-01 00:00:00,1,1\n", "p.csv");
  CHECK(bad.error().message() == "p.csv:2: timestamp: not a \"YYYY-MM-DD hh:mm:ss\" time: \"2017-13-01 00:00:00\"");
}

TEST_CASE("gpuorch NodePool file") {
  const std::string yaml = R"(apiVersion: gpuorch.io/v1alpha1
kind: NodePool
prices: {H100: 4.5, A100: 2}
nodes:
  - name: h100
    count: 3
    gpus: 8
    gpuModel: H100
    cpu: "96"
    memory: 1Ti
    labels: {zone: a}
  - name: spot-a100
    gpus: 4
    gpuModel: A100
    cpu: 48500m
    memory: 256Gi
    costPerGPUHour: 0.9
    taints: [{key: spot, value: "true", effect: NoSchedule}]
    cordoned: true
)";
  CHECK(detect_format(yaml) == InputFormat::gpuorch_nodes);
  const auto input = parse_nodes(yaml, "nodes.yaml").value_or_throw();
  REQUIRE(input.nodes.size() == 4);
  CHECK(input.nodes[0].name == "h100-0");
  CHECK(input.nodes[2].name == "h100-2");
  CHECK(input.nodes[0].cpu_milli == 96000);
  CHECK(input.nodes[0].memory_bytes == 1LL << 40);
  CHECK(*input.nodes[0].label("zone") == "a");
  CHECK(*input.nodes[0].label("nvidia.com/gpu.product") == "H100");
  CHECK(input.nodes[3].cpu_milli == 48500);
  CHECK(input.nodes[3].price_per_gpu_hour == 0.9);
  CHECK(input.nodes[3].cordoned);
  REQUIRE(input.nodes[3].taints.size() == 1);
  CHECK(input.nodes[3].taints[0].effect == "NoSchedule");
  CHECK(input.price_by_model.at("H100") == 4.5);

  const auto bad =
      parse_nodes("apiVersion: gpuorch.io/v1alpha1\nkind: NodePool\nnodes:\n  - name: x\n    gpu: 8\n", "nodes.yaml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "nodes.yaml:5:5: nodes[0].gpu: unknown field");
  const auto bad_qty = parse_nodes(
      "apiVersion: gpuorch.io/v1alpha1\nkind: NodePool\nnodes:\n  - name: x\n    gpus: 8\n    memory: lots\n",
      "n.yaml");
  REQUIRE_FALSE(bad_qty.ok());
  CHECK(bad_qty.error().message().starts_with("n.yaml:6:13: nodes[0].memory: invalid quantity \"lots\""));
  const auto syntax = parse_nodes("kind: NodePool\nnodes: [\n", "broken.yaml");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().message().starts_with("broken.yaml:3:1: malformed YAML: "));
}

TEST_CASE("Kubernetes Nodes: NodeList, multi-document YAML and JSON") {
  const std::string yaml = R"(apiVersion: v1
kind: Node
metadata:
  name: gpu-1
  labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
  annotations: {gpuorch.io/cost-per-gpu-hour: "3.25"}
spec:
  taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
status:
  allocatable: {cpu: 190800m, memory: 2043084Mi, nvidia.com/gpu: "8"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata: {name: gpu-2}
spec: {unschedulable: true}
status:
  capacity: {cpu: "8", memory: 32Gi}
  conditions: [{type: Ready, status: "False"}]
)";
  CHECK(detect_format(yaml) == InputFormat::kube_nodes);
  const auto input = parse_nodes(yaml, "nodes.yaml").value_or_throw();
  REQUIRE(input.nodes.size() == 2);
  CHECK(input.nodes[0].gpu_count == 8);
  CHECK(input.nodes[0].gpu_model == "NVIDIA-H100-80GB-HBM3");
  CHECK(input.nodes[0].cpu_milli == 190800);
  CHECK(input.nodes[0].price_per_gpu_hour == 3.25);
  CHECK(input.nodes[0].ready);
  CHECK(input.nodes[1].cordoned);
  CHECK_FALSE(input.nodes[1].ready);
  CHECK(input.nodes[1].memory_bytes == 32LL << 30);

  const std::string json = R"({"apiVersion":"v1","kind":"NodeList","items":[{"kind":"Node","metadata":{"name":"n"},)"
                           R"("status":{"allocatable":{"cpu":"4","memory":"8Gi","nvidia.com/gpu":"2"}}}]})";
  CHECK(detect_format(json) == InputFormat::kube_nodes);
  CHECK(parse_nodes(json, "nodes.json").value_or_throw().nodes.at(0).gpu_count == 2);

  const auto wrong = parse_nodes("apiVersion: v1\nkind: Node\nmetadata: {name: n}\n", "n.yaml");
  CHECK(wrong.error().message() == "n.yaml:1:1: status.allocatable: required (or status.capacity)");
  const auto bad_memory = parse_nodes(
      "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus:\n  allocatable: {cpu: 4, memory: 8GB}\n", "n.yaml");
  CHECK(bad_memory.error().message().starts_with(
      "n.yaml:5:33: status.allocatable.memory: invalid quantity \"8GB\": unknown suffix \"GB\""));
  const auto mixed = parse_nodes(
      "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {capacity: {cpu: 4}}\n"
      "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
      "n.yaml");
  CHECK(mixed.error().message() == "n.yaml:7:7: expected kind Node, got \"Pod\"");
}

TEST_CASE("GPUWorkload YAML") {
  const std::string yaml = R"(apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: train, namespace: ml, creationTimestamp: "2024-05-01T12:00:00Z"}
spec:
  modelName: llama
  gpuCount: 4
  priority: 100
  gpuType: H100
  resources: {cpu: "8", memory: 64Gi}
  nodeSelector: {zone: a}
  tolerations: [{key: spot, operator: Exists}]
---
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: eval}
spec: {modelName: llama, gpuCount: 0}
)";
  CHECK(detect_format(yaml) == InputFormat::gpu_workloads);
  const auto bad = parse_workloads(yaml, "w.yaml");
  REQUIRE_FALSE(bad.ok());
  // The checks and messages of `gpuorch validate`, every problem of the file at once.
  CHECK(bad.error().code() == ErrorCode::invalid);
  CHECK(bad.error().message() == "w.yaml: invalid GPUWorkloads:");
  REQUIRE(bad.error().causes().size() == 1);
  CHECK(bad.error().causes()[0].to_string() == "w.yaml:16:36: spec.gpuCount: must be >= 1, got 0");
  const auto strict = parse_workloads(
      "kind: GPUWorkload\napiVersion: gpuorch.io/v1alpha1\nmetadata: {name: a}\n"
      "spec: {modelName: m, gpuCount: 1, gpuTyp: H100}\n",
      "u.yaml");
  REQUIRE(strict.error().causes().size() == 1);
  CHECK(strict.error().causes()[0].location == "u.yaml:4:35");
  CHECK(strict.error().causes()[0].to_string() == "u.yaml:4:35: spec: unknown field \"gpuTyp\"");
  const auto input = parse_workloads(yaml.substr(0, yaml.find("---")), "w.yaml").value_or_throw();
  REQUIRE(input.workloads.size() == 1);
  const auto& w = input.workloads[0];
  CHECK(w.name == "ml/train");
  CHECK(w.gpu_count == 4);
  CHECK(w.priority == 100);
  CHECK(w.cpu_milli == 8000);
  CHECK(w.memory_bytes == 64LL << 30);
  CHECK(w.gpu_models == std::vector<std::string>{"H100"});
  CHECK(w.creation_time == 1714564800);
  CHECK(w.tolerations.at(0).op == "Exists");
}

TEST_CASE("format mix-ups and unknown files get one clear error") {
  const auto pods_as_nodes = parse_nodes("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n", "pods.csv");
  CHECK(pods_as_nodes.error().message() == "pods.csv: this is a workload file (alibaba-pods), not a node file");
  const auto unknown = parse_workloads("hello: world\n", "x.yaml");
  CHECK(unknown.error().message().starts_with("x.yaml: unrecognised format"));
  CHECK(detect_format("a,b,c\n1,2,3\n") == InputFormat::unknown);
}

TEST_CASE("synthetic clusters") {
  const auto nodes = synthetic_nodes("3x8:H100", 1).value_or_throw();
  REQUIRE(nodes.size() == 3);
  CHECK(nodes[0].name == "h100-1-0");
  CHECK(nodes[0].gpu_count == 8);
  CHECK(nodes[0].cpu_milli == 96000);
  CHECK(nodes[0].memory_bytes == 1024LL << 30);
  const auto custom = synthetic_nodes("12x4:A100:64:512Gi").value_or_throw();
  CHECK(custom[11].name == "a100-0-11");
  CHECK(custom[0].cpu_milli == 64000);
  CHECK(custom[0].memory_bytes == 512LL << 30);
  CHECK(synthetic_nodes("2x0").value_or_throw()[0].name == "cpu-0-0");
  const auto bad = synthetic_nodes("64*8");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::usage);
  CHECK(bad.error().message() ==
        "--cluster \"64*8\": missing 'x' between node count and GPUs per node (expected "
        "COUNTxGPUS[:MODEL[:CPU[:MEMORY]]], e.g. 64x8:H100)");
  CHECK_FALSE(synthetic_nodes("0x8").ok());
  CHECK_FALSE(synthetic_nodes("2x65").ok());
}

TEST_CASE("gpuorch NodePool file: resources in use (cluster snapshots)") {
  const std::string yaml = R"(apiVersion: gpuorch.io/v1alpha1
kind: NodePool
nodes:
  - {name: busy, gpus: 8, cpu: "96", memory: 1Ti, used: {gpus: 3, cpu: 24500m, memory: 96Gi}}
  - {name: idle, gpus: 8, cpu: "96", memory: 1Ti}
  - {name: pool, count: 2, gpus: 4, cpu: "48", memory: 512Gi, used: {gpus: 4}}
)";
  const auto input = parse_nodes(yaml, "snap.yaml").value_or_throw();
  REQUIRE(input.nodes.size() == 4);
  REQUIRE(input.in_use.size() == 3);
  CHECK(input.in_use[0] == NodeInUse{"busy", 3, 24500, 96LL << 30});
  CHECK(input.in_use[1] == NodeInUse{"pool-0", 4, 0, 0});
  CHECK(input.in_use[2] == NodeInUse{"pool-1", 4, 0, 0});

  const auto too_much = parse_nodes(
      "apiVersion: gpuorch.io/v1alpha1\nkind: NodePool\nnodes:\n  - name: x\n    gpus: 2\n    used: {gpus: 3}\n",
      "n.yaml");
  REQUIRE_FALSE(too_much.ok());
  CHECK(too_much.error().message() ==
        "n.yaml:6:11: nodes[0].used: must be between 0 and the node's gpus, cpu and memory");
  const auto unknown = parse_nodes(
      "apiVersion: gpuorch.io/v1alpha1\nkind: NodePool\nnodes:\n  - name: x\n    gpus: 2\n    used: {gpu: 1}\n",
      "n.yaml");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message() == "n.yaml:6:12: nodes[0].used.gpu: unknown field");
}

}  // namespace gpuorch::sched
