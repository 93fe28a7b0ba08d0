// MinFragmentation: the FGD idea (Weng et al., ATC '23). Fragmentation of a
// node is the expected free GPU capacity that a task drawn from the workload
// mix could not use (FragmentationModel). Each workload goes to the node, and
// the GPU inside it, whose choice increases the cluster's fragmentation the
// least, plus a small packing term (k_packing_weight). Exact scores (no 0-100
// rounding) with ties broken by the BestFit leftover, then by node order, keep
// decisions deterministic and tight.
//
// Cost: evaluating a node means re-measuring it once per distinct GPU choice.
// Evaluations are cached per (node version, request shape): between two
// decisions only the chosen node changes, so a decision re-evaluates about one
// node instead of all of them.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>

#include "common.hpp"
#include "strategies.hpp"

namespace gpuorch::sched::strategies {
namespace {

struct ShapeKey {
  std::int64_t cpu_milli;
  std::int32_t gpu_count;
  std::int32_t gpu_milli;
  friend bool operator==(const ShapeKey&, const ShapeKey&) = default;
};

struct ShapeKeyHash {
  std::size_t operator()(const ShapeKey& k) const noexcept {
    auto h = static_cast<std::uint64_t>(k.cpu_milli) * 0x9e3779b97f4a7c15ULL;
    h ^= (static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.gpu_count)) << 32U) ^
         static_cast<std::uint32_t>(k.gpu_milli);
    h *= 0xbf58476d1ce4e5b9ULL;
    return static_cast<std::size_t>(h ^ (h >> 29U));
  }
};

struct Evaluation {
  std::uint64_t version_plus_one = 0;  // 0: not evaluated
  double delta = 0;
  std::uint64_t gpu_mask = 0;
};

class MinFragmentation final : public Strategy {
 public:
  explicit MinFragmentation(WorkloadMix mix) : m_fixed_mix(!mix.empty()), m_mix(std::move(mix)) {}

  [[nodiscard]] std::string_view name() const override { return "MinFragmentation"; }

  void attach(const ClusterState& state) override {
    m_state = &state;
    rebuild_model();
  }

  std::optional<Choice> choose(const PreparedRequest& prepared) override {
    const auto& req = prepared.request();
    if (!m_fixed_mix) {
      learn(req);
    }
    auto& cache = cache_for(req);
    bool found = false;
    Choice best;
    double best_delta = 0;
    double best_leftover = 0;
    for (NodeId id = 0; id < m_state->size(); ++id) {
      if (check_node(*m_state, id, prepared) != FilterReason::fits) {
        continue;
      }
      const auto& ev = evaluate(cache, id, req);
      const double leftover = best_fit_leftover(*m_state, id);
      const double cost = ev.delta + k_packing_weight * k_milli_per_gpu * leftover;
      if (!found || cost < best_delta - k_epsilon || (cost <= best_delta + k_epsilon && leftover < best_leftover)) {
        found = true;
        best = Choice{id, ev.gpu_mask, -cost / k_milli_per_gpu};
        best_delta = cost;
        best_leftover = leftover;
      }
    }
    if (!found) {
      return std::nullopt;
    }
    return best;
  }

  /// Minus the cost the choice is made on, in GPUs: the increase of
  /// fragmentation plus the small packing term.
  double score(const PreparedRequest& prepared, NodeId id) override {
    const double delta = evaluate(cache_for(prepared.request()), id, prepared.request()).delta;
    return -(delta + k_packing_weight * k_milli_per_gpu * best_fit_leftover(*m_state, id)) / k_milli_per_gpu;
  }

 private:
  static constexpr double k_epsilon = 1e-9;
  // A soft second objective: each node's BestFit leftover (0 = full, 1 = empty
  // CPU and GPU) costs this many GPUs of fragmentation. Without it, choices
  // whose fragmentation differs by a few milli-GPU are decided by noise in the
  // mix; with it, they go to the node that packs tighter. 0.05 (50 milli-GPU
  // for an empty node) is small next to one stranded share; see
  // docs/strategies.md for the measurements behind the value.
  static constexpr double k_packing_weight = 0.05;
  static constexpr std::size_t k_max_cached_shapes = 512;

  void rebuild_model() {
    m_model.emplace(*m_state, m_mix);
    m_node_frag.assign(m_state->size(), Evaluation{});
    m_caches.clear();
    m_slots.clear();
  }

  // Without a given mix, the mix is what has been asked for so far.
  void learn(const Request& req) {
    auto models = req.gpu_models;
    std::sort(models.begin(), models.end());
    const std::int32_t milli = req.gpu_count == 0 ? 0 : req.gpu_milli;
    auto [it, inserted] = m_seen.try_emplace(SeenKey{req.cpu_milli, req.gpu_count, milli, std::move(models)}, 0);
    ++it->second;
    ++m_seen_total;
    // Re-derive the mix when a new shape appears and, as counts shift, at powers of two.
    if (inserted || (m_seen_total & (m_seen_total - 1)) == 0) {
      std::vector<TaskShape> shapes;
      for (const auto& [key, count] : m_seen) {
        const auto& [cpu, gpus, share, allowed] = key;
        shapes.push_back(TaskShape{cpu, gpus, share, allowed, static_cast<double>(count)});
      }
      m_mix = WorkloadMix(std::move(shapes));
      rebuild_model();
    }
  }

  std::vector<Evaluation>& cache_for(const Request& req) {
    const ShapeKey key{req.cpu_milli, req.gpu_count, req.gpu_count == 0 ? 0 : req.gpu_milli};
    auto it = m_slots.find(key);
    if (it == m_slots.end()) {
      if (m_caches.size() >= k_max_cached_shapes) {
        m_caches.clear();
        m_slots.clear();
      }
      m_caches.emplace_back(m_state->size());
      it = m_slots.emplace(key, m_caches.size() - 1).first;
    }
    return m_caches[it->second];
  }

  double current_fragment(NodeId id) {
    auto& f = m_node_frag[id];
    const auto v = m_state->version(id) + 1;
    if (f.version_plus_one != v) {
      f.version_plus_one = v;
      f.delta = m_model->fragment(*m_state, id);
    }
    return f.delta;
  }

  const Evaluation& evaluate(std::vector<Evaluation>& cache, NodeId id, const Request& req) {
    auto& ev = cache[id];
    const auto v = m_state->version(id) + 1;
    if (ev.version_plus_one == v) {
      return ev;
    }
    const double before = current_fragment(id);
    const auto model = m_state->model_id(id);
    const auto gpus = m_state->gpu_free(id);
    const std::int64_t cpu_after = m_state->cpu_free(id) - req.cpu_milli;
    const std::int64_t total_after = m_state->gpu_free_milli(id) - req.total_gpu_milli();
    std::array<std::int32_t, k_max_gpus_per_node> after{};
    std::copy(gpus.begin(), gpus.end(), after.begin());
    const std::span<const std::int32_t> after_span(after.data(), gpus.size());

    ev.version_plus_one = v;
    if (req.shares_gpu()) {
      // Try each distinct free amount that fits: GPUs with equal free capacity are interchangeable.
      ev.delta = std::numeric_limits<double>::infinity();
      for (std::size_t g = 0; g < gpus.size(); ++g) {
        if (gpus[g] < req.gpu_milli) {
          continue;
        }
        bool seen_before = false;
        for (std::size_t h = 0; h < g; ++h) {
          seen_before = seen_before || gpus[h] == gpus[g];
        }
        if (seen_before) {
          continue;
        }
        after[g] -= req.gpu_milli;
        const double delta = m_model->fragment(model, cpu_after, after_span, total_after) - before;
        after[g] += req.gpu_milli;
        // Prefer the lower increase; on a tie the tighter GPU keeps whole GPUs whole.
        if (delta < ev.delta - k_epsilon || (delta <= ev.delta + k_epsilon &&
                                             gpus[g] < gpus[static_cast<std::size_t>(std::countr_zero(ev.gpu_mask))])) {
          ev.delta = delta;
          ev.gpu_mask = std::uint64_t{1} << g;
        }
      }
      return ev;
    }
    ev.gpu_mask = pick_gpus(*m_state, id, req, GpuPick::tightest);
    for (std::size_t g = 0; g < gpus.size(); ++g) {
      if (((ev.gpu_mask >> g) & 1U) != 0) {
        after[g] -= req.gpu_milli;
      }
    }
    ev.delta = m_model->fragment(model, cpu_after, after_span, total_after) - before;
    return ev;
  }

  using SeenKey = std::tuple<std::int64_t, std::int32_t, std::int32_t, std::vector<std::string>>;

  bool m_fixed_mix;
  WorkloadMix m_mix;
  std::map<SeenKey, std::size_t> m_seen;
  std::size_t m_seen_total = 0;
  const ClusterState* m_state = nullptr;
  std::optional<FragmentationModel> m_model;
  std::vector<Evaluation> m_node_frag;
  std::vector<std::vector<Evaluation>> m_caches;
  std::unordered_map<ShapeKey, std::size_t, ShapeKeyHash> m_slots;
};

}  // namespace

std::unique_ptr<Strategy> make_min_fragmentation(const StrategyOptions& options) {
  return std::make_unique<MinFragmentation>(options.mix);
}

}  // namespace gpuorch::sched::strategies
