// Applies a Plan through the Kubernetes client. Every write is safe to repeat
// after a crash at any point: names are deterministic, creates adopt what an
// earlier run left, updates carry resourceVersion preconditions, deletes carry
// uid preconditions, and the order inside one workload (Job, then status,
// then Event; Jobs gone, then finalizer) keeps the invariants of DESIGN.md §6.

#include <gpuorch/control/executor.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <gpuorch/base/strings.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/condition.hpp>

namespace gpuorch::control {
namespace {

using nlohmann::json;

std::string meta_string(const json& obj, std::string_view key) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) {
    return {};
  }
  const auto& meta = obj["metadata"];
  const auto it = meta.find(key);
  return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string controller_uid(const json& obj) {
  if (!obj.is_object() || !obj.contains("metadata")) {
    return {};
  }
  for (const auto& ref : obj["metadata"].value("ownerReferences", json::array())) {
    if (ref.is_object() && ref.value("controller", false)) {
      return ref.value("uid", "");
    }
  }
  return {};
}

bool is_already_exists(const Error& e) {
  return e.code() == ErrorCode::conflict && e.reason() == "AlreadyExists";
}
bool is_conflict(const Error& e) {
  return e.code() == ErrorCode::conflict && e.reason() != "AlreadyExists";
}

// The outcome of one workload's action chain.
enum class ChainResult { done, skipped, failed, interrupted };

class Runner {
 public:
  Runner(kube::Client& client, const Plan& plan, const ExecutorOptions& options, const CancelToken* cancel)
      : m_client(client), m_plan(plan), m_opt(options), m_cancel(cancel) {}

  ExecutionReport run() {
    // Group actions by workload, keeping plan order inside each group.
    std::map<std::pair<std::string, std::string>, std::size_t> group_of;
    for (std::size_t i = 0; i < m_plan.actions.size(); ++i) {
      const auto& a = m_plan.actions[i];
      // Orphan Job deletions have no workload uid: each is its own group.
      const std::pair<std::string, std::string> key{a.namespace_name,
                                                    a.workload_uid.empty() ? "\x01" + a.job_name : a.workload};
      auto [it, inserted] = group_of.emplace(key, m_groups.size());
      if (inserted) {
        m_groups.emplace_back();
      }
      m_groups[it->second].push_back(&a);
    }
    const int workers = std::clamp<int>(m_opt.parallelism, 1, 256);
    const auto n = std::min<std::size_t>(static_cast<std::size_t>(workers), m_groups.size());
    if (n == 1) {
      work();  // one chain at a time (the watch loop's workers): no thread to start per plan
      return std::move(m_report);
    }
    {
      std::vector<std::jthread> threads;
      threads.reserve(n);
      for (std::size_t t = 0; t < n; ++t) {
        threads.emplace_back([this] { work(); });
      }
    }
    return std::move(m_report);
  }

 private:
  bool stop_requested() {
    if (m_stop.load()) {
      return true;
    }
    if ((m_cancel != nullptr && m_cancel->cancelled()) ||
        (m_opt.deadline && std::chrono::steady_clock::now() >= *m_opt.deadline)) {
      m_stop = true;
      return true;
    }
    if (m_opt.checkpoint) {
      std::lock_guard lock(m_checkpoint_mutex);
      if (auto s = m_opt.checkpoint(); !s.ok()) {
        record_error(fmt::format("stopping: {}", s.error().message()));
        m_stop = true;
        return true;
      }
    }
    return false;
  }

  void work() {
    for (;;) {
      const std::size_t i = m_next.fetch_add(1);
      if (i >= m_groups.size()) {
        return;
      }
      if (stop_requested()) {
        std::lock_guard lock(m_mutex);
        m_report.interrupted = true;
        return;
      }
      const auto result = run_chain(m_groups[i]);
      std::lock_guard lock(m_mutex);
      switch (result) {
        case ChainResult::done:
          break;
        case ChainResult::skipped:
          ++m_report.workloads_skipped;
          break;
        case ChainResult::failed:
          ++m_report.workloads_failed;
          break;
        case ChainResult::interrupted:
          m_report.interrupted = true;
          break;
      }
    }
  }

  void record_error(std::string line) {
    std::lock_guard lock(m_mutex);
    spdlog::warn("{}", line);
    m_report.errors.push_back(std::move(line));
  }

  void written(const Action& a, const std::string& resource_version) const {
    if (m_opt.on_workload_written && !resource_version.empty()) {
      m_opt.on_workload_written(a.namespace_name, a.workload, resource_version);
    }
  }

  void count_write() {
    std::lock_guard lock(m_mutex);
    ++m_report.writes;
  }

  // Per-chain state threaded from one action to the next.
  struct Chain {
    std::string rv;  // the workload's current resourceVersion
    std::vector<std::string> finalizers;
    bool jobs_still_present = false;  // a delete left a Job held by its finalizers
    std::optional<std::string> adopted_node;
    std::vector<ActionKind> applied;
    const Action* status = nullptr;
  };

  ChainResult run_chain(const std::vector<const Action*>& actions) {
    Chain chain;
    chain.rv = actions.front()->resource_version;
    chain.finalizers = actions.front()->finalizers;
    for (const Action* a : actions) {
      if (m_cancel != nullptr && m_cancel->cancelled()) {
        return ChainResult::interrupted;
      }
      const std::string who = a->workload_uid.empty()
                                  ? fmt::format("Job {}/{}", a->namespace_name, a->job_name)
                                  : fmt::format("GPUWorkload {}/{}", a->namespace_name, a->workload);
      ChainResult r = ChainResult::done;
      switch (a->kind) {
        case ActionKind::add_finalizer:
        case ActionKind::remove_finalizer:
          r = finalizer(*a, chain, who);
          break;
        case ActionKind::create_job:
          r = create_job(*a, chain, who);
          break;
        case ActionKind::delete_job:
          r = delete_job(*a, chain, who);
          break;
        case ActionKind::update_status:
          r = update_status(*a, chain, who);
          break;
        case ActionKind::emit_event:
          r = emit_event(*a, chain, who);
          break;
      }
      if (r != ChainResult::done) {
        return r;
      }
      chain.applied.push_back(a->kind);
      std::lock_guard lock(m_mutex);
      ++m_report.actions_applied;
      if (a->kind == ActionKind::update_status) {
        tally(*a);
      }
    }
    return ChainResult::done;
  }

  // The counts for metrics follow what was actually written.
  void tally(const Action& a) {
    const auto before = a.previous_status.phase.value_or(model::Phase::pending);
    const auto after = a.status.phase.value_or(model::Phase::pending);
    auto& c = m_report.counts;
    if (after == model::Phase::scheduled && before != model::Phase::scheduled && before != model::Phase::running) {
      ++c.scheduled;
    }
    if (a.status.retry_count > a.previous_status.retry_count) {
      ++c.retries;
    }
    if (after == model::Phase::succeeded && before != after) {
      ++c.succeeded;
    }
    if (after == model::Phase::failed && before != after) {
      const auto* cond = model::find_condition(a.status.conditions, model::k_condition_failed);
      ++c.failed[cond != nullptr ? cond->reason : std::string("Unknown")];
    }
    if (after == model::Phase::pending && a.status.retry_count == a.previous_status.retry_count) {
      ++c.unschedulable;
    }
  }

  // Re-reads the workload after a conflict. Returns the fresh object when the
  // write may be retried (same uid, same spec generation, same status, not
  // being deleted), nullopt when the workload changed and the next pass must decide.
  std::optional<json> reread(const Action& a, const std::string& who, bool status_must_match) {
    auto fresh = m_client.get(kube::resources::gpu_workloads(), a.namespace_name, a.workload);
    if (!fresh.ok()) {
      spdlog::info("{}: changed meanwhile and cannot be re-read ({}); left for the next pass", who,
                   fresh.error().message());
      return std::nullopt;
    }
    if (meta_string(*fresh, "uid") != a.workload_uid) {
      spdlog::info("{}: was recreated meanwhile; left for the next pass", who);
      return std::nullopt;
    }
    if (status_must_match) {
      auto w = model::workload_from_json(*fresh);
      if (!w.ok() || w->status != a.previous_status || w->metadata.deletion_timestamp) {
        spdlog::info("{}: its status changed meanwhile; left for the next pass", who);
        return std::nullopt;
      }
    }
    return std::move(*fresh);
  }

  ChainResult finalizer(const Action& a, Chain& chain, const std::string& who) {
    const bool add = a.kind == ActionKind::add_finalizer;
    if (!add && chain.jobs_still_present) {
      spdlog::info("{}: a Job is still being deleted; the finalizer stays until the next pass", who);
      return ChainResult::skipped;
    }
    for (int attempt = 0;; ++attempt) {
      std::vector<std::string> next = chain.finalizers;
      next.erase(std::remove(next.begin(), next.end(), std::string(k_finalizer)), next.end());
      if (add) {
        next.emplace_back(k_finalizer);
      }
      const json patch = {{"metadata", {{"resourceVersion", chain.rv}, {"finalizers", next}}}};
      count_write();
      auto r = m_client.patch(kube::resources::gpu_workloads(), a.namespace_name, a.workload, kube::PatchType::merge,
                              patch.dump(), write_options());
      if (r.ok()) {
        chain.rv = meta_string(*r, "resourceVersion");
        chain.finalizers = std::move(next);
        written(a, chain.rv);
        return ChainResult::done;
      }
      if (r.error().code() == ErrorCode::not_found && !add) {
        return ChainResult::done;  // already gone
      }
      if (!is_conflict(r.error()) || attempt >= m_opt.max_conflict_retries) {
        return fail(who, to_string(a.kind), r.error());
      }
      auto fresh = reread(a, who, false);
      if (!fresh) {
        return ChainResult::skipped;
      }
      chain.rv = meta_string(*fresh, "resourceVersion");
      chain.finalizers.clear();
      for (const auto& f : (*fresh)["metadata"].value("finalizers", json::array())) {
        if (f.is_string()) {
          chain.finalizers.push_back(f.get<std::string>());
        }
      }
    }
  }

  ChainResult create_job(const Action& a, Chain& /*chain*/, const std::string& who) {
    for (int attempt = 0;; ++attempt) {
      count_write();
      auto r = m_client.create(kube::resources::jobs(), a.namespace_name, a.job, write_options());
      if (r.ok()) {
        return ChainResult::done;
      }
      if (r.error().code() != ErrorCode::conflict || attempt >= m_opt.max_conflict_retries) {
        return fail(who, "CreateJob", r.error());
      }
      // AlreadyExists (or an ambiguous 409): is it our Job from an earlier run?
      auto existing = m_client.get(kube::resources::jobs(), a.namespace_name, a.job_name);
      if (!existing.ok()) {
        if (existing.error().code() == ErrorCode::not_found) {
          continue;  // the 409 was not about the name: try again
        }
        return fail(who, "CreateJob", existing.error());
      }
      if (controller_uid(*existing) != a.workload_uid) {
        record_error(fmt::format("{}: Job {} exists and is not owned by this workload; not adopted", who, a.job_name));
        return ChainResult::failed;
      }
      auto view = job_view_from_json(*existing);
      auto planned = job_view_from_json(a.job);
      if (!view.ok() || !planned.ok() || !view->live() || view->node != planned->node) {
        // Created by an earlier run with another decision, or already finished:
        // the next pass follows that Job instead of this plan.
        spdlog::info("{}: Job {} already exists from an earlier run; the next pass follows it", who, a.job_name);
        return ChainResult::skipped;
      }
      std::lock_guard lock(m_mutex);
      ++m_report.jobs_adopted;
      return ChainResult::done;
    }
  }

  ChainResult delete_job(const Action& a, Chain& chain, const std::string& who) {
    kube::DeleteOptions d;
    d.propagation_policy = "Background";
    d.precondition_uid = a.job_uid;
    count_write();
    auto r = m_client.remove(kube::resources::jobs(), a.namespace_name, a.job_name, d);
    if (r.ok()) {
      if (r->value("kind", "") == "Job" && !meta_string(*r, "deletionTimestamp").empty()) {
        chain.jobs_still_present = true;
      }
      return ChainResult::done;
    }
    // NotFound: already gone. Conflict: the uid precondition failed, so the Job we meant is gone.
    if (r.error().code() == ErrorCode::not_found || r.error().code() == ErrorCode::conflict) {
      return ChainResult::done;
    }
    return fail(who, "DeleteJob " + a.job_name, r.error());
  }

  ChainResult update_status(const Action& a, Chain& chain, const std::string& who) {
    for (int attempt = 0;; ++attempt) {
      const json patch = status_patch(a.previous_status, a.status, chain.rv);
      count_write();
      kube::WriteOptions w = write_options();
      w.subresource = "status";
      auto r = m_client.patch(kube::resources::gpu_workloads(), a.namespace_name, a.workload, kube::PatchType::merge,
                              patch.dump(), w);
      if (r.ok()) {
        chain.rv = meta_string(*r, "resourceVersion");
        written(a, chain.rv);
        return ChainResult::done;
      }
      if (!is_conflict(r.error()) || attempt >= m_opt.max_conflict_retries) {
        return fail(who, "UpdateStatus", r.error());
      }
      auto fresh = reread(a, who, true);
      if (!fresh) {
        return ChainResult::skipped;
      }
      chain.rv = meta_string(*fresh, "resourceVersion");
    }
  }

  ChainResult emit_event(const Action& a, Chain& /*chain*/, const std::string& who) {
    const std::string name = event_name(a.workload, a.workload_uid, a.event.reason);
    const std::string now = model::format_time(m_plan.now, model::TimePrecision::seconds);
    const json event = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", {{"name", name}, {"namespace", a.namespace_name}}},
        {"involvedObject",
         {{"apiVersion", std::string(model::k_api_version)},
          {"kind", std::string(model::k_workload_kind)},
          {"namespace", a.namespace_name},
          {"name", a.workload},
          {"uid", a.workload_uid}}},
        {"reason", a.event.reason},
        {"message", a.event.message},
        {"type", a.event.type},
        {"count", 1},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"eventTime", nullptr},
        {"source", {{"component", std::string(k_controller_name)}}},
        {"reportingComponent", std::string(k_controller_name)},
        {"reportingInstance", m_opt.reporting_instance},
    };
    for (int attempt = 0;; ++attempt) {
      count_write();
      auto created = m_client.create(kube::resources::events(), a.namespace_name, event, write_options());
      if (created.ok()) {
        return ChainResult::done;
      }
      if (!is_already_exists(created.error()) && !(is_conflict(created.error()) && attempt == 0)) {
        return fail(who, "EmitEvent " + a.event.reason, created.error());
      }
      // The same reason about the same object: count it on the existing Event.
      auto existing = m_client.get(kube::resources::events(), a.namespace_name, name);
      if (!existing.ok()) {
        if (existing.error().code() == ErrorCode::not_found && attempt < m_opt.max_conflict_retries) {
          continue;
        }
        return fail(who, "EmitEvent " + a.event.reason, existing.error());
      }
      json updated = std::move(*existing);
      updated["count"] = updated.value("count", 1) + 1;
      updated["lastTimestamp"] = now;
      updated["message"] = a.event.message;
      updated["type"] = a.event.type;
      count_write();
      auto put = m_client.update(kube::resources::events(), a.namespace_name, updated, write_options());
      if (put.ok()) {
        std::lock_guard lock(m_mutex);
        ++m_report.events_aggregated;
        return ChainResult::done;
      }
      if (!is_conflict(put.error()) || attempt >= m_opt.max_conflict_retries) {
        return fail(who, "EmitEvent " + a.event.reason, put.error());
      }
    }
  }

  ChainResult fail(const std::string& who, std::string_view what, const Error& e) {
    if (e.code() == ErrorCode::cancelled) {
      return ChainResult::interrupted;
    }
    record_error(fmt::format("{}: {}: {}", who, what, e.message()));
    return ChainResult::failed;
  }

  [[nodiscard]] static kube::WriteOptions write_options() {
    kube::WriteOptions w;
    w.field_manager = std::string(k_field_manager);
    return w;
  }

  kube::Client& m_client;
  const Plan& m_plan;
  const ExecutorOptions& m_opt;
  const CancelToken* m_cancel;
  std::vector<std::vector<const Action*>> m_groups;
  std::atomic<std::size_t> m_next{0};
  std::atomic<bool> m_stop{false};
  std::mutex m_mutex;
  std::mutex m_checkpoint_mutex;
  ExecutionReport m_report;
};

}  // namespace

std::string event_name(std::string_view workload, std::string_view uid, std::string_view reason) {
  const auto hash = fnv1a(reason, fnv1a(uid));
  return fmt::format("{}.{:016x}", workload, hash);
}

json status_patch(const model::WorkloadStatus& before, const model::WorkloadStatus& after,
                  std::string_view resource_version) {
  json status = model::to_json(after);
  const json old = model::to_json(before);
  for (const auto& [key, value] : old.items()) {
    if (!status.contains(key)) {
      status[key] = nullptr;
    }
  }
  return {{"metadata", {{"resourceVersion", std::string(resource_version)}}}, {"status", status}};
}

Result<ExecutionReport> execute(kube::Client& client, const Plan& plan, const ExecutorOptions& options,
                                const CancelToken* cancel) {
  if (cancel != nullptr) {
    GPUORCH_TRY(cancel->check("reconcile"));
  }
  return Runner(client, plan, options, cancel).run();
}

}  // namespace gpuorch::control
