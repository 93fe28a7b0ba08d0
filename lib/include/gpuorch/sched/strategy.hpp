#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>
#include <gpuorch/sched/workload_mix.hpp>

namespace gpuorch::sched {

/// A strategy's pick: the node and which of its GPUs.
struct Choice {
  NodeId node = 0;
  std::uint64_t gpu_mask = 0;
  double score = 0;  ///< the strategy's score for the pick; higher is better
};

/// Everything a strategy may depend on besides the cluster. Strategies never
/// read a clock or a global RNG: the seed is an input.
struct StrategyOptions {
  std::uint64_t seed = 0;
  /// Price per GPU-hour by GPU model (matched like Request::gpu_models), for
  /// nodes without their own gpuorch.io/cost-per-gpu-hour.
  std::map<std::string, double> price_by_model;
  /// The workload mix a fragmentation-aware strategy optimises for. When
  /// empty, it learns the mix from the requests it is asked to place.
  WorkloadMix mix;
};

/// A placement policy. A strategy is bound to one ClusterState with attach();
/// the Placer calls node_changed() after each change so that indexed
/// strategies keep their indexes current. choose() must only return nodes for
/// which check_node() says `fits`, and GPUs that are free enough.
class Strategy {
 public:
  virtual ~Strategy() = default;
  Strategy() = default;
  Strategy(const Strategy&) = delete;
  Strategy& operator=(const Strategy&) = delete;

  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Binds to a state (and rebuilds any index). Called before the first choose().
  virtual void attach(const ClusterState& state) = 0;
  /// The node's usage changed (allocate or release).
  virtual void node_changed(NodeId /*id*/) {}
  /// The best feasible node and GPUs for the request, or nothing when no node fits.
  virtual std::optional<Choice> choose(const PreparedRequest& req) = 0;
  /// This strategy's score of one feasible node (higher is better), for explanations.
  virtual double score(const PreparedRequest& req, NodeId id) = 0;
};

using StrategyFactory = std::function<std::unique_ptr<Strategy>(const StrategyOptions&)>;

/// The built-in strategies and any registered later, by name.
class StrategyRegistry {
 public:
  /// The registry holding the built-in strategies.
  static StrategyRegistry& builtin();

  void add(std::string name, std::string summary, StrategyFactory factory);
  /// Case-insensitive lookup; the error lists the known names.
  [[nodiscard]] Result<std::unique_ptr<Strategy>> make(std::string_view name, const StrategyOptions& options) const;
  /// Canonical spelling of a name ("bestfit" -> "BestFit"), or an error.
  [[nodiscard]] Result<std::string> canonical(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] std::string summary(std::string_view name) const;

 private:
  struct Entry {
    std::string name;
    std::string summary;
    StrategyFactory factory;
  };
  std::vector<Entry> m_entries;
};

/// Shorthand for StrategyRegistry::builtin().make(name, options).
Result<std::unique_ptr<Strategy>> make_strategy(std::string_view name, const StrategyOptions& options = {});

}  // namespace gpuorch::sched
