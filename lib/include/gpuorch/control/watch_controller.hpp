#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/control/executor.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/control/work_queue.hpp>
#include <gpuorch/kube/informer.hpp>
#include <gpuorch/obs/metrics.hpp>
#include <gpuorch/obs/reconcile_metrics.hpp>
#include <gpuorch/obs/watch_metrics.hpp>

namespace gpuorch::control {

struct WatchControllerOptions {
  /// Workloads of this namespace; "" = every namespace. Jobs, pods and nodes
  /// are always watched cluster-wide (placement needs every pod's GPUs).
  std::string namespace_name;
  /// Workers reconciling keys at once (each key by one worker at a time).
  int workers = 4;
  /// Every workload is queued again this often, as a safety net (0 = never).
  std::chrono::milliseconds resync_period{std::chrono::minutes(10)};
  ReconcileOptions reconcile;
  /// Applied per workload (parallelism is forced to 1: one key per worker);
  /// `checkpoint` is called before each write batch (e.g. "still the leader?").
  ExecutorOptions executor;
  WorkQueueOptions queue;
  /// Page size, watch timeout and store of the informers (compact: the
  /// caches keep MessagePack, several times smaller than JSON trees).
  kube::InformerOptions informer = [] {
    kube::InformerOptions o;
    o.compact = true;
    return o;
  }();
  /// Seed of the Random strategy and retry jitter, mixed with each key.
  std::uint64_t seed = 0;
  /// A Job of the ledger (created by this loop) that the Job cache has not
  /// shown after this long is looked up on the server; only one the server
  /// does not have gives its GPUs back (then checked again every this long).
  std::chrono::milliseconds reservation_ttl{std::chrono::seconds(30)};
  /// How often queued wake-ups (capacity freed) and gauges are processed.
  std::chrono::milliseconds tick{std::chrono::milliseconds(50)};
  /// liveness() fails when keys have been ready this long with no worker
  /// taking or finishing one, or when the ticker has not run for this long
  /// (longer than any one reconcile may take: its requests are bounded by
  /// the client's timeouts and retries).
  std::chrono::milliseconds stall_timeout{std::chrono::minutes(2)};
};

/// Counters of what the loop did (for logs, tests and the chaos driver).
struct WatchStats {
  std::int64_t reconciles = 0;      ///< keys processed
  std::int64_t errors = 0;          ///< keys whose plan did not fully apply (requeued with backoff)
  std::int64_t writes = 0;          ///< API writes issued
  std::int64_t jobs_created = 0;    ///< create_job actions applied
  std::int64_t wakeups = 0;         ///< pending workloads woken because capacity freed
  std::int64_t resyncs = 0;         ///< periodic resyncs done
  std::int64_t reservations = 0;    ///< GPU reservations currently held
  std::int64_t watch_restarts = 0;  ///< watch streams that ended abnormally (all informers)
  std::int64_t relists = 0;         ///< lists after the first (410 Gone) of all informers
};

/// `gpuorch reconcile --watch`: informer caches (GPUWorkloads, gpuorch Jobs,
/// pods, nodes) feed a work queue of workload keys; workers reconcile one
/// workload at a time with the pure reconcile() and the executor of the
/// one-shot pass.
///
/// Placement stays consistent across workers: one cluster state is kept from
/// the caches by deltas (each pod's and Job's share of its node; only the
/// nodes that changed are derived again, and only when a workload is to be
/// placed), and a worker decides and books its placement into it under one
/// lock before it creates the Job. A workload that only follows its Job
/// never takes that lock. The booking is held in a ledger (the Job as the
/// worker built it) until the Job is seen in the cache, or the server says it
/// is not there, so no two workers book the same GPUs and a worker that looks
/// at the workload again before the cache caught up adopts its own Job
/// instead of placing twice (the server is asked only about Jobs named by a
/// status that neither the cache nor the ledger holds). The echo of the
/// loop's own workload writes (the resourceVersion it wrote) and of its own
/// Job creations queues nothing. With strict queueing, a workload whose own
/// placement failed blocks every pending workload behind it in queue order
/// (priority, creation, key) until it starts or leaves. Pending workloads are woken when a
/// node, pod or Job event frees capacity on a node (only as many as could fit
/// there, in queue order); each plan's requeue time (backoff deadlines, Job
/// checks) becomes a delayed add; a periodic resync queues everything.
///
/// Lifecycle: start() launches the informers, then the workers once every
/// cache has synced. stop() stops taking work, lets in-flight keys finish,
/// stops the informers and joins every thread. Hooks for the HTTP server and
/// leader election: synced(), the registry given to the constructor (metrics
/// of the one-shot pass plus queue depth, work duration and watch restarts),
/// ExecutorOptions::checkpoint (lose leadership: writes stop).
class WatchController {
 public:
  /// `registry` may be null (no metrics). The client must outlive the controller.
  WatchController(std::shared_ptr<kube::Client> client, WatchControllerOptions options,
                  obs::Registry* registry = nullptr);
  ~WatchController();
  WatchController(const WatchController&) = delete;
  WatchController& operator=(const WatchController&) = delete;

  /// Starts the informers and, with `workers`, the workers once every cache
  /// has synced. Without: the caches fill and follow the cluster (a warm
  /// standby) and no write goes out until start_workers(). Call once.
  void start(bool workers = true);
  /// Lets the workers start (at once when synced, else once synced): this
  /// replica became the leader. Every workload seen so far is queued.
  void start_workers();
  /// Whether the workers have been started.
  [[nodiscard]] bool workers_started() const { return m_workers_started.load(); }
  /// The liveness check (/healthz): fails with the reason when the ticker
  /// stopped ticking or when workers have left ready keys untouched for
  /// WatchControllerOptions::stall_timeout (every worker stuck). Passes while
  /// standing by and once stopping.
  [[nodiscard]] Status liveness() const;
  /// Every informer has listed once (what /readyz reports).
  [[nodiscard]] bool synced() const;
  /// Waits for synced() up to `timeout` (real time).
  bool wait_for_sync(std::chrono::milliseconds timeout) const;
  /// Stops taking work, waits for in-flight keys (up to `grace`), stops the
  /// informers and joins all threads. Idempotent. Returns false when
  /// in-flight work did not finish within `grace`.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(30));
  [[nodiscard]] bool stopped() const { return m_stopping.load(); }

  [[nodiscard]] WatchStats stats() const;
  /// Keys ready plus keys delayed.
  [[nodiscard]] std::size_t queue_depth() const;

  /// Processes one key synchronously (what a worker does); for tests.
  Status process(const std::string& key);

 private:
  struct Reservation {
    JobView job;
    std::chrono::steady_clock::time_point made;
  };
  /// What the wake-up index needs of a pending workload.
  struct PendingEntry {
    std::int32_t priority = 0;
    std::int64_t created = 0;
    std::int32_t gpus = 0;
  };
  /// Queue order of a pending workload: (-priority, creation, key).
  using QueuePosition = std::tuple<std::int32_t, std::int64_t, std::string>;
  /// What is in use on one node, summed from the pods and Jobs on it.
  using Usage = NodeTotals;
  /// One pod's or Job's share of a node's usage.
  struct Share {
    std::string node;
    std::int64_t gpus = 0;
    std::int64_t cpu_milli = 0;
    std::int64_t memory_bytes = 0;
    bool by_pod = false;
    friend bool operator==(const Share&, const Share&) = default;
  };

  void on_workload(const nlohmann::json* old_object, const nlohmann::json& object, bool deleted);
  void on_job(const nlohmann::json& object, bool deleted);
  void on_pod(const nlohmann::json& object, bool deleted);
  void on_node(const nlohmann::json& object, bool deleted);
  void worker_loop();
  void ticker_loop(std::stop_token stop);
  void wake_pending();
  Status reconcile_key(const std::string& key);
  void settle_echoes(const std::string& key);
  void own_write(const std::string& key, const std::string& resource_version);
  void check_reservations();
  // The cluster state, kept from the caches by deltas (callers hold m_state_mutex).
  void refresh_locked();
  void apply_usage_locked(sched::NodeId id);
  void set_share_locked(std::unordered_map<std::string, Share>& shares, const std::string& key,
                        std::optional<Share> share);
  void account_pod_locked(const std::string& pod_key);
  void account_job_locked(const std::string& job_key);
  void release_reservation_locked(const std::string& job_key);
  // Wake-ups and strict queueing across keys (callers hold m_state_mutex).
  std::optional<std::string> strict_blocker_locked(const QueuePosition& position) const;
  void set_waiting_locked(const std::string& key, std::optional<QueuePosition> position, bool unplaceable);
  void requeue_after_plan(const std::string& key, const Plan& plan);
  void update_gauges();
  void update_watch_gauges();
  void log_informer_counters() const;
  void note_tick();

  std::shared_ptr<kube::Client> m_client;
  WatchControllerOptions m_options;
  obs::Registry* m_registry;
  std::unique_ptr<obs::ReconcileMetrics> m_metrics;
  std::unique_ptr<obs::WatchMetrics> m_watch_metrics;

  WorkQueue m_queue;
  ValidationCache m_validation_cache;  // each spec validated once, not per reconcile
  std::unique_ptr<kube::Informer> m_workload_informer;
  std::unique_ptr<kube::Informer> m_job_informer;
  std::unique_ptr<kube::Informer> m_pod_informer;
  std::unique_ptr<kube::Informer> m_node_informer;
  std::vector<std::jthread> m_informer_threads;
  std::vector<std::thread> m_workers;
  std::jthread m_ticker;
  std::atomic<bool> m_started{false};
  std::atomic<bool> m_stopping{false};
  std::atomic<bool> m_workers_started{false};
  std::atomic<bool> m_workers_wanted{true};
  // Monotonic nanoseconds (the client's clock) of the last tick and of the workers' start.
  std::atomic<std::int64_t> m_last_tick_ns{0};
  std::atomic<std::int64_t> m_workers_started_ns{0};
  std::atomic<std::uint64_t> m_pass{0};

  // Typed views of the caches and the cluster state kept from them.
  mutable std::mutex m_state_mutex;
  std::unordered_map<std::string, sched::NodeSpec> m_nodes;                   // by name
  std::unordered_map<std::string, PodView> m_pods;                            // by ns/name
  std::unordered_map<std::string, JobView> m_jobs;                            // by ns/name
  std::unordered_map<std::string, std::set<std::string>> m_jobs_by_workload;  // ns/workload -> job keys
  std::unordered_map<std::string, std::set<std::string>> m_pods_by_job_uid;
  std::unordered_map<std::string, std::string> m_job_by_uid;  // uid -> job key
  // The ledger: Jobs this loop created (by ns/name), kept until the Job cache
  // shows them or the server says they are not there.
  std::unordered_map<std::string, Reservation> m_reservations;
  // Usage per node, summed from each pod's and Job's (or reservation's)
  // share; what build_cluster_state() would count, kept by deltas.
  std::unordered_map<std::string, Usage> m_usage;           // by node name
  std::unordered_map<std::string, Share> m_pod_shares;      // by pod ns/name
  std::unordered_map<std::string, Share> m_job_shares;      // by Job ns/name
  std::unordered_map<std::string, std::int32_t> m_visible;  // Job uid -> its pods bound or finished
  ClusterSnapshot m_snapshot;
  bool m_rebuild = true;                    // the node set changed: build the state anew
  std::unordered_set<std::string> m_stale;  // nodes whose usage changed since the last refresh
  // Pending workloads by queue order (-priority, creation, key) for wake-ups.
  std::set<QueuePosition> m_pending_order;
  std::unordered_map<std::string, PendingEntry> m_pending;
  std::unordered_map<std::string, model::Phase> m_phases;  // every cached workload's phase
  std::set<std::string> m_wake_nodes;                      // nodes where capacity freed since the last tick
  bool m_wake_all = false;
  bool m_wake_head = false;  // strict queueing: the head that blocked the queue is gone
  // Pending workloads a placement left pending, in queue order (what a
  // wake-up looks at: one never tried is in the queue already), and among
  // them those whose own placement failed (what blocks a strict queue).
  struct Waiting {
    QueuePosition position;
    bool unplaceable = false;
  };
  std::set<QueuePosition> m_waiting_order;
  std::set<QueuePosition> m_unplaceable_order;
  std::unordered_map<std::string, Waiting> m_waiting;
  // Echoes of the loop's own writes: resourceVersions it wrote per workload,
  // keys being reconciled, and changes seen meanwhile (decided at the end).
  std::unordered_map<std::string, std::vector<std::string>> m_own_versions;
  std::unordered_set<std::string> m_in_flight;
  std::unordered_set<std::string> m_awaiting_echo;  // skipped until the cache shows its own write
  std::unordered_map<std::string, std::vector<std::string>> m_seen_in_flight;

  mutable std::mutex m_stats_mutex;
  WatchStats m_stats;
  // Per informer (ticker thread only): the counts already added to the metrics.
  std::map<std::string, std::pair<int, int>> m_watch_reported;  // resource -> (reconnects, relists)
};

}  // namespace gpuorch::control
