#include <gpuorch/sched/cluster_state.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace gpuorch::sched {

const std::string* NodeSpec::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

Result<NodeId> ClusterState::add_node(NodeSpec spec) {
  if (spec.name.empty()) {
    return Error(ErrorCode::invalid, "node has no name");
  }
  if (spec.cpu_milli < 0 || spec.memory_bytes < 0 || spec.gpu_count < 0) {
    return Error(ErrorCode::invalid, fmt::format("node {}: negative capacity", spec.name));
  }
  if (spec.gpu_count > k_max_gpus_per_node) {
    return Error(ErrorCode::invalid, fmt::format("node {}: {} GPUs, at most {} are supported", spec.name,
                                                 spec.gpu_count, k_max_gpus_per_node));
  }
  if (m_by_name.contains(spec.name)) {
    return Error(ErrorCode::invalid, fmt::format("node {} is listed twice", spec.name));
  }
  const auto id = static_cast<NodeId>(m_specs.size());
  m_by_name.emplace(spec.name, id);
  auto model = std::find(m_models.begin(), m_models.end(), spec.gpu_model);
  if (model == m_models.end()) {
    m_models.push_back(spec.gpu_model);
    model = m_models.end() - 1;
  }
  m_model_id.push_back(static_cast<std::uint32_t>(model - m_models.begin()));
  m_cpu_free.push_back(spec.cpu_milli);
  m_mem_free.push_back(spec.memory_bytes);
  m_gpu_offset.push_back(static_cast<std::uint32_t>(m_gpu_free.size()));
  m_gpu_free.insert(m_gpu_free.end(), static_cast<std::size_t>(spec.gpu_count), k_milli_per_gpu);
  m_whole_free.push_back(spec.gpu_count);
  m_gpu_free_total.push_back(static_cast<std::int64_t>(spec.gpu_count) * k_milli_per_gpu);
  m_max_gpu_free.push_back(spec.gpu_count > 0 ? k_milli_per_gpu : 0);
  m_version.push_back(0);
  m_total_gpu_milli += static_cast<std::int64_t>(spec.gpu_count) * k_milli_per_gpu;
  m_max_node_gpus = std::max(m_max_node_gpus, spec.gpu_count);
  m_specs.push_back(std::move(spec));
  return id;
}

std::optional<NodeId> ClusterState::find(std::string_view name) const {
  const auto it = m_by_name.find(std::string(name));
  if (it == m_by_name.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool ClusterState::can_allocate(NodeId id, const Allocation& a) const {
  if (a.cpu_milli > m_cpu_free[id] || a.memory_bytes > m_mem_free[id]) {
    return false;
  }
  const auto gpus = gpu_free(id);
  if (a.gpu_mask != 0 && (gpus.size() < 64 && (a.gpu_mask >> gpus.size()) != 0)) {
    return false;
  }
  for (std::size_t g = 0; g < gpus.size(); ++g) {
    if (((a.gpu_mask >> g) & 1U) != 0 && gpus[g] < a.gpu_milli) {
      return false;
    }
  }
  return true;
}

void ClusterState::refresh_gpu_summary(NodeId id) {
  std::int32_t whole = 0;
  std::int64_t total = 0;
  std::int32_t max_free = 0;
  for (const auto f : gpu_free(id)) {
    whole += f == k_milli_per_gpu ? 1 : 0;
    total += f;
    max_free = std::max(max_free, f);
  }
  m_whole_free[id] = whole;
  m_gpu_free_total[id] = total;
  m_max_gpu_free[id] = max_free;
  ++m_version[id];
}

Status ClusterState::allocate(NodeId id, const Allocation& a) {
  if (id >= size()) {
    return Error(ErrorCode::internal, fmt::format("allocate: no node with id {}", id));
  }
  if (a.cpu_milli < 0 || a.memory_bytes < 0 || a.gpu_milli < 0 || a.gpu_milli > k_milli_per_gpu) {
    return Error(ErrorCode::internal, "allocate: malformed allocation");
  }
  if (!can_allocate(id, a)) {
    return Error(ErrorCode::conflict, fmt::format("node {} does not have the resources free", m_specs[id].name));
  }
  m_cpu_free[id] -= a.cpu_milli;
  m_mem_free[id] -= a.memory_bytes;
  auto* gpus = m_gpu_free.data() + m_gpu_offset[id];
  for (int g = 0; g < m_specs[id].gpu_count; ++g) {
    if (((a.gpu_mask >> g) & 1U) != 0) {
      gpus[g] -= a.gpu_milli;
    }
  }
  m_used_gpu_milli += a.total_gpu_milli();
  refresh_gpu_summary(id);
  return {};
}

Status ClusterState::release(NodeId id, const Allocation& a) {
  if (id >= size()) {
    return Error(ErrorCode::internal, fmt::format("release: no node with id {}", id));
  }
  const auto& spec = m_specs[id];
  auto* gpus = m_gpu_free.data() + m_gpu_offset[id];
  bool ok = m_cpu_free[id] + a.cpu_milli <= spec.cpu_milli && m_mem_free[id] + a.memory_bytes <= spec.memory_bytes;
  for (int g = 0; g < 64 && ok; ++g) {
    if (((a.gpu_mask >> g) & 1U) != 0) {
      ok = g < spec.gpu_count && gpus[g] + a.gpu_milli <= k_milli_per_gpu;
    }
  }
  if (!ok) {
    return Error(ErrorCode::internal, fmt::format("release on node {}: more than was allocated", spec.name));
  }
  m_cpu_free[id] += a.cpu_milli;
  m_mem_free[id] += a.memory_bytes;
  for (int g = 0; g < spec.gpu_count; ++g) {
    if (((a.gpu_mask >> g) & 1U) != 0) {
      gpus[g] += a.gpu_milli;
    }
  }
  m_used_gpu_milli -= a.total_gpu_milli();
  refresh_gpu_summary(id);
  return {};
}

Status ClusterState::clear(NodeId id) {
  if (id >= size()) {
    return Error(ErrorCode::internal, fmt::format("clear: no node with id {}", id));
  }
  const auto& spec = m_specs[id];
  m_cpu_free[id] = spec.cpu_milli;
  m_mem_free[id] = spec.memory_bytes;
  auto* gpus = m_gpu_free.data() + m_gpu_offset[id];
  for (int g = 0; g < spec.gpu_count; ++g) {
    m_used_gpu_milli -= k_milli_per_gpu - gpus[g];
    gpus[g] = k_milli_per_gpu;
  }
  refresh_gpu_summary(id);
  return {};
}

}  // namespace gpuorch::sched
