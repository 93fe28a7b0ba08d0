#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/store.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// A group of identical simulated GPU nodes.
struct NodePool {
  std::string name = "gpu";  ///< node names are "<name>-node-NN"
  int count = 0;
  int gpus_per_node = 8;
  std::string gpu_model = "H100";  ///< label nvidia.com/gpu.product
  std::string cpu = "64";          ///< quantity
  std::string memory = "512Gi";    ///< quantity
  std::string price;               ///< label gpuorch.io/cost-per-gpu-hour, "" for none
  std::map<std::string, std::string> labels;
  std::vector<nlohmann::json> taints;  ///< core/v1 Taint objects

  /// Parses "name=a100,count=4,gpus=8,model=A100,cpu=96,memory=1Ti,price=1.8,
  /// label=zone:a,taint=dedicated=ml:NoSchedule" (label and taint repeatable).
  static Result<NodePool> parse(std::string_view spec);
};

/// The core/v1 Node objects of a pool.
std::vector<nlohmann::json> make_nodes(const NodePool& pool);

/// The Node objects of a node file in any format `gpuorch simulate` reads
/// (the Alibaba node CSV, gpuorch's NodePool list, Kubernetes Node YAML or
/// JSON): allocatable CPU, memory and GPUs, GPU model and price labels,
/// other labels and taints. `source` names the file in errors.
Result<std::vector<nlohmann::json>> nodes_from_file(std::string_view content, std::string_view source);

struct ClusterOptions {
  std::vector<NodePool> pools;
  /// More nodes, as Node objects (from nodes_from_file()).
  std::vector<nlohmann::json> extra_nodes;
  /// How long a Job's pod runs before it ends, unless its pod has the
  /// annotation gpuorch.io/sandbox-duration ("30s", "2m", "1500ms").
  std::chrono::milliseconds job_duration{5000};
  /// Fraction of run-to-completion pods that fail (exit code 1).
  double failure_rate = 0;
  std::uint64_t seed = 1;
  /// Time between passes when nothing changes (timers: pods finishing).
  std::chrono::milliseconds tick{100};
  /// Shortest time from the start of one pass to the next while changes keep
  /// coming: the changes of that window share one pass over every pod and
  /// Job instead of one pass each (the first change after a quiet spell is
  /// handled at once).
  std::chrono::milliseconds batch{5};
};

/// Counters tests read through the control endpoint.
struct ClusterStats {
  std::uint64_t binding_checks = 0;  ///< every capacity check made before binding
  std::uint64_t bindings = 0;        ///< pods bound
  std::uint64_t violations = 0;      ///< nodes found over-committed after a binding (must stay 0)
  std::uint64_t unschedulable = 0;   ///< scheduling attempts that found no node
  std::uint64_t pods_succeeded = 0;
  std::uint64_t pods_failed = 0;
  [[nodiscard]] nlohmann::json to_json() const;
};

/// The simulated control plane and kubelets: a Job controller (Job -> Pod,
/// status follows), a kube-scheduler (binds only where affinity, selector,
/// tolerations and free CPU/memory/GPU allow; otherwise PodScheduled=False
/// and a FailedScheduling event), kubelets (Pending -> Running -> Succeeded
/// or Failed), and the garbage collector. Runs on its own thread.
class SimulatedCluster {
 public:
  SimulatedCluster(Store& store, ClusterOptions options);
  ~SimulatedCluster();
  SimulatedCluster(const SimulatedCluster&) = delete;
  SimulatedCluster& operator=(const SimulatedCluster&) = delete;

  /// Creates the pools' nodes (keeps nodes that already exist).
  Status create_nodes();
  void start();
  void stop();
  /// One pass of every controller (tests drive it directly).
  void run_once();
  [[nodiscard]] ClusterStats stats() const;

 private:
  struct Running {
    std::chrono::steady_clock::time_point finish;
    bool fail = false;
  };
  void loop();
  void reconcile_jobs();
  void schedule_pods();
  void run_kubelets();
  void emit_event(const nlohmann::json& involved, const std::string& type, const std::string& reason,
                  const std::string& message, const std::string& component);

  Store& m_store;
  ClusterOptions m_options;
  std::thread m_thread;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;  // guards the members below
  ClusterStats m_stats;
  std::mt19937_64 m_rng;
  std::map<std::string, Running> m_running;                 ///< by pod uid
  std::map<std::string, std::string> m_last_unschedulable;  ///< pod uid -> message last reported
  std::uint64_t m_event_counter = 0;
};

/// Parses a duration: "1500ms", "30s", "2m", "1h", "1m30s", or plain seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace gpuorch::sandbox
