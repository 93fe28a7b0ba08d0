#include <gpuorch/control/work_queue.hpp>

#include <algorithm>
#include <cmath>

#include <gpuorch/obs/watch_metrics.hpp>

namespace gpuorch::control {

WorkQueue::WorkQueue(kube::Clock& clock, WorkQueueOptions options)
    : m_clock(clock), m_options(options), m_tokens(static_cast<double>(options.burst)) {}

namespace {
std::size_t lane_index(WorkQueue::Priority p) {
  return p == WorkQueue::Priority::high ? 1 : 0;
}
}  // namespace

void WorkQueue::push_ready_locked(const std::string& key, Priority priority) {
  if (m_ready == 0) {
    m_last_progress = m_clock.monotonic();
  }
  ++m_ready;
  m_lanes[lane_index(priority)].push_back(key);
  m_cv.notify_one();
}

void WorkQueue::add_locked(const std::string& key, Priority priority) {
  if (m_shutting_down) {
    return;
  }
  if (auto it = m_dirty.find(key); it != m_dirty.end()) {
    if (priority == Priority::high && it->second == Priority::normal) {
      // Moves ahead: its normal entry becomes stale.
      it->second = Priority::high;
      if (!m_processing.contains(key)) {
        m_lanes[lane_index(Priority::high)].push_back(key);
        m_cv.notify_one();
      }
    }
    return;
  }
  m_dirty.emplace(key, priority);
  if (m_metrics != nullptr) {
    m_metrics->queue_added();
    m_added_at.emplace(key, m_clock.monotonic());
  }
  // A key being processed is queued again only by done(): never two workers on one key.
  if (!m_processing.contains(key)) {
    push_ready_locked(key, priority);
  }
}

void WorkQueue::add(const std::string& key, Priority priority) {
  std::lock_guard lock(m_mutex);
  // An immediate add supersedes a delayed one.
  if (auto it = m_waiting.find(key); it != m_waiting.end()) {
    m_timers.erase({it->second, key});
    m_waiting.erase(it);
  }
  add_locked(key, priority);
}

void WorkQueue::add_after(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds::zero()) {
    add(key);
    return;
  }
  add_at(key, m_clock.monotonic() + delay);
}

void WorkQueue::add_at(const std::string& key, TimePoint at) {
  std::lock_guard lock(m_mutex);
  if (m_shutting_down) {
    return;
  }
  if (at <= m_clock.monotonic()) {
    if (auto it = m_waiting.find(key); it != m_waiting.end()) {
      m_timers.erase({it->second, key});
      m_waiting.erase(it);
    }
    add_locked(key, Priority::normal);
    return;
  }
  if (m_dirty.contains(key)) {
    return;  // already queued (or re-queued after its processing): sooner than asked
  }
  auto it = m_waiting.find(key);
  if (it != m_waiting.end()) {
    if (it->second <= at) {
      return;  // an earlier wake-up is already set
    }
    m_timers.erase({it->second, key});
    it->second = at;
  } else {
    m_waiting.emplace(key, at);
  }
  m_timers.emplace(at, key);
  m_cv.notify_all();  // a sleeping get() may have to wake earlier now
}

std::chrono::nanoseconds WorkQueue::when(const std::string& key) {
  std::lock_guard lock(m_mutex);
  const int failures = m_failures[key]++;
  const double base = std::chrono::duration<double>(m_options.backoff_base).count();
  const double cap = std::chrono::duration<double>(m_options.backoff_cap).count();
  const double backoff = std::min(cap, base * std::pow(2.0, std::min(failures, 62)));

  double bucket = 0;
  if (m_options.qps > 0) {
    const auto now = m_clock.monotonic();
    if (m_bucket_started) {
      const double elapsed = std::chrono::duration<double>(now - m_bucket_last).count();
      m_tokens = std::min(static_cast<double>(m_options.burst), m_tokens + elapsed * m_options.qps);
    }
    m_bucket_started = true;
    m_bucket_last = now;
    m_tokens -= 1;
    if (m_tokens < 0) {
      bucket = -m_tokens / m_options.qps;
    }
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(std::max(backoff, bucket)));
}

void WorkQueue::add_rate_limited(const std::string& key) {
  if (m_metrics != nullptr) {
    m_metrics->queue_retried();
  }
  add_after(key, when(key));
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(m_mutex);
  m_failures.erase(key);
}

int WorkQueue::num_requeues(const std::string& key) const {
  std::lock_guard lock(m_mutex);
  const auto it = m_failures.find(key);
  return it == m_failures.end() ? 0 : it->second;
}

void WorkQueue::promote_due_locked(TimePoint now) {
  while (!m_timers.empty() && m_timers.begin()->first <= now) {
    auto key = m_timers.begin()->second;
    m_timers.erase(m_timers.begin());
    m_waiting.erase(key);
    add_locked(key, Priority::normal);
  }
}

std::optional<std::string> WorkQueue::pop_lane_locked(Priority lane) {
  auto& q = m_lanes[lane_index(lane)];
  while (!q.empty()) {
    auto key = std::move(q.front());
    q.pop_front();
    const auto it = m_dirty.find(key);
    if (it == m_dirty.end() || it->second != lane || m_processing.contains(key)) {
      continue;  // stale: moved to the other lane, or handed out through another entry
    }
    m_dirty.erase(it);
    return key;
  }
  return std::nullopt;
}

std::optional<std::string> WorkQueue::pop_locked() {
  if (m_shutting_down || m_ready == 0) {
    return std::nullopt;
  }
  // High first, but after high_burst of them in a row a waiting normal key goes.
  std::optional<std::string> key;
  if (m_high_streak < std::max(1, m_options.high_burst)) {
    key = pop_lane_locked(Priority::high);
    if (key) {
      ++m_high_streak;
    }
  }
  if (!key) {
    key = pop_lane_locked(Priority::normal);
    if (key) {
      m_high_streak = 0;
    } else {
      key = pop_lane_locked(Priority::high);  // no normal key ready: no one to be fair to
    }
  }
  if (!key) {
    return std::nullopt;
  }
  --m_ready;
  m_processing.insert(*key);
  m_last_progress = m_clock.monotonic();
  if (m_metrics != nullptr) {
    if (auto it = m_added_at.find(*key); it != m_added_at.end()) {
      m_metrics->observe_queue_wait(m_last_progress - it->second);
      m_added_at.erase(it);
    }
  }
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(m_mutex);
  while (!m_shutting_down) {
    promote_due_locked(m_clock.monotonic());
    if (auto key = pop_locked()) {
      return key;
    }
    if (m_timers.empty()) {
      m_cv.wait(lock);
    } else {
      const auto wait = m_timers.begin()->first - m_clock.monotonic();
      // Bounded so that a clock that is not the real one is still looked at.
      m_cv.wait_for(lock, std::clamp<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(1),
                                                               std::chrono::milliseconds(1000)));
    }
  }
  return std::nullopt;
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard lock(m_mutex);
  promote_due_locked(m_clock.monotonic());
  return pop_locked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(m_mutex);
  m_processing.erase(key);
  m_last_progress = m_clock.monotonic();
  if (const auto it = m_dirty.find(key); it != m_dirty.end() && !m_shutting_down) {
    push_ready_locked(key, it->second);
  }
  if (m_processing.empty()) {
    m_idle_cv.notify_all();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard lock(m_mutex);
  m_shutting_down = true;
  for (auto& lane : m_lanes) {
    lane.clear();
  }
  m_dirty.clear();
  m_ready = 0;
  m_waiting.clear();
  m_timers.clear();
  m_added_at.clear();
  m_cv.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(m_mutex);
  return m_shutting_down;
}

bool WorkQueue::wait_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(m_mutex);
  return m_idle_cv.wait_for(lock, timeout, [this] { return m_processing.empty(); });
}

std::size_t WorkQueue::len() const {
  std::lock_guard lock(m_mutex);
  return m_ready;
}

std::size_t WorkQueue::delayed() const {
  std::lock_guard lock(m_mutex);
  return m_timers.size();
}

std::size_t WorkQueue::processing() const {
  std::lock_guard lock(m_mutex);
  return m_processing.size();
}

std::optional<WorkQueue::TimePoint> WorkQueue::next_due() const {
  std::lock_guard lock(m_mutex);
  if (m_timers.empty()) {
    return std::nullopt;
  }
  return m_timers.begin()->first;
}

void WorkQueue::set_metrics(obs::WatchMetrics* metrics) {
  std::lock_guard lock(m_mutex);
  m_metrics = metrics;
}

std::chrono::nanoseconds WorkQueue::stalled_for() const {
  std::lock_guard lock(m_mutex);
  if (m_shutting_down || m_ready == 0) {
    return std::chrono::nanoseconds::zero();
  }
  return std::max(std::chrono::nanoseconds::zero(), m_clock.monotonic() - m_last_progress);
}

void WorkQueue::poke() {
  std::lock_guard lock(m_mutex);
  m_cv.notify_all();
}

}  // namespace gpuorch::control
