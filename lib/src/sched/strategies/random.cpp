// Random: a uniformly random feasible node and, for a share, a uniformly
// random GPU that fits. Seeded; the same seed gives the same choices.

#include <array>

#include "common.hpp"
#include "strategies.hpp"

#include <gpuorch/sched/rng.hpp>

namespace gpuorch::sched::strategies {
namespace {

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(std::uint64_t seed) : m_rng(seed) {}

  [[nodiscard]] std::string_view name() const override { return "Random"; }
  void attach(const ClusterState& state) override { m_state = &state; }

  std::optional<Choice> choose(const PreparedRequest& req) override {
    // Reservoir sampling: one pass, no candidate list.
    std::uint64_t seen = 0;
    NodeId chosen = 0;
    for (NodeId id = 0; id < m_state->size(); ++id) {
      if (check_node(*m_state, id, req) != FilterReason::fits) {
        continue;
      }
      ++seen;
      if (m_rng.below(seen) == 0) {
        chosen = id;
      }
    }
    if (seen == 0) {
      return std::nullopt;
    }
    return Choice{chosen, random_gpus(chosen, req.request()), 0.0};
  }

  double score(const PreparedRequest& /*req*/, NodeId /*id*/) override { return 0.0; }

 private:
  std::uint64_t random_gpus(NodeId id, const Request& req) {
    if (req.gpu_count <= 0) {
      return 0;
    }
    const auto gpus = m_state->gpu_free(id);
    std::array<std::uint8_t, k_max_gpus_per_node> fit{};
    std::size_t n = 0;
    for (std::size_t g = 0; g < gpus.size(); ++g) {
      if (gpus[g] >= req.gpu_milli) {
        fit[n++] = static_cast<std::uint8_t>(g);
      }
    }
    std::uint64_t mask = 0;
    // Partial Fisher-Yates: the first gpu_count slots become a uniform sample.
    for (std::size_t i = 0; i < static_cast<std::size_t>(req.gpu_count) && i < n; ++i) {
      const std::size_t j = i + m_rng.below(n - i);
      std::swap(fit[i], fit[j]);
      mask |= std::uint64_t{1} << fit[i];
    }
    return mask;
  }

  Rng m_rng;
  const ClusterState* m_state = nullptr;
};

}  // namespace

std::unique_ptr<Strategy> make_random(const StrategyOptions& options) {
  return std::make_unique<RandomStrategy>(options.seed);
}

}  // namespace gpuorch::sched::strategies
