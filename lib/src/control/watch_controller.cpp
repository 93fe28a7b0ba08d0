// The watch loop: informer caches -> work queue -> workers running the same
// reconcile() and executor as the one-shot pass, one workload at a time.

#include <gpuorch/control/watch_controller.hpp>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/base/strings.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/obs/metrics.hpp>
#include <gpuorch/obs/reconcile_metrics.hpp>

namespace gpuorch::control {
namespace {

using nlohmann::json;

std::string job_key(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

std::string workload_key_of_job(const JobView& j) {
  return j.workload.empty() ? std::string() : j.namespace_name + "/" + j.workload;
}

// metadata.resourceVersion ("" when absent), without copying the metadata.
std::string resource_version_of(const json& object) {
  if (const auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    if (const auto rv = md->find("resourceVersion"); rv != md->end() && rv->is_string()) {
      return rv->get<std::string>();
    }
  }
  return {};
}

// Splits "ns/name" (a workload key) into its namespace.
std::string namespace_of(const std::string& key) {
  const auto slash = key.find('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash);
}

// Seconds since the epoch of a workload's creation (queue order), 0 when unknown.
std::int64_t created_seconds(const model::Workload& w) {
  if (!w.metadata.creation_timestamp) {
    return 0;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(w.metadata.creation_timestamp->time_since_epoch()).count();
}

// Whether two readings of a node place the same (what the cluster state holds).
bool same_for_placement(const sched::NodeSpec& a, const sched::NodeSpec& b) {
  return a.gpu_count == b.gpu_count && a.cpu_milli == b.cpu_milli && a.memory_bytes == b.memory_bytes &&
         a.ready == b.ready && a.cordoned == b.cordoned && a.gpu_model == b.gpu_model && a.labels == b.labels &&
         a.taints == b.taints && a.price_per_gpu_hour == b.price_per_gpu_hour;
}

}  // namespace

WatchController::WatchController(std::shared_ptr<kube::Client> client, WatchControllerOptions options,
                                 obs::Registry* registry)
    : m_client(std::move(client)),
      m_options(std::move(options)),
      m_registry(registry),
      m_queue(m_client->clock(), m_options.queue) {
  m_options.workers = std::max(1, m_options.workers);
  m_options.executor.parallelism = 1;
  m_options.reconcile.validation_cache = &m_validation_cache;
  // The loop's own workload writes, so that their echoes queue nothing.
  m_options.executor.on_workload_written = [this, hook = std::move(m_options.executor.on_workload_written)](
                                               const std::string& ns, const std::string& name,
                                               const std::string& resource_version) {
    own_write(ns + "/" + name, resource_version);
    if (hook) {
      hook(ns, name, resource_version);
    }
  };
  if (m_registry != nullptr) {
    m_metrics = std::make_unique<obs::ReconcileMetrics>(
        *m_registry, std::vector<std::string>{std::string(condition_reasons::invalid_spec),
                                              std::string(condition_reasons::job_failed),
                                              std::string(condition_reasons::job_deleted)});
    m_watch_metrics = std::make_unique<obs::WatchMetrics>(
        *m_registry, std::vector<std::string>{"gpuworkloads", "jobs", "pods", "nodes"});
    m_queue.set_metrics(m_watch_metrics.get());
  }

  // No handler reads an update's old object (each keeps what it compares in
  // its own view), so the informers never decode one; none of them keeps
  // managedFields (the loop writes by merge patch, never the cached object).
  // Only the workload cache is read (reconcile_key): the Job, pod and node
  // caches keep metadata only, for their re-list diffs.
  auto workload_options = m_options.informer;
  workload_options.transform = kube::drop_managed_fields;
  auto view_options = workload_options;
  view_options.metadata_only = true;

  kube::InformerHandlers workloads;
  workloads.on_add = [this](const json& o) { on_workload(nullptr, o, false); };
  workloads.on_update_new_only = [this](const json& o) { on_workload(nullptr, o, false); };
  workloads.on_delete = [this](const json& o) { on_workload(nullptr, o, true); };
  m_workload_informer = std::make_unique<kube::Informer>(m_client, kube::resources::gpu_workloads(),
                                                         m_options.namespace_name, workload_options, workloads);

  kube::InformerHandlers jobs;
  jobs.on_add = [this](const json& o) { on_job(o, false); };
  jobs.on_update_new_only = [this](const json& o) { on_job(o, false); };
  jobs.on_delete = [this](const json& o) { on_job(o, true); };
  auto job_options = view_options;
  job_options.label_selector = std::string(k_workload_label);
  m_job_informer = std::make_unique<kube::Informer>(m_client, kube::resources::jobs(), "", job_options, jobs);

  // Every pod, filtered here: a field selector on the phase would turn a pod
  // that finishes into a deletion, and its Job's state is what matters then.
  kube::InformerHandlers pods;
  pods.on_add = [this](const json& o) { on_pod(o, false); };
  pods.on_update_new_only = [this](const json& o) { on_pod(o, false); };
  pods.on_delete = [this](const json& o) { on_pod(o, true); };
  m_pod_informer = std::make_unique<kube::Informer>(m_client, kube::resources::pods(), "", view_options, pods);

  kube::InformerHandlers nodes;
  nodes.on_add = [this](const json& o) { on_node(o, false); };
  nodes.on_update_new_only = [this](const json& o) { on_node(o, false); };
  nodes.on_delete = [this](const json& o) { on_node(o, true); };
  m_node_informer = std::make_unique<kube::Informer>(m_client, kube::resources::nodes(), "", view_options, nodes);
}

WatchController::~WatchController() {
  stop(std::chrono::seconds(0));
}

void WatchController::start(bool workers) {
  if (m_started.exchange(true)) {
    return;
  }
  m_workers_wanted = workers;
  note_tick();
  for (auto* informer :
       {m_node_informer.get(), m_pod_informer.get(), m_job_informer.get(), m_workload_informer.get()}) {
    m_informer_threads.emplace_back([informer](std::stop_token stop) {
      if (auto s = informer->run(stop); !s.ok()) {
        spdlog::error("informer stopped: {}", s.error().message());
      }
    });
  }
  m_ticker = std::jthread([this](std::stop_token stop) { ticker_loop(stop); });
}

void WatchController::start_workers() {
  m_workers_wanted = true;
}

void WatchController::note_tick() {
  m_last_tick_ns = m_client->clock().monotonic().time_since_epoch().count();
}

Status WatchController::liveness() const {
  if (!m_started || m_stopping) {
    return Status();
  }
  using Seconds = std::chrono::duration<double>;
  const auto now = m_client->clock().monotonic().time_since_epoch().count();
  const auto limit = Seconds(m_options.stall_timeout).count();
  const auto since_tick = Seconds(std::chrono::nanoseconds(now - m_last_tick_ns.load())).count();
  if (since_tick > limit) {
    return Error(ErrorCode::internal,
                 fmt::format("the ticker (wake-ups, resync, start-up) has not run for {:.1f}s (limit {:.1f}s)",
                             since_tick, limit));
  }
  if (!m_workers_started) {
    return Status();  // standing by, or waiting for the caches (/readyz reports that)
  }
  // Since the workers started at the earliest: a standby's queue filled while nobody was meant to work.
  const auto since_start = std::chrono::nanoseconds(now - m_workers_started_ns.load());
  const auto stalled = Seconds(std::min(m_queue.stalled_for(), since_start)).count();
  if (stalled > limit) {
    return Error(ErrorCode::internal,
                 fmt::format("{} workload key(s) ready but no worker took or finished one for {:.1f}s (limit "
                             "{:.1f}s; {} being processed)",
                             m_queue.len(), stalled, limit, m_queue.processing()));
  }
  return Status();
}

bool WatchController::synced() const {
  return m_workload_informer->has_synced() && m_job_informer->has_synced() && m_pod_informer->has_synced() &&
         m_node_informer->has_synced();
}

bool WatchController::wait_for_sync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto* informer :
       {m_node_informer.get(), m_pod_informer.get(), m_job_informer.get(), m_workload_informer.get()}) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !informer->wait_for_sync(left)) {
      return synced();
    }
  }
  return true;
}

bool WatchController::stop(std::chrono::milliseconds grace) {
  if (m_stopping.exchange(true)) {
    return true;
  }
  m_queue.shut_down();  // no new keys; in-flight ones finish
  if (m_ticker.joinable()) {
    m_ticker.request_stop();  // it starts the workers: stop it first
    m_ticker.join();
  }
  bool drained = true;
  if (!m_workers.empty()) {
    drained = m_queue.wait_idle(grace);
    if (!drained) {
      spdlog::warn("{} workload(s) still being reconciled after the grace period", m_queue.processing());
    }
  }
  for (auto& worker : m_workers) {
    if (worker.joinable()) {
      // A worker past the grace period is still inside one reconcile: its
      // requests are bounded by the client's timeouts.
      worker.join();
    }
  }
  m_workers.clear();
  for (auto& t : m_informer_threads) {
    t.request_stop();
  }
  for (auto& t : m_informer_threads) {
    if (t.joinable()) {
      t.join();
    }
  }
  m_informer_threads.clear();
  if (m_started) {
    log_informer_counters();
  }
  return drained;
}

// What each cache received over the loop's life: the watch side of its CPU.
void WatchController::log_informer_counters() const {
  const std::pair<const char*, const kube::Informer*> informers[] = {{"gpuworkloads", m_workload_informer.get()},
                                                                     {"jobs", m_job_informer.get()},
                                                                     {"pods", m_pod_informer.get()},
                                                                     {"nodes", m_node_informer.get()}};
  std::string text;
  for (const auto& [resource, informer] : informers) {
    const auto c = informer->counters();
    text += fmt::format("{}{} {} events ({:.1f} MiB), {} listed", text.empty() ? "" : "; ", resource, c.events,
                        static_cast<double>(c.event_bytes) / (1024.0 * 1024.0), c.listed);
  }
  spdlog::info("informers: {}", text);
}

WatchStats WatchController::stats() const {
  WatchStats s;
  {
    std::lock_guard lock(m_stats_mutex);
    s = m_stats;
  }
  {
    std::lock_guard lock(m_state_mutex);
    s.reservations = static_cast<std::int64_t>(m_reservations.size());
  }
  for (const auto* informer :
       {m_node_informer.get(), m_pod_informer.get(), m_job_informer.get(), m_workload_informer.get()}) {
    s.watch_restarts += informer->watch_restarts();
    s.relists += std::max(0, informer->list_count() - 1);
  }
  return s;
}

std::size_t WatchController::queue_depth() const {
  return m_queue.len() + m_queue.delayed();
}

// ---- event handlers (informer threads) ----

void WatchController::on_workload(const json* old_object, const json& object, bool deleted) {
  const auto key = kube::Informer::key_of(object);
  (void)old_object;
  bool queue = true;
  bool pending = false;
  {
    std::lock_guard lock(m_state_mutex);
    if (auto it = m_pending.find(key); it != m_pending.end()) {
      m_pending_order.erase({-it->second.priority, it->second.created, key});
      m_pending.erase(it);
    }
    if (deleted) {
      m_phases.erase(key);
      m_own_versions.erase(key);
      m_awaiting_echo.erase(key);
    } else {
      auto w = model::workload_from_json(object);
      if (w.ok()) {
        m_phases[key] = w->status.phase.value_or(model::Phase::pending);
      }
      if (w.ok() && !w->metadata.deletion_timestamp &&
          w->status.phase.value_or(model::Phase::pending) == model::Phase::pending) {
        PendingEntry e{w->spec.priority, created_seconds(*w), w->spec.gpu_count};
        m_pending.emplace(key, e);
        m_pending_order.emplace(-e.priority, e.created, key);
        pending = true;
      }
      // The echo of this loop's own write (the object as the write left it):
      // the plan that wrote it already decided what comes next, unless a
      // reconcile waited for the cache to show that write.
      const auto version = resource_version_of(object);
      if (auto it = m_own_versions.find(key); it != m_own_versions.end()) {
        auto& versions = it->second;
        if (auto v = std::find(versions.begin(), versions.end(), version); !version.empty() && v != versions.end()) {
          versions.erase(versions.begin(), v + 1);  // this one and any the watch skipped
          if (versions.empty()) {
            m_own_versions.erase(it);
          }
          queue = m_awaiting_echo.erase(key) > 0;
        } else if (!m_in_flight.contains(key)) {
          // Someone else's change, newer than every write of this loop.
          m_own_versions.erase(it);
        }
      }
      if (queue) {
        m_awaiting_echo.erase(key);
      }
      // Being reconciled: whether this is its echo is known only once its
      // writes are done (settle_echoes).
      if (queue && m_in_flight.contains(key)) {
        m_seen_in_flight[key].push_back(version);
        queue = false;
      }
    }
    if (!pending) {
      set_waiting_locked(key, std::nullopt, false);
    }
  }
  if (queue) {
    // A workload waiting to be placed goes ahead of those following their Job
    // (creation -> Job is the latency users wait for).
    m_queue.add(key, pending ? WorkQueue::Priority::high : WorkQueue::Priority::normal);
  }
}

void WatchController::on_job(const json& object, bool deleted) {
  auto view = job_view_from_json(object);
  if (!view.ok()) {
    spdlog::warn("Job {}: {}", kube::Informer::key_of(object), view.error().message());
    return;
  }
  const auto key = job_key(view->namespace_name, view->name);
  const auto workload = workload_key_of_job(*view);
  bool queue = !workload.empty();
  {
    std::lock_guard lock(m_state_mutex);
    std::optional<JobView> old;
    if (auto it = m_jobs.find(key); it != m_jobs.end()) {
      old = it->second;
    }
    if (old) {
      m_job_by_uid.erase(old->uid);
    }
    // A Job this loop just created, shown as it was created: its workload
    // has nothing new to decide (its reconcile wrote the status already).
    // Nor does a change of what reconcile() does not read (active counts,
    // conditions short of the outcome).
    const bool own_echo = !old && !deleted && m_reservations.contains(key) && view->live() && view->ready == 0;
    const bool same_for_workload = old && !deleted && old->uid == view->uid && old->outcome == view->outcome &&
                                   old->deleting == view->deleting && (old->ready > 0) == (view->ready > 0) &&
                                   old->node == view->node && old->workload == view->workload &&
                                   old->owner_uid == view->owner_uid;
    if (deleted) {
      m_jobs.erase(key);
      if (auto it = m_jobs_by_workload.find(workload); it != m_jobs_by_workload.end()) {
        it->second.erase(key);
        if (it->second.empty()) {
          m_jobs_by_workload.erase(it);
        }
      }
    } else {
      m_jobs[key] = *view;
      m_job_by_uid[view->uid] = key;
      m_jobs_by_workload[workload].insert(key);
    }
    // The Job is in the cache now (or gone): its reservation has done its work.
    m_reservations.erase(key);
    account_job_locked(key);
    // Capacity freed: the Job finished or went away while it held GPUs.
    const bool was_live = old ? old->live() : false;
    // A deletion found by a re-list carries the cached Job: metadata only.
    const auto& node = deleted && view->node.empty() && old ? old->node : view->node;
    if (!node.empty() && (deleted || (was_live && !view->live()))) {
      m_wake_nodes.insert(node);
    }
    if (own_echo || same_for_workload) {
      queue = false;
    }
  }
  if (queue) {
    m_queue.add(workload);
  }
}

void WatchController::on_pod(const json& object, bool deleted) {
  auto view = pod_view_from_json(object);
  if (!view.ok()) {
    spdlog::debug("Pod {}: {}", kube::Informer::key_of(object), view.error().message());
    return;
  }
  const auto key = job_key(view->namespace_name, view->name);
  // Seen by build_cluster_state() as "this Job's pods are visible".
  const auto visible = [](const PodView& p) { return !p.owner_job_uid.empty() && (p.terminated() || !p.node.empty()); };
  // What reconcile() reads of a pod: whether it runs.
  const auto running = [](const PodView& p) { return p.phase == "Running" && !p.deleting; };
  std::string workload;
  {
    std::lock_guard lock(m_state_mutex);
    std::optional<PodView> old;
    if (auto it = m_pods.find(key); it != m_pods.end()) {
      old = it->second;
    }
    const bool held = old && !old->node.empty() && !old->terminated();
    const bool holds = !deleted && !view->node.empty() && !view->terminated();
    if (old && !old->owner_job_uid.empty()) {
      if (auto it = m_pods_by_job_uid.find(old->owner_job_uid); it != m_pods_by_job_uid.end()) {
        it->second.erase(key);
        if (it->second.empty()) {
          m_pods_by_job_uid.erase(it);
        }
      }
    }
    // Pods that hold nothing and belong to no Job cannot matter for placement.
    const bool keep =
        !deleted && (view->gpus > 0 || view->cpu_milli > 0 || view->memory_bytes > 0 || !view->owner_job_uid.empty());
    if (keep) {
      if (!view->owner_job_uid.empty()) {
        m_pods_by_job_uid[view->owner_job_uid].insert(key);
      }
      m_pods[key] = *view;
    } else {
      m_pods.erase(key);
    }
    account_pod_locked(key);
    // A Job's share moves to its pods once one is visible, and back.
    const bool was_visible = old && visible(*old);
    const bool is_visible = keep && visible(*view);
    if (was_visible && (!is_visible || old->owner_job_uid != view->owner_job_uid)) {
      if (auto it = m_visible.find(old->owner_job_uid); it != m_visible.end() && --it->second <= 0) {
        m_visible.erase(it);
        if (auto j = m_job_by_uid.find(old->owner_job_uid); j != m_job_by_uid.end()) {
          account_job_locked(j->second);
        }
      }
    }
    if (is_visible && (!was_visible || old->owner_job_uid != view->owner_job_uid)) {
      if (++m_visible[view->owner_job_uid] == 1) {
        if (auto j = m_job_by_uid.find(view->owner_job_uid); j != m_job_by_uid.end()) {
          account_job_locked(j->second);
        }
      }
    }
    if (held && !holds) {
      m_wake_nodes.insert(old->node);
    }
    // A gpuorch Job's pod started or stopped running: look at its workload.
    const bool was_running = old && running(*old);
    const bool is_running = !deleted && running(*view);
    if (!view->owner_job_uid.empty() && was_running != is_running) {
      if (auto it = m_job_by_uid.find(view->owner_job_uid); it != m_job_by_uid.end()) {
        workload = workload_key_of_job(m_jobs.at(it->second));
      }
    }
  }
  if (!workload.empty()) {
    m_queue.add(workload);
  }
}

void WatchController::on_node(const json& object, bool deleted) {
  const auto name = kube::Informer::key_of(object);
  std::lock_guard lock(m_state_mutex);
  if (deleted) {
    m_nodes.erase(name);
    m_rebuild = true;
    return;
  }
  auto spec = node_spec_from_json(object);
  if (!spec.ok()) {
    spdlog::warn("Node {}: {}", name, spec.error().message());
    m_nodes.erase(name);
    m_rebuild = true;
    return;
  }
  if (auto it = m_nodes.find(name); it != m_nodes.end() && same_for_placement(it->second, *spec)) {
    return;  // a heartbeat or an unrelated change: nothing to decide again
  }
  m_nodes[name] = std::move(*spec);
  m_rebuild = true;
  // A new node, or one that became Ready/uncordoned or grew: work may fit now.
  m_wake_nodes.insert(name);
}

// ---- the cluster state ----
//
// What build_cluster_state() computes from every node, pod and Job, kept by
// deltas: each pod and Job (or reservation) has a share of one node's usage,
// each change replaces its share, and only the nodes whose usage changed are
// derived again (from their sums, the same way) before the next placement.

void WatchController::set_share_locked(std::unordered_map<std::string, Share>& shares, const std::string& key,
                                       std::optional<Share> share) {
  if (share && share->gpus == 0 && share->cpu_milli == 0 && share->memory_bytes == 0) {
    share.reset();
  }
  const auto it = shares.find(key);
  if (it == shares.end() && !share) {
    return;
  }
  if (it != shares.end() && share && it->second == *share) {
    return;
  }
  const auto apply = [this](const Share& s, std::int64_t sign) {
    auto& u = m_usage[s.node];
    u.gpus += sign * s.gpus;
    u.cpu_milli += sign * s.cpu_milli;
    u.memory_bytes += sign * s.memory_bytes;
    (s.by_pod ? u.gpus_by_pods : u.gpus_by_jobs) += sign * s.gpus;
    m_stale.insert(s.node);
  };
  if (it != shares.end()) {
    apply(it->second, -1);
    shares.erase(it);
  }
  if (share) {
    apply(*share, 1);
    shares.emplace(key, std::move(*share));
  }
}

void WatchController::account_pod_locked(const std::string& pod_key) {
  std::optional<Share> share;
  if (const auto it = m_pods.find(pod_key); it != m_pods.end()) {
    const auto& p = it->second;
    if (!p.node.empty() && !p.terminated()) {
      share = Share{p.node, p.gpus, p.cpu_milli, p.memory_bytes, true};
    }
  }
  set_share_locked(m_pod_shares, pod_key, std::move(share));
}

void WatchController::account_job_locked(const std::string& job_key_) {
  const JobView* job = nullptr;
  if (const auto it = m_jobs.find(job_key_); it != m_jobs.end()) {
    job = &it->second;
  } else if (const auto r = m_reservations.find(job_key_); r != m_reservations.end()) {
    job = &r->second.job;  // counts like a Job whose pods are not visible yet
  }
  std::optional<Share> share;
  if (job != nullptr && job->live() && !job->node.empty() && (job->uid.empty() || !m_visible.contains(job->uid))) {
    share = Share{job->node, job->gpus, job->cpu_milli, job->memory_bytes, false};
  }
  set_share_locked(m_job_shares, job_key_, std::move(share));
}

void WatchController::release_reservation_locked(const std::string& job_key_) {
  if (m_reservations.erase(job_key_) > 0) {
    account_job_locked(job_key_);
  }
}

void WatchController::apply_usage_locked(sched::NodeId id) {
  NodeTotals totals;
  if (const auto it = m_usage.find(m_snapshot.state.spec(id).name); it != m_usage.end()) {
    totals = it->second;
  }
  std::vector<std::string> warnings;
  book_node_usage(m_snapshot, id, totals, warnings);
  for (const auto& w : warnings) {
    spdlog::debug("{}", w);
  }
}

void WatchController::refresh_locked() {
  if (m_rebuild) {
    std::vector<const sched::NodeSpec*> nodes;
    nodes.reserve(m_nodes.size());
    for (const auto& [name, spec] : m_nodes) {
      nodes.push_back(&spec);
    }
    // Deterministic node order (NodeIds), whatever the hash map's order.
    std::sort(nodes.begin(), nodes.end(), [](const auto* a, const auto* b) { return a->name < b->name; });
    m_snapshot = ClusterSnapshot{};
    for (const auto* n : nodes) {
      if (auto id = m_snapshot.state.add_node(*n); !id.ok()) {
        spdlog::debug("Node {}: {}", n->name, id.error().message());
      }
    }
    m_snapshot.usage.resize(m_snapshot.state.size());
    for (sched::NodeId id = 0; id < m_snapshot.state.size(); ++id) {
      apply_usage_locked(id);
    }
    m_rebuild = false;
    m_stale.clear();
    return;
  }
  for (const auto& name : m_stale) {
    if (const auto id = m_snapshot.state.find(name)) {
      (void)m_snapshot.state.clear(*id);
      m_snapshot.usage[*id] = NodeUsage{};
      apply_usage_locked(*id);
    }
  }
  m_stale.clear();
}

// ---- strict queueing across keys ----

std::optional<std::string> WatchController::strict_blocker_locked(const QueuePosition& position) const {
  for (const auto& ahead : m_unplaceable_order) {
    if (!(ahead < position)) {
      break;
    }
    if (std::get<2>(ahead) != std::get<2>(position)) {
      return std::get<2>(ahead);
    }
  }
  return std::nullopt;
}

void WatchController::set_waiting_locked(const std::string& key, std::optional<QueuePosition> position,
                                         bool unplaceable) {
  const auto it = m_waiting.find(key);
  if (it != m_waiting.end()) {
    if (position && *position == it->second.position && unplaceable == it->second.unplaceable) {
      return;
    }
    if (it->second.unplaceable) {
      // The head of a strict queue moves on: what waited behind it may start now.
      if (m_options.reconcile.queueing == sched::QueueingPolicy::strict && !m_unplaceable_order.empty() &&
          *m_unplaceable_order.begin() == it->second.position) {
        m_wake_head = true;
      }
      m_unplaceable_order.erase(it->second.position);
    }
    m_waiting_order.erase(it->second.position);
    m_waiting.erase(it);
  }
  if (position) {
    m_waiting_order.insert(*position);
    if (unplaceable) {
      m_unplaceable_order.insert(*position);
    }
    m_waiting.emplace(key, Waiting{std::move(*position), unplaceable});
  }
}

// ---- workers ----

void WatchController::own_write(const std::string& key, const std::string& resource_version) {
  std::lock_guard lock(m_state_mutex);
  auto& versions = m_own_versions[key];
  versions.push_back(resource_version);
  if (versions.size() > 8) {
    versions.erase(versions.begin());  // echoes the watch never delivered (a re-list skipped them)
  }
}

void WatchController::settle_echoes(const std::string& key) {
  bool changed = false;
  {
    std::lock_guard lock(m_state_mutex);
    m_in_flight.erase(key);
    const auto seen = m_seen_in_flight.find(key);
    if (seen == m_seen_in_flight.end()) {
      return;
    }
    auto own = m_own_versions.find(key);
    for (const auto& version : seen->second) {
      bool echo = false;
      if (own != m_own_versions.end() && !version.empty()) {
        auto& versions = own->second;
        if (auto v = std::find(versions.begin(), versions.end(), version); v != versions.end()) {
          versions.erase(versions.begin(), v + 1);
          echo = true;
        }
      }
      changed = changed || !echo;
    }
    if (own != m_own_versions.end() && (changed || own->second.empty())) {
      m_own_versions.erase(own);  // someone else's change is newer than every write of this loop
    }
    m_seen_in_flight.erase(seen);
  }
  if (changed) {
    m_queue.add(key);  // someone else changed it meanwhile: decide again
  }
}

Status WatchController::process(const std::string& key) {
  {
    std::lock_guard lock(m_state_mutex);
    m_in_flight.insert(key);
  }
  auto s = reconcile_key(key);
  settle_echoes(key);
  return s;
}

Status WatchController::reconcile_key(const std::string& key) {
  const auto started = std::chrono::steady_clock::now();
  const auto now = m_client->clock().now();
  auto obj = m_workload_informer->get(key);
  {
    // The cache does not show this loop's last write of the workload yet
    // (its echo is on the way): deciding from the older copy would only
    // conflict. Its echo queues the key again.
    std::lock_guard lock(m_state_mutex);
    if (auto it = m_own_versions.find(key); it != m_own_versions.end() && obj) {
      auto& versions = it->second;
      const auto cached = resource_version_of(*obj);
      if (auto v = std::find(versions.begin(), versions.end(), cached); v != versions.end()) {
        versions.erase(versions.begin(), v + 1);
        if (versions.empty()) {
          m_own_versions.erase(it);
        }
      } else {
        m_awaiting_echo.insert(key);
        return Status();
      }
    }
  }
  const std::uint64_t seed = fnv1a(key, m_options.seed ^ (m_pass.fetch_add(1) * 0x9e3779b97f4a7c15ULL));
  const bool exists = obj.has_value();
  std::vector<json> workload_objects;
  if (obj) {
    workload_objects.push_back(std::move(*obj));  // the cache's copy is ours: no second one
  }
  Observed observed = observed_from_json(workload_objects, {}, {}, {}, now, seed);
  workload_objects.clear();
  observed.namespace_name = namespace_of(key);
  for (const auto& w : observed.warnings) {
    spdlog::warn("{}", w);
  }

  // The status names a Job neither the cache nor the ledger holds (a Job
  // another process created, e.g. before a leader change, that the Job watch
  // has not shown yet): ask the server before reconcile() concludes the Job
  // was deleted and starts another attempt. A Job this loop created is in
  // the ledger until the cache shows it, so it is never asked for.
  std::optional<JobView> confirmed_job;
  if (!observed.workloads.empty()) {
    const auto& w = observed.workloads.front();
    const auto phase = w.status.phase.value_or(model::Phase::pending);
    if ((phase == model::Phase::scheduled || phase == model::Phase::running) && !w.status.job_name.empty()) {
      const auto jk = job_key(observed.namespace_name, w.status.job_name);
      bool cached = false;
      {
        std::lock_guard lock(m_state_mutex);
        cached = m_jobs.contains(jk) || m_reservations.contains(jk);
      }
      if (!cached) {
        auto got = m_client->get(kube::resources::jobs(), observed.namespace_name, w.status.job_name);
        if (got) {
          auto view = job_view_from_json(*got);
          if (view.ok()) {
            view->namespace_name = observed.namespace_name;
            confirmed_job = std::move(*view);
          }
        } else if (got.error().code() != ErrorCode::not_found) {
          m_queue.add_rate_limited(key);  // unknown: never conclude "deleted" from a failed read
          return Error(got.error().code(), "confirming Job " + jk + ": " + got.error().message());
        }
      }
    }
  }

  // This workload's Jobs and pods (copies: reconcile runs without the lock).
  {
    std::lock_guard lock(m_state_mutex);
    if (confirmed_job && !m_jobs.contains(job_key(confirmed_job->namespace_name, confirmed_job->name))) {
      observed.jobs.push_back(*confirmed_job);
    }
    if (auto it = m_jobs_by_workload.find(key); it != m_jobs_by_workload.end()) {
      for (const auto& jk : it->second) {
        const auto& j = m_jobs.at(jk);
        observed.jobs.push_back(j);
        if (auto pit = m_pods_by_job_uid.find(j.uid); pit != m_pods_by_job_uid.end()) {
          for (const auto& pk : pit->second) {
            observed.pods.push_back(m_pods.at(pk));
          }
        }
      }
    }
    // A Job this loop created that the cache has not shown yet: the workload
    // sees it as created (it adopts it rather than placing a second time).
    for (const auto& [jk, r] : m_reservations) {
      if (workload_key_of_job(r.job) == key && !m_jobs.contains(jk)) {
        observed.jobs.push_back(r.job);
      }
    }
  }

  // Only a workload that is to be placed takes the lock and brings the
  // cluster state up to date; it holds the lock from its placement to its
  // booking, so no two workers book the same GPUs.
  const bool strict = m_options.reconcile.queueing == sched::QueueingPolicy::strict;
  std::unique_lock placing(m_state_mutex, std::defer_lock);
  bool blocked = false;
  ReconcileOptions options = m_options.reconcile;
  options.placement = [&]() {
    placing.lock();
    refresh_locked();
    ReconcileOptions::Placement p;
    p.cluster = &m_snapshot;
    if (strict && observed.workloads.size() == 1) {
      const auto& w = observed.workloads.front();
      p.blocked_by = strict_blocker_locked({-w.spec.priority, created_seconds(w), key});
      blocked = p.blocked_by.has_value();
    }
    return p;
  };
  Plan plan = reconcile(observed, options);
  std::vector<std::string> reserved;
  if (placing.owns_lock()) {
    // Book each new Job until the cache shows it.
    for (const auto& a : plan.actions) {
      if (a.kind != ActionKind::create_job) {
        continue;
      }
      auto view = job_view_from_json(a.job);
      if (!view.ok()) {
        m_rebuild = true;  // the state holds a booking nothing accounts for
        continue;
      }
      view->namespace_name = a.namespace_name;
      // The node is derived again from the accounting (as a fresh build would).
      m_stale.insert(view->node);
      const auto jk = job_key(a.namespace_name, a.job_name);
      if (m_jobs.contains(jk)) {
        continue;  // already there (adoption): it is counted as it is
      }
      m_reservations[jk] = Reservation{std::move(*view), std::chrono::steady_clock::now()};
      account_job_locked(jk);
      reserved.push_back(jk);
    }
    if (observed.workloads.size() == 1) {
      // Left pending: woken when capacity frees; with strict queueing, one
      // whose own placement failed blocks the queue behind it.
      const auto& w = observed.workloads.front();
      std::optional<QueuePosition> position;
      if (plan.counts.unschedulable > 0) {
        position = QueuePosition{-w.spec.priority, created_seconds(w), key};
      }
      set_waiting_locked(key, std::move(position), !blocked);
    }
    placing.unlock();
  }
  for (const auto& w : plan.warnings) {
    spdlog::debug("{}", w);
  }

  ExecutionReport report;
  bool ok = true;
  if (!plan.empty()) {
    auto executed = execute(*m_client, plan, m_options.executor);
    if (!executed) {
      report.errors.push_back(executed.error().message());
      report.workloads_failed = 1;
    } else {
      report = std::move(*executed);
    }
    ok = report.workloads_failed == 0 && !report.interrupted;
    for (const auto& e : report.errors) {
      spdlog::debug("{}: {}", key, e);
    }
  }
  // A create that may not have happened: ask the server once; a Job that is
  // not there releases its GPUs now (else the cache event will, or the
  // ledger's check of Jobs the cache never showed).
  if (!reserved.empty() && (!ok || report.workloads_skipped > 0)) {
    for (const auto& jk : reserved) {
      const auto slash = jk.find('/');
      auto got = m_client->get(kube::resources::jobs(), jk.substr(0, slash), jk.substr(slash + 1));
      if (!got && got.error().code() == ErrorCode::not_found) {
        std::lock_guard lock(m_state_mutex);
        release_reservation_locked(jk);
      }
    }
  }

  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  {
    std::lock_guard lock(m_stats_mutex);
    ++m_stats.reconciles;
    m_stats.writes += report.writes;
    m_stats.jobs_created += ok ? plan.counts.scheduled : report.counts.scheduled;
    if (!ok) {
      ++m_stats.errors;
    }
  }
  if (m_metrics) {
    m_metrics->workload_scheduled(static_cast<double>(report.counts.scheduled));
    m_metrics->workload_retried(static_cast<double>(report.counts.retries));
    for (const auto& [reason, count] : report.counts.failed) {
      for (std::int64_t i = 0; i < count; ++i) {
        m_metrics->workload_failed(reason);
      }
    }
    m_metrics->pass_finished(elapsed, ok, m_client->clock().now());
    m_watch_metrics->observe_work(elapsed);
  }

  if (!ok) {
    m_queue.add_rate_limited(key);
    return Error(ErrorCode::api, report.errors.empty() ? std::string("interrupted") : report.errors.front());
  }
  m_queue.forget(key);
  requeue_after_plan(key, plan);
  if (report.workloads_skipped > 0) {
    // Changed meanwhile (its write lost a race): decide again from the new state.
    m_queue.add_rate_limited(key);
  }
  if (!exists && !observed.jobs.empty() && plan.empty()) {
    // Jobs whose workload is gone, still within their grace period: look again.
    m_queue.add_after(key, std::chrono::seconds(30));
  }
  return Status();
}

void WatchController::requeue_after_plan(const std::string& key, const Plan& plan) {
  if (!plan.requeue_at) {
    return;
  }
  const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(*plan.requeue_at - plan.now);
  m_queue.add_after(key, delay);
}

void WatchController::worker_loop() {
  while (auto key = m_queue.get()) {
    auto s = process(*key);
    if (!s.ok()) {
      spdlog::debug("reconciling {}: {}", *key, s.error().message());
    }
    m_queue.done(*key);
  }
}

// ---- the ticker: start-up, wake-ups, resync, the ledger's check, gauges ----

void WatchController::wake_pending() {
  const bool strict = m_options.reconcile.queueing == sched::QueueingPolicy::strict;
  std::vector<std::string> wake;
  {
    std::lock_guard lock(m_state_mutex);
    if (m_wake_nodes.empty() && !m_wake_all && !m_wake_head) {
      return;
    }
    refresh_locked();
    // Free whole GPUs where capacity freed, then the pending workloads (queue
    // order) that fit in it: the ones that could start now, not every one.
    // When the head of a strict queue went away, the whole cluster's.
    std::int64_t budget = 0;
    std::int32_t largest = 0;
    const auto count = [&](sched::NodeId id) {
      const auto free = m_snapshot.state.whole_free_gpus(id);
      budget += free;
      largest = std::max(largest, free);
    };
    if (m_wake_head) {
      for (sched::NodeId id = 0; id < m_snapshot.state.size(); ++id) {
        count(id);
      }
    } else {
      for (const auto& name : m_wake_nodes) {
        if (const auto id = m_snapshot.state.find(name)) {
          count(*id);
        }
      }
    }
    if (m_wake_all) {
      budget = std::numeric_limits<std::int64_t>::max();
      largest = std::numeric_limits<std::int32_t>::max();
    }
    m_wake_nodes.clear();
    m_wake_all = false;
    m_wake_head = false;
    for (const auto& [neg_priority, created, key] : m_waiting_order) {
      if (budget <= 0) {
        break;
      }
      const auto found = m_pending.find(key);
      if (found == m_pending.end()) {
        continue;
      }
      const auto& e = found->second;
      if (e.gpus > largest) {
        if (strict) {
          // Nothing behind it may start before it; it may fit elsewhere now.
          wake.push_back(key);
          break;
        }
        continue;
      }
      wake.push_back(key);
      budget -= std::max(1, e.gpus);
    }
  }
  for (const auto& key : wake) {
    m_queue.add(key, WorkQueue::Priority::high);
  }
  if (!wake.empty()) {
    std::lock_guard lock(m_stats_mutex);
    m_stats.wakeups += static_cast<std::int64_t>(wake.size());
  }
}

void WatchController::update_watch_gauges() {
  if (!m_watch_metrics) {
    return;
  }
  m_watch_metrics->set_queue_depth(static_cast<double>(queue_depth()));
  const std::pair<const char*, const kube::Informer*> informers[] = {{"gpuworkloads", m_workload_informer.get()},
                                                                     {"jobs", m_job_informer.get()},
                                                                     {"pods", m_pod_informer.get()},
                                                                     {"nodes", m_node_informer.get()}};
  for (const auto& [resource, informer] : informers) {
    auto& [reconnects, relists] = m_watch_reported[resource];
    const int now_reconnects = informer->watch_restarts();
    const int now_relists = std::max(0, informer->list_count() - 1);
    if (now_reconnects > reconnects) {
      m_watch_metrics->reconnects().with({resource}).inc(static_cast<double>(now_reconnects - reconnects));
      reconnects = now_reconnects;
    }
    if (now_relists > relists) {
      m_watch_metrics->relists().with({resource}).inc(static_cast<double>(now_relists - relists));
      relists = now_relists;
    }
    m_watch_metrics->set_informer_synced(resource, informer->has_synced());
  }
}

void WatchController::check_reservations() {
  // A Job the ledger holds that the cache has not shown for a long time:
  // ask the server. Only one that is not there gives its GPUs back; one that
  // is stays booked (the cache will show it), so a slow Job watch never
  // lets two workloads book the same GPUs.
  std::vector<std::string> overdue;
  {
    std::lock_guard lock(m_state_mutex);
    const auto real_now = std::chrono::steady_clock::now();
    for (const auto& [jk, r] : m_reservations) {
      if (real_now - r.made > m_options.reservation_ttl) {
        overdue.push_back(jk);
      }
    }
  }
  for (const auto& jk : overdue) {
    const auto slash = jk.find('/');
    auto got = m_client->get(kube::resources::jobs(), jk.substr(0, slash), jk.substr(slash + 1));
    std::string workload;
    {
      std::lock_guard lock(m_state_mutex);
      auto it = m_reservations.find(jk);
      if (it == m_reservations.end()) {
        continue;  // the cache showed it meanwhile
      }
      if (got) {
        spdlog::debug("Job {} exists but the Job cache has not shown it yet: still booked", jk);
        it->second.made = std::chrono::steady_clock::now();
        continue;
      }
      if (got.error().code() != ErrorCode::not_found) {
        continue;  // unknown: ask again at the next check
      }
      spdlog::warn("Job {} was never seen after its create and the server does not have it: releasing its GPUs", jk);
      workload = workload_key_of_job(it->second.job);
      release_reservation_locked(jk);
    }
    if (!workload.empty()) {
      m_queue.add(workload);
    }
  }
}

void WatchController::update_gauges() {
  update_watch_gauges();
  if (!m_metrics) {
    return;
  }
  std::map<std::string, double> phases;
  std::vector<obs::NodeGpus> nodes;
  {
    std::lock_guard lock(m_state_mutex);
    for (const auto& [key, phase] : m_phases) {
      phases[std::string(model::to_string(phase))] += 1;
    }
    refresh_locked();
    const auto& state = m_snapshot.state;
    nodes.reserve(state.size());
    for (sched::NodeId id = 0; id < state.size(); ++id) {
      const auto free = state.whole_free_gpus(id);
      nodes.push_back(
          {state.spec(id).name, static_cast<double>(free), static_cast<double>(state.spec(id).gpu_count - free)});
    }
  }
  m_metrics->set_workloads_by_phase({phases.begin(), phases.end()});
  m_metrics->set_node_gpus(nodes);
}

void WatchController::ticker_loop(std::stop_token stop) {
  auto& clock = m_client->clock();
  // Workers start once every cache is complete (deciding from a partial view
  // of the cluster could book GPUs that are in use) and this replica may
  // write; until then (a warm standby) the caches follow the cluster.
  auto next_watch_gauges = clock.monotonic();
  bool told_synced = false;
  while (!stop.stop_requested() && !(m_workers_wanted && synced())) {
    note_tick();
    if (clock.monotonic() >= next_watch_gauges) {
      next_watch_gauges = clock.monotonic() + std::chrono::seconds(1);
      update_watch_gauges();
    }
    if (!told_synced && synced()) {
      told_synced = true;
      spdlog::info("caches synced: {} workloads, {} gpuorch Jobs, {} pods, {} nodes; standing by",
                   m_workload_informer->size(), m_job_informer->size(), m_pod_informer->size(),
                   m_node_informer->size());
    }
    clock.sleep_for(m_options.tick, stop);
  }
  if (stop.stop_requested()) {
    return;
  }
  spdlog::info("caches synced: {} workloads, {} gpuorch Jobs, {} pods, {} nodes; starting {} workers",
               m_workload_informer->size(), m_job_informer->size(), m_pod_informer->size(), m_node_informer->size(),
               m_options.workers);
  if (!m_stopping) {
    m_workers_started_ns = clock.monotonic().time_since_epoch().count();
    for (int i = 0; i < m_options.workers; ++i) {
      m_workers.emplace_back([this] { worker_loop(); });
    }
    m_workers_started = true;
  }
  auto next_resync = clock.monotonic() + m_options.resync_period;
  auto next_gauges = clock.monotonic();
  while (!stop.stop_requested()) {
    note_tick();
    wake_pending();
    const auto now = clock.monotonic();
    if (m_options.resync_period.count() > 0 && now >= next_resync) {
      next_resync = now + m_options.resync_period;
      std::vector<std::string> keys;
      {
        std::lock_guard lock(m_state_mutex);
        keys.reserve(m_phases.size());
        for (const auto& [key, phase] : m_phases) {
          keys.push_back(key);
        }
      }
      for (const auto& key : keys) {
        m_queue.add(key);
      }
      std::lock_guard lock(m_stats_mutex);
      ++m_stats.resyncs;
    }
    check_reservations();
    if (now >= next_gauges) {
      next_gauges = now + std::chrono::seconds(1);
      update_gauges();
    }
    clock.sleep_for(m_options.tick, stop);
  }
}

}  // namespace gpuorch::control
