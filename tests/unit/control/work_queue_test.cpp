#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gpuorch/control/work_queue.hpp>
#include <gpuorch/obs/metrics.hpp>
#include <gpuorch/obs/watch_metrics.hpp>

namespace gpuorch::control {
namespace {

using namespace std::chrono_literals;

// Monotonic time that moves only when told to.
class StepClock final : public kube::Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(monotonic() - m_start);
  }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    std::lock_guard lock(m_mutex);
    return m_mono;
  }
  bool sleep_for(std::chrono::nanoseconds d, std::stop_token stop) override {
    advance(d);
    return !stop.stop_requested();
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(m_mutex);
    m_mono += d;
  }

 private:
  mutable std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_start{std::chrono::seconds(1000)};
  std::chrono::steady_clock::time_point m_mono{std::chrono::seconds(1000)};
};

std::vector<std::string> drain(WorkQueue& q) {
  std::vector<std::string> out;
  while (auto key = q.try_get()) {
    out.push_back(*key);
    q.done(*key);
  }
  return out;
}

// Worker threads that take keys from a queue, hold each for `pause` (a
// yield when zero) and count the times a key was handed to two at once.
class ExclusiveWorkers {
 public:
  ExclusiveWorkers(WorkQueue& queue, int count, std::chrono::microseconds pause) : m_queue(queue) {
    for (int w = 0; w < count; ++w) {
      m_threads.emplace_back([this, pause] { work(pause); });
    }
  }
  ExclusiveWorkers(const ExclusiveWorkers&) = delete;
  ExclusiveWorkers& operator=(const ExclusiveWorkers&) = delete;
  ~ExclusiveWorkers() { drain_and_join(); }

  /// Waits until nothing is queued or in progress, then stops the workers.
  void drain_and_join() {
    while (m_queue.len() > 0 || m_queue.processing() > 0) {
      std::this_thread::sleep_for(1ms);
    }
    m_queue.shut_down();
    for (auto& t : m_threads) {
      if (t.joinable()) {
        t.join();
      }
    }
  }

  std::atomic<int> overlaps{0};
  std::atomic<int> handled{0};

 private:
  void work(std::chrono::microseconds pause) {
    while (auto key = m_queue.get()) {
      {
        std::lock_guard lock(m_mutex);
        if (!m_busy.insert(*key).second) {
          ++overlaps;
        }
      }
      if (pause.count() > 0) {
        std::this_thread::sleep_for(pause);
      } else {
        std::this_thread::yield();
      }
      {
        std::lock_guard lock(m_mutex);
        m_busy.erase(*key);
      }
      ++handled;
      m_queue.done(*key);
    }
  }

  WorkQueue& m_queue;
  std::mutex m_mutex;
  std::set<std::string> m_busy;
  std::vector<std::thread> m_threads;
};

TEST_CASE("WorkQueue de-duplicates waiting keys and keeps FIFO order") {
  StepClock clock;
  WorkQueue q(clock);
  q.add("ml/a");
  q.add("ml/b");
  q.add("ml/a");
  CHECK(q.len() == 2);
  CHECK(drain(q) == std::vector<std::string>{"ml/a", "ml/b"});
  CHECK(q.len() == 0);
}

TEST_CASE("WorkQueue never hands out a key being processed and re-queues it once after done") {
  StepClock clock;
  WorkQueue q(clock);
  q.add("ml/a");
  auto first = q.try_get();
  REQUIRE(first);
  CHECK(*first == "ml/a");
  q.add("ml/a");
  q.add("ml/a");
  CHECK_FALSE(q.try_get());  // still being processed
  CHECK(q.processing() == 1);
  q.done("ml/a");
  auto again = q.try_get();
  REQUIRE(again);
  CHECK(*again == "ml/a");
  q.done("ml/a");
  CHECK_FALSE(q.try_get());  // the two adds while processing made one more run, not two
}

TEST_CASE("WorkQueue delayed adds wait for the clock and the earliest wins") {
  StepClock clock;
  WorkQueue q(clock);
  q.add_after("ml/a", 10s);
  q.add_after("ml/a", 3s);
  q.add_after("ml/a", 20s);
  q.add_after("ml/b", 5s);
  CHECK(q.delayed() == 2);
  CHECK_FALSE(q.try_get());
  clock.advance(2999ms);
  CHECK_FALSE(q.try_get());
  clock.advance(1ms);
  CHECK(drain(q) == std::vector<std::string>{"ml/a"});
  clock.advance(2s);
  CHECK(drain(q) == std::vector<std::string>{"ml/b"});
  CHECK(q.delayed() == 0);
}

TEST_CASE("WorkQueue an immediate add supersedes a delayed one") {
  StepClock clock;
  WorkQueue q(clock);
  q.add_after("ml/a", 10s);
  q.add("ml/a");
  CHECK(drain(q) == std::vector<std::string>{"ml/a"});
  clock.advance(11s);
  CHECK(drain(q).empty());  // the timer went with the immediate add
}

TEST_CASE("WorkQueue per-item backoff doubles from 5ms and caps at 1000s") {
  StepClock clock;
  WorkQueueOptions options;
  options.qps = 0;  // only the per-item part
  WorkQueue q(clock, options);
  CHECK(q.when("ml/a") == 5ms);
  CHECK(q.when("ml/a") == 10ms);
  CHECK(q.when("ml/a") == 20ms);
  CHECK(q.num_requeues("ml/a") == 3);
  CHECK(q.when("ml/b") == 5ms);  // per item
  for (int i = 0; i < 40; ++i) {
    (void)q.when("ml/a");
  }
  CHECK(q.when("ml/a") == std::chrono::nanoseconds(1000s));
  q.forget("ml/a");
  CHECK(q.num_requeues("ml/a") == 0);
  CHECK(q.when("ml/a") == 5ms);
}

TEST_CASE("WorkQueue token bucket allows a burst of 100 then 10 per second") {
  StepClock clock;
  WorkQueue q(clock);  // client-go defaults
  for (int i = 0; i < 100; ++i) {
    // Distinct keys: only the bucket delays them, and not within the burst.
    CHECK(q.when("k" + std::to_string(i)) == 5ms);
  }
  CHECK(q.when("k100") == 100ms);  // first one over the burst: 1/qps
  CHECK(q.when("k101") == 200ms);
  clock.advance(1s);  // 10 tokens back: the debt of 2 is repaid, 8 left
  for (int i = 0; i < 8; ++i) {
    CHECK(q.when("m" + std::to_string(i)) == 5ms);
  }
  CHECK(q.when("m8") == 100ms);
}

TEST_CASE("WorkQueue add_rate_limited uses the larger delay") {
  StepClock clock;
  WorkQueueOptions options;
  options.qps = 0;
  WorkQueue q(clock, options);
  q.add_rate_limited("ml/a");
  q.done("ml/a");
  CHECK_FALSE(q.try_get());
  clock.advance(5ms);
  CHECK(drain(q) == std::vector<std::string>{"ml/a"});
  q.add_rate_limited("ml/a");
  clock.advance(9ms);
  CHECK_FALSE(q.try_get());
  clock.advance(1ms);
  CHECK(drain(q) == std::vector<std::string>{"ml/a"});
}

TEST_CASE("WorkQueue shut_down wakes blocked getters and drops waiting keys") {
  StepClock clock;
  WorkQueue q(clock);
  q.add_after("ml/late", 1h);
  std::atomic<int> ended{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 3; ++i) {
    getters.emplace_back([&] {
      CHECK_FALSE(q.get());
      ++ended;
    });
  }
  std::this_thread::sleep_for(20ms);
  CHECK(ended == 0);
  q.shut_down();
  for (auto& t : getters) {
    t.join();
  }
  CHECK(ended == 3);
  q.add("ml/a");
  CHECK_FALSE(q.try_get());
  CHECK(q.delayed() == 0);
}

TEST_CASE("WorkQueue concurrent workers never process one key twice at once") {
  StepClock clock;
  WorkQueue q(clock);
  ExclusiveWorkers workers(q, 4, 50us);
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 5; ++k) {
      q.add("ml/k" + std::to_string(k));
    }
    std::this_thread::sleep_for(20us);
  }
  CHECK(q.wait_idle(5000ms));
  workers.drain_and_join();
  CHECK(workers.overlaps == 0);
  CHECK(workers.handled >= 5);
}

TEST_CASE("WorkQueue reports adds, retries and each key's wait to the watch metrics") {
  StepClock clock;
  obs::Registry registry;
  obs::WatchMetrics metrics(registry);
  WorkQueue q(clock);
  q.set_metrics(&metrics);
  q.add("ml/a");
  q.add("ml/a");  // de-duplicated: not counted
  q.add("ml/b");
  clock.advance(20ms);
  auto a = q.try_get();
  REQUIRE(a);
  q.add_rate_limited(*a);  // failed: back with backoff
  q.done(*a);
  const auto text = registry.expose();
  CHECK(text.find("gpuorch_workqueue_adds_total 2\n") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_retries_total 1\n") != std::string::npos);
  // ml/a waited 20 ms: in the 0.025 bucket, not the 0.01 one.
  CHECK(text.find("gpuorch_workqueue_queue_duration_seconds_bucket{le=\"0.01\"} 0\n") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_queue_duration_seconds_bucket{le=\"0.025\"} 1\n") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_queue_duration_seconds_count 1\n") != std::string::npos);
  clock.advance(1s);
  drain(q);
  const auto after = registry.expose();
  CHECK(after.find("gpuorch_workqueue_adds_total 3\n") != std::string::npos);  // the retry's add once due
  CHECK(after.find("gpuorch_workqueue_queue_duration_seconds_count 3\n") != std::string::npos);
}

TEST_CASE("WorkQueue stalled_for grows only while ready keys wait with no get or done") {
  StepClock clock;
  WorkQueue q(clock);
  CHECK(q.stalled_for() == 0ns);
  clock.advance(10s);
  q.add("ml/a");  // the queue just went non-empty: no stall yet, however old the last get
  CHECK(q.stalled_for() == 0ns);
  clock.advance(3s);
  CHECK(q.stalled_for() == 3s);
  auto a = q.try_get();
  REQUIRE(a);
  CHECK(q.stalled_for() == 0ns);  // nothing ready
  q.add("ml/b");
  clock.advance(2s);
  CHECK(q.stalled_for() == 2s);  // ml/a is held, ml/b waits
  q.done(*a);
  CHECK(q.stalled_for() == 0ns);  // a finish is progress
  clock.advance(1s);
  CHECK(q.stalled_for() == 1s);
  q.add_after("ml/c", 5s);  // delayed keys are not ready: no stall of their own
  drain(q);
  CHECK(q.stalled_for() == 0ns);
  q.shut_down();
  CHECK(q.stalled_for() == 0ns);
}

TEST_CASE("WorkQueue hands out high-priority keys first, FIFO within each priority") {
  StepClock clock;
  WorkQueue q(clock);
  q.add("ml/follow-1");
  q.add("ml/place-1", WorkQueue::Priority::high);
  q.add("ml/follow-2");
  q.add("ml/place-2", WorkQueue::Priority::high);
  CHECK(q.len() == 4);
  CHECK(drain(q) == std::vector<std::string>{"ml/place-1", "ml/place-2", "ml/follow-1", "ml/follow-2"});
  CHECK(q.len() == 0);
}

TEST_CASE("WorkQueue moves a waiting key ahead when it is added with high priority, never back") {
  StepClock clock;
  WorkQueue q(clock);
  q.add("ml/a");
  q.add("ml/b");
  q.add("ml/b", WorkQueue::Priority::high);  // b now needs placing: ahead of a
  CHECK(q.len() == 2);
  q.add("ml/b");  // a normal add leaves it ahead
  CHECK(q.len() == 2);
  CHECK(drain(q) == std::vector<std::string>{"ml/b", "ml/a"});  // once each: the moved entry is not handed out twice
  CHECK(q.len() == 0);
  CHECK_FALSE(q.try_get());
}

TEST_CASE("WorkQueue keeps the priority of a key added while it is processed") {
  StepClock clock;
  WorkQueue q(clock);
  q.add("ml/a");
  auto a = q.try_get();
  REQUIRE(a);
  q.add("ml/b");
  q.add("ml/a", WorkQueue::Priority::high);  // changed while being reconciled
  CHECK(q.len() == 1);                       // a waits for done()
  q.done("ml/a");
  CHECK(q.len() == 2);
  CHECK(drain(q) == std::vector<std::string>{"ml/a", "ml/b"});
}

TEST_CASE("WorkQueue never starves normal keys behind a steady stream of high-priority ones") {
  StepClock clock;
  WorkQueueOptions options;
  options.high_burst = 3;
  WorkQueue q(clock, options);
  q.add("ml/follow-1");
  q.add("ml/follow-2");
  int next_high = 0;
  const auto add_high = [&] { q.add("ml/place-" + std::to_string(next_high++), WorkQueue::Priority::high); };
  for (int i = 0; i < 4; ++i) {
    add_high();
  }
  // Every get() is followed by another high-priority add: high keys never run out.
  std::vector<std::string> order;
  for (int i = 0; i < 10; ++i) {
    auto key = q.try_get();
    REQUIRE(key);
    order.push_back(*key);
    q.done(*key);
    add_high();
  }
  const std::vector<std::string> expected = {"ml/place-0", "ml/place-1", "ml/place-2",  "ml/follow-1", "ml/place-3",
                                             "ml/place-4", "ml/place-5", "ml/follow-2", "ml/place-6",  "ml/place-7"};
  CHECK(order == expected);
  // With no normal key waiting, high keys go one after another.
  auto rest = drain(q);
  CHECK(rest.size() == static_cast<std::size_t>(next_high - 8));
  for (const auto& k : rest) {
    CHECK(k.rfind("ml/place-", 0) == 0);
  }
}

TEST_CASE("WorkQueue with concurrent workers hands each key to one worker at a time across both priorities") {
  StepClock clock;
  WorkQueue q(clock);
  ExclusiveWorkers workers(q, 4, 0us);
  for (int i = 0; i < 2000; ++i) {
    const auto key = "ml/w-" + std::to_string(i % 50);
    q.add(key, i % 3 == 0 ? WorkQueue::Priority::high : WorkQueue::Priority::normal);
  }
  CHECK(q.wait_idle(10s));
  workers.drain_and_join();
  CHECK(workers.overlaps == 0);
  CHECK(workers.handled >= 50);
  CHECK(workers.handled <= 2000);
}

}  // namespace
}  // namespace gpuorch::control
