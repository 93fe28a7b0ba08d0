#pragma once

// Small builders shared by the sched unit tests.

#include <string>
#include <vector>

#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched::testing {

inline constexpr std::int64_t k_gi = std::int64_t{1} << 30;

inline NodeSpec gpu_node(std::string name, int gpus, std::string model = "A100", std::int64_t cpu_cores = 64,
                         std::int64_t mem_gi = 512) {
  NodeSpec n;
  n.name = std::move(name);
  n.gpu_count = gpus;
  n.gpu_model = std::move(model);
  n.cpu_milli = cpu_cores * 1000;
  n.memory_bytes = mem_gi * k_gi;
  return n;
}

inline Request gpu_request(std::string name, int gpus, std::int32_t milli = 1000, std::int64_t cpu_milli = 1000,
                           std::int64_t mem_gi = 1) {
  Request r;
  r.name = std::move(name);
  r.gpu_count = gpus;
  r.gpu_milli = milli;
  r.cpu_milli = cpu_milli;
  r.memory_bytes = mem_gi * k_gi;
  return r;
}

inline ClusterState make_state(const std::vector<NodeSpec>& nodes) {
  ClusterState state;
  for (const auto& n : nodes) {
    (void)state.add_node(n).value_or_throw();
  }
  return state;
}

}  // namespace gpuorch::sched::testing
