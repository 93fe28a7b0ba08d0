#include <doctest/doctest.h>
#include <gpuorch/sched/rng.hpp>
#include <gpuorch/sched/simulator.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

namespace {

std::vector<Request> mixed_pods(std::size_t count, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Request> pods;
  for (std::size_t i = 0; i < count; ++i) {
    const auto kind = rng.below(10);
    Request r = kind < 4 ? gpu_request("p" + std::to_string(i), 1, static_cast<std::int32_t>(100 * (1 + rng.below(9))))
                : kind < 9 ? gpu_request("p" + std::to_string(i), 1 << rng.below(3))
                           : gpu_request("p" + std::to_string(i), 0);
    r.cpu_milli = static_cast<std::int64_t>(1000 * (1 + rng.below(12)));
    pods.push_back(r);
  }
  return pods;
}

}  // namespace

TEST_CASE("packing: the paper's experiment on a small generated trace") {
  std::vector<NodeSpec> nodes;
  for (int i = 0; i < 20; ++i) {
    nodes.push_back(gpu_node("n" + std::to_string(i), i % 3 == 0 ? 8 : 2, "A100", 64));
  }
  const auto pods = mixed_pods(200, 3);
  PackingOptions options;
  options.inflate = 1.3;
  for (const auto& name : StrategyRegistry::builtin().names()) {
    CAPTURE(name);
    options.strategy = name;
    options.seed = 42;
    const auto r = run_packing(nodes, pods, options).value_or_throw();
    CHECK(r.strategy == name);
    CHECK(r.placed + r.failed == r.workloads);
    CHECK(r.unallocated_at_100 >= 0);
    CHECK(r.unallocated_at_100 <= 100);
    REQUIRE(r.curve.size() > 10);
    CHECK(r.curve.front().arrived_pct == 0);
    CHECK(r.curve.front().unallocated_pct == 100);
    CHECK(r.curve.back().arrived_pct > 125);
    CHECK(r.curve.back().arrived_pct <= 130);
    for (std::size_t i = 1; i < r.curve.size(); ++i) {
      CHECK(r.curve[i].arrived_pct >= r.curve[i - 1].arrived_pct);
      CHECK(r.curve[i].unallocated_pct <= r.curve[i - 1].unallocated_pct);
    }
    // Same seed, same run; another seed, another order.
    const auto again = run_packing(nodes, pods, options).value_or_throw();
    CHECK(again.unallocated_at_100 == r.unallocated_at_100);
    CHECK(again.placed == r.placed);
  }
  options.strategy = "Tetris";
  CHECK(run_packing(nodes, pods, options).error().code() == ErrorCode::usage);
  options.strategy = "BestFit";
  options.inflate = 0;
  CHECK_FALSE(run_packing(nodes, pods, options).ok());
}

TEST_CASE("packing inflates by drawing copies until the request would pass the target") {
  const std::vector<NodeSpec> nodes = {gpu_node("a", 8), gpu_node("b", 2)};
  const std::vector<Request> pods = {gpu_request("one", 1), gpu_request("two", 2)};
  PackingOptions options;
  options.inflate = 2.0;
  const auto r = run_packing(nodes, pods, options).value_or_throw();
  // Capacity 10 GPUs, target 20: the stream holds 19 or 20 GPUs of requests.
  CHECK(r.curve.back().arrived_pct >= 190.0);
  CHECK(r.curve.back().arrived_pct <= 200.0);
  CHECK(r.workloads >= 10);
  CHECK(r.final_unallocated <= 10.0);
}

TEST_CASE("replay: arrivals, departures, queueing delay and makespan") {
  const std::vector<NodeSpec> nodes = {gpu_node("a", 2)};
  auto a = gpu_request("a", 2);
  a.creation_time = 100;
  a.duration = 10;
  auto b = gpu_request("b", 1);
  b.creation_time = 101;
  b.duration = 5;
  auto c = gpu_request("c", 1);
  c.creation_time = 102;
  c.duration = 1;
  auto huge = gpu_request("huge", 16);
  huge.creation_time = 100;
  ReplayOptions options;
  options.samples = 16;
  const auto r = run_replay(nodes, std::vector<Request>{a, b, c, huge}, options).value_or_throw();
  CHECK(r.workloads == 4);
  CHECK(r.unplaceable == 1);
  CHECK(r.completed == 3);
  // a starts at once; b and c wait for a (until t=110): 9 s and 8 s.
  CHECK(r.queueing_delay.max == 9);
  CHECK(r.queueing_delay.p50 == 8);
  CHECK(r.queueing_delay.mean == doctest::Approx(17.0 / 3));
  CHECK(r.makespan == 15);  // b ends at 115
  CHECK(r.completion_time.max == 14);
  CHECK(r.max_queued == 2);
  REQUIRE(r.timeline.size() == 16);
  CHECK(r.timeline.front().utilisation_pct == 100);
  // 2 GPUs for 10 s, then 2 GPUs for 1 s, then 1 GPU for 4 s, over 2 GPUs × 15 s.
  CHECK(r.mean_utilisation_pct == doctest::Approx(100.0 * (20 + 2 + 4) / 30));

  options.queueing = QueueingPolicy::strict;
  const auto strict = run_replay(nodes, std::vector<Request>{a, b, c}, options).value_or_throw();
  CHECK(strict.completed == 3);
}

TEST_CASE("mean and sample standard deviation") {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  const auto m = mean_sd(v);
  CHECK(m.mean == 5);
  CHECK(m.sd == doctest::Approx(2.138).epsilon(0.001));
  CHECK(mean_sd(std::vector<double>{3}).sd == 0);
}

}  // namespace gpuorch::sched
