#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/queue.hpp>
#include <gpuorch/sched/request.hpp>
#include <gpuorch/sched/strategy.hpp>

namespace gpuorch::sched {

/// Called now and then with the fraction of the run done (0..1); may be empty.
using ProgressFn = std::function<void(double)>;

/// The FGD paper's "inflation" packing experiment (Weng et al., ATC '23).
struct PackingOptions {
  std::string strategy = "BestFit";
  std::uint64_t seed = 42;
  double inflate = 1.3;              ///< grow the workload to this multiple of the cluster's GPU capacity
  double curve_step = 1.0;           ///< sample the curves every this many arrived-% points
  StrategyOptions strategy_options;  ///< seed and mix are filled in by the run
};

struct PackingPoint {
  double arrived_pct = 0;        ///< summed GPU request so far (failed too) over capacity
  double unallocated_pct = 0;    ///< 100 − used over capacity
  double fragmentation_pct = 0;  ///< GPU capacity stranded for the workload mix, over capacity
};

struct PackingResult {
  std::string strategy;
  std::uint64_t seed = 0;
  std::size_t workloads = 0;  ///< after inflation
  std::size_t placed = 0;
  std::size_t failed = 0;
  double unallocated_at_100 = 0;  ///< unallocated GPU % when arrived first reaches 100 %
  double fragmentation_at_100 = 0;
  double final_unallocated = 0;
  /// The state each time arrived % first reaches a multiple of curve_step
  /// (arrived_pct is that multiple), starting with the empty cluster at 0.
  std::vector<PackingPoint> curve;
};

/// Runs the experiment: sort the workloads by name, shuffle them with the
/// seed, append copies drawn uniformly with replacement until the summed GPU
/// request would exceed `inflate` × capacity, then place them one at a time
/// with nothing departing. Fragmentation is measured against the mix of the
/// given workloads (95 % coverage), which MinFragmentation also optimises for.
Result<PackingResult> run_packing(std::span<const NodeSpec> nodes, std::span<const Request> workloads,
                                  const PackingOptions& options, const ProgressFn& progress = {});

/// A time-driven replay: workloads arrive at creation_time, run for duration
/// seconds and leave; the queue is scheduled at every arrival and departure.
struct ReplayOptions {
  std::string strategy = "LeastLoaded";
  std::uint64_t seed = 42;
  QueueingPolicy queueing = QueueingPolicy::best_effort;
  std::size_t samples = 200;  ///< points of the utilisation / queue-length timeline
  StrategyOptions strategy_options;
};

struct ReplayPoint {
  double time = 0;             ///< seconds since the first arrival
  double utilisation_pct = 0;  ///< GPU capacity in use
  std::size_t queued = 0;      ///< workloads waiting
  std::size_t running = 0;
};

struct Percentiles {
  double mean = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  double max = 0;
};

struct ReplayResult {
  std::string strategy;
  std::uint64_t seed = 0;
  std::size_t workloads = 0;
  std::size_t completed = 0;
  /// Workloads no node could ever hold (e.g. more GPUs than the largest node): left out.
  std::size_t unplaceable = 0;
  Percentiles queueing_delay;       ///< seconds from arrival to start
  Percentiles completion_time;      ///< seconds from arrival to end (JCT)
  double makespan = 0;              ///< seconds from the first arrival to the last end
  double mean_utilisation_pct = 0;  ///< time-weighted over the makespan
  std::size_t max_queued = 0;
  std::vector<ReplayPoint> timeline;
};

Result<ReplayResult> run_replay(std::span<const NodeSpec> nodes, std::span<const Request> workloads,
                                const ReplayOptions& options, const ProgressFn& progress = {});

/// Mean and sample standard deviation (0 for fewer than two values).
struct MeanSd {
  double mean = 0;
  double sd = 0;
};
MeanSd mean_sd(std::span<const double> values);

}  // namespace gpuorch::sched
