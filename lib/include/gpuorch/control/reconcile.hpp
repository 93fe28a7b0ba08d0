#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/plan.hpp>
#include <gpuorch/control/validation_cache.hpp>
#include <gpuorch/sched/queue.hpp>

namespace gpuorch::control {

struct ReconcileOptions {
  /// Image for workloads without spec.image; a workload with neither stays Pending.
  std::string default_image;
  sched::QueueingPolicy queueing = sched::QueueingPolicy::best_effort;
  /// Price per GPU-hour by GPU model for CostOptimized (nodes may carry their own).
  std::map<std::string, double> price_by_model;
  /// How soon to look again at a workload whose Job is running.
  std::chrono::seconds follow_interval{30};
  /// How soon to try an unschedulable workload again.
  std::chrono::seconds unschedulable_interval{10};
  /// When set, placement starts from this cluster state instead of building
  /// one from Observed's nodes, pods and Jobs, and the pass books its
  /// placements into it (Plan::node_gpus is then left empty). The watch loop
  /// keeps one from its caches and reconciles one workload at a time, so
  /// Observed then holds that workload with only its own Jobs and pods.
  ClusterSnapshot* cluster = nullptr;
  /// What a pass that places into a caller's state gets from the caller.
  struct Placement {
    ClusterSnapshot* cluster = nullptr;
    /// Strict queueing across passes: a workload ahead of this pass's
    /// candidates (queue order) that is still pending and could not be
    /// placed; every candidate waits behind it, as behind a head of this pass.
    std::optional<std::string> blocked_by;
  };
  /// Instead of `cluster`: called once, and only when the pass has a
  /// workload to place, right before placing (so a caller can take its lock
  /// and bring its state up to date only then; a workload that only follows
  /// its Job never needs the cluster state).
  std::function<Placement()> placement;
  /// When set, a workload's spec is validated once per (uid, generation)
  /// through this cache instead of on every pass (the watch loop reconciles
  /// a workload several times while it runs). The outcome is the same.
  ValidationCache* validation_cache = nullptr;
};

/// One reconcile pass, as a pure function: the actions that bring every
/// observed workload one step along the state machine of DESIGN.md §6, in
/// queue order with in-pass reservations, plus the requeue time.
/// Deterministic: the same Observed (including `now` and `seed`) and options
/// give the same Plan.
///
/// Per workload:
///  1. being deleted: delete its Jobs (background), then remove the finalizer;
///  2. without the finalizer: add it;
///  3. invalid spec: Failed, naming the field;
///  4. Pending with status.nextRetryTime in the future: nothing (requeue then);
///  5. Pending: place it (queue order, each workload's strategy); no fit: stay
///     Pending with the reason in the message and a FailedScheduling Event;
///     fit: create Job <name>-<retryCount>, status Scheduled, Event Scheduled.
///     A live Job of the current attempt that already exists (a crash between
///     creating it and writing status) is adopted instead;
///  6. Scheduled/Running: follow the Job: running -> Running; complete ->
///     Succeeded; failed or gone -> retry (retryCount+1, nextRetryTime,
///     Pending, Event Retrying) while retryCount < maxRetries, else Failed;
///  7. Succeeded and Failed never change.
/// Live Jobs that are not the workload's current attempt, and Jobs labelled
/// for a workload that no longer exists (or was recreated), are deleted, so
/// one workload never has two live Jobs.
Plan reconcile(const Observed& observed, const ReconcileOptions& options = {});

}  // namespace gpuorch::control
