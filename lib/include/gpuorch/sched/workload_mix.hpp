#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched {

/// One typical task shape of a workload mix and how often it occurs.
struct TaskShape {
  std::int64_t cpu_milli = 0;
  std::int32_t gpu_count = 0;
  std::int32_t gpu_milli = 0;
  std::vector<std::string> gpu_models;  ///< allowed models; empty = any
  double weight = 0;                    ///< share of the mix; the shapes' weights sum to 1
};

/// How the shapes of a mix are weighted.
enum class MixWeighting {
  frequency,   ///< by how many tasks have the shape (the FGD paper)
  gpu_demand,  ///< by the GPU capacity the shape's tasks ask for (CPU-only tasks count as one GPU)
};

/// Which shapes make up a mix derived from requests.
struct MixOptions {
  double coverage = 1.0;  ///< keep the most common shapes that cover this share of the weight
  MixWeighting weighting = MixWeighting::gpu_demand;
};

/// The workload mix a fragmentation-aware strategy optimises for: task shapes
/// (CPU, GPU count, GPU share, GPU models) with their weights. The FGD paper
/// keeps the shapes covering 95 % of tasks, weighted by frequency; by default
/// gpuorch keeps every shape and weights it by GPU demand, because the goal is
/// capacity (rare small shares are what fills leftovers, and a stranded whole
/// GPU costs more than a stranded share). See docs/strategies.md.
class WorkloadMix {
 public:
  WorkloadMix() = default;
  explicit WorkloadMix(std::vector<TaskShape> shapes);

  static WorkloadMix from_requests(std::span<const Request> requests, const MixOptions& options = {});

  [[nodiscard]] const std::vector<TaskShape>& shapes() const noexcept { return m_shapes; }
  [[nodiscard]] bool empty() const noexcept { return m_shapes.empty(); }

 private:
  std::vector<TaskShape> m_shapes;
};

/// A WorkloadMix bound to one ClusterState (models resolved), which measures
/// fragmentation: for a node, the expected free GPU capacity (milli-GPU) that a
/// GPU task drawn from the mix could not use. A task that cannot fit the
/// node's CPU, model or GPUs at all strands all the node's free GPU capacity;
/// one that fits strands the GPUs with less free than it needs per GPU.
/// CPU-only tasks are left out: they never use GPU capacity, so they would add
/// the same amount to every node.
class FragmentationModel {
 public:
  FragmentationModel(const ClusterState& state, const WorkloadMix& mix);

  /// Fragmentation of a node in a hypothetical state.
  [[nodiscard]] double fragment(std::uint32_t model_id, std::int64_t cpu_free, std::span<const std::int32_t> gpu_free,
                                std::int64_t gpu_free_total) const;
  /// Fragmentation of a node in its current state.
  [[nodiscard]] double fragment(const ClusterState& state, NodeId id) const;
  [[nodiscard]] bool empty() const noexcept { return m_shapes.empty(); }

 private:
  struct Shape {
    std::int64_t cpu_milli;
    std::int32_t gpu_count;
    std::int32_t gpu_milli;
    double weight;
    std::size_t model_offset;  // into m_model_ok; npos when any model is fine
  };
  std::vector<Shape> m_shapes;
  std::vector<std::uint8_t> m_model_ok;  // per shape, per model id
  std::size_t m_model_count = 0;
};

/// Tracks the cluster-wide fragmentation (sum over nodes) incrementally.
class FragmentationMeter {
 public:
  FragmentationMeter(const ClusterState& state, const WorkloadMix& mix);
  /// Re-measures one node after it changed.
  void node_changed(NodeId id);
  /// Sum over nodes, in milli-GPU.
  [[nodiscard]] double total() const noexcept { return m_total; }

 private:
  const ClusterState* m_state;
  FragmentationModel m_model;
  std::vector<double> m_node;
  double m_total = 0;
};

}  // namespace gpuorch::sched
