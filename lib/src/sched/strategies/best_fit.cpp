// BestFit, as the FGD paper (Weng et al., ATC '23) defines it: the node that
// minimises 0.5·(free CPU − request)/128 cores + 0.5·(free GPU − request)/8
// GPUs; memory is ignored. Shares go to the tightest GPU that fits.

#include "common.hpp"
#include "strategies.hpp"

namespace gpuorch::sched::strategies {
namespace {

class BestFit final : public Strategy {
 public:
  [[nodiscard]] std::string_view name() const override { return "BestFit"; }

  void attach(const ClusterState& state) override {
    m_state = &state;
    // The request's own terms are equal for every node, so the order of the
    // leftover before placement is the order after it: a static key per node.
    m_index.attach(state, [](const ClusterState& s, NodeId id) { return IndexKey{best_fit_leftover(s, id), 0.0}; });
  }
  void node_changed(NodeId id) override { m_index.update(id); }

  std::optional<Choice> choose(const PreparedRequest& req) override {
    const auto node = m_index.best(req);
    if (!node) {
      return std::nullopt;
    }
    return Choice{*node, pick_gpus(*m_state, *node, req.request(), GpuPick::tightest), score(req, *node)};
  }

  /// Minus the normalised leftover after placement (0 = a perfect fit).
  double score(const PreparedRequest& req, NodeId id) override {
    const auto& r = req.request();
    return -(best_fit_leftover(*m_state, id) - 0.5 * static_cast<double>(r.cpu_milli) / 128000.0 -
             0.5 * static_cast<double>(r.total_gpu_milli()) / 8000.0);
  }

 private:
  const ClusterState* m_state = nullptr;
  NodeIndex m_index;
};

}  // namespace

std::unique_ptr<Strategy> make_best_fit(const StrategyOptions& /*options*/) {
  return std::make_unique<BestFit>();
}

}  // namespace gpuorch::sched::strategies
