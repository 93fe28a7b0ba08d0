#include <doctest/doctest.h>
#include <gpuorch/sched/queue.hpp>

#include "sched_test_util.hpp"

namespace gpuorch::sched {
using namespace testing;

TEST_CASE("queue order: priority desc, then creation time, then name") {
  std::vector<Request> reqs;
  const auto add = [&](const char* name, int prio, std::int64_t created) {
    auto r = gpu_request(name, 1);
    r.priority = prio;
    r.creation_time = created;
    reqs.push_back(r);
  };
  add("late-low", 0, 50);
  add("b-high", 10, 100);
  add("a-high", 10, 100);
  add("early-low", 0, 10);
  add("older-high", 10, 5);
  const auto order = queue_order(reqs);
  std::vector<std::string> names;
  for (const auto i : order) {
    names.push_back(reqs[i].name);
  }
  CHECK(names == std::vector<std::string>{"older-high", "a-high", "b-high", "early-low", "late-low"});
}

TEST_CASE("best-effort lets smaller work start behind a blocked head, strict does not") {
  std::vector<Request> reqs = {gpu_request("big", 8), gpu_request("small", 2)};
  reqs[0].priority = 5;
  for (const auto policy : {QueueingPolicy::best_effort, QueueingPolicy::strict}) {
    CAPTURE(to_string(policy));
    auto state = make_state({gpu_node("a", 4)});
    auto strategy = make_strategy("LeastLoaded").value_or_throw();
    Placer placer(state, *strategy);
    const auto outcomes = schedule_queue(placer, reqs, policy);
    REQUIRE(outcomes.size() == 2);
    CHECK(outcomes[0].index == 0);
    CHECK_FALSE(outcomes[0].decision.placed);
    CHECK(outcomes[0].decision.reason(reqs[0]) == "0/1 nodes fit: 1 have fewer than 8 GPUs");
    CHECK(outcomes[1].index == 1);
    if (policy == QueueingPolicy::best_effort) {
      CHECK(outcomes[1].decision.placed);
      CHECK(state.used_gpu_milli() == 2000);
    } else {
      CHECK_FALSE(outcomes[1].decision.placed);
      CHECK(outcomes[1].blocked_by == std::size_t{0});
      CHECK(outcomes[1].decision.reason(reqs[1]) == "1/1 nodes fit");
      CHECK(state.used_gpu_milli() == 0);
    }
  }
  CHECK(parse_queueing_policy("strict").value_or_throw() == QueueingPolicy::strict);
  CHECK(parse_queueing_policy("best-effort").value_or_throw() == QueueingPolicy::best_effort);
  CHECK_FALSE(parse_queueing_policy("fifo").ok());
}

}  // namespace gpuorch::sched
