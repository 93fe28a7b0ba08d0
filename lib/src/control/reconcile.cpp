// The pure reconcile pass: observe -> classify each workload -> place the
// pending ones on one snapshot in queue order -> collect actions. Nothing here
// does I/O or reads a clock; the executor applies the plan.

#include <gpuorch/control/reconcile.hpp>

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include <gpuorch/control/job_builder.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/model/condition.hpp>
#include <gpuorch/sched/kube_objects.hpp>
#include <gpuorch/sched/placer.hpp>
#include <gpuorch/sched/strategy.hpp>

namespace gpuorch::control {
namespace {

using model::Phase;

/// Jobs older than this that belong to no observed workload are deleted (the
/// grace covers a workload created after the workload list was taken).
constexpr std::chrono::seconds k_orphan_grace{60};
/// How soon to look again while a Job is being deleted.
constexpr std::chrono::seconds k_deletion_recheck{5};

std::string workload_key(const model::Workload& w) {
  return fmt::format("{}/{}", w.metadata.namespace_name, w.metadata.name);
}

// What the pass decided for one workload, before the actions are written out.
struct Work {
  const model::Workload* workload = nullptr;
  model::WorkloadStatus status;  // the new status (== old when unchanged)
  std::vector<Action> pre;       // finalizer, stale Job deletions
  std::vector<Action> jobs;      // Job creation
  std::optional<EventSpec> event;
  bool place = false;  // a placement candidate
  bool adds_finalizer = false;
  std::optional<model::Time> requeue_at;
};

class Pass {
 public:
  Pass(const Observed& observed, const ReconcileOptions& options) : m_obs(observed), m_opt(options) {}

  Plan run() {
    m_plan.now = m_obs.now;
    m_plan.warnings = m_obs.warnings;
    if (m_opt.cluster != nullptr) {
      m_snapshot = m_opt.cluster;  // the caller's, kept current from its caches; placements book into it
    } else if (m_opt.placement) {
      // The caller's state too, asked for in place_pending() only when something is to be placed.
    } else {
      m_own_snapshot = build_cluster_state(m_obs);
      m_snapshot = &m_own_snapshot;
      m_plan.warnings.insert(m_plan.warnings.end(), m_snapshot->warnings.begin(), m_snapshot->warnings.end());
    }
    index();

    std::vector<const model::Workload*> order;
    order.reserve(m_obs.workloads.size());
    for (const auto& w : m_obs.workloads) {
      order.push_back(&w);
    }
    std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
      return std::tie(a->metadata.namespace_name, a->metadata.name) <
             std::tie(b->metadata.namespace_name, b->metadata.name);
    });
    m_work.reserve(order.size());
    for (const auto* w : order) {
      m_work.push_back(classify(*w));
    }
    place_pending();
    delete_orphans();
    if (m_opt.cluster == nullptr && !m_opt.placement) {
      const auto& state = m_snapshot->state;
      m_plan.node_gpus.reserve(state.size());
      for (sched::NodeId id = 0; id < state.size(); ++id) {
        m_plan.node_gpus.push_back({state.spec(id).name, state.spec(id).gpu_count, state.whole_free_gpus(id)});
      }
    }
    for (auto& work : m_work) {
      emit(work);
    }
    for (auto& a : m_orphans) {
      m_plan.actions.push_back(std::move(a));
    }
    return std::move(m_plan);
  }

 private:
  void index() {
    for (const auto& w : m_obs.workloads) {
      m_workload_uids.insert(w.metadata.uid);
    }
    for (const auto& j : m_obs.jobs) {
      if (!j.owner_uid.empty()) {
        m_jobs_by_owner[j.owner_uid].push_back(&j);
      }
    }
    for (auto& [uid, jobs] : m_jobs_by_owner) {
      std::sort(jobs.begin(), jobs.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
    }
    for (const auto& p : m_obs.pods) {
      if (!p.owner_job_uid.empty() && p.phase == "Running" && !p.deleting) {
        m_running_jobs.insert(p.owner_job_uid);
      }
    }
  }

  [[nodiscard]] const std::vector<const JobView*>& jobs_of(const model::Workload& w) const {
    static const std::vector<const JobView*> k_none;
    const auto it = m_jobs_by_owner.find(w.metadata.uid);
    return it == m_jobs_by_owner.end() ? k_none : it->second;
  }

  Action action(ActionKind kind, const model::Workload& w, std::string detail) const {
    Action a;
    a.kind = kind;
    a.namespace_name = w.metadata.namespace_name;
    a.workload = w.metadata.name;
    a.workload_uid = w.metadata.uid;
    a.resource_version = w.metadata.resource_version;
    a.finalizers = w.metadata.finalizers;
    a.detail = std::move(detail);
    return a;
  }

  // Plans the finalizer write unless the workload has it or it is planned already.
  void ensure_finalizer(Work& work) const {
    const auto& w = *work.workload;
    if (w.metadata.has_finalizer(k_finalizer) || work.adds_finalizer) {
      return;
    }
    work.pre.push_back(action(ActionKind::add_finalizer, w, std::string(k_finalizer)));
    work.adds_finalizer = true;
  }

  Action delete_job(const model::Workload& w, const JobView& j, std::string_view why) const {
    Action a = action(ActionKind::delete_job, w, fmt::format("{} ({})", j.name, why));
    a.job_name = j.name;
    a.job_uid = j.uid;
    return a;
  }

  void set_condition(model::WorkloadStatus& s, std::string_view type, std::string_view status, std::string_view reason,
                     std::string message) const {
    model::Condition c;
    c.type = std::string(type);
    c.status = std::string(status);
    c.reason = std::string(reason);
    c.message = std::move(message);
    model::set_condition(s.conditions, std::move(c), m_obs.now);
  }

  static void requeue(Work& work, model::Time at) {
    if (!work.requeue_at || at < *work.requeue_at) {
      work.requeue_at = at;
    }
  }

  Work classify(const model::Workload& w) {
    Work work;
    work.workload = &w;
    work.status = w.status;
    const auto& jobs = jobs_of(w);
    const auto phase = w.status.phase.value_or(Phase::pending);

    // 1. Being deleted: Jobs first, then the finalizer.
    if (w.metadata.deletion_timestamp) {
      bool waiting = false;
      for (const auto* j : jobs) {
        if (j->deleting) {
          waiting = true;  // still held by its own finalizers: the finalizer must wait
        } else {
          work.pre.push_back(delete_job(w, *j, "workload deleted"));
        }
      }
      if (waiting) {
        requeue(work, m_obs.now + k_deletion_recheck);
      } else if (w.metadata.has_finalizer(k_finalizer)) {
        work.pre.push_back(action(ActionKind::remove_finalizer, w, std::string(k_finalizer)));
      }
      return work;
    }
    // 2. The finalizer, so that deletion waits for cleanup: wherever a Job
    // exists or should exist. A workload that never had a Job has nothing to
    // clean up and gets the finalizer in the write just before its first Job
    // (scheduled()), which saves one write per workload that stays pending.
    const bool needs_finalizer = !jobs.empty() || phase == Phase::scheduled || phase == Phase::running;
    if (needs_finalizer) {
      ensure_finalizer(work);
    }
    // 7. Terminal phases never change.
    if (model::is_terminal(phase)) {
      return work;
    }
    // 3. Invalid spec: Failed, naming the fields. Its live Jobs are stopped.
    const auto causes =
        m_opt.validation_cache != nullptr ? m_opt.validation_cache->validate(w) : model::validate_workload(w);
    if (!causes.empty()) {
      std::string text;
      for (const auto& c : causes) {
        text += text.empty() ? "" : "; ";
        text += c.to_string();
      }
      for (const auto* j : jobs) {
        if (j->live()) {
          work.pre.push_back(delete_job(w, *j, "invalid spec"));
        }
      }
      fail(work, condition_reasons::invalid_spec, fmt::format("invalid spec: {}", text));
      return work;
    }

    const std::int32_t attempt = w.status.retry_count;
    std::string current_name = job_name(w.metadata.name, attempt);
    if ((phase == Phase::scheduled || phase == Phase::running) && !w.status.job_name.empty()) {
      current_name = w.status.job_name;
    }
    const JobView* current = nullptr;
    bool stale_live = false;
    for (const auto* j : jobs) {
      if (j->name == current_name) {
        current = j;
      } else if (j->live()) {
        // Never two live Jobs for one workload: anything but the current attempt goes.
        work.pre.push_back(delete_job(w, *j, "not the current attempt"));
        stale_live = true;
      }
    }

    if (phase == Phase::scheduled || phase == Phase::running) {
      follow(work, current, current_name);
      return work;
    }

    // Pending (or Scheduling). A Job of the current attempt exists when an
    // earlier run created it and stopped before writing status: adopt it.
    if (current != nullptr && !current->deleting) {
      follow(work, current, current_name);
      return work;
    }
    if (current != nullptr || stale_live) {
      requeue(work, m_obs.now + k_deletion_recheck);  // wait until the old Job is gone
      return work;
    }
    // 4. Backoff persists in status.nextRetryTime.
    if (w.status.next_retry_time && *w.status.next_retry_time > m_obs.now) {
      requeue(work, *w.status.next_retry_time);
      return work;
    }
    if (w.spec.image.empty() && m_opt.default_image.empty()) {
      pending(work, condition_reasons::unschedulable,
              "no image to run: set spec.image or run the reconciler with --default-image", false);
      return work;
    }
    // 5. Placement happens for every candidate at once, in queue order.
    work.place = true;
    return work;
  }

  // Scheduled/Running (or an adopted Job of a Pending workload): follow the Job.
  void follow(Work& work, const JobView* job, const std::string& name) {
    const auto& w = *work.workload;
    if (job == nullptr || job->deleting) {
      retry_or_fail(work, condition_reasons::job_deleted, fmt::format("Job {} was deleted", name));
      return;
    }
    if (job->outcome == JobOutcome::complete) {
      auto& s = work.status;
      s.phase = Phase::succeeded;
      s.job_name = job->name;
      s.assigned_node = job->node.empty() ? s.assigned_node : job->node;
      s.next_retry_time.reset();
      s.message = fmt::format("Job {} completed", job->name);
      set_condition(s, model::k_condition_complete, model::k_condition_true, condition_reasons::job_complete,
                    s.message);
      finish_status(work);
      work.event = EventSpec{"Normal", std::string(reasons::succeeded), s.message};
      ++m_plan.counts.succeeded;
      return;
    }
    if (job->outcome == JobOutcome::failed) {
      std::string why = job->outcome_reason.empty() ? "" : fmt::format(" ({})", job->outcome_reason);
      retry_or_fail(work, condition_reasons::job_failed, fmt::format("Job {} failed{}", job->name, why));
      return;
    }
    auto& s = work.status;
    const bool adopted = !s.phase || (*s.phase != Phase::scheduled && *s.phase != Phase::running);
    const bool running = job->ready > 0 || m_running_jobs.contains(job->uid);
    s.job_name = job->name;
    if (!job->node.empty()) {
      s.assigned_node = job->node;
    }
    s.next_retry_time.reset();
    if (adopted) {
      if (!s.last_schedule_time) {
        s.last_schedule_time = job->creation_timestamp.value_or(m_obs.now);
      }
      const std::string msg = fmt::format("Job {} on node {} adopted", job->name, s.assigned_node);
      set_condition(s, model::k_condition_scheduled, model::k_condition_true, condition_reasons::job_created, msg);
      work.event = EventSpec{"Normal", std::string(reasons::scheduled),
                             fmt::format("Assigned {} to {} (Job {})", workload_key(w), s.assigned_node, job->name)};
      ++m_plan.counts.scheduled;
    }
    if (running) {
      s.phase = Phase::running;
      s.message = fmt::format("Job {} running on node {}", job->name, s.assigned_node);
    } else {
      s.phase = Phase::scheduled;
      s.message = fmt::format("Job {} created on node {}; waiting for its pod to run", job->name, s.assigned_node);
    }
    finish_status(work);
    requeue(work, m_obs.now + m_opt.follow_interval);
  }

  void retry_or_fail(Work& work, std::string_view reason, const std::string& what) {
    const auto& w = *work.workload;
    auto& s = work.status;
    const auto& policy = w.spec.retry_policy;
    s.assigned_node.clear();
    s.job_name.clear();
    if (s.retry_count < policy.max_retries) {
      const std::int32_t retry = s.retry_count + 1;
      const auto delay = retry_delay(policy, retry, m_obs.seed, w.metadata.uid);
      // metav1.Time has whole seconds: round up so the retry is never early.
      const auto at = std::chrono::ceil<std::chrono::seconds>(m_obs.now + delay);
      s.retry_count = retry;
      s.next_retry_time = at;
      s.phase = Phase::pending;
      s.message = fmt::format("{}; retry {}/{} at {}", what, retry, policy.max_retries, model::format_time(at));
      set_condition(s, model::k_condition_scheduled, model::k_condition_false, reason, s.message);
      finish_status(work);
      work.event = EventSpec{"Warning", std::string(reasons::retrying), s.message};
      ++m_plan.counts.retries;
      requeue(work, at);
      return;
    }
    fail(work, reason, fmt::format("{}; no retries left ({}/{})", what, s.retry_count, policy.max_retries));
  }

  void fail(Work& work, std::string_view reason, std::string message) {
    auto& s = work.status;
    s.phase = Phase::failed;
    s.next_retry_time.reset();
    s.message = std::move(message);
    set_condition(s, model::k_condition_failed, model::k_condition_true, reason, s.message);
    finish_status(work);
    work.event = EventSpec{"Warning", std::string(reasons::failed), s.message};
    ++m_plan.counts.failed[std::string(reason)];
  }

  // Stays Pending with `message` as the reason; an Event only when the reason changed.
  void pending(Work& work, std::string_view reason, std::string message, bool unschedulable) {
    auto& s = work.status;
    const bool changed = s.message != message || s.phase != Phase::pending;
    s.phase = Phase::pending;
    s.message = std::move(message);
    set_condition(s, model::k_condition_scheduled, model::k_condition_false, reason, s.message);
    finish_status(work);
    if (changed) {
      work.event = EventSpec{"Warning", std::string(reasons::failed_scheduling), s.message};
    }
    if (unschedulable) {
      ++m_plan.counts.unschedulable;
    }
    requeue(work, m_obs.now + m_opt.unschedulable_interval);
  }

  // observedGeneration says which spec the status describes.
  static void finish_status(Work& work) { work.status.observed_generation = work.workload->metadata.generation; }

  // One Placer per strategy name, all on the one snapshot; every placement is
  // announced to the other strategies so that their indexes stay current.
  Result<sched::Placer*> placer_for(const std::string& strategy) {
    GPUORCH_ASSIGN_OR_RETURN(auto name, sched::StrategyRegistry::builtin().canonical(strategy));
    if (const auto it = m_placers.find(name); it != m_placers.end()) {
      return it->second.placer.get();
    }
    sched::StrategyOptions so;
    so.seed = m_obs.seed;
    so.price_by_model = m_opt.price_by_model;
    GPUORCH_ASSIGN_OR_RETURN(auto made, sched::make_strategy(name, so));
    Bound bound;
    bound.strategy = std::move(made);
    bound.placer = std::make_unique<sched::Placer>(m_snapshot->state, *bound.strategy);
    auto* p = bound.placer.get();
    m_placers.emplace(name, std::move(bound));
    return p;
  }

  void place_pending() {
    std::vector<std::size_t> candidates;
    std::vector<sched::Request> requests;
    for (std::size_t i = 0; i < m_work.size(); ++i) {
      if (m_work[i].place) {
        candidates.push_back(i);
        requests.push_back(sched::request_from_workload(*m_work[i].workload));
      }
    }
    if (candidates.empty()) {
      return;
    }
    std::optional<std::string> blocked_by;
    if (m_opt.placement) {
      auto placement = m_opt.placement();
      m_snapshot = placement.cluster;
      blocked_by = std::move(placement.blocked_by);
    }
    const auto order = sched::queue_order(requests);
    for (const auto qi : order) {
      Work& work = m_work[candidates[qi]];
      const auto& w = *work.workload;
      const auto& req = requests[qi];
      if (blocked_by) {
        pending(work, condition_reasons::unschedulable, fmt::format("waiting behind {} (strict queueing)", *blocked_by),
                true);
        continue;
      }
      auto placer = placer_for(w.spec.scheduling_strategy);
      if (!placer.ok()) {
        fail(work, condition_reasons::invalid_spec,
             fmt::format("invalid spec: spec.schedulingStrategy: {}", placer.error().message()));
        continue;
      }
      const auto decision = (*placer)->place(req);
      if (!decision.placed) {
        pending(work, condition_reasons::unschedulable, decision.reason(req), true);
        if (m_opt.queueing == sched::QueueingPolicy::strict) {
          blocked_by = req.name;
        }
        continue;
      }
      for (auto& [name, bound] : m_placers) {
        if (bound.placer.get() != *placer) {
          bound.strategy->node_changed(decision.node);
        }
      }
      scheduled(work, m_snapshot->state.spec(decision.node).name, (*placer)->strategy().name());
    }
  }

  void scheduled(Work& work, const std::string& node, std::string_view strategy) {
    const auto& w = *work.workload;
    const std::int32_t attempt = w.status.retry_count;
    // The finalizer is written before the Job is created, in this workload's
    // chain: a failed or interrupted finalizer write stops the chain, so no Job
    // ever exists that a deletion of its workload would not wait for.
    ensure_finalizer(work);
    JobOptions jo;
    jo.default_image = m_opt.default_image;
    Action create = action(ActionKind::create_job, w,
                           fmt::format("{} on node {} ({} GPUs, {})", job_name(w.metadata.name, attempt), node,
                                       w.spec.gpu_count, strategy));
    create.job = build_job(w, node, attempt, jo);
    create.job_name = job_name(w.metadata.name, attempt);
    work.jobs.push_back(std::move(create));

    auto& s = work.status;
    s.phase = Phase::scheduled;
    s.assigned_node = node;
    s.job_name = job_name(w.metadata.name, attempt);
    s.last_schedule_time = m_obs.now;
    s.next_retry_time.reset();
    s.message = fmt::format("Job {} created on node {} ({})", s.job_name, node, strategy);
    set_condition(s, model::k_condition_scheduled, model::k_condition_true, condition_reasons::job_created, s.message);
    finish_status(work);
    work.event = EventSpec{"Normal", std::string(reasons::scheduled),
                           fmt::format("Assigned {} to {} ({} GPUs, {}); Job {}", workload_key(w), node,
                                       w.spec.gpu_count, strategy, s.job_name)};
    ++m_plan.counts.scheduled;
    requeue(work, m_obs.now + m_opt.follow_interval);
  }

  // gpuorch Jobs whose owning workload is gone (or was recreated under the
  // same name) in the namespaces this pass sees.
  void delete_orphans() {
    for (const auto& j : m_obs.jobs) {
      if (j.owner_kind != model::k_workload_kind || j.deleting || m_workload_uids.contains(j.owner_uid)) {
        continue;
      }
      if (!m_obs.namespace_name.empty() && j.namespace_name != m_obs.namespace_name) {
        continue;
      }
      if (j.creation_timestamp && *j.creation_timestamp + k_orphan_grace > m_obs.now) {
        continue;
      }
      Action a;
      a.kind = ActionKind::delete_job;
      a.namespace_name = j.namespace_name;
      a.workload = j.workload;
      a.job_name = j.name;
      a.job_uid = j.uid;
      a.detail = fmt::format("{} (its workload is gone)", j.name);
      m_orphans.push_back(std::move(a));
    }
  }

  void emit(Work& work) {
    const auto& w = *work.workload;
    for (auto& a : work.pre) {
      m_plan.actions.push_back(std::move(a));
    }
    for (auto& a : work.jobs) {
      m_plan.actions.push_back(std::move(a));
    }
    if (work.status != w.status) {
      Action a = action(ActionKind::update_status, w, status_detail(w.status, work.status));
      a.status = work.status;
      a.previous_status = w.status;
      m_plan.actions.push_back(std::move(a));
    }
    if (work.event) {
      Action a = action(ActionKind::emit_event, w,
                        fmt::format("{} {}: {}", work.event->type, work.event->reason, work.event->message));
      a.event = *work.event;
      m_plan.actions.push_back(std::move(a));
    }
    if (work.requeue_at && (!m_plan.requeue_at || *work.requeue_at < *m_plan.requeue_at)) {
      m_plan.requeue_at = work.requeue_at;
    }
    const auto phase = work.status.phase.value_or(Phase::pending);
    ++m_plan.phases[std::string(model::to_string(phase))];
  }

  static std::string status_detail(const model::WorkloadStatus& before, const model::WorkloadStatus& after) {
    const auto from = before.phase ? model::to_string(*before.phase) : std::string_view("<none>");
    const auto to = after.phase ? model::to_string(*after.phase) : std::string_view("<none>");
    return fmt::format("{} -> {}: {}", from, to, after.message);
  }

  struct Bound {
    std::unique_ptr<sched::Strategy> strategy;
    std::unique_ptr<sched::Placer> placer;
  };

  const Observed& m_obs;
  const ReconcileOptions& m_opt;
  Plan m_plan;
  ClusterSnapshot m_own_snapshot;
  ClusterSnapshot* m_snapshot = nullptr;
  std::vector<Work> m_work;
  std::vector<Action> m_orphans;
  std::unordered_set<std::string> m_workload_uids;
  std::unordered_map<std::string, std::vector<const JobView*>> m_jobs_by_owner;
  std::unordered_set<std::string> m_running_jobs;
  std::map<std::string, Bound> m_placers;
};

}  // namespace

Plan reconcile(const Observed& observed, const ReconcileOptions& options) {
  return Pass(observed, options).run();
}

}  // namespace gpuorch::control
