#include <doctest/doctest.h>
#include <gpuorch/sched/cluster_state.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

TEST_CASE("ClusterState tracks per-GPU free capacity") {
  auto state = make_state({gpu_node("a", 4), gpu_node("b", 2, "H100")});
  REQUIRE(state.size() == 2);
  CHECK(state.total_gpu_milli() == 6000);
  CHECK(state.models() == std::vector<std::string>{"A100", "H100"});
  CHECK(state.find("b") == NodeId{1});
  CHECK_FALSE(state.find("zz"));

  const Allocation share{1000, k_gi, 0b0010, 300};
  REQUIRE(state.allocate(0, share).ok());
  CHECK(state.gpu_free(0)[1] == 700);
  CHECK(state.whole_free_gpus(0) == 3);
  CHECK(state.gpu_free_milli(0) == 3700);
  CHECK(state.max_gpu_free(0) == 1000);
  CHECK(state.cpu_free(0) == 63000);
  CHECK(state.used_gpu_milli() == 300);
  CHECK(state.version(0) == 1);
  CHECK(state.version(1) == 0);

  SUBCASE("over-commit is refused and changes nothing") {
    const Allocation too_much{0, 0, 0b0010, 800};
    CHECK_FALSE(state.can_allocate(0, too_much));
    const auto st = state.allocate(0, too_much);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code() == ErrorCode::conflict);
    CHECK(state.gpu_free(0)[1] == 700);
    CHECK(state.version(0) == 1);
    CHECK_FALSE(state.allocate(1, Allocation{65000, 0, 0, 0}).ok());
    CHECK_FALSE(state.allocate(1, Allocation{0, 0, 0b100, 1000}).ok());  // node b has 2 GPUs
  }
  SUBCASE("release gives it back; releasing more than allocated fails") {
    REQUIRE(state.release(0, share).ok());
    CHECK(state.gpu_free_milli(0) == 4000);
    CHECK(state.whole_free_gpus(0) == 4);
    CHECK(state.used_gpu_milli() == 0);
    CHECK_FALSE(state.release(0, share).ok());
  }
  SUBCASE("clear frees one node entirely and leaves the others") {
    REQUIRE(state.allocate(0, Allocation{2000, 2 * k_gi, 0b1100, 1000}).ok());
    REQUIRE(state.allocate(1, Allocation{0, 0, 0b01, 1000}).ok());
    CHECK(state.used_gpu_milli() == 3300);
    const auto before = state.version(0);
    REQUIRE(state.clear(0).ok());
    CHECK(state.gpu_free_milli(0) == 4000);
    CHECK(state.whole_free_gpus(0) == 4);
    CHECK(state.max_gpu_free(0) == 1000);
    CHECK(state.cpu_free(0) == state.spec(0).cpu_milli);
    CHECK(state.memory_free(0) == state.spec(0).memory_bytes);
    CHECK(state.version(0) > before);
    CHECK(state.whole_free_gpus(1) == 1);
    CHECK(state.used_gpu_milli() == 1000);
    CHECK_FALSE(state.clear(7).ok());
  }
}

TEST_CASE("ClusterState rejects malformed nodes") {
  ClusterState state;
  CHECK(state.add_node(gpu_node("a", 1)).ok());
  CHECK_FALSE(state.add_node(gpu_node("a", 1)).ok());
  CHECK_FALSE(state.add_node(gpu_node("", 1)).ok());
  CHECK_FALSE(state.add_node(gpu_node("big", 65)).ok());
  CHECK_FALSE(state.add_node(gpu_node("neg", -1)).ok());
  CHECK(state.add_node(gpu_node("cpu-only", 0)).ok());
  CHECK(state.max_gpu_free(1) == 0);
  CHECK(state.max_node_gpus() == 1);
}

TEST_CASE("Request validation names the field") {
  auto r = gpu_request("w", 2, 500);
  auto st = r.validate();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message().find("only possible with one GPU") != std::string::npos);
  r = gpu_request("w", 1, 0);
  CHECK_FALSE(r.validate().ok());
  r = gpu_request("w", -1);
  CHECK(r.validate().error().message() == "w: gpuCount: must be >= 0, got -1");
  CHECK(gpu_request("w", 1, 250).validate().ok());
  CHECK(gpu_request("w", 0).validate().ok());
}

TEST_CASE("GPU model names match by prefix, after an optional NVIDIA- vendor prefix") {
  CHECK(gpu_model_matches("H100", "H100"));
  CHECK(gpu_model_matches("h100", "NVIDIA-H100-80GB-HBM3"));
  CHECK(gpu_model_matches("A100", "A100-SXM4-80GB"));
  CHECK_FALSE(gpu_model_matches("A10", "V100M16"));
  CHECK(gpu_model_matches("V100", "V100M32"));
  CHECK_FALSE(gpu_model_matches("H100", "NVIDIA-A100"));
  CHECK(gpu_model_matches("", "anything"));
}

}  // namespace gpuorch::sched
