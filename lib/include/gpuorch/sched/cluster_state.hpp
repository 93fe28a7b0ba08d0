#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <gpuorch/base/result.hpp>

namespace gpuorch::sched {

/// Index of a node inside one ClusterState (dense, 0..size()-1).
using NodeId = std::uint32_t;

/// The most GPUs one node may have: GPU sets are 64-bit masks.
inline constexpr int k_max_gpus_per_node = 64;
/// One whole GPU in milli-GPU.
inline constexpr std::int32_t k_milli_per_gpu = 1000;

/// A Kubernetes taint (core/v1 Taint).
struct Taint {
  std::string key;
  std::string value;
  std::string effect;  ///< NoSchedule, PreferNoSchedule or NoExecute
  friend bool operator==(const Taint&, const Taint&) = default;
};

/// A Kubernetes toleration (core/v1 Toleration). `op` is "Equal" (default) or "Exists".
struct Toleration {
  std::string key;
  std::string op = "Equal";
  std::string value;
  std::string effect;  ///< empty matches every effect
  friend bool operator==(const Toleration&, const Toleration&) = default;
};

/// Labels as an ordered list of key/value pairs (small; scanned, never hashed).
using Labels = std::vector<std::pair<std::string, std::string>>;

/// The static description of a node: what it has, not what is used.
struct NodeSpec {
  std::string name;
  std::int64_t cpu_milli = 0;     ///< allocatable CPU in millicores
  std::int64_t memory_bytes = 0;  ///< allocatable memory
  std::int32_t gpu_count = 0;     ///< allocatable whole GPUs (nvidia.com/gpu)
  std::string gpu_model;          ///< e.g. "H100" or "NVIDIA-A100-SXM4-80GB"; empty when unknown
  Labels labels;
  std::vector<Taint> taints;
  bool ready = true;
  bool cordoned = false;
  /// Price per GPU-hour from the node itself (label/annotation gpuorch.io/cost-per-gpu-hour).
  std::optional<double> price_per_gpu_hour;

  /// The value of a label, or nullptr.
  [[nodiscard]] const std::string* label(std::string_view key) const;
};

/// What a placement takes from a node: CPU, memory and, per GPU in `gpu_mask`,
/// `gpu_milli` milli-GPU (1000 for whole GPUs, less for a shared GPU).
struct Allocation {
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  std::uint64_t gpu_mask = 0;
  std::int32_t gpu_milli = 0;

  [[nodiscard]] int gpu_count() const noexcept { return __builtin_popcountll(gpu_mask); }
  [[nodiscard]] std::int64_t total_gpu_milli() const noexcept {
    return static_cast<std::int64_t>(gpu_count()) * gpu_milli;
  }
};

/// The schedulable state of a cluster: node specs plus what is in use, with
/// per-GPU free milli-GPU so that GPU-sharing workloads can be placed. Node
/// data is stored column-wise so that strategies scan it without indirection.
/// Every change to a node bumps its version, which strategies use to cache.
class ClusterState {
 public:
  ClusterState() = default;

  /// Adds a node with nothing in use. Fails when the node is malformed
  /// (negative capacity, more than 64 GPUs, duplicate name).
  Result<NodeId> add_node(NodeSpec spec);

  [[nodiscard]] std::size_t size() const noexcept { return m_specs.size(); }
  [[nodiscard]] const NodeSpec& spec(NodeId id) const { return m_specs[id]; }
  [[nodiscard]] std::optional<NodeId> find(std::string_view name) const;

  [[nodiscard]] std::int64_t cpu_free(NodeId id) const { return m_cpu_free[id]; }
  [[nodiscard]] std::int64_t memory_free(NodeId id) const { return m_mem_free[id]; }
  /// Free milli-GPU of each GPU of the node.
  [[nodiscard]] std::span<const std::int32_t> gpu_free(NodeId id) const {
    return {m_gpu_free.data() + m_gpu_offset[id], static_cast<std::size_t>(m_specs[id].gpu_count)};
  }
  /// GPUs with nothing allocated on them.
  [[nodiscard]] std::int32_t whole_free_gpus(NodeId id) const { return m_whole_free[id]; }
  /// Sum of free milli-GPU over the node's GPUs.
  [[nodiscard]] std::int64_t gpu_free_milli(NodeId id) const { return m_gpu_free_total[id]; }
  /// The largest free milli-GPU of any single GPU of the node.
  [[nodiscard]] std::int32_t max_gpu_free(NodeId id) const { return m_max_gpu_free[id]; }
  /// Incremented on every allocate/release of the node.
  [[nodiscard]] std::uint64_t version(NodeId id) const { return m_version[id]; }

  /// Dense id of the node's GPU model among all models of this cluster.
  [[nodiscard]] std::uint32_t model_id(NodeId id) const { return m_model_id[id]; }
  [[nodiscard]] const std::vector<std::string>& models() const noexcept { return m_models; }

  /// Whether the allocation fits the node's free resources right now.
  [[nodiscard]] bool can_allocate(NodeId id, const Allocation& a) const;
  /// Takes the allocation from the node. Fails (and changes nothing) when it does not fit.
  Status allocate(NodeId id, const Allocation& a);
  /// Gives an allocation back. Fails when it was not allocated.
  Status release(NodeId id, const Allocation& a);
  /// Frees everything allocated on the node (it is as add_node left it, but
  /// its version moves on). For a holder that re-derives one node's usage
  /// from its own accounting instead of rebuilding the whole state.
  Status clear(NodeId id);

  [[nodiscard]] std::int64_t total_gpu_milli() const noexcept { return m_total_gpu_milli; }
  [[nodiscard]] std::int64_t used_gpu_milli() const noexcept { return m_used_gpu_milli; }
  [[nodiscard]] std::int64_t total_gpus() const noexcept { return m_total_gpu_milli / k_milli_per_gpu; }
  /// The largest GPU count of any node (what one single-node workload can at most get).
  [[nodiscard]] std::int32_t max_node_gpus() const noexcept { return m_max_node_gpus; }

 private:
  void refresh_gpu_summary(NodeId id);

  std::vector<NodeSpec> m_specs;
  std::vector<std::int64_t> m_cpu_free;
  std::vector<std::int64_t> m_mem_free;
  std::vector<std::uint32_t> m_gpu_offset;
  std::vector<std::int32_t> m_gpu_free;
  std::vector<std::int32_t> m_whole_free;
  std::vector<std::int64_t> m_gpu_free_total;
  std::vector<std::int32_t> m_max_gpu_free;
  std::vector<std::uint64_t> m_version;
  std::vector<std::uint32_t> m_model_id;
  std::vector<std::string> m_models;
  std::unordered_map<std::string, NodeId> m_by_name;
  std::int64_t m_total_gpu_milli = 0;
  std::int64_t m_used_gpu_milli = 0;
  std::int32_t m_max_node_gpus = 0;
};

}  // namespace gpuorch::sched
