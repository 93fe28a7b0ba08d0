#pragma once

// Factories of the built-in strategies, one file each in this folder; the
// registry (strategy.cpp) lists them.

#include <memory>

#include <gpuorch/sched/strategy.hpp>

namespace gpuorch::sched::strategies {

std::unique_ptr<Strategy> make_least_loaded(const StrategyOptions& options);
std::unique_ptr<Strategy> make_random(const StrategyOptions& options);
std::unique_ptr<Strategy> make_cost_optimized(const StrategyOptions& options);
std::unique_ptr<Strategy> make_best_fit(const StrategyOptions& options);
std::unique_ptr<Strategy> make_min_fragmentation(const StrategyOptions& options);

}  // namespace gpuorch::sched::strategies
