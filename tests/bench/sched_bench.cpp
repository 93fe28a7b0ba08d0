// Benchmarks of the placement core (Google Benchmark). Results, commands and
// machine: docs/benchmarks.md. The openb benchmarks read the real trace from
// ../shared/traces (next to the repository) and skip when it is absent.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <gpuorch/sched/filter.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/rng.hpp>
#include <gpuorch/sched/simulator.hpp>
#include <gpuorch/sched/strategy.hpp>

namespace {

using namespace gpuorch::sched;

struct Trace {
  bool loaded = false;
  std::vector<NodeSpec> nodes;
  std::vector<Request> pods;
};

std::string slurp(const std::string& path) {
  std::ifstream file(path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

const Trace& openb() {
  static const Trace trace = [] {
    Trace t;
    // ../shared/traces beside the checkout; from a git worktree, beside an ancestor.
    std::string dir;
    for (auto p = std::filesystem::path(GPUORCH_SOURCE_DIR); !p.empty() && p != p.parent_path(); p = p.parent_path()) {
      if (std::filesystem::exists(p.parent_path() / "shared" / "traces" / "alibaba-openb")) {
        dir = (p.parent_path() / "shared" / "traces" / "alibaba-openb").string() + "/";
        break;
      }
    }
    auto nodes = parse_nodes(slurp(dir + "openb_node_list_gpu_node.csv"), "nodes");
    auto pods = parse_workloads(slurp(dir + "openb_pod_list_default.csv"), "pods");
    if (nodes.ok() && pods.ok()) {
      t.nodes = std::move(nodes->nodes);
      t.pods = std::move(pods->workloads);
      t.loaded = true;
    }
    return t;
  }();
  return trace;
}

// One paper-style packing run of openb (1,213 nodes, inflate 1.3, seed 42).
void BM_PackingOpenb(benchmark::State& state, const std::string& strategy) {
  const auto& trace = openb();
  if (!trace.loaded) {
    state.SkipWithError("openb trace not found in ../shared/traces");
    return;
  }
  PackingOptions options;
  options.strategy = strategy;
  options.seed = 42;
  std::size_t decisions = 0;
  for (auto _ : state) {
    auto result = run_packing(trace.nodes, trace.pods, options);
    benchmark::DoNotOptimize(result);
    decisions += result->workloads;
  }
  state.counters["decisions_per_s"] = benchmark::Counter(static_cast<double>(decisions), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_PackingOpenb, LeastLoaded, std::string("LeastLoaded"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackingOpenb, Random, std::string("Random"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackingOpenb, CostOptimized, std::string("CostOptimized"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackingOpenb, BestFit, std::string("BestFit"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PackingOpenb, MinFragmentation, std::string("MinFragmentation"))->Unit(benchmark::kMillisecond);

// Every strategy × seeds 42-51, as `gpuorch simulate --mode packing --compare --seeds 42-51` runs them:
// spread over all CPUs.
void BM_PackingOpenbAllStrategies10Seeds(benchmark::State& state) {
  const auto& trace = openb();
  if (!trace.loaded) {
    state.SkipWithError("openb trace not found in ../shared/traces");
    return;
  }
  const auto names = StrategyRegistry::builtin().names();
  const std::size_t runs = names.size() * 10;
  const auto threads = std::max(1U, std::thread::hardware_concurrency());
  for (auto _ : state) {
    std::atomic<std::size_t> next{0};
    const auto worker = [&] {
      for (auto i = next++; i < runs; i = next++) {
        PackingOptions options;
        options.strategy = names[i / 10];
        options.seed = 42 + i % 10;
        auto result = run_packing(trace.nodes, trace.pods, options);
        benchmark::DoNotOptimize(result);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back(worker);
    }
    for (auto& t : pool) {
      t.join();
    }
  }
  state.counters["runs"] = static_cast<double>(runs);
  state.counters["threads"] = threads;
}
BENCHMARK(BM_PackingOpenbAllStrategies10Seeds)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// --- 100k workloads onto 10k synthetic nodes: indexed strategy vs linear scan ---

std::vector<NodeSpec> synthetic_cluster(std::size_t count) {
  std::vector<NodeSpec> nodes;
  nodes.reserve(count);
  Rng rng(1);
  for (std::size_t i = 0; i < count; ++i) {
    NodeSpec n;
    n.name = "node-" + std::to_string(i);
    n.gpu_count = rng.below(4) == 0 ? 4 : 8;
    n.gpu_model = "H100";
    n.cpu_milli = 16000LL * n.gpu_count;
    n.memory_bytes = (128LL << 30) * n.gpu_count;
    nodes.push_back(std::move(n));
  }
  return nodes;
}

// About 80 % of the cluster's GPUs in total (0.6 shares of 100m-900m, 0.37
// whole GPUs, 0.03 pairs): most decisions place, the last ones find it full.
std::vector<Request> synthetic_workloads(std::size_t count) {
  std::vector<Request> reqs;
  reqs.reserve(count);
  Rng rng(2);
  for (std::size_t i = 0; i < count; ++i) {
    Request r;
    r.name = "w-" + std::to_string(i);
    const auto kind = rng.below(100);
    if (kind < 60) {
      r.gpu_count = 1;
      r.gpu_milli = static_cast<std::int32_t>(100 * (1 + rng.below(9)));
    } else if (kind < 97) {
      r.gpu_count = 1;
    } else {
      r.gpu_count = 2;
    }
    r.cpu_milli = 2000 + static_cast<std::int64_t>(rng.below(8)) * 1000;
    r.memory_bytes = 16LL << 30;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

// The straightforward alternative: check every node, keep the best key.
std::size_t place_linear(ClusterState& state, const std::vector<Request>& reqs, bool best_fit) {
  std::size_t placed = 0;
  for (const auto& r : reqs) {
    const PreparedRequest prepared(state, r);
    bool found = false;
    NodeId best = 0;
    double best_primary = 0;
    double best_secondary = 0;
    for (NodeId id = 0; id < state.size(); ++id) {
      if (check_node(state, id, prepared) != FilterReason::fits) {
        continue;
      }
      const double primary = best_fit ? 0.5 * static_cast<double>(state.cpu_free(id)) / 128000.0 +
                                            0.5 * static_cast<double>(state.gpu_free_milli(id)) / 8000.0
                                      : -static_cast<double>(state.gpu_free_milli(id));
      const double secondary = best_fit ? 0.0 : -static_cast<double>(state.cpu_free(id));
      if (!found || primary < best_primary || (primary == best_primary && secondary < best_secondary)) {
        found = true;
        best = id;
        best_primary = primary;
        best_secondary = secondary;
      }
    }
    if (!found) {
      continue;
    }
    // Same GPU choice as the strategies: tightest share for BestFit, loosest for LeastLoaded.
    Allocation a{r.cpu_milli, r.memory_bytes, 0, r.gpu_milli};
    const auto gpus = state.gpu_free(best);
    if (r.shares_gpu()) {
      int chosen = -1;
      for (std::size_t g = 0; g < gpus.size(); ++g) {
        if (gpus[g] >= r.gpu_milli && (chosen < 0 || (best_fit ? gpus[g] < gpus[static_cast<std::size_t>(chosen)]
                                                               : gpus[g] > gpus[static_cast<std::size_t>(chosen)]))) {
          chosen = static_cast<int>(g);
        }
      }
      a.gpu_mask = std::uint64_t{1} << static_cast<unsigned>(chosen);
    } else {
      int taken = 0;
      for (std::size_t g = 0; g < gpus.size() && taken < r.gpu_count; ++g) {
        if (gpus[g] == 1000) {
          a.gpu_mask |= std::uint64_t{1} << g;
          ++taken;
        }
      }
    }
    if (state.allocate(best, a).ok()) {
      ++placed;
    }
  }
  return placed;
}

void BM_Decisions100kOn10k(benchmark::State& state, const std::string& strategy) {
  const auto nodes = synthetic_cluster(10'000);
  const auto reqs = synthetic_workloads(100'000);
  double indexed_s = 0;
  double linear_s = 0;
  std::size_t placed_indexed = 0;
  std::size_t placed_linear = 0;
  for (auto _ : state) {
    ClusterState indexed_state;
    ClusterState linear_state;
    for (const auto& n : nodes) {
      (void)indexed_state.add_node(n);
      (void)linear_state.add_node(n);
    }
    auto s = make_strategy(strategy).value_or_throw();
    Placer placer(indexed_state, *s);
    auto t0 = std::chrono::steady_clock::now();
    placed_indexed = 0;
    PlaceOptions options;
    options.summarize_failures = false;  // the linear scan does not count reasons either
    for (const auto& r : reqs) {
      placed_indexed += placer.place(r, options).placed ? std::size_t{1} : std::size_t{0};
    }
    auto t1 = std::chrono::steady_clock::now();
    placed_linear = place_linear(linear_state, reqs, strategy == "BestFit");
    auto t2 = std::chrono::steady_clock::now();
    indexed_s += std::chrono::duration<double>(t1 - t0).count();
    linear_s += std::chrono::duration<double>(t2 - t1).count();
    if (indexed_state.used_gpu_milli() != linear_state.used_gpu_milli()) {
      state.SkipWithError("indexed and linear placements differ");
      return;
    }
  }
  const auto n = static_cast<double>(reqs.size() * static_cast<std::size_t>(state.iterations()));
  state.counters["indexed_decisions_per_s"] = n / indexed_s;
  state.counters["linear_decisions_per_s"] = n / linear_s;
  state.counters["speedup"] = linear_s / indexed_s;
  state.counters["placed"] = static_cast<double>(placed_indexed);
  state.counters["placed_linear"] = static_cast<double>(placed_linear);
}
BENCHMARK_CAPTURE(BM_Decisions100kOn10k, LeastLoaded, std::string("LeastLoaded"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
BENCHMARK_CAPTURE(BM_Decisions100kOn10k, BestFit, std::string("BestFit"))->Unit(benchmark::kMillisecond)->Iterations(1);

// A tiny run for CI: the benchmark binary works (ctest "bench: smoke").
void BM_Smoke(benchmark::State& state) {
  const auto nodes = synthetic_cluster(64);
  const auto reqs = synthetic_workloads(256);
  for (auto _ : state) {
    for (const auto& name : StrategyRegistry::builtin().names()) {
      ClusterState s;
      for (const auto& n : nodes) {
        (void)s.add_node(n);
      }
      auto strategy = make_strategy(name).value_or_throw();
      Placer placer(s, *strategy);
      for (const auto& r : reqs) {
        benchmark::DoNotOptimize(placer.place(r));
      }
    }
  }
}
BENCHMARK(BM_Smoke)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
