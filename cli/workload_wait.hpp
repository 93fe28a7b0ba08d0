#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/kube/client.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// What `--wait` waits for.
enum class WaitGoal {
  running,    ///< phase Running (or already past it: Succeeded)
  succeeded,  ///< phase Succeeded
  deleted,    ///< the object is gone (finalizers removed)
};

/// One workload being waited for: its name and, when known, its uid (a
/// recreated object of the same name is another workload).
struct WaitTarget {
  std::string name;
  std::string uid;
  /// Finalizers last seen (named when a deletion times out).
  std::vector<std::string> finalizers;
};

struct WaitRequest {
  std::string ns;
  std::vector<WaitTarget> targets;
  WaitGoal goal = WaitGoal::succeeded;
  /// Watch from this resourceVersion (the answer of the write that started
  /// the wait), so that no change after the write is missed.
  std::string resource_version;
  /// Zero: no limit.
  std::chrono::milliseconds timeout{0};
  /// Print the workloads' Events to stderr while waiting.
  bool stream_events = true;
};

/// Follows the targets with a watch (resumed after drops, re-listed after
/// 410 Gone) until each reached the goal, failed, the timeout passed or the
/// command was interrupted. Phase changes ("llama: phase Running on gpu-1")
/// and Events ("llama: event Normal Scheduled: ...") are streamed to stderr.
/// Returns the exit code: 0 every target reached the goal, 3 one ended Failed
/// (phase goals), 4 timed out, 1 API error or a target deleted while waiting
/// for a phase, 130/143 interrupted.
int wait_for_workloads(Context& ctx, kube::Client& client, const WaitRequest& request);

/// The waits of one command, one request per namespace (each namespace is one
/// watch). `add` records a target; the first write seen in a namespace gives
/// the resourceVersion its watch starts from.
class WaitPlan {
 public:
  void add(const std::string& ns, WaitTarget target, const std::string& resource_version);
  [[nodiscard]] bool empty() const { return m_by_namespace.empty(); }

  /// Waits for each namespace in turn (wait_for_workloads) with the same goal
  /// and timeout. Returns the worst exit code, or k_exit_interrupted as soon as
  /// one wait was interrupted; 0 without targets.
  int wait(Context& ctx, kube::Client& client, WaitGoal goal, std::chrono::milliseconds timeout,
           bool stream_events = true);

 private:
  std::map<std::string, WaitRequest> m_by_namespace;
};

/// "Running" / "Succeeded" / "deletion".
std::string_view to_string(WaitGoal goal);

}  // namespace gpuorch::cli
