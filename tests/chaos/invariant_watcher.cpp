#include "invariant_watcher.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace gpuorch::chaos {

using nlohmann::json;

namespace {

constexpr std::size_t k_max_examples = 20;

std::int64_t to_int(const json& v) {
  if (v.is_number_integer()) {
    return v.get<std::int64_t>();
  }
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

/// nvidia.com/gpu of a pod spec: limits, else requests, summed over containers.
std::int64_t gpus_of(const json& pod_spec) {
  std::int64_t total = 0;
  for (const auto& c : pod_spec.value("containers", json::array())) {
    const json resources = c.value("resources", json::object());
    const json limits = resources.value("limits", json::object());
    const json requests = resources.value("requests", json::object());
    if (limits.contains("nvidia.com/gpu")) {
      total += to_int(limits["nvidia.com/gpu"]);
    } else if (requests.contains("nvidia.com/gpu")) {
      total += to_int(requests["nvidia.com/gpu"]);
    }
  }
  return total;
}

/// The node a pod template is pinned to: required node affinity on
/// metadata.name or kubernetes.io/hostname, a nodeSelector, or nodeName.
std::string pinned_node(const json& pod_spec) {
  if (pod_spec.contains("nodeName") && pod_spec["nodeName"].is_string()) {
    return pod_spec["nodeName"].get<std::string>();
  }
  const json terms = pod_spec.value("affinity", json::object())
                         .value("nodeAffinity", json::object())
                         .value("requiredDuringSchedulingIgnoredDuringExecution", json::object())
                         .value("nodeSelectorTerms", json::array());
  for (const auto& term : terms) {
    for (const char* field : {"matchFields", "matchExpressions"}) {
      for (const auto& req : term.value(field, json::array())) {
        const std::string key = req.value("key", "");
        const json values = req.value("values", json::array());
        if ((key == "metadata.name" || key == "kubernetes.io/hostname") && req.value("operator", "") == "In" &&
            values.size() == 1 && values[0].is_string()) {
          return values[0].get<std::string>();
        }
      }
    }
  }
  const json selector = pod_spec.value("nodeSelector", json::object());
  if (selector.contains("kubernetes.io/hostname") && selector["kubernetes.io/hostname"].is_string()) {
    return selector["kubernetes.io/hostname"].get<std::string>();
  }
  return {};
}

std::string owner_uid(const json& object, const std::string& kind) {
  for (const auto& ref : object["metadata"].value("ownerReferences", json::array())) {
    if (ref.value("kind", "") == kind) {
      return ref.value("uid", "");
    }
  }
  return {};
}

/// "Complete", "Failed" or "" from a Job's conditions.
std::string job_outcome(const json& job) {
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
    const std::string type = c.value("type", "");
    if ((type == "Complete" || type == "Failed") && c.value("status", "") == "True") {
      return type;
    }
  }
  return {};
}

bool unschedulable(const json& pod) {
  for (const auto& c : pod.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
        c.value("reason", "") == "Unschedulable") {
      return true;
    }
  }
  return false;
}

std::string key_of(const json& object) {
  return object["metadata"].value("namespace", "") + "/" + object["metadata"].value("name", "");
}

bool terminal_phase(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

InvariantWatcher::InvariantWatcher(sandbox::Store& store) : m_store(store) {}

InvariantWatcher::~InvariantWatcher() {
  stop();
}

void InvariantWatcher::start() {
  m_store.for_each(*m_store.find_type("", "v1", "nodes"), [this](const json& node) {
    const json allocatable = node.value("status", json::object()).value("allocatable", json::object());
    m_capacity[node["metadata"].value("name", "")] =
        allocatable.contains("nvidia.com/gpu") ? to_int(allocatable["nvidia.com/gpu"]) : 0;
  });
  auto open = [this](const char* group, const char* version, const char* plural) {
    const auto type = m_store.find_type(group, version, plural);
    if (!type) {
      throw std::runtime_error(std::string("no resource type ") + plural);
    }
    auto watch = m_store.watch(*type, "", sandbox::ListOptions{});
    if (!watch.ok()) {
      throw std::runtime_error("cannot watch " + std::string(plural) + ": " + watch.error().message());
    }
    return *watch;
  };
  m_workloads = open("gpuorch.io", "v1alpha1", "gpuworkloads");
  m_jobs = open("batch", "v1", "jobs");
  m_pods = open("", "v1", "pods");
  m_stop = false;
  m_thread = std::thread([this] { loop(); });
}

void InvariantWatcher::stop() {
  if (m_thread.joinable()) {
    m_stop = true;
    m_thread.join();
    catch_up();
  }
}

void InvariantWatcher::catch_up() {
  std::lock_guard lock(m_mutex);
  drain_locked();
}

void InvariantWatcher::loop() {
  std::uint64_t seen = 0;
  while (!m_stop) {
    seen = m_store.wait_for_change(seen, std::chrono::milliseconds(20));
    std::lock_guard lock(m_mutex);
    drain_locked();
  }
}

void InvariantWatcher::drain_locked() {
  if (!m_jobs) {
    return;
  }
  // Every change up to `target` has been pushed to the watches (the store
  // notifies under its lock), so merging them by resourceVersion up to there
  // replays the store's own order of changes.
  const std::uint64_t target = m_store.resource_version();
  for (auto& [kind, watch] : {std::pair{std::string("job"), m_jobs}, std::pair{std::string("pod"), m_pods},
                              std::pair{std::string("workload"), m_workloads}}) {
    while (auto event = watch->next(std::chrono::milliseconds(0))) {
      m_pending.emplace_back(kind, std::move(*event));
    }
    if (watch->closed()) {
      violation_locked(m_report.regression_violations, "the " + kind + " watch was closed: events were lost");
    }
  }
  std::stable_sort(m_pending.begin(), m_pending.end(),
                   [](const auto& a, const auto& b) { return a.second.resource_version < b.second.resource_version; });
  std::size_t done = 0;
  for (; done < m_pending.size() && m_pending[done].second.resource_version <= target; ++done) {
    apply_locked(m_pending[done].first, m_pending[done].second);
  }
  m_pending.erase(m_pending.begin(), m_pending.begin() + static_cast<std::ptrdiff_t>(done));
}

void InvariantWatcher::apply_locked(const std::string& kind, const sandbox::WatchEvent& event) {
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED") {
    return;
  }
  ++m_report.events;
  m_rv = event.resource_version;
  if (kind == "job") {
    on_job_locked(event.type, *event.object);
  } else if (kind == "pod") {
    on_pod_locked(event.type, *event.object);
  } else {
    on_workload_locked(event.type, *event.object);
  }
}

void InvariantWatcher::on_job_locked(const std::string& type, const json& job) {
  const std::string uid = job["metadata"].value("uid", "");
  const std::string name = key_of(job);
  auto it = m_job_state.find(uid);
  if (type == "DELETED") {
    if (it != m_job_state.end()) {
      const std::string workload = it->second.workload_uid;
      const std::string node = it->second.node;
      m_job_state.erase(it);
      check_workload_jobs_locked(workload, name);
      check_node_locked(node, m_rv);
    }
    return;
  }
  const json pod_spec = job["spec"]["template"].value("spec", json::object());
  if (it == m_job_state.end()) {
    JobState state;
    state.workload_uid = owner_uid(job, "GPUWorkload");
    state.node = pinned_node(pod_spec);
    state.gpus = gpus_of(pod_spec);
    it = m_job_state.emplace(uid, std::move(state)).first;
    ++m_report.jobs_created;
    if (it->second.workload_uid.empty()) {
      violation_locked(m_report.unowned_job_violations,
                       fmt::format("Job {} has no ownerReference to a GPUWorkload", name));
    } else {
      WorkloadHistory& h = m_history[it->second.workload_uid];
      h.job_names.insert(job["metadata"].value("name", ""));
    }
    if (it->second.node.empty()) {
      violation_locked(m_report.wrong_node_violations, fmt::format("Job {} is not pinned to a node", name));
    } else if (!m_capacity.contains(it->second.node)) {
      violation_locked(m_report.wrong_node_violations,
                       fmt::format("Job {} is pinned to {}, which does not exist", name, it->second.node));
    }
  }
  JobState& state = it->second;
  const std::string outcome = job_outcome(job);
  if (!state.finished && !outcome.empty() && !state.workload_uid.empty()) {
    WorkloadHistory& h = m_history[state.workload_uid];
    (outcome == "Complete" ? h.jobs_complete : h.jobs_failed) += 1;
  }
  state.finished = !outcome.empty();
  state.deleting = job["metadata"].contains("deletionTimestamp");
  std::uint64_t live = 0;
  for (const auto& [u, s] : m_job_state) {
    live += (!s.finished && !s.deleting) ? 1 : 0;
  }
  m_report.peak_live_jobs = std::max(m_report.peak_live_jobs, live);
  check_workload_jobs_locked(state.workload_uid, name);
  check_node_locked(state.node, m_rv);
}

void InvariantWatcher::on_pod_locked(const std::string& type, const json& pod) {
  const std::string uid = pod["metadata"].value("uid", "");
  const std::string name = key_of(pod);
  PodState& state = m_pod_state[uid];
  const std::string old_node = state.node;
  state.job_uid = owner_uid(pod, "Job");
  state.gpus = gpus_of(pod.value("spec", json::object()));
  state.node = pod.value("spec", json::object()).value("nodeName", "");
  const std::string phase = pod.value("status", json::object()).value("phase", "");
  state.ended = type == "DELETED" || phase == "Succeeded" || phase == "Failed";
  std::string job_node;
  if (auto job = m_job_state.find(state.job_uid); job != m_job_state.end()) {
    job->second.pods.insert(uid);
    job_node = job->second.node;
    if (!state.node.empty() && !job_node.empty() && state.node != job_node) {
      violation_locked(m_report.wrong_node_violations,
                       fmt::format("pod {} is bound to {} but its Job pins {}", name, state.node, job_node));
    }
  }
  if (unschedulable(pod) && m_unschedulable_pods.insert(uid).second) {
    violation_locked(m_report.unschedulable_violations,
                     fmt::format("pod {} is Unschedulable (node {}, {} GPUs)", name, job_node, state.gpus));
  }
  const std::string node = state.node;
  if (type == "DELETED") {
    m_pod_state.erase(uid);
  }
  if (!old_node.empty() && old_node != node) {
    check_node_locked(old_node, m_rv);
  }
  check_node_locked(node.empty() ? job_node : node, m_rv);
}

void InvariantWatcher::on_workload_locked(const std::string& type, const json& workload) {
  const std::string uid = workload["metadata"].value("uid", "");
  const std::string key = key_of(workload);
  const std::string phase = workload.value("status", json::object()).value("phase", "");
  WorkloadState& state = m_workload_state[uid];
  state.key = key;
  m_history[uid].key = key;
  if (terminal_phase(state.phase) && phase != state.phase && type != "DELETED") {
    violation_locked(m_report.regression_violations,
                     fmt::format("workload {} went from {} to {}", key, state.phase, phase.empty() ? "\"\"" : phase));
  }
  state.phase = phase;
  if (type == "DELETED") {
    for (const auto& [job_uid, job] : m_job_state) {
      if (job.workload_uid == uid && !job.finished && !job.deleting) {
        violation_locked(m_report.early_finalizer_violations,
                         fmt::format("workload {} was removed while its Job (uid {}) was still live", key, job_uid));
      }
    }
    m_workload_state.erase(uid);
  }
}

void InvariantWatcher::check_workload_jobs_locked(const std::string& workload_uid, const std::string& name) {
  if (workload_uid.empty()) {
    return;
  }
  std::size_t live = 0;
  for (const auto& [uid, job] : m_job_state) {
    live += (job.workload_uid == workload_uid && !job.finished && !job.deleting) ? 1U : 0U;
  }
  if (live > 1) {
    if (m_duplicated_workloads.insert(workload_uid).second) {
      violation_locked(m_report.duplicate_violations,
                       fmt::format("{} live Jobs for the workload of Job {} (workload uid {}) at resourceVersion {}",
                                   live, name, workload_uid, m_rv));
    }
  } else {
    m_duplicated_workloads.erase(workload_uid);
  }
}

std::int64_t InvariantWatcher::committed_locked(const std::string& node) const {
  std::int64_t total = 0;
  for (const auto& [uid, pod] : m_pod_state) {
    if (pod.node == node && !pod.ended) {
      total += pod.gpus;
    }
  }
  for (const auto& [uid, job] : m_job_state) {
    if (job.node != node || job.finished || job.deleting) {
      continue;
    }
    // Once a pod of the Job is bound or has ended, the pod is what counts.
    const bool pod_counts = std::any_of(job.pods.begin(), job.pods.end(), [this](const std::string& p) {
      const auto it = m_pod_state.find(p);
      return it == m_pod_state.end() || !it->second.node.empty() || it->second.ended;
    });
    if (!pod_counts) {
      total += job.gpus;
    }
  }
  return total;
}

void InvariantWatcher::check_node_locked(const std::string& node, std::uint64_t rv) {
  if (node.empty() || !m_capacity.contains(node)) {
    return;
  }
  const std::int64_t committed = committed_locked(node);
  const std::int64_t capacity = m_capacity[node];
  if (committed > capacity) {
    if (m_overcommitted_nodes.insert(node).second) {
      violation_locked(m_report.overcommit_violations,
                       fmt::format("node {} has {} GPUs committed, capacity {}, at resourceVersion {}", node, committed,
                                   capacity, rv));
    }
  } else {
    m_overcommitted_nodes.erase(node);
  }
}

void InvariantWatcher::violation_locked(std::uint64_t& counter, const std::string& text) {
  ++counter;
  if (m_report.examples.size() < k_max_examples) {
    m_report.examples.push_back(text);
  }
}

InvariantReport InvariantWatcher::report() const {
  std::lock_guard lock(m_mutex);
  return m_report;
}

std::map<std::string, WorkloadHistory> InvariantWatcher::histories() const {
  std::lock_guard lock(m_mutex);
  return m_history;
}

std::size_t InvariantWatcher::live_jobs() const {
  std::lock_guard lock(m_mutex);
  std::size_t live = 0;
  for (const auto& [uid, job] : m_job_state) {
    live += (!job.finished && !job.deleting) ? 1 : 0;
  }
  return live;
}

}  // namespace gpuorch::chaos
