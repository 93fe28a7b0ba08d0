#include <doctest/doctest.h>
#include <gpuorch/sched/filter.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

namespace {

struct FilterCase {
  const char* name;
  NodeSpec node;
  Allocation used;
  Request request;
  FilterReason expected;
};

NodeSpec with(NodeSpec n, void (*edit)(NodeSpec&)) {
  edit(n);
  return n;
}

Request req_with(Request r, void (*edit)(Request&)) {
  edit(r);
  return r;
}

}  // namespace

TEST_CASE("check_node: one reason per way a node can be rejected") {
  const auto base = gpu_node("n", 4, "A100", 16, 64);
  const auto req = gpu_request("w", 2, 1000, 4000, 8);
  const std::vector<FilterCase> cases = {
      {"fits", base, {}, req, FilterReason::fits},
      {"not ready", with(base, [](NodeSpec& n) { n.ready = false; }), {}, req, FilterReason::not_ready},
      {"cordoned", with(base, [](NodeSpec& n) { n.cordoned = true; }), {}, req, FilterReason::cordoned},
      {"untolerated taint",
       with(base,
            [](NodeSpec& n) {
              n.taints = {{"gpu", "true", "NoSchedule"}};
            }),
       {},
       req,
       FilterReason::untolerated_taint},
      {"tolerated taint",
       with(base,
            [](NodeSpec& n) {
              n.taints = {{"gpu", "true", "NoSchedule"}};
            }),
       {},
       req_with(req,
                [](Request& r) {
                  r.tolerations = {{"gpu", "Equal", "true", "NoSchedule"}};
                }),
       FilterReason::fits},
      {"Exists toleration without key tolerates everything",
       with(base,
            [](NodeSpec& n) {
              n.taints = {{"a", "", "NoExecute"}, {"b", "x", "NoSchedule"}};
            }),
       {},
       req_with(req,
                [](Request& r) {
                  r.tolerations = {{"", "Exists", "", ""}};
                }),
       FilterReason::fits},
      {"PreferNoSchedule never blocks",
       with(base,
            [](NodeSpec& n) {
              n.taints = {{"soft", "", "PreferNoSchedule"}};
            }),
       {},
       req,
       FilterReason::fits},
      {"nodeSelector mismatch",
       base,
       {},
       req_with(req,
                [](Request& r) {
                  r.node_selector = {{"zone", "a"}};
                }),
       FilterReason::node_selector},
      {"nodeSelector match",
       with(base,
            [](NodeSpec& n) {
              n.labels = {{"zone", "a"}};
            }),
       {},
       req_with(req,
                [](Request& r) {
                  r.node_selector = {{"zone", "a"}};
                }),
       FilterReason::fits},
      {"GPU model", base, {}, req_with(req, [](Request& r) { r.gpu_models = {"H100"}; }), FilterReason::gpu_model},
      {"GPU model list",
       base,
       {},
       req_with(req,
                [](Request& r) {
                  r.gpu_models = {"H100", "A100"};
                }),
       FilterReason::fits},
      {"too few GPUs in total", base, {}, gpu_request("w", 8), FilterReason::too_few_gpus},
      {"whole GPUs in use", base, Allocation{0, 0, 0b0111, 1000}, req, FilterReason::insufficient_gpus},
      {"a share counts as using the GPU", base, Allocation{0, 0, 0b1111, 100}, gpu_request("w", 1),
       FilterReason::insufficient_gpus},
      {"share fits a partly used GPU", base, Allocation{0, 0, 0b1111, 500}, gpu_request("w", 1, 500),
       FilterReason::fits},
      {"no GPU has the share free", base, Allocation{0, 0, 0b1111, 600}, gpu_request("w", 1, 500),
       FilterReason::insufficient_gpu_share},
      {"CPU", base, Allocation{14000, 0, 0, 0}, req, FilterReason::insufficient_cpu},
      {"memory", base, Allocation{0, 60 * k_gi, 0, 0}, req, FilterReason::insufficient_memory},
      {"CPU-only request on a full GPU node", base, Allocation{0, 0, 0b1111, 1000}, gpu_request("w", 0),
       FilterReason::fits},
      {"CPU-only request ignores the GPU model",
       base,
       {},
       req_with(gpu_request("w", 0), [](Request& r) { r.gpu_models = {"H100"}; }),
       FilterReason::fits},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto state = make_state({c.node});
    if (c.used.gpu_mask != 0 || c.used.cpu_milli != 0 || c.used.memory_bytes != 0) {
      REQUIRE(state.allocate(0, c.used).ok());
    }
    const PreparedRequest prepared(state, c.request);
    CHECK(check_node(state, 0, prepared) == c.expected);
  }
}

TEST_CASE("FilterSummary groups reasons, largest first, in kube-scheduler style") {
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < 9; ++i) {
    nodes.push_back(gpu_node("full-" + std::to_string(i), 4));
  }
  for (int i = 0; i < 3; ++i) {
    auto n = gpu_node("down-" + std::to_string(i), 8);
    n.ready = false;
    nodes.push_back(n);
  }
  auto state = make_state(nodes);
  for (NodeId id = 0; id < 9; ++id) {
    REQUIRE(state.allocate(id, Allocation{0, 0, 0b0001, 1000}).ok());
  }
  const auto req = gpu_request("w", 4);
  const PreparedRequest prepared(state, req);
  const auto summary = summarize(state, prepared);
  CHECK(summary.total == 12);
  CHECK(summary.feasible == 0);
  CHECK(summary.describe(req) == "0/12 nodes fit: 9 lack 4 free GPUs, 3 not Ready");

  const auto share = gpu_request("s", 1, 250, 2500, 3);
  CHECK(reason_phrase(FilterReason::insufficient_gpu_share, share) == "lack a GPU with 250m free");
  CHECK(reason_phrase(FilterReason::insufficient_cpu, share) == "lack 2500m CPU free");
  CHECK(reason_phrase(FilterReason::insufficient_memory, share) == "lack 3Gi free memory");
  CHECK(reason_phrase(FilterReason::insufficient_gpus, gpu_request("w", 1)) == "lack 1 free GPU");
  CHECK(to_string(FilterReason::insufficient_gpu_share) == "insufficient_gpu_share");
}

}  // namespace gpuorch::sched
