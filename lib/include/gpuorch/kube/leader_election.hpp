#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/lease.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// What a LeaderElector reports as it goes. Every callback is optional and
/// runs on the thread that called LeaderElector::run() (except
/// on_stopped_leading's reason, which may come from the renewal thread's
/// verdict but is delivered on run()'s thread too).
struct LeaderCallbacks {
  /// This process now holds the lease and is about to call `lead`.
  std::function<void()> on_started_leading;
  /// This process no longer leads: `why` says whether it released the lease
  /// (shutdown) or lost it (not renewed within the renew deadline, or taken over).
  std::function<void(const std::string& why)> on_stopped_leading;
  /// The holder of the lease changed as seen by this candidate ("" = nobody).
  std::function<void(const std::string& identity)> on_new_leader;
};

/// Leader election over a coordination.k8s.io/v1 Lease, as client-go's
/// leaderelection package does it (durations from the LeaseLock's config;
/// client-go's defaults are 15 s lease duration, 10 s renew deadline, 2 s
/// retry period):
/// - campaign: try to acquire every retry period (with up to 20 % jitter, so
///   standbys do not hit the API server in step) until this candidate holds
///   the lease or run() is asked to stop;
/// - lead: call `lead(token)` on the calling thread while a background thread
///   renews every retry period. The token is stopped when the lease was not
///   renewed within the renew deadline, when another candidate took it, or
///   when run()'s own stop token is requested;
/// - stop: wait for `lead` to return (so no work overlaps the next leader's),
///   then release the lease (holder cleared, duration 1 s) unless it was lost,
///   so a standby takes over within a retry period instead of a lease duration.
///
/// The renew deadline is shorter than the lease duration, so a leader that
/// cannot renew stops leading before any standby may take over.
class LeaderElector {
 public:
  /// `random` jitters the campaign's retry period (null: seeded from the OS).
  LeaderElector(std::shared_ptr<LeaseLock> lock, LeaderCallbacks callbacks = {},
                std::shared_ptr<Random> random = nullptr);

  /// Campaigns, leads and releases once (see above). Returns:
  /// - ok when `stop` was requested (while campaigning or leading) or `lead`
  ///   returned by itself; the lease was released if it was held;
  /// - an ErrorCode::conflict error "leader election lost: ..." when the
  ///   lease was lost while leading (client-go's callers exit then: the
  ///   process restarts as a fresh candidate rather than trusting state it
  ///   built as leader);
  /// - an error when campaigning fails for good (Forbidden, Unauthorized,
  ///   invalid configuration, the Lease's namespace missing). Transient API
  ///   errors are retried.
  Status run(std::stop_token stop, const std::function<void(std::stop_token)>& lead);

  /// True while leading (between on_started_leading and on_stopped_leading).
  [[nodiscard]] bool is_leader() const { return m_leading.load(); }
  /// The last holder this candidate saw ("" when none yet).
  [[nodiscard]] std::string leader() const;
  /// Why the last attempt to read or take the Lease failed; "" after one
  /// succeeded (a standby's readiness: it could take over).
  [[nodiscard]] std::string last_error() const;
  [[nodiscard]] const LeaseLock& lock() const { return *m_lock; }

 private:
  void observe_holder();

  std::shared_ptr<LeaseLock> m_lock;
  LeaderCallbacks m_callbacks;
  std::shared_ptr<Random> m_random;
  std::atomic<bool> m_leading{false};
  mutable std::mutex m_mutex;
  std::string m_leader;
  std::string m_last_error;
  bool m_seen_any = false;
};

}  // namespace gpuorch::kube
