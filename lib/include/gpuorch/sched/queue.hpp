#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/request.hpp>

namespace gpuorch::sched {

/// What happens behind a queue head that cannot be placed.
enum class QueueingPolicy {
  best_effort,  ///< later (smaller, lower-priority) workloads may still start
  strict,       ///< nothing behind the head starts until the head does
};

Result<QueueingPolicy> parse_queueing_policy(std::string_view text);
std::string_view to_string(QueueingPolicy policy);

/// Queue order: priority (descending), then creation time, then name.
bool queue_before(const Request& a, const Request& b);

/// Indices of `requests` in queue order.
std::vector<std::size_t> queue_order(std::span<const Request> requests);

/// One queue entry's outcome.
struct QueueOutcome {
  std::size_t index = 0;  ///< into the requests given
  Decision decision;
  /// Strict queueing: the index of the head that blocked this entry (it was not tried).
  std::optional<std::size_t> blocked_by;
};

/// Places the requests once, in queue order. Outcomes come in queue order.
std::vector<QueueOutcome> schedule_queue(Placer& placer, std::span<const Request> requests, QueueingPolicy policy,
                                         const PlaceOptions& options = {});

}  // namespace gpuorch::sched
