#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <gpuorch/kube/system.hpp>

namespace gpuorch::obs {
class WatchMetrics;
}

namespace gpuorch::control {

/// client-go's default controller rate limiter: the larger of a per-item
/// exponential backoff and an overall token bucket.
struct WorkQueueOptions {
  /// First delay after an item failed; doubles per consecutive failure of that item.
  std::chrono::milliseconds backoff_base{5};
  std::chrono::milliseconds backoff_cap{std::chrono::seconds(1000)};
  /// The overall bucket for rate-limited adds (0 disables it).
  double qps = 10;
  int burst = 100;
  /// Fairness between the two priorities: after this many high-priority keys
  /// in a row while normal ones were ready, the oldest normal one goes next,
  /// so a steady stream of high-priority keys never starves the others.
  int high_burst = 8;
};

/// A work queue of keys ("namespace/name") in the manner of client-go's
/// workqueue: a key waiting is queued once however often it is added; a key
/// being processed (between get() and done()) is never handed to a second
/// worker, and when it was added meanwhile it is queued again once done() is
/// called. Delayed adds wait in a timer heap; add_rate_limited() delays by
/// max(per-item exponential backoff, token bucket). Thread-safe. Time comes
/// from the injected clock (monotonic()); blocking waits use real time.
///
/// Two priorities: keys added with Priority::high (in the watch loop, the
/// workloads waiting to be placed) are handed out before normal ones (those
/// only following their Job), FIFO within each, de-duplicated across both (a
/// waiting key added again with high priority moves ahead; never back). At
/// most WorkQueueOptions::high_burst high keys go in a row while normal keys
/// are ready, so neither starves.
class WorkQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Priority { normal, high };

  explicit WorkQueue(kube::Clock& clock, WorkQueueOptions options = {});

  /// Queues `key` now (no effect when it is already waiting, except that
  /// Priority::high moves a waiting normal key ahead).
  void add(const std::string& key, Priority priority = Priority::normal);
  /// Queues `key` once `delay` has passed; an earlier pending add wins.
  void add_after(const std::string& key, std::chrono::nanoseconds delay);
  /// Queues `key` at monotonic time `at` (an earlier pending add wins).
  void add_at(const std::string& key, TimePoint at);
  /// Queues `key` after its rate-limited delay (a failure: its backoff grows).
  void add_rate_limited(const std::string& key);
  /// The delay add_rate_limited() would apply, and records the failure.
  std::chrono::nanoseconds when(const std::string& key);
  /// Forgets the failures of `key` (it succeeded): its backoff starts over.
  void forget(const std::string& key);
  /// Consecutive failures recorded for `key`.
  [[nodiscard]] int num_requeues(const std::string& key) const;

  /// Blocks until a key is ready or the queue is shut down (nullopt). The key
  /// is then "processing" until done(key).
  std::optional<std::string> get();
  /// Like get() without blocking: nullopt when nothing is ready now.
  std::optional<std::string> try_get();
  /// Ends the processing of `key`; re-queues it when it was added meanwhile.
  void done(const std::string& key);

  /// Stops handing out work: get() returns nullopt from now on (waiting keys
  /// are dropped; keys being processed may still call done()).
  void shut_down();
  [[nodiscard]] bool shutting_down() const;
  /// Blocks until no key is being processed, or `timeout` (real time) passes.
  bool wait_idle(std::chrono::milliseconds timeout) const;

  /// Keys ready to be handed out.
  [[nodiscard]] std::size_t len() const;
  /// Keys waiting for a delay to pass.
  [[nodiscard]] std::size_t delayed() const;
  /// Keys being processed.
  [[nodiscard]] std::size_t processing() const;
  /// When the earliest delayed key is due (nullopt when none).
  [[nodiscard]] std::optional<TimePoint> next_due() const;
  /// Wakes blocked get() calls so they re-check the clock (tests with a fake clock).
  void poke();

  /// Reports adds, rate-limited retries and each key's wait (from its add to
  /// the get() that hands it out) to `metrics` (nullptr: none), as client-go's
  /// workqueue metrics provider does. Set it before the queue is used.
  void set_metrics(obs::WatchMetrics* metrics);
  /// How long keys have been ready with none handed out or finished: zero
  /// when nothing is ready, else the time since the last get() or done() or
  /// since the queue last went from empty to non-empty, whichever is latest.
  /// A value that keeps growing means every worker is stuck (liveness).
  [[nodiscard]] std::chrono::nanoseconds stalled_for() const;

 private:
  void add_locked(const std::string& key, Priority priority);
  void push_ready_locked(const std::string& key, Priority priority);
  void promote_due_locked(TimePoint now);
  std::optional<std::string> pop_locked();
  std::optional<std::string> pop_lane_locked(Priority lane);

  kube::Clock& m_clock;
  WorkQueueOptions m_options;

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_cv;
  mutable std::condition_variable m_idle_cv;
  /// Ready keys per priority, FIFO. An entry is stale (skipped when reached)
  /// when its key is no longer dirty at that priority: it moved to the high
  /// lane, or was handed out through another entry.
  std::deque<std::string> m_lanes[2];
  /// Keys added and not yet handed out (ready, or to be re-queued by done()), with their priority.
  std::unordered_map<std::string, Priority> m_dirty;
  std::unordered_set<std::string> m_processing;
  std::size_t m_ready = 0;  ///< dirty keys not being processed (what get() can hand out)
  int m_high_streak = 0;    ///< high keys handed out in a row while normal ones waited
  /// Delayed keys: due time by key, and (due, key) ordered for the earliest.
  std::unordered_map<std::string, TimePoint> m_waiting;
  std::set<std::pair<TimePoint, std::string>> m_timers;
  std::unordered_map<std::string, int> m_failures;
  double m_tokens = 0;
  TimePoint m_bucket_last{};
  bool m_bucket_started = false;
  bool m_shutting_down = false;
  obs::WatchMetrics* m_metrics = nullptr;
  /// When each ready key was added (its queue wait), only with metrics.
  std::unordered_map<std::string, TimePoint> m_added_at;
  TimePoint m_last_progress{};
};

}  // namespace gpuorch::control
