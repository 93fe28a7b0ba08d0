#include <gpuorch/sched/simulator.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <queue>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/rng.hpp>
#include <gpuorch/sched/workload_mix.hpp>

namespace gpuorch::sched {
namespace {

Result<ClusterState> build_state(std::span<const NodeSpec> nodes) {
  ClusterState state;
  for (const auto& spec : nodes) {
    GPUORCH_TRY(state.add_node(spec));
  }
  if (state.size() == 0) {
    return Error(ErrorCode::usage, "the cluster has no nodes");
  }
  return state;
}

Status validate_all(std::span<const Request> workloads) {
  for (const auto& w : workloads) {
    GPUORCH_TRY(w.validate());
  }
  return {};
}

double pct(std::int64_t part, std::int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Percentiles summarize_values(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) {
    return p;
  }
  std::sort(values.begin(), values.end());
  p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  p.p50 = percentile(values, 50);
  p.p95 = percentile(values, 95);
  p.p99 = percentile(values, 99);
  p.max = values.back();
  return p;
}

}  // namespace

MeanSd mean_sd(std::span<const double> values) {
  MeanSd out;
  if (values.empty()) {
    return out;
  }
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (values.size() > 1) {
    double sq = 0;
    for (const auto v : values) {
      sq += (v - out.mean) * (v - out.mean);
    }
    out.sd = std::sqrt(sq / static_cast<double>(values.size() - 1));
  }
  return out;
}

Result<PackingResult> run_packing(std::span<const NodeSpec> nodes, std::span<const Request> workloads,
                                  const PackingOptions& options, const ProgressFn& progress) {
  GPUORCH_TRY(validate_all(workloads));
  if (workloads.empty()) {
    return Error(ErrorCode::usage, "packing needs at least one workload");
  }
  if (!(options.inflate > 0) || options.inflate > 100) {
    return Error(ErrorCode::usage, fmt::format("--inflate must be in (0, 100], got {}", options.inflate));
  }
  if (!(options.curve_step > 0)) {
    return Error(ErrorCode::usage, "the curve step must be > 0");
  }
  GPUORCH_ASSIGN_OR_RETURN(auto state, build_state(nodes));
  const std::int64_t capacity = state.total_gpu_milli();
  if (capacity == 0) {
    return Error(ErrorCode::usage, "packing needs GPU nodes: the cluster has no GPUs");
  }

  // 1. Sort by name, shuffle with the seed.
  std::vector<std::size_t> order(workloads.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return workloads[a].name < workloads[b].name; });
  Rng rng(options.seed);
  rng.shuffle(std::span<std::size_t>(order));
  // 2. Inflate with copies drawn uniformly with replacement.
  const auto target = static_cast<std::int64_t>(std::llround(options.inflate * static_cast<double>(capacity)));
  // A trace that already asks for more than the target is cut where it would pass it.
  std::int64_t requested = 0;
  bool truncated = false;
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (requested + workloads[order[k]].total_gpu_milli() > target) {
      order.resize(k);
      truncated = true;
      break;
    }
    requested += workloads[order[k]].total_gpu_milli();
  }
  const bool any_gpu =
      std::any_of(workloads.begin(), workloads.end(), [](const Request& r) { return r.total_gpu_milli() > 0; });
  while (any_gpu && !truncated && requested <= target) {
    const std::size_t i = rng.below(workloads.size());
    if (requested + workloads[i].total_gpu_milli() > target) {
      break;
    }
    requested += workloads[i].total_gpu_milli();
    order.push_back(i);
  }

  StrategyOptions strategy_options = options.strategy_options;
  strategy_options.seed = options.seed;
  if (strategy_options.mix.empty()) {
    strategy_options.mix = WorkloadMix::from_requests(workloads);
  }
  GPUORCH_ASSIGN_OR_RETURN(auto strategy, make_strategy(options.strategy, strategy_options));
  FragmentationMeter meter(state, strategy_options.mix);
  Placer placer(state, *strategy);

  PackingResult result;
  result.strategy = std::string(strategy->name());
  result.seed = options.seed;
  result.workloads = order.size();
  result.curve.push_back(PackingPoint{0.0, 100.0, pct(std::llround(meter.total()), capacity)});
  // 3. Place one at a time, nothing departs.
  std::int64_t arrived = 0;
  std::size_t next_step = 1;
  bool reached_100 = false;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& w = workloads[order[k]];
    arrived += w.total_gpu_milli();
    PlaceOptions quiet;
    quiet.summarize_failures = false;
    const auto decision = placer.place(w, quiet);
    if (decision.placed) {
      ++result.placed;
      meter.node_changed(decision.node);
    } else {
      ++result.failed;
    }
    const double arrived_pct = pct(arrived, capacity);
    const auto unallocated = [&] { return 100.0 - pct(state.used_gpu_milli(), capacity); };
    const auto fragmentation = [&] { return 100.0 * meter.total() / static_cast<double>(capacity); };
    if (!reached_100 && arrived_pct >= 100.0 - 1e-9) {
      reached_100 = true;
      result.unallocated_at_100 = unallocated();
      result.fragmentation_at_100 = fragmentation();
    }
    // One point per grid step crossed, so that curves of different seeds align.
    while (static_cast<double>(next_step) * options.curve_step <= arrived_pct + 1e-9) {
      result.curve.push_back(
          PackingPoint{static_cast<double>(next_step) * options.curve_step, unallocated(), fragmentation()});
      ++next_step;
    }
    if (progress && (k & 1023U) == 0) {
      progress(static_cast<double>(k) / static_cast<double>(order.size()));
    }
  }
  result.final_unallocated = 100.0 - pct(state.used_gpu_milli(), capacity);
  if (!reached_100) {
    result.unallocated_at_100 = result.final_unallocated;
    result.fragmentation_at_100 = 100.0 * meter.total() / static_cast<double>(capacity);
  }
  return result;
}

Result<ReplayResult> run_replay(std::span<const NodeSpec> nodes, std::span<const Request> workloads,
                                const ReplayOptions& options, const ProgressFn& progress) {
  GPUORCH_TRY(validate_all(workloads));
  GPUORCH_ASSIGN_OR_RETURN(auto state, build_state(nodes));
  StrategyOptions strategy_options = options.strategy_options;
  strategy_options.seed = options.seed;
  if (strategy_options.mix.empty()) {
    strategy_options.mix = WorkloadMix::from_requests(workloads);
  }
  GPUORCH_ASSIGN_OR_RETURN(auto strategy, make_strategy(options.strategy, strategy_options));

  ReplayResult result;
  result.strategy = std::string(strategy->name());
  result.seed = options.seed;
  result.workloads = workloads.size();
  if (workloads.empty()) {
    return result;
  }

  // Workloads that no node could hold even when empty never enter the queue:
  // they would block a strict queue forever. Checked once per distinct shape.
  std::vector<std::uint8_t> placeable(workloads.size(), 0);
  {
    ClusterState empty;
    for (const auto& spec : nodes) {
      GPUORCH_TRY(empty.add_node(spec));
    }
    using Shape = std::tuple<std::int64_t, std::int64_t, std::int32_t, std::int32_t, std::vector<std::string>>;
    std::map<Shape, bool> known;
    const auto fits_somewhere = [&](const Request& r) {
      const PreparedRequest prepared(empty, r);
      for (NodeId id = 0; id < empty.size(); ++id) {
        if (check_node(empty, id, prepared) == FilterReason::fits) {
          return true;
        }
      }
      return false;
    };
    for (std::size_t i = 0; i < workloads.size(); ++i) {
      const auto& r = workloads[i];
      if (!r.node_selector.empty() || !r.tolerations.empty()) {
        placeable[i] = fits_somewhere(r) ? 1 : 0;
        continue;
      }
      Shape key{r.cpu_milli, r.memory_bytes, r.gpu_count, r.gpu_milli, r.gpu_models};
      auto it = known.find(key);
      if (it == known.end()) {
        it = known.emplace(std::move(key), fits_somewhere(r)).first;
      }
      placeable[i] = it->second ? 1 : 0;
    }
  }

  std::vector<std::size_t> arrivals;
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    if (placeable[i] != 0) {
      arrivals.push_back(i);
    } else {
      ++result.unplaceable;
    }
  }
  std::stable_sort(arrivals.begin(), arrivals.end(), [&](std::size_t a, std::size_t b) {
    return workloads[a].creation_time < workloads[b].creation_time;
  });
  std::int64_t t0 = 0;
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    t0 = i == 0 ? workloads[i].creation_time : std::min(t0, workloads[i].creation_time);
  }

  Placer placer(state, *strategy);
  const auto before = [&](std::size_t a, std::size_t b) { return queue_before(workloads[a], workloads[b]); };
  std::set<std::size_t, decltype(before)> queue(before);
  struct Running {
    std::int64_t end;
    std::size_t index;
    NodeId node;
    Allocation allocation;
    bool operator>(const Running& o) const { return std::tie(end, index) > std::tie(o.end, o.index); }
  };
  std::priority_queue<Running, std::vector<Running>, std::greater<>> running;
  std::vector<double> delays;
  std::vector<double> jcts;
  delays.reserve(arrivals.size());
  jcts.reserve(arrivals.size());

  // Timeline: the state after every event; the state is constant between
  // events, so sampling it later and integrating utilisation are exact.
  std::vector<ReplayPoint> trace;
  double used_integral = 0;
  std::int64_t last_time = t0;
  const auto capacity = state.total_gpu_milli();

  PlaceOptions quiet;
  quiet.summarize_failures = false;
  const auto try_place = [&](std::size_t i, std::int64_t now) {
    const auto decision = placer.place(workloads[i], quiet);
    if (!decision.placed) {
      return false;
    }
    delays.push_back(static_cast<double>(now - workloads[i].creation_time));
    running.push(Running{now + workloads[i].duration, i, decision.node, decision.allocation});
    return true;
  };
  // A failed shape dominates any request that asks for at least as much of
  // everything (without node constraints): it cannot fit either in this pass.
  struct Failed {
    std::int64_t cpu, mem;
    std::int32_t gpus, milli;
  };
  std::vector<Failed> failed;
  const auto dominated = [&](const Request& r) {
    if (!r.node_selector.empty() || !r.gpu_models.empty() || !r.tolerations.empty()) {
      return false;
    }
    for (const auto& f : failed) {
      if (r.cpu_milli >= f.cpu && r.memory_bytes >= f.mem && r.gpu_count >= f.gpus &&
          (r.gpu_count == 0 ? 0 : r.gpu_milli) >= f.milli) {
        return true;
      }
    }
    return false;
  };
  const auto schedule_pass = [&](std::int64_t now) {
    failed.clear();
    for (auto it = queue.begin(); it != queue.end();) {
      const auto& r = workloads[*it];
      if (!dominated(r) && try_place(*it, now)) {
        it = queue.erase(it);
        continue;
      }
      if (options.queueing == QueueingPolicy::strict) {
        break;
      }
      if (r.node_selector.empty() && r.gpu_models.empty() && r.tolerations.empty() && failed.size() < 16) {
        failed.push_back(Failed{r.cpu_milli, r.memory_bytes, r.gpu_count, r.gpu_count == 0 ? 0 : r.gpu_milli});
      }
      ++it;
    }
  };

  std::size_t next_arrival = 0;
  std::size_t events = 0;
  const std::size_t total_events = 2 * arrivals.size();
  while (next_arrival < arrivals.size() || !running.empty()) {
    std::int64_t now = 0;
    if (next_arrival < arrivals.size()) {
      now = workloads[arrivals[next_arrival]].creation_time;
    }
    if (!running.empty() && (next_arrival >= arrivals.size() || running.top().end <= now)) {
      now = running.top().end;
    }
    used_integral += static_cast<double>(state.used_gpu_milli()) * static_cast<double>(now - last_time);
    last_time = now;

    bool departed = false;
    while (!running.empty() && running.top().end <= now) {
      const auto done = running.top();
      running.pop();
      GPUORCH_TRY(placer.release(done.node, done.allocation));
      jcts.push_back(static_cast<double>(done.end - workloads[done.index].creation_time));
      ++result.completed;
      departed = true;
      ++events;
    }
    const bool was_empty = queue.empty();
    std::vector<std::size_t> arrived_now;
    while (next_arrival < arrivals.size() && workloads[arrivals[next_arrival]].creation_time <= now) {
      arrived_now.push_back(arrivals[next_arrival]);
      queue.insert(arrivals[next_arrival]);
      ++next_arrival;
      ++events;
    }
    if (departed || options.queueing == QueueingPolicy::strict || was_empty) {
      schedule_pass(now);
    } else {
      // Only arrivals since the last pass: what waited before still cannot fit
      // (nothing was freed), so only the newcomers need a try.
      for (const auto i : arrived_now) {
        if (try_place(i, now)) {
          queue.erase(i);
        }
      }
    }
    result.max_queued = std::max(result.max_queued, queue.size());
    trace.push_back(ReplayPoint{static_cast<double>(now - t0), pct(state.used_gpu_milli(), capacity), queue.size(),
                                running.size()});
    if (progress && (events & 1023U) == 0) {
      progress(static_cast<double>(events) / static_cast<double>(total_events));
    }
    if (queue.empty() && running.empty() && next_arrival >= arrivals.size()) {
      break;
    }
    if (running.empty() && next_arrival >= arrivals.size() && !queue.empty()) {
      // Nothing will ever free resources: the rest cannot start (only with node constraints).
      break;
    }
  }
  result.makespan = static_cast<double>(last_time - t0);
  const std::size_t samples = std::max<std::size_t>(options.samples, 2);
  for (std::size_t k = 0; k < samples && !trace.empty(); ++k) {
    const double ts = result.makespan * static_cast<double>(k) / static_cast<double>(samples - 1);
    auto it =
        std::upper_bound(trace.begin(), trace.end(), ts, [](double t, const ReplayPoint& p) { return t < p.time; });
    ReplayPoint point = it == trace.begin() ? trace.front() : *std::prev(it);
    point.time = ts;
    result.timeline.push_back(point);
  }
  result.mean_utilisation_pct =
      result.makespan > 0 ? 100.0 * used_integral / (static_cast<double>(capacity) * result.makespan) : 0.0;
  result.queueing_delay = summarize_values(std::move(delays));
  result.completion_time = summarize_values(std::move(jcts));
  return result;
}

}  // namespace gpuorch::sched
