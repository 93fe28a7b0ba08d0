#include <gpuorch/sched/queue.hpp>

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace gpuorch::sched {

Result<QueueingPolicy> parse_queueing_policy(std::string_view text) {
  if (text == "best-effort" || text == "besteffort" || text == "BestEffort") {
    return QueueingPolicy::best_effort;
  }
  if (text == "strict" || text == "Strict") {
    return QueueingPolicy::strict;
  }
  return Error(ErrorCode::usage, fmt::format("unknown queueing policy \"{}\" (known: best-effort, strict)", text));
}

std::string_view to_string(QueueingPolicy policy) {
  return policy == QueueingPolicy::strict ? "strict" : "best-effort";
}

bool queue_before(const Request& a, const Request& b) {
  if (a.priority != b.priority) {
    return a.priority > b.priority;
  }
  if (a.creation_time != b.creation_time) {
    return a.creation_time < b.creation_time;
  }
  return a.name < b.name;
}

std::vector<std::size_t> queue_order(std::span<const Request> requests) {
  std::vector<std::size_t> order(requests.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return queue_before(requests[a], requests[b]); });
  return order;
}

std::vector<QueueOutcome> schedule_queue(Placer& placer, std::span<const Request> requests, QueueingPolicy policy,
                                         const PlaceOptions& options) {
  std::vector<QueueOutcome> outcomes;
  outcomes.reserve(requests.size());
  std::optional<std::size_t> blocker;
  for (const auto index : queue_order(requests)) {
    QueueOutcome outcome;
    outcome.index = index;
    if (blocker) {
      outcome.blocked_by = blocker;
      // Still explain why it could not go on its own, without committing.
      PlaceOptions dry = options;
      dry.commit = false;
      outcome.decision = placer.place(requests[index], dry);
      outcome.decision.placed = false;
      if (!outcome.decision.summary) {
        const PreparedRequest prepared(placer.state(), requests[index]);
        outcome.decision.summary = summarize(placer.state(), prepared);
      }
    } else {
      outcome.decision = placer.place(requests[index], options);
      if (!outcome.decision.placed && policy == QueueingPolicy::strict) {
        blocker = index;
      }
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

}  // namespace gpuorch::sched
