#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// The leader-election fields of a coordination.k8s.io/v1 Lease's spec, as
/// client-go's LeaderElectionRecord holds them.
struct LeaderElectionRecord {
  std::string holder_identity;  ///< "" when nobody holds the lease
  int lease_duration_seconds = 0;
  std::optional<std::chrono::system_clock::time_point> acquire_time;
  std::optional<std::chrono::system_clock::time_point> renew_time;
  int lease_transitions = 0;
  friend bool operator==(const LeaderElectionRecord&, const LeaderElectionRecord&) = default;
};

/// Reads the record from a Lease object (missing fields stay at their zero
/// values; unparsable times are treated as absent).
[[nodiscard]] LeaderElectionRecord record_from_lease(const nlohmann::json& lease);
/// Writes the record into `lease.spec`, keeping its other fields; times are
/// metav1.MicroTime ("2026-01-02T03:04:05.123456Z").
void record_to_lease(const LeaderElectionRecord& record, nlohmann::json& lease);

/// Whether the record's holder may still be alive, so another candidate must
/// back off. As in client-go, the lease is judged by the local monotonic time
/// at which this candidate last saw the record *change* (`observed_at`) plus
/// the record's leaseDurationSeconds: no trust in the other machine's clock.
/// With `trust_record_times` a lease whose own renewTime + duration lies in the
/// past by the local wall clock is expired at once too, so a one-shot run does
/// not wait out a lease a killed run left behind (this trusts the clocks of the
/// cluster to agree to well within the lease duration).
[[nodiscard]] bool lease_still_held(const LeaderElectionRecord& record,
                                    std::chrono::steady_clock::time_point observed_at,
                                    std::chrono::steady_clock::time_point now,
                                    std::chrono::system_clock::time_point wall_now, bool trust_record_times);

/// The identity of a lease candidate: `$POD_NAME` when set (unique per pod,
/// and `kubectl get lease` then names the pod), else the host name followed by
/// "_" and 8 random hex digits, as client-go's callers do with a UUID, so two
/// processes on one machine never share an identity.
[[nodiscard]] std::string default_lease_identity(const Environment& env, Random& random);

struct LeaseLockConfig {
  std::string lease_namespace;
  std::string name;
  /// This candidate's identity (client-go uses the host name plus a unique suffix).
  std::string identity;
  /// client-go's defaults. The lease duration is whole seconds (the Lease
  /// records leaseDurationSeconds); the others may be shorter than a second.
  std::chrono::seconds lease_duration{15};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  /// See lease_still_held().
  bool trust_record_times = false;
};

/// A lock held in a coordination.k8s.io/v1 Lease with client-go's
/// leader-election semantics:
/// - acquire when the Lease is absent (create; AlreadyExists = lost), when
///   nobody holds it, when it has expired, or when it is ours (renew);
/// - every write is a PUT with the resourceVersion that was read, so of two
///   candidates racing for the same Lease exactly one wins (409 = lost);
/// - taking over from another holder sets acquireTime and increments
///   leaseTransitions; a renewal keeps both and moves renewTime;
/// - release clears holderIdentity and sets leaseDurationSeconds to 1, so
///   waiting candidates take over within a second.
/// Thread-safe. The clock is injected (null: the client's clock).
class LeaseLock {
 public:
  static Result<std::shared_ptr<LeaseLock>> create(std::shared_ptr<Client> client, LeaseLockConfig config,
                                                   std::shared_ptr<Clock> clock = nullptr);

  /// One attempt (client-go's tryAcquireOrRenew): true when this candidate
  /// holds the lease afterwards, false when another live holder has it or a
  /// racing candidate won the write. API and transport failures are errors.
  Result<bool> try_acquire_or_renew();

  /// Tries every retry_period until acquired, `stop` is requested (false) or
  /// `max_wait` has passed (false). Transient errors are retried until then;
  /// Forbidden/Unauthorized and invalid configuration return at once.
  Result<bool> acquire(std::stop_token stop, std::chrono::milliseconds max_wait);

  /// Gives the lease up if this candidate holds it (holderIdentity "",
  /// leaseDurationSeconds 1). A lease that another candidate took meanwhile is
  /// left alone.
  Status release();

  /// True while the last successful write made this candidate the holder.
  [[nodiscard]] bool is_leader() const;
  /// The holder of the last observed record ("" when none or never read).
  [[nodiscard]] std::string observed_holder() const;
  [[nodiscard]] std::optional<LeaderElectionRecord> observed_record() const;
  [[nodiscard]] const LeaseLockConfig& config() const { return m_config; }
  [[nodiscard]] Clock& clock() const { return *m_clock; }

 private:
  LeaseLock(std::shared_ptr<Client> client, LeaseLockConfig config, std::shared_ptr<Clock> clock);
  void observe_locked(const LeaderElectionRecord& record, std::chrono::steady_clock::time_point now);

  std::shared_ptr<Client> m_client;
  LeaseLockConfig m_config;
  std::shared_ptr<Clock> m_clock_owner;
  Clock* m_clock;
  mutable std::mutex m_mutex;
  std::optional<LeaderElectionRecord> m_observed;
  std::chrono::steady_clock::time_point m_observed_at{};
  bool m_leader = false;
};

/// Keeps a held lease renewed from a background thread (every retry_period)
/// while a long pass runs. When no renewal succeeds for renew_deadline, or
/// another holder took the lease, leadership is lost: lost_token() is
/// stopped, `on_lost` runs once (on the renewal thread) and renewal ends.
/// The destructor stops renewing and, unless leadership was lost, releases the
/// lease.
class LeaseRenewer {
 public:
  LeaseRenewer(std::shared_ptr<LeaseLock> lock, std::function<void(const std::string& why)> on_lost = {});
  ~LeaseRenewer();
  LeaseRenewer(const LeaseRenewer&) = delete;
  LeaseRenewer& operator=(const LeaseRenewer&) = delete;

  /// Stopped when leadership is lost; a pass polls it (or links its cancel token to it).
  [[nodiscard]] std::stop_token lost_token() const { return m_lost.get_token(); }
  [[nodiscard]] bool lost() const { return m_lost.stop_requested(); }
  /// Stops renewing and releases the lease (if still held); the result of the release.
  Status stop_and_release();

 private:
  void run(const std::stop_token& stop);

  std::shared_ptr<LeaseLock> m_lock;
  std::function<void(const std::string&)> m_on_lost;
  std::stop_source m_lost;
  std::jthread m_thread;
  bool m_released = false;
};

}  // namespace gpuorch::kube
