// Property tests: random clusters and workloads, every strategy.

#include <map>
#include <tuple>

#include <doctest/doctest.h>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/rng.hpp>
#include <gpuorch/sched/strategy.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

namespace {

const std::vector<std::string> k_models = {"A100", "H100", "T4"};

std::vector<NodeSpec> random_nodes(Rng& rng, std::size_t count) {
  static const int k_gpus[] = {0, 1, 2, 4, 8};
  std::vector<NodeSpec> nodes;
  for (std::size_t i = 0; i < count; ++i) {
    auto n = gpu_node("n" + std::to_string(i), k_gpus[rng.below(5)], k_models[rng.below(3)],
                      static_cast<std::int64_t>(4 + rng.below(64)), static_cast<std::int64_t>(16 + rng.below(256)));
    if (rng.below(10) == 0) {
      n.ready = false;
    }
    if (rng.below(10) == 0) {
      n.taints.push_back({"dedicated", "ml", "NoSchedule"});
    }
    if (rng.below(3) == 0) {
      n.labels.emplace_back("zone", rng.below(2) == 0 ? "a" : "b");
    }
    if (rng.below(2) == 0) {
      n.price_per_gpu_hour = 1.0 + static_cast<double>(rng.below(4));
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

Request random_request(Rng& rng, std::size_t i) {
  Request r;
  r.name = "w" + std::to_string(i);
  const auto kind = rng.below(10);
  if (kind < 2) {
    r.gpu_count = 0;
  } else if (kind < 5) {
    r.gpu_count = 1;
    r.gpu_milli = static_cast<std::int32_t>(50 + 50 * rng.below(19));
  } else {
    static const int k_counts[] = {1, 1, 2, 4, 8};
    r.gpu_count = k_counts[rng.below(5)];
  }
  r.cpu_milli = static_cast<std::int64_t>(500 * rng.below(30));
  r.memory_bytes = static_cast<std::int64_t>(rng.below(64)) * k_gi;
  if (rng.below(6) == 0) {
    r.gpu_models = {k_models[rng.below(3)]};
  }
  if (rng.below(8) == 0) {
    r.node_selector = {{"zone", "a"}};
  }
  if (rng.below(5) == 0) {
    r.tolerations = {{"dedicated", "Equal", "ml", "NoSchedule"}};
  }
  return r;
}

struct Placed {
  NodeId node;
  Allocation allocation;
};

// Runs a random sequence of placements and releases; checks invariants on the way.
std::vector<std::tuple<bool, NodeId, std::uint64_t>> run_random(const std::string& strategy_name, std::uint64_t seed) {
  Rng rng(seed);
  const auto nodes = random_nodes(rng, 5 + rng.below(40));
  auto state = make_state(nodes);
  StrategyOptions options;
  options.seed = seed;
  options.price_by_model = {{"T4", 0.5}};
  auto strategy = make_strategy(strategy_name, options).value_or_throw();
  Placer placer(state, *strategy);
  std::vector<Placed> live;
  std::vector<std::tuple<bool, NodeId, std::uint64_t>> trace;
  for (std::size_t i = 0; i < 300; ++i) {
    if (!live.empty() && rng.below(4) == 0) {
      const std::size_t k = rng.below(live.size());
      REQUIRE(placer.release(live[k].node, live[k].allocation).ok());
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    }
    const auto req = random_request(rng, i);
    const auto d = placer.place(req);
    trace.emplace_back(d.placed, d.node, d.allocation.gpu_mask);
    const PreparedRequest prepared(state, req);
    if (d.placed) {
      live.push_back(Placed{d.node, d.allocation});
      CHECK(d.allocation.gpu_count() == req.gpu_count);
      CHECK(d.allocation.cpu_milli == req.cpu_milli);
    } else {
      // Every unplaced workload has a true reason: no node fits it.
      REQUIRE(d.summary);
      CHECK(d.summary->feasible == 0);
      std::size_t sum = 0;
      for (const auto c : d.summary->counts) {
        sum += c;
      }
      CHECK(sum == state.size());
      for (NodeId id = 0; id < state.size(); ++id) {
        CHECK(check_node(state, id, prepared) != FilterReason::fits);
      }
    }
  }
  // Nothing is over-committed: recompute usage from the live placements.
  std::vector<std::int64_t> cpu(state.size(), 0);
  std::vector<std::int64_t> mem(state.size(), 0);
  std::map<std::pair<NodeId, int>, std::int64_t> gpu;
  std::int64_t used = 0;
  for (const auto& p : live) {
    cpu[p.node] += p.allocation.cpu_milli;
    mem[p.node] += p.allocation.memory_bytes;
    for (int g = 0; g < 64; ++g) {
      if (((p.allocation.gpu_mask >> g) & 1U) != 0) {
        gpu[{p.node, g}] += p.allocation.gpu_milli;
        used += p.allocation.gpu_milli;
      }
    }
  }
  for (NodeId id = 0; id < state.size(); ++id) {
    const auto& spec = state.spec(id);
    CHECK(cpu[id] <= spec.cpu_milli);
    CHECK(mem[id] <= spec.memory_bytes);
    CHECK(state.cpu_free(id) == spec.cpu_milli - cpu[id]);
    const auto free = state.gpu_free(id);
    for (int g = 0; g < spec.gpu_count; ++g) {
      const auto it = gpu.find({id, g});
      const auto taken = it == gpu.end() ? 0 : it->second;
      CHECK(taken <= k_milli_per_gpu);
      CHECK(free[static_cast<std::size_t>(g)] == k_milli_per_gpu - taken);
    }
  }
  CHECK(state.used_gpu_milli() == used);
  return trace;
}

}  // namespace

TEST_CASE("property: no over-commit, true reasons, same seed same result") {
  for (const auto& name : StrategyRegistry::builtin().names()) {
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
      CAPTURE(name);
      CAPTURE(seed);
      const auto first = run_random(name, seed);
      const auto second = run_random(name, seed);
      CHECK(first == second);
    }
  }
}

TEST_CASE("property: indexed LeastLoaded and BestFit choose what a linear scan chooses") {
  for (const std::string name : {"LeastLoaded", "BestFit"}) {
    for (std::uint64_t seed = 100; seed < 110; ++seed) {
      CAPTURE(name);
      CAPTURE(seed);
      Rng rng(seed);
      auto state = make_state(random_nodes(rng, 60));
      auto strategy = make_strategy(name).value_or_throw();
      Placer placer(state, *strategy);
      for (std::size_t i = 0; i < 200; ++i) {
        const auto req = random_request(rng, i);
        const PreparedRequest prepared(state, req);
        // The straightforward scan, keyed by the strategy's definition.
        std::optional<NodeId> expected;
        std::tuple<double, double, NodeId> best_key{};
        for (NodeId id = 0; id < state.size(); ++id) {
          if (check_node(state, id, prepared) != FilterReason::fits) {
            continue;
          }
          const auto key =
              name == "BestFit"
                  ? std::tuple<double, double, NodeId>{0.5 * static_cast<double>(state.cpu_free(id)) / 128000.0 +
                                                           0.5 * static_cast<double>(state.gpu_free_milli(id)) / 8000.0,
                                                       0.0, id}
                  : std::tuple<double, double, NodeId>{-static_cast<double>(state.gpu_free_milli(id)),
                                                       -static_cast<double>(state.cpu_free(id)), id};
          if (!expected || key < best_key) {
            expected = id;
            best_key = key;
          }
        }
        const auto d = placer.place(req);
        CHECK(d.placed == expected.has_value());
        if (expected) {
          CHECK(d.node == *expected);
        }
      }
    }
  }
}

}  // namespace gpuorch::sched
