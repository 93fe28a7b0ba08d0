#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gpuorch/sandbox/store.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::chaos {

/// What the watcher counted. Every `*_violations` field must stay 0.
struct InvariantReport {
  std::uint64_t events = 0;                      ///< changes of jobs, pods and workloads checked
  std::uint64_t duplicate_violations = 0;        ///< a workload with two live Jobs at once
  std::uint64_t overcommit_violations = 0;       ///< a node with more GPUs committed than it has
  std::uint64_t wrong_node_violations = 0;       ///< a pod bound to another node than its Job pins
  std::uint64_t unschedulable_violations = 0;    ///< a gpuorch pod marked Unschedulable
  std::uint64_t unowned_job_violations = 0;      ///< a gpuorch Job without an ownerReference to its workload
  std::uint64_t early_finalizer_violations = 0;  ///< a workload gone while a live Job of it remained
  std::uint64_t regression_violations = 0;       ///< a terminal phase that changed again
  std::uint64_t peak_live_jobs = 0;
  std::uint64_t jobs_created = 0;
  std::vector<std::string> examples;  ///< the first few violations, in words

  [[nodiscard]] std::uint64_t violations() const {
    return duplicate_violations + overcommit_violations + wrong_node_violations + unschedulable_violations +
           unowned_job_violations + early_finalizer_violations + regression_violations;
  }
};

/// What happened to one workload's Jobs over the whole run (by workload uid).
struct WorkloadHistory {
  std::string key;  ///< "<namespace>/<name>"
  std::set<std::string> job_names;
  int jobs_failed = 0;
  int jobs_complete = 0;
};

/// Follows every committed change of Jobs, Pods and GPUWorkloads in the
/// store, in resourceVersion order, and checks the reconciler's invariants
/// after each one:
/// - at most one live Job (not finished, not being deleted) per workload;
/// - per node, the GPUs of live gpuorch pods bound there plus those of live
///   Jobs pinned there whose pod is not bound yet never exceed its
///   allocatable nvidia.com/gpu (the same accounting the reconciler must do);
/// - pods run on the node their Job pins; none is ever Unschedulable;
/// - every Job has an ownerReference to its GPUWorkload;
/// - a workload disappears only after its live Jobs did (finalizer order);
/// - Succeeded and Failed never change again.
class InvariantWatcher {
 public:
  explicit InvariantWatcher(sandbox::Store& store);
  ~InvariantWatcher();
  InvariantWatcher(const InvariantWatcher&) = delete;
  InvariantWatcher& operator=(const InvariantWatcher&) = delete;

  /// Opens the watches (from the current state) and starts the thread.
  void start();
  /// Processes everything committed so far, then stops.
  void stop();
  /// Processes everything committed so far (on the caller's thread when stopped).
  void catch_up();

  [[nodiscard]] InvariantReport report() const;
  [[nodiscard]] std::map<std::string, WorkloadHistory> histories() const;
  /// Live Jobs now (not finished, not being deleted).
  [[nodiscard]] std::size_t live_jobs() const;

 private:
  struct JobState {
    std::string workload_uid;
    std::string node;
    std::int64_t gpus = 0;
    bool finished = false;
    bool deleting = false;
    std::set<std::string> pods;
  };
  struct PodState {
    std::string job_uid;
    std::string node;
    std::int64_t gpus = 0;
    bool ended = false;
  };
  struct WorkloadState {
    std::string key;
    std::string phase;
  };

  void loop();
  void drain_locked();
  void apply_locked(const std::string& kind, const sandbox::WatchEvent& event);
  void on_job_locked(const std::string& type, const nlohmann::json& job);
  void on_pod_locked(const std::string& type, const nlohmann::json& pod);
  void on_workload_locked(const std::string& type, const nlohmann::json& workload);
  void check_workload_jobs_locked(const std::string& workload_uid, const std::string& name);
  void check_node_locked(const std::string& node, std::uint64_t rv);
  [[nodiscard]] std::int64_t committed_locked(const std::string& node) const;
  void violation_locked(std::uint64_t& counter, const std::string& text);

  sandbox::Store& m_store;
  std::shared_ptr<sandbox::Watch> m_jobs;
  std::shared_ptr<sandbox::Watch> m_pods;
  std::shared_ptr<sandbox::Watch> m_workloads;
  std::thread m_thread;
  std::atomic<bool> m_stop{false};

  mutable std::mutex m_mutex;
  std::vector<std::pair<std::string, sandbox::WatchEvent>> m_pending;
  std::map<std::string, std::int64_t> m_capacity;  ///< node -> allocatable GPUs
  std::map<std::string, JobState> m_job_state;     ///< by uid
  std::map<std::string, PodState> m_pod_state;     ///< by uid
  std::map<std::string, WorkloadState> m_workload_state;
  std::map<std::string, WorkloadHistory> m_history;
  std::set<std::string> m_unschedulable_pods;
  std::set<std::string> m_overcommitted_nodes;  ///< currently over, to count episodes not events
  std::set<std::string> m_duplicated_workloads;
  std::uint64_t m_rv = 0;
  InvariantReport m_report;
};

}  // namespace gpuorch::chaos
