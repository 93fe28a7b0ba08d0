#pragma once

// Building blocks shared by the built-in strategies: GPU picks inside a node
// and an ordered, bucketed node index.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/filter.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched::strategies {

/// How to choose the GPU a GPU-sharing request lands on.
enum class GpuPick {
  tightest,  ///< the GPU with the least free capacity that still fits (packs shares)
  loosest,   ///< the GPU with the most free capacity (spreads shares)
};

/// The GPUs a request takes on a node that fits it: for whole GPUs the
/// lowest-numbered free ones; for a share, one GPU chosen by `pick`.
std::uint64_t pick_gpus(const ClusterState& state, NodeId id, const Request& req, GpuPick pick);

/// Sort key of a node in a NodeIndex (smaller is better), compared lexicographically.
struct IndexKey {
  double primary = 0;
  double secondary = 0;
};

/// Nodes ordered by a strategy's key, split into buckets by GPU availability
/// (whole free GPUs, or for nodes without a whole free GPU the largest free
/// share in steps of 100m). A query only visits buckets that can hold the
/// request and stops in each at the first node that passes the filter, so a
/// decision costs O(buckets · log n) on clusters where most nodes are open,
/// instead of O(n). Updates reuse set nodes (extract/insert): no allocation.
class NodeIndex {
 public:
  using KeyFn = std::function<IndexKey(const ClusterState&, NodeId)>;

  void attach(const ClusterState& state, KeyFn key);
  void update(NodeId id);
  /// The feasible node with the smallest key, or nothing.
  [[nodiscard]] std::optional<NodeId> best(const PreparedRequest& req) const;

 private:
  struct Entry {
    double primary;
    double secondary;
    NodeId id;
    friend bool operator<(const Entry& a, const Entry& b) {
      if (a.primary != b.primary) {
        return a.primary < b.primary;
      }
      if (a.secondary != b.secondary) {
        return a.secondary < b.secondary;
      }
      return a.id < b.id;
    }
  };
  static constexpr std::size_t k_share_levels = 10;
  static constexpr std::size_t k_buckets = k_share_levels + k_max_gpus_per_node;

  [[nodiscard]] std::size_t bucket_of(NodeId id) const;

  const ClusterState* m_state = nullptr;
  KeyFn m_key;
  std::array<std::set<Entry>, k_buckets> m_buckets;
  std::vector<Entry> m_current;  // per node: its entry as stored
  std::vector<std::uint8_t> m_bucket;
};

/// The BestFit leftover of a node before placement, as the FGD paper
/// normalises it: free CPU over 128 cores plus free GPU over 8 GPUs (halved).
double best_fit_leftover(const ClusterState& state, NodeId id);

}  // namespace gpuorch::sched::strategies
