// CostOptimized: the cheapest node per GPU-hour. A node's price is its own
// (label or annotation gpuorch.io/cost-per-gpu-hour) or else the price table
// entry of its GPU model; unpriced nodes come after every priced one; ties go
// to the least loaded node.

#include <limits>

#include "common.hpp"
#include "strategies.hpp"

namespace gpuorch::sched::strategies {
namespace {

class CostOptimized final : public Strategy {
 public:
  explicit CostOptimized(std::map<std::string, double> prices) : m_prices(std::move(prices)) {}

  [[nodiscard]] std::string_view name() const override { return "CostOptimized"; }

  void attach(const ClusterState& state) override {
    m_state = &state;
    m_price.assign(state.size(), k_unpriced);
    for (NodeId id = 0; id < state.size(); ++id) {
      const auto& spec = state.spec(id);
      if (spec.price_per_gpu_hour) {
        m_price[id] = *spec.price_per_gpu_hour;
        continue;
      }
      // The longest matching model name wins ("A100-80GB" over "A100").
      std::size_t matched = 0;
      for (const auto& [model, price] : m_prices) {
        if (model.size() > matched && gpu_model_matches(model, spec.gpu_model)) {
          m_price[id] = price;
          matched = model.size();
        }
      }
    }
    m_index.attach(state, [this](const ClusterState& s, NodeId id) {
      return IndexKey{m_price[id], -static_cast<double>(s.gpu_free_milli(id))};
    });
  }
  void node_changed(NodeId id) override { m_index.update(id); }

  std::optional<Choice> choose(const PreparedRequest& req) override {
    const auto node = m_index.best(req);
    if (!node) {
      return std::nullopt;
    }
    return Choice{*node, pick_gpus(*m_state, *node, req.request(), GpuPick::tightest), score(req, *node)};
  }

  /// Minus the price per GPU-hour; minus infinity when the node has no price.
  double score(const PreparedRequest& /*req*/, NodeId id) override {
    return m_price[id] == k_unpriced ? -std::numeric_limits<double>::infinity() : -m_price[id];
  }

 private:
  static constexpr double k_unpriced = std::numeric_limits<double>::max();
  std::map<std::string, double> m_prices;
  const ClusterState* m_state = nullptr;
  std::vector<double> m_price;
  NodeIndex m_index;
};

}  // namespace

std::unique_ptr<Strategy> make_cost_optimized(const StrategyOptions& options) {
  return std::make_unique<CostOptimized>(options.price_by_model);
}

}  // namespace gpuorch::sched::strategies
