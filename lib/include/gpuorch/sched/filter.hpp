#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched {

/// Why a node cannot take a request, in the order the checks run (the first
/// failing check is the reason recorded for the node).
enum class FilterReason : std::uint8_t {
  fits,
  not_ready,
  cordoned,
  untolerated_taint,
  node_selector,
  gpu_model,
  too_few_gpus,            ///< the node has fewer GPUs in total than requested
  insufficient_gpus,       ///< not enough whole free GPUs right now
  insufficient_gpu_share,  ///< no single GPU has the requested milli-GPU free
  insufficient_cpu,
  insufficient_memory,
};
inline constexpr std::size_t k_filter_reason_count = 11;

/// Short stable identifier ("insufficient_gpus") for JSON output.
std::string_view to_string(FilterReason reason);

/// Checks one node against a request; allocation-free. Returns the first reason it cannot fit.
FilterReason check_node(const ClusterState& state, NodeId id, const PreparedRequest& req);

/// Whether the taints of a node are all tolerated (NoSchedule and NoExecute; PreferNoSchedule never blocks).
bool tolerates(const std::vector<Taint>& taints, const std::vector<Toleration>& tolerations);

/// Whether every nodeSelector pair is a label of the node.
bool matches_selector(const NodeSpec& node, const Labels& selector);

/// Counts of rejected nodes by reason, for "0/1213 nodes fit: 812 lack 4 free GPUs, ..." messages.
struct FilterSummary {
  std::size_t total = 0;
  std::size_t feasible = 0;
  std::array<std::size_t, k_filter_reason_count> counts{};

  void add(FilterReason reason);
  /// The reasons with their counts, largest first, as human-readable text for the given request.
  [[nodiscard]] std::string describe(const Request& request) const;
};

/// Scans every node and counts why each one does or does not fit.
FilterSummary summarize(const ClusterState& state, const PreparedRequest& req);

/// The human phrase for one reason ("lack 4 free GPUs", "not Ready").
std::string reason_phrase(FilterReason reason, const Request& request);

}  // namespace gpuorch::sched
