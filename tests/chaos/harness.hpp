#pragma once

// The pieces the chaos tests and the reconcile benchmark share: an
// in-process sandbox (so the invariant watcher sees every committed change
// through the store, unaffected by injected faults), an API client for the
// test's own writes, and `gpuorch reconcile` processes to run and kill.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <sys/types.h>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/sandbox/sandbox.hpp>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace gpuorch::chaos {

using gpuorch::testing::TempDir;

/// The sandbox, its kubeconfig on disk and a client, with the GPUWorkload CRD installed.
class Harness {
 public:
  /// Starts the sandbox, writes `<dir>/kubeconfig`, installs the CRD.
  static Result<std::unique_ptr<Harness>> start(sandbox::SandboxOptions options, const std::filesystem::path& dir);
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  sandbox::Sandbox& sandbox() { return *m_sandbox; }
  kube::Client& client() { return *m_client; }
  /// A second client to the sandbox (its own connections), e.g. for a controller under test.
  Result<std::shared_ptr<kube::Client>> new_client(kube::ClientOptions options = {}) const;
  [[nodiscard]] const std::string& kubeconfig_path() const { return m_kubeconfig; }

  /// Creates a namespace directly in the store (setup, not under test).
  Status create_namespace(const std::string& name);
  /// Creates through the API, repeating over injected faults and dropped
  /// connections; AlreadyExists after a lost answer counts as created.
  Status create_workload(const nlohmann::json& workload);
  /// Deletes through the API, repeating over faults; NotFound counts as done.
  Status delete_workload(const std::string& ns, const std::string& name);
  /// Creates a workload straight in the store (benchmark setup: fast, no HTTP).
  Status create_workload_in_store(const nlohmann::json& workload);

  /// Marks every Lease as expired, as it would be once its duration passed
  /// without renewal: what the next pass finds after its predecessor was
  /// SIGKILLed, without waiting out the lease. Returns how many it changed.
  std::size_t expire_leases();
  /// spec.holderIdentity of the Lease ns/name ("" when absent or released).
  std::string lease_holder(const std::string& ns, const std::string& name);

  /// Every GPUWorkload in the store.
  std::vector<nlohmann::json> workloads();
  /// Every Job in the store.
  std::vector<nlohmann::json> jobs();

 private:
  Harness() = default;
  std::unique_ptr<sandbox::Sandbox> m_sandbox;
  std::shared_ptr<kube::Client> m_client;
  std::string m_kubeconfig;
};

/// One `gpuorch reconcile` process.
struct PassResult {
  int exit_code = -1;   ///< when it exited
  bool killed = false;  ///< ended by our SIGKILL
  std::chrono::milliseconds duration{0};
  long max_rss_kib = 0;              ///< peak resident set size (getrusage of the child)
  std::chrono::milliseconds cpu{0};  ///< user + system time
};

/// Starts `gpuorch --kubeconfig K reconcile ARGS...` with stdout and stderr
/// to a log file, and waits for it, optionally killing it at a given time.
class ReconcileProcess {
 public:
  ReconcileProcess(const std::string& binary, const std::string& kubeconfig, std::vector<std::string> args,
                   const std::filesystem::path& log);
  /// The same with `env` ("NAME=value") added to the environment (e.g. POD_NAME, the Lease identity).
  ReconcileProcess(const std::string& binary, const std::string& kubeconfig, std::vector<std::string> args,
                   const std::filesystem::path& log, const std::vector<std::string>& env);
  ~ReconcileProcess();
  ReconcileProcess(const ReconcileProcess&) = delete;
  ReconcileProcess& operator=(const ReconcileProcess&) = delete;

  /// Waits for the exit; with `kill_after`, sends SIGKILL at that time since
  /// the start if it is still running.
  PassResult wait(std::optional<std::chrono::milliseconds> kill_after = std::nullopt);
  [[nodiscard]] pid_t pid() const { return m_pid; }
  /// Sends `signal` (e.g. SIGTERM) to the process if it still runs.
  void send(int signal);
  /// True while the process has not exited (it is reaped by wait()).
  [[nodiscard]] bool running() const;

 private:
  pid_t m_pid = -1;
  std::chrono::steady_clock::time_point m_start;
};

/// The last `lines` lines of a file (diagnostics).
std::string tail_file(const std::filesystem::path& path, std::size_t lines);

/// The GPUWorkload mix of the chaos test: sizes 1..8 GPUs, four priority
/// classes, every strategy, retry policies 0..3 with 1 s backoff. Seeded.
nlohmann::json make_workload(std::mt19937_64& rng, const std::string& ns, const std::string& name);

}  // namespace gpuorch::chaos
