#include "common.hpp"

#include <algorithm>

namespace gpuorch::sched::strategies {

std::uint64_t pick_gpus(const ClusterState& state, NodeId id, const Request& req, GpuPick pick) {
  if (req.gpu_count <= 0) {
    return 0;
  }
  const auto gpus = state.gpu_free(id);
  if (req.shares_gpu()) {
    int chosen = -1;
    for (std::size_t g = 0; g < gpus.size(); ++g) {
      if (gpus[g] < req.gpu_milli) {
        continue;
      }
      if (chosen < 0) {
        chosen = static_cast<int>(g);
        continue;
      }
      const auto best = gpus[static_cast<std::size_t>(chosen)];
      if ((pick == GpuPick::tightest && gpus[g] < best) || (pick == GpuPick::loosest && gpus[g] > best)) {
        chosen = static_cast<int>(g);
      }
    }
    return chosen < 0 ? 0 : std::uint64_t{1} << static_cast<unsigned>(chosen);
  }
  std::uint64_t mask = 0;
  int taken = 0;
  for (std::size_t g = 0; g < gpus.size() && taken < req.gpu_count; ++g) {
    if (gpus[g] == k_milli_per_gpu) {
      mask |= std::uint64_t{1} << g;
      ++taken;
    }
  }
  return taken == req.gpu_count ? mask : 0;
}

double best_fit_leftover(const ClusterState& state, NodeId id) {
  constexpr double k_cpu_norm = 128.0 * 1000.0;
  constexpr double k_gpu_norm = 8.0 * k_milli_per_gpu;
  return 0.5 * static_cast<double>(state.cpu_free(id)) / k_cpu_norm +
         0.5 * static_cast<double>(state.gpu_free_milli(id)) / k_gpu_norm;
}

std::size_t NodeIndex::bucket_of(NodeId id) const {
  const auto whole = m_state->whole_free_gpus(id);
  if (whole > 0) {
    return k_share_levels + static_cast<std::size_t>(whole - 1);
  }
  return std::min<std::size_t>(static_cast<std::size_t>(m_state->max_gpu_free(id)) / 100, k_share_levels - 1);
}

void NodeIndex::attach(const ClusterState& state, KeyFn key) {
  m_state = &state;
  m_key = std::move(key);
  for (auto& b : m_buckets) {
    b.clear();
  }
  m_current.resize(state.size());
  m_bucket.resize(state.size());
  for (NodeId id = 0; id < state.size(); ++id) {
    const auto k = m_key(state, id);
    m_current[id] = Entry{k.primary, k.secondary, id};
    m_bucket[id] = static_cast<std::uint8_t>(bucket_of(id));
    m_buckets[m_bucket[id]].insert(m_current[id]);
  }
}

void NodeIndex::update(NodeId id) {
  auto handle = m_buckets[m_bucket[id]].extract(m_current[id]);
  const auto k = m_key(*m_state, id);
  m_current[id] = Entry{k.primary, k.secondary, id};
  m_bucket[id] = static_cast<std::uint8_t>(bucket_of(id));
  if (handle) {
    handle.value() = m_current[id];
    m_buckets[m_bucket[id]].insert(std::move(handle));
  } else {
    m_buckets[m_bucket[id]].insert(m_current[id]);
  }
}

std::optional<NodeId> NodeIndex::best(const PreparedRequest& prepared) const {
  const auto& req = prepared.request();
  std::size_t first = 0;
  if (req.gpu_count > 0) {
    first = req.shares_gpu() ? static_cast<std::size_t>(req.gpu_milli) / 100
                             : k_share_levels + static_cast<std::size_t>(req.gpu_count - 1);
  }
  const Entry* best = nullptr;
  for (std::size_t b = first; b < k_buckets; ++b) {
    for (const auto& e : m_buckets[b]) {
      if (best != nullptr && !(e < *best)) {
        break;
      }
      if (check_node(*m_state, e.id, prepared) == FilterReason::fits) {
        best = &e;
        break;
      }
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  return best->id;
}

}  // namespace gpuorch::sched::strategies
