#pragma once

#include <atomic>
#include <chrono>

#include <gpuorch/base/result.hpp>

namespace gpuorch {

/// Cooperative cancellation. Whoever owns a long-running operation (the CLI's
/// SIGINT/SIGTERM handler, a test, a controller shutting down) cancels the
/// token; library loops poll it at safe points (between requests, between
/// reconcile passes, while backing off) and return Error(ErrorCode::cancelled).
/// The library never installs signal handlers itself.
///
/// cancel(), cancelled() and reason() are lock-free and async-signal-safe.
class CancelToken {
 public:
  /// reason() of a token cancelled by code rather than by a signal.
  static constexpr int k_requested = -1;

  CancelToken() = default;
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  /// Cancels the token. `reason` is the signal number when a signal handler
  /// calls it, k_requested otherwise. The first reason wins.
  void cancel(int reason = k_requested) noexcept {
    int expected = 0;
    m_reason.compare_exchange_strong(expected, reason == 0 ? k_requested : reason);
  }

  [[nodiscard]] bool cancelled() const noexcept { return m_reason.load() != 0; }

  /// 0 while not cancelled; else the signal number or k_requested.
  [[nodiscard]] int reason() const noexcept { return m_reason.load(); }

  /// Ok while not cancelled; else Error(cancelled, "<what> cancelled").
  [[nodiscard]] Status check(std::string_view what = "operation") const;

  /// Sleeps for `duration` unless cancelled first. Returns false when the
  /// token is (or becomes) cancelled, true after the full duration. Wakes up
  /// within k_poll_interval of a cancellation.
  bool wait_for(std::chrono::milliseconds duration) const;

  static constexpr std::chrono::milliseconds k_poll_interval{20};

 private:
  static_assert(std::atomic<int>::is_always_lock_free, "signal handlers need a lock-free flag");
  std::atomic<int> m_reason{0};
};

}  // namespace gpuorch
