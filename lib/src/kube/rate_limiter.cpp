#include <gpuorch/kube/rate_limiter.hpp>

#include <algorithm>

namespace gpuorch::kube {

RateLimiter::RateLimiter(double qps, int burst, Clock& clock)
    : m_qps(qps),
      m_burst(std::max(1, burst)),
      m_clock(clock),
      m_tokens(static_cast<double>(std::max(1, burst))),
      m_last(clock.monotonic()) {}

bool RateLimiter::acquire(std::stop_token stop) {
  if (m_qps <= 0) {
    return !stop.stop_requested();
  }
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard lock(m_mutex);
    const auto now = m_clock.monotonic();
    const double elapsed = std::chrono::duration<double>(now - m_last).count();
    m_last = now;
    m_tokens = std::min(m_burst, m_tokens + elapsed * m_qps);
    // Take the token now (possibly going negative): the debt is the wait, so
    // concurrent callers queue up one interval apart.
    m_tokens -= 1.0;
    if (m_tokens < 0) {
      wait = std::chrono::nanoseconds(static_cast<long long>(-m_tokens / m_qps * 1e9));
    }
  }
  if (wait.count() > 0) {
    return m_clock.sleep_for(wait, stop);
  }
  return !stop.stop_requested();
}

std::chrono::nanoseconds RateLimiter::next_wait() const {
  if (m_qps <= 0) {
    return std::chrono::nanoseconds(0);
  }
  std::lock_guard lock(m_mutex);
  const double elapsed = std::chrono::duration<double>(m_clock.monotonic() - m_last).count();
  const double tokens = std::min(m_burst, m_tokens + elapsed * m_qps) - 1.0;
  return tokens >= 0 ? std::chrono::nanoseconds(0)
                     : std::chrono::nanoseconds(static_cast<long long>(-tokens / m_qps * 1e9));
}

}  // namespace gpuorch::kube
