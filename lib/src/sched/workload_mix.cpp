#include <gpuorch/sched/workload_mix.hpp>

#include <algorithm>
#include <map>
#include <tuple>

namespace gpuorch::sched {

WorkloadMix::WorkloadMix(std::vector<TaskShape> shapes) : m_shapes(std::move(shapes)) {
  double sum = 0;
  for (const auto& s : m_shapes) {
    sum += s.weight;
  }
  if (sum > 0) {
    for (auto& s : m_shapes) {
      s.weight /= sum;
    }
  }
}

WorkloadMix WorkloadMix::from_requests(std::span<const Request> requests, const MixOptions& options) {
  using Key = std::tuple<std::int64_t, std::int32_t, std::int32_t, std::vector<std::string>>;
  std::map<Key, double> counts;
  for (const auto& r : requests) {
    auto models = r.gpu_models;
    std::sort(models.begin(), models.end());
    const std::int32_t milli = r.gpu_count == 0 ? 0 : r.gpu_milli;
    const double weight = options.weighting == MixWeighting::frequency || r.gpu_count == 0
                              ? 1.0
                              : static_cast<double>(r.total_gpu_milli()) / k_milli_per_gpu;
    counts[Key{r.cpu_milli, r.gpu_count, milli, std::move(models)}] += weight;
  }
  std::vector<std::pair<Key, double>> ordered(counts.begin(), counts.end());
  // Most frequent first; the key order (from the map) breaks ties deterministically.
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  double total = 0;
  for (const auto& entry : counts) {
    total += entry.second;
  }
  std::vector<TaskShape> shapes;
  double covered = 0;
  for (auto& [key, count] : ordered) {
    if (!shapes.empty() && covered >= options.coverage * total - 1e-9) {
      break;
    }
    auto& [cpu, gpus, milli, models] = key;
    shapes.push_back(TaskShape{cpu, gpus, milli, std::move(models), count});
    covered += count;
  }
  return WorkloadMix(std::move(shapes));
}

FragmentationModel::FragmentationModel(const ClusterState& state, const WorkloadMix& mix) {
  m_model_count = state.models().size();
  double gpu_weight = 0;
  for (const auto& s : mix.shapes()) {
    if (s.gpu_count > 0) {
      gpu_weight += s.weight;
    }
  }
  for (const auto& s : mix.shapes()) {
    if (s.gpu_count == 0 || gpu_weight <= 0) {
      continue;
    }
    Shape shape{s.cpu_milli, s.gpu_count, s.gpu_milli, s.weight / gpu_weight, std::string::npos};
    if (!s.gpu_models.empty()) {
      shape.model_offset = m_model_ok.size();
      for (const auto& model : state.models()) {
        bool ok = false;
        for (const auto& wanted : s.gpu_models) {
          ok = ok || gpu_model_matches(wanted, model);
        }
        m_model_ok.push_back(ok ? 1 : 0);
      }
    }
    m_shapes.push_back(shape);
  }
}

double FragmentationModel::fragment(std::uint32_t model_id, std::int64_t cpu_free,
                                    std::span<const std::int32_t> gpu_free, std::int64_t gpu_free_total) const {
  double frag = 0;
  for (const auto& s : m_shapes) {
    const bool model_ok = s.model_offset == std::string::npos || m_model_ok[s.model_offset + model_id] != 0;
    if (!model_ok || cpu_free < s.cpu_milli) {
      frag += s.weight * static_cast<double>(gpu_free_total);
      continue;
    }
    std::int32_t usable = 0;
    std::int64_t stranded = 0;
    for (const auto f : gpu_free) {
      if (f >= s.gpu_milli) {
        ++usable;
      } else {
        stranded += f;
      }
    }
    frag += s.weight * static_cast<double>(usable >= s.gpu_count ? stranded : gpu_free_total);
  }
  return frag;
}

double FragmentationModel::fragment(const ClusterState& state, NodeId id) const {
  return fragment(state.model_id(id), state.cpu_free(id), state.gpu_free(id), state.gpu_free_milli(id));
}

FragmentationMeter::FragmentationMeter(const ClusterState& state, const WorkloadMix& mix)
    : m_state(&state), m_model(state, mix), m_node(state.size(), 0.0) {
  for (NodeId id = 0; id < state.size(); ++id) {
    m_node[id] = m_model.fragment(state, id);
    m_total += m_node[id];
  }
}

void FragmentationMeter::node_changed(NodeId id) {
  const double now = m_model.fragment(*m_state, id);
  m_total += now - m_node[id];
  m_node[id] = now;
}

}  // namespace gpuorch::sched
