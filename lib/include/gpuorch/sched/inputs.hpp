#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched {

/// The file formats `gpuorch simulate` reads, detected from content.
enum class InputFormat {
  unknown,
  alibaba_nodes,  ///< Alibaba cluster-trace-gpu-v2023 node CSV (sn,cpu_milli,memory_mib,gpu,model)
  alibaba_pods,   ///< Alibaba cluster-trace-gpu-v2023 pod CSV (name,cpu_milli,memory_mib,num_gpu,gpu_milli,...)
  philly,         ///< Philly job CSV as processed for Pollux (timestamp,duration,num_gpus,gpu_time,cluster)
  gpuorch_nodes,  ///< gpuorch's compact node list (kind: NodePool, YAML or JSON)
  kube_nodes,     ///< Kubernetes Node, NodeList or List of Nodes (YAML, multi-document, or JSON)
  gpu_workloads,  ///< GPUWorkload resources (YAML, multi-document, List, or JSON)
};

std::string_view to_string(InputFormat format);

/// Detects the format from the file's content (CSV header or YAML/JSON kind).
InputFormat detect_format(std::string_view content);

/// What is already in use on a node when a run starts (the running pods of a
/// cluster snapshot): whole GPUs, CPU and memory.
struct NodeInUse {
  std::string node;
  std::int32_t gpus = 0;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  friend bool operator==(const NodeInUse&, const NodeInUse&) = default;
};

/// Nodes read from a file, plus a price table by GPU model when the file has one.
struct NodeInput {
  InputFormat format = InputFormat::unknown;
  std::vector<NodeSpec> nodes;
  std::map<std::string, double> price_by_model;
  /// Resources in use per node (NodePool `used:`), in node order; nodes with nothing in use are absent.
  std::vector<NodeInUse> in_use;
};

/// Workloads read from a file.
struct WorkloadInput {
  InputFormat format = InputFormat::unknown;
  std::vector<Request> workloads;
};

/// Parses a node file. `source` names the file in errors, which point at one
/// line: "nodes.csv:17: gpu: not a number: \"x\"" (ErrorCode::config).
Result<NodeInput> parse_nodes(std::string_view content, std::string_view source);

/// Parses a workload file (see parse_nodes for errors).
Result<WorkloadInput> parse_workloads(std::string_view content, std::string_view source);

/// A synthetic cluster: "COUNTxGPUS[:MODEL[:CPU[:MEMORY]]]", e.g. "64x8:H100" or
/// "16x4:A100:64:512Gi". CPU defaults to 12 cores per GPU (at least 8), memory
/// to 128Gi per GPU (at least 64Gi). `pool` numbers the pool in node names
/// ("h100-0-007").
Result<std::vector<NodeSpec>> synthetic_nodes(std::string_view spec, std::size_t pool = 0);

/// Label and annotation holding a node's price per GPU-hour.
inline constexpr std::string_view k_cost_label = "gpuorch.io/cost-per-gpu-hour";
/// Node label holding the GPU model (NVIDIA GPU feature discovery).
inline constexpr std::string_view k_gpu_product_label = "nvidia.com/gpu.product";
/// Extended resource of whole GPUs.
inline constexpr std::string_view k_gpu_resource = "nvidia.com/gpu";

}  // namespace gpuorch::sched
