#include <gpuorch/sched/strategy.hpp>

#include <gpuorch/base/strings.hpp>

#include <cctype>

#include <fmt/format.h>

#include "strategies/strategies.hpp"

namespace gpuorch::sched {

StrategyRegistry& StrategyRegistry::builtin() {
  static StrategyRegistry registry = [] {
    StrategyRegistry r;
    r.add("LeastLoaded", "the node with the most free GPU capacity; spreads load", strategies::make_least_loaded);
    r.add("Random", "a uniformly random feasible node and GPU (seeded)", strategies::make_random);
    r.add("CostOptimized", "the cheapest node per GPU-hour; unpriced nodes last; ties by LeastLoaded",
          strategies::make_cost_optimized);
    r.add("BestFit", "the node with the least normalised CPU and GPU left over; packs", strategies::make_best_fit);
    r.add("MinFragmentation", "the node and GPU that least increase the GPU capacity stranded for the workload mix",
          strategies::make_min_fragmentation);
    return r;
  }();
  return registry;
}

void StrategyRegistry::add(std::string name, std::string summary, StrategyFactory factory) {
  for (auto& e : m_entries) {
    if (e.name == name) {
      e.summary = std::move(summary);
      e.factory = std::move(factory);
      return;
    }
  }
  m_entries.push_back(Entry{std::move(name), std::move(summary), std::move(factory)});
}

Result<std::string> StrategyRegistry::canonical(std::string_view name) const {
  for (const auto& e : m_entries) {
    if (iequals(e.name, name)) {
      return e.name;
    }
  }
  std::string known;
  for (const auto& e : m_entries) {
    known += known.empty() ? e.name : ", " + e.name;
  }
  return Error(ErrorCode::usage, fmt::format("unknown strategy \"{}\" (known: {})", name, known));
}

Result<std::unique_ptr<Strategy>> StrategyRegistry::make(std::string_view name, const StrategyOptions& options) const {
  GPUORCH_ASSIGN_OR_RETURN(const auto canonical_name, canonical(name));
  for (const auto& e : m_entries) {
    if (e.name == canonical_name) {
      return e.factory(options);
    }
  }
  return Error(ErrorCode::internal, "strategy registry is inconsistent");
}

std::vector<std::string> StrategyRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(m_entries.size());
  for (const auto& e : m_entries) {
    out.push_back(e.name);
  }
  return out;
}

std::string StrategyRegistry::summary(std::string_view name) const {
  for (const auto& e : m_entries) {
    if (iequals(e.name, name)) {
      return e.summary;
    }
  }
  return {};
}

Result<std::unique_ptr<Strategy>> make_strategy(std::string_view name, const StrategyOptions& options) {
  return StrategyRegistry::builtin().make(name, options);
}

}  // namespace gpuorch::sched
