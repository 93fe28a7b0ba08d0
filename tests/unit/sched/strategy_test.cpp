#include <doctest/doctest.h>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/strategy.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

namespace {

struct Setup {
  NodeSpec node;
  Allocation used;
};

struct StrategyCase {
  const char* name;
  const char* strategy;
  std::vector<Setup> nodes;
  Request request;
  std::string expected_node;        // empty: must not place
  std::uint64_t expected_mask = 0;  // 0: not checked
};

Setup free_node(NodeSpec n) {
  return Setup{std::move(n), {}};
}
Setup used_node(NodeSpec n, std::uint64_t mask, std::int32_t milli, std::int64_t cpu = 0) {
  return Setup{std::move(n), Allocation{cpu, 0, mask, milli}};
}

NodeSpec priced(NodeSpec n, double price) {
  n.price_per_gpu_hour = price;
  return n;
}

}  // namespace

TEST_CASE("each strategy picks the node (and GPU) its definition says") {
  const std::vector<StrategyCase> cases = {
      {"LeastLoaded spreads to the most free GPUs",
       "LeastLoaded",
       {used_node(gpu_node("a", 8), 0b00111111, 1000), free_node(gpu_node("b", 4)),
        used_node(gpu_node("c", 8), 0b1, 1000)},
       gpu_request("w", 1),
       "c"},
      {"LeastLoaded puts a share on the emptiest GPU",
       "LeastLoaded",
       {used_node(gpu_node("a", 2), 0b01, 600)},
       gpu_request("w", 1, 300),
       "a",
       0b10},
      {"LeastLoaded ties go to the first node",
       "LeastLoaded",
       {free_node(gpu_node("a", 4)), free_node(gpu_node("b", 4))},
       gpu_request("w", 2),
       "a",
       0b0011},
      {"BestFit packs onto the fullest node that fits",
       "BestFit",
       {free_node(gpu_node("a", 8)), used_node(gpu_node("b", 8), 0b00111111, 1000), free_node(gpu_node("c", 2))},
       gpu_request("w", 2),
       "b",
       0b11000000},
      {"BestFit counts CPU as much as GPU (per 128 cores vs 8 GPUs)",
       "BestFit",
       {free_node(gpu_node("gpu-tight", 2, "A100", 128)), free_node(gpu_node("cpu-tight", 4, "A100", 8))},
       gpu_request("w", 1),
       "cpu-tight"},
      {"BestFit puts a share on the tightest GPU that fits",
       "BestFit",
       {Setup{gpu_node("a", 3), Allocation{0, 0, 0b011, 400}}},
       gpu_request("w", 1, 500),
       "a",
       0b001},
      {"BestFit skips nodes that do not fit",
       "BestFit",
       {used_node(gpu_node("full", 8), 0xff, 1000), free_node(gpu_node("h100", 1, "H100")),
        free_node(gpu_node("a", 8))},
       gpu_request("w", 1),
       "h100"},
      {"CostOptimized takes the cheapest priced node",
       "CostOptimized",
       {free_node(priced(gpu_node("pricey", 8), 4.0)), free_node(priced(gpu_node("cheap", 8), 1.5)),
        free_node(gpu_node("unpriced", 8))},
       gpu_request("w", 1),
       "cheap"},
      {"CostOptimized puts unpriced nodes last",
       "CostOptimized",
       {free_node(gpu_node("unpriced", 8)), used_node(priced(gpu_node("priced", 2), 9.0), 0b1, 1000)},
       gpu_request("w", 1),
       "priced"},
      {"CostOptimized breaks price ties by least load",
       "CostOptimized",
       {used_node(priced(gpu_node("busy", 8), 2.0), 0b1111, 1000), free_node(priced(gpu_node("idle", 8), 2.0))},
       gpu_request("w", 1),
       "idle"},
      {"MinFragmentation keeps whole GPUs whole for the mix",
       "MinFragmentation",
       // A 500m share: on node a it fills a half-used GPU; on b it would split a whole GPU.
       {free_node(gpu_node("b", 1)), used_node(gpu_node("a", 1), 0b1, 500)},
       gpu_request("w", 1, 500),
       "a",
       0b1},
      {"MinFragmentation picks the GPU inside the node",
       "MinFragmentation",
       {Setup{gpu_node("a", 2), Allocation{0, 0, 0b01, 500}}},
       gpu_request("w", 1, 500),
       "a",
       0b01},
      {"nothing fits", "BestFit", {used_node(gpu_node("a", 2), 0b11, 1000)}, gpu_request("w", 1), ""},
      {"Random only returns feasible nodes",
       "Random",
       {used_node(gpu_node("a", 2), 0b11, 1000), free_node(gpu_node("b", 2)), used_node(gpu_node("c", 2), 0b11, 1000)},
       gpu_request("w", 2),
       "b",
       0b11},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<NodeSpec> specs;
    for (const auto& s : c.nodes) {
      specs.push_back(s.node);
    }
    auto state = make_state(specs);
    for (NodeId id = 0; id < c.nodes.size(); ++id) {
      const auto& used = c.nodes[id].used;
      if (used.gpu_mask != 0 || used.cpu_milli != 0) {
        REQUIRE(state.allocate(id, used).ok());
      }
    }
    auto strategy = make_strategy(c.strategy).value_or_throw();
    Placer placer(state, *strategy);
    const auto decision = placer.place(c.request);
    if (c.expected_node.empty()) {
      CHECK_FALSE(decision.placed);
      CHECK(decision.summary.has_value());
      continue;
    }
    REQUIRE(decision.placed);
    CHECK(state.spec(decision.node).name == c.expected_node);
    if (c.expected_mask != 0) {
      CHECK(decision.allocation.gpu_mask == c.expected_mask);
    }
  }
}

TEST_CASE("CostOptimized reads a price table by GPU model, longest match first") {
  StrategyOptions options;
  options.price_by_model = {{"A100", 3.0}, {"A100-80GB", 1.0}, {"H100", 2.0}};
  auto state = make_state({gpu_node("h", 8, "H100"), gpu_node("a40", 8, "A100-40GB"), gpu_node("a80", 8, "A100-80GB")});
  auto strategy = make_strategy("CostOptimized", options).value_or_throw();
  Placer placer(state, *strategy);
  const auto d = placer.place(gpu_request("w", 1), PlaceOptions{true, 5, true});
  REQUIRE(d.placed);
  CHECK(state.spec(d.node).name == "a80");
  REQUIRE(d.top.size() == 3);
  CHECK(state.spec(d.top[0].node).name == "a80");
  CHECK(d.top[0].score == doctest::Approx(-1.0));
  CHECK(state.spec(d.top[1].node).name == "h");
  CHECK(state.spec(d.top[2].node).name == "a40");
}

TEST_CASE("Random is uniform over feasible nodes and reproducible by seed") {
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(gpu_node("n" + std::to_string(i), 64));
  }
  std::vector<int> hits(4, 0);
  auto state = make_state(nodes);
  StrategyOptions options;
  options.seed = 7;
  auto strategy = make_strategy("Random", options).value_or_throw();
  Placer placer(state, *strategy);
  std::vector<NodeId> first_run;
  for (int i = 0; i < 200; ++i) {
    const auto d = placer.place(gpu_request("w", 1), PlaceOptions{false, 0, false});
    REQUIRE(d.placed);
    ++hits[d.node];
    first_run.push_back(d.node);
  }
  for (const auto h : hits) {
    CHECK(h > 25);  // 50 expected each; 25 is > 5 standard deviations below
  }
  auto again = make_strategy("Random", options).value_or_throw();
  auto state2 = make_state(nodes);
  Placer placer2(state2, *again);
  for (int i = 0; i < 200; ++i) {
    CHECK(placer2.place(gpu_request("w", 1), PlaceOptions{false, 0, false}).node ==
          first_run[static_cast<std::size_t>(i)]);
  }
}

TEST_CASE("the registry finds strategies by name, case-insensitively") {
  const auto& registry = StrategyRegistry::builtin();
  CHECK(registry.names() ==
        std::vector<std::string>{"LeastLoaded", "Random", "CostOptimized", "BestFit", "MinFragmentation"});
  CHECK(registry.canonical("bestfit").value_or_throw() == "BestFit");
  const auto bad = make_strategy("Tetris");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::usage);
  CHECK(bad.error().message() ==
        "unknown strategy \"Tetris\" (known: LeastLoaded, Random, CostOptimized, BestFit, MinFragmentation)");
  for (const auto& name : registry.names()) {
    auto s = make_strategy(name).value_or_throw();
    CHECK(s->name() == name);
    CHECK_FALSE(registry.summary(name).empty());
  }
}

TEST_CASE("Placer explains a decision: reasons and top scores") {
  auto down = gpu_node("down", 8);
  down.ready = false;
  auto state = make_state({gpu_node("a", 8), gpu_node("b", 2), down, gpu_node("c", 4)});
  auto strategy = make_strategy("BestFit").value_or_throw();
  Placer placer(state, *strategy);
  const auto d = placer.place(gpu_request("w", 4), PlaceOptions{true, 2, true});
  REQUIRE(d.placed);
  CHECK(state.spec(d.node).name == "c");
  REQUIRE(d.summary);
  CHECK(d.reason(gpu_request("w", 4)) == "2/4 nodes fit: 1 not Ready, 1 have fewer than 4 GPUs");
  REQUIRE(d.top.size() == 2);
  CHECK(state.spec(d.top[0].node).name == "c");
  CHECK(d.top[0].score > d.top[1].score);
  CHECK(state.whole_free_gpus(d.node) == 0);

  SUBCASE("without commit nothing is taken") {
    const auto dry = placer.place(gpu_request("x", 2), PlaceOptions{false, 0, false});
    REQUIRE(dry.placed);
    CHECK(state.used_gpu_milli() == 4000);
  }
}

}  // namespace gpuorch::sched
