#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gpuorch/sched/cluster_state.hpp>

namespace gpuorch::sched {

/// What one workload asks of a single node. A workload either takes
/// `gpu_count` whole GPUs (`gpu_milli == 1000`), shares one GPU
/// (`gpu_count == 1`, `gpu_milli < 1000`), or uses no GPU (`gpu_count == 0`).
struct Request {
  std::string name;
  std::int64_t cpu_milli = 0;
  std::int64_t memory_bytes = 0;
  std::int32_t gpu_count = 0;
  std::int32_t gpu_milli = k_milli_per_gpu;  ///< per GPU
  /// Allowed GPU models; empty allows any. A model matches a node's model when
  /// equal, or when the node's model starts with it, optionally after "NVIDIA-"
  /// (case-insensitive): "H100" matches "NVIDIA-H100-80GB-HBM3".
  std::vector<std::string> gpu_models;
  Labels node_selector;
  std::vector<Toleration> tolerations;
  std::int32_t priority = 0;
  std::int64_t creation_time = 0;  ///< seconds; orders the queue and is the arrival time in replays
  std::int64_t duration = 0;       ///< seconds of run time (replays only; 0 = unknown)

  /// Summed GPU request in milli-GPU (gpu_count × gpu_milli).
  [[nodiscard]] std::int64_t total_gpu_milli() const noexcept {
    return gpu_count == 0 ? 0 : static_cast<std::int64_t>(gpu_count) * gpu_milli;
  }
  [[nodiscard]] bool shares_gpu() const noexcept { return gpu_count == 1 && gpu_milli < k_milli_per_gpu; }

  /// Checks the request is well-formed; the message names the field.
  [[nodiscard]] Status validate() const;
};

/// Whether a requested GPU model name matches a node's model (see Request::gpu_models).
bool gpu_model_matches(std::string_view wanted, std::string_view node_model);

/// A request bound to one ClusterState: model constraints resolved to the
/// cluster's model ids once, so that per-node checks never compare strings
/// for them and never allocate.
class PreparedRequest {
 public:
  PreparedRequest(const ClusterState& state, const Request& request);

  [[nodiscard]] const Request& request() const noexcept { return *m_request; }
  [[nodiscard]] bool model_allowed(std::uint32_t model_id) const {
    return m_any_model || (model_id < m_model_ok.size() && m_model_ok[model_id] != 0);
  }
  [[nodiscard]] bool has_constraints() const noexcept { return m_has_constraints; }

 private:
  const Request* m_request;
  std::vector<std::uint8_t> m_model_ok;
  bool m_any_model = true;
  bool m_has_constraints = false;
};

}  // namespace gpuorch::sched
