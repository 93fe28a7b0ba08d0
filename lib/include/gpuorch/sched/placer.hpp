#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/filter.hpp>
#include <gpuorch/sched/request.hpp>
#include <gpuorch/sched/strategy.hpp>

namespace gpuorch::sched {

/// One scored candidate of a decision's explanation.
struct CandidateScore {
  NodeId node = 0;
  double score = 0;
};

/// The outcome of placing one request: where it went, or why it could not go.
struct Decision {
  bool placed = false;
  NodeId node = 0;
  Allocation allocation;  ///< what was taken from the node (valid when placed)
  double score = 0;
  /// Filtered nodes by reason; always filled when not placed, and when placed with explain.
  std::optional<FilterSummary> summary;
  /// The best candidates by the strategy's score, highest first (explain only).
  std::vector<CandidateScore> top;

  /// "0/12 nodes fit: 9 lack 4 free GPUs, 3 not Ready" (empty when no summary).
  [[nodiscard]] std::string reason(const Request& request) const;
};

struct PlaceOptions {
  bool explain = false;  ///< fill summary and top for placed requests too
  std::size_t top = 5;   ///< how many candidate scores to keep when explaining
  bool commit = true;    ///< take the resources (false: only decide)
  /// Count the filtered nodes by reason when nothing fits (an O(nodes) scan;
  /// bulk simulations that do not report reasons turn it off).
  bool summarize_failures = true;
};

/// Places requests on a ClusterState with one strategy. The same code decides
/// in `gpuorch simulate` and in `gpuorch reconcile`.
class Placer {
 public:
  /// Binds the strategy to the state (Strategy::attach).
  Placer(ClusterState& state, Strategy& strategy);

  [[nodiscard]] Decision place(const Request& request, const PlaceOptions& options = {});
  /// Gives back what a placed decision took.
  Status release(NodeId node, const Allocation& allocation);
  /// Takes resources that are already in use (running workloads) without deciding.
  Status reserve(NodeId node, const Allocation& allocation);

  [[nodiscard]] const ClusterState& state() const noexcept { return *m_state; }
  [[nodiscard]] Strategy& strategy() noexcept { return *m_strategy; }

 private:
  ClusterState* m_state;
  Strategy* m_strategy;
};

}  // namespace gpuorch::sched
