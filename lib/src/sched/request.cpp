#include <gpuorch/sched/request.hpp>

#include <cctype>

#include <fmt/format.h>

namespace gpuorch::sched {
namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (prefix.size() > text.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool gpu_model_matches(std::string_view wanted, std::string_view node_model) {
  if (wanted.empty()) {
    return true;
  }
  if (starts_with_nocase(node_model, wanted)) {
    return true;
  }
  constexpr std::string_view k_vendor = "NVIDIA-";
  return starts_with_nocase(node_model, k_vendor) && starts_with_nocase(node_model.substr(k_vendor.size()), wanted);
}

Status Request::validate() const {
  if (cpu_milli < 0) {
    return Error(ErrorCode::invalid, fmt::format("{}: cpu: must be >= 0, got {}m", name, cpu_milli));
  }
  if (memory_bytes < 0) {
    return Error(ErrorCode::invalid, fmt::format("{}: memory: must be >= 0, got {}", name, memory_bytes));
  }
  if (gpu_count < 0) {
    return Error(ErrorCode::invalid, fmt::format("{}: gpuCount: must be >= 0, got {}", name, gpu_count));
  }
  if (gpu_count > 0 && (gpu_milli <= 0 || gpu_milli > k_milli_per_gpu)) {
    return Error(ErrorCode::invalid,
                 fmt::format("{}: gpu share: must be between 1 and 1000 milli-GPU, got {}", name, gpu_milli));
  }
  if (gpu_count > 1 && gpu_milli != k_milli_per_gpu) {
    return Error(
        ErrorCode::invalid,
        fmt::format("{}: a GPU share below 1000m is only possible with one GPU, got {} GPUs", name, gpu_count));
  }
  if (duration < 0) {
    return Error(ErrorCode::invalid, fmt::format("{}: duration: must be >= 0, got {}", name, duration));
  }
  return {};
}

PreparedRequest::PreparedRequest(const ClusterState& state, const Request& request) : m_request(&request) {
  m_any_model = request.gpu_models.empty();
  if (!m_any_model) {
    const auto& models = state.models();
    m_model_ok.assign(models.size(), 0);
    for (std::size_t m = 0; m < models.size(); ++m) {
      for (const auto& wanted : request.gpu_models) {
        if (gpu_model_matches(wanted, models[m])) {
          m_model_ok[m] = 1;
          break;
        }
      }
    }
  }
  m_has_constraints = !m_any_model || !request.node_selector.empty();
}

}  // namespace gpuorch::sched
