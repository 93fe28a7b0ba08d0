// LeastLoaded: the node with the most free GPU capacity (then the most free
// CPU); spreads work so that each workload has the most headroom.

#include "common.hpp"
#include "strategies.hpp"

namespace gpuorch::sched::strategies {
namespace {

class LeastLoaded final : public Strategy {
 public:
  [[nodiscard]] std::string_view name() const override { return "LeastLoaded"; }

  void attach(const ClusterState& state) override {
    m_state = &state;
    m_index.attach(state, [](const ClusterState& s, NodeId id) {
      return IndexKey{-static_cast<double>(s.gpu_free_milli(id)), -static_cast<double>(s.cpu_free(id))};
    });
  }
  void node_changed(NodeId id) override { m_index.update(id); }

  std::optional<Choice> choose(const PreparedRequest& req) override {
    const auto node = m_index.best(req);
    if (!node) {
      return std::nullopt;
    }
    return Choice{*node, pick_gpus(*m_state, *node, req.request(), GpuPick::loosest), score(req, *node)};
  }

  /// Free GPUs left on the node after placing the request.
  double score(const PreparedRequest& req, NodeId id) override {
    return static_cast<double>(m_state->gpu_free_milli(id) - req.request().total_gpu_milli()) / k_milli_per_gpu;
  }

 private:
  const ClusterState* m_state = nullptr;
  NodeIndex m_index;
};

}  // namespace

std::unique_ptr<Strategy> make_least_loaded(const StrategyOptions& /*options*/) {
  return std::make_unique<LeastLoaded>();
}

}  // namespace gpuorch::sched::strategies
