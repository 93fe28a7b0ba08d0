#pragma once

#include <chrono>
#include <mutex>
#include <stop_token>

#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// Client-side token bucket (client-go's QPS/burst): `burst` requests may go at
/// once, after which requests are spaced 1/qps apart. Thread-safe; waiting
/// happens outside the lock through the injected clock.
class RateLimiter {
 public:
  /// qps <= 0 disables limiting.
  RateLimiter(double qps, int burst, Clock& clock);

  /// Waits for a token. Returns false when `stop` was requested while waiting.
  bool acquire(std::stop_token stop = {});
  /// How long the next acquire() would wait (tests, metrics).
  [[nodiscard]] std::chrono::nanoseconds next_wait() const;

 private:
  double m_qps;
  double m_burst;
  Clock& m_clock;
  mutable std::mutex m_mutex;
  double m_tokens;
  std::chrono::steady_clock::time_point m_last;
};

}  // namespace gpuorch::kube
