#include <gpuorch/sandbox/cluster.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/time.hpp>
#include <gpuorch/sched/inputs.hpp>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

const char* const k_gpu = "nvidia.com/gpu";
const char* const k_duration_annotation = "gpuorch.io/sandbox-duration";
const char* const k_outcome_annotation = "gpuorch.io/sandbox-outcome";

struct Resources {
  std::int64_t cpu_milli = 0;
  std::int64_t memory = 0;
  std::int64_t gpus = 0;
  std::int64_t pods = 0;
};

std::int64_t quantity_milli(const json& v) {
  if (v.is_number()) {
    return static_cast<std::int64_t>(v.get<double>() * 1000);
  }
  if (!v.is_string()) {
    return 0;
  }
  auto q = model::Quantity::parse(v.get<std::string>());
  return q.ok() ? q->milli() : 0;
}

std::int64_t quantity_value(const json& v) {
  if (v.is_number_integer()) {
    return v.get<std::int64_t>();
  }
  if (v.is_number()) {
    return static_cast<std::int64_t>(v.get<double>());
  }
  if (!v.is_string()) {
    return 0;
  }
  auto q = model::Quantity::parse(v.get<std::string>());
  return q.ok() ? q->value() : 0;
}

// A container's request for one resource: requests, else limits (the API
// server defaults requests to limits).
const json* request_of(const json& container, const char* resource) {
  const auto res = container.find("resources");
  if (res == container.end() || !res->is_object()) {
    return nullptr;
  }
  for (const char* section : {"requests", "limits"}) {
    const auto sec = res->find(section);
    if (sec != res->end() && sec->is_object() && sec->contains(resource)) {
      return &(*sec)[resource];
    }
  }
  return nullptr;
}

Resources pod_requests(const json& pod) {
  Resources r;
  r.pods = 1;
  const json& spec = pod["spec"];
  for (const json& c : spec.value("containers", json::array())) {
    if (const json* v = request_of(c, "cpu")) {
      r.cpu_milli += quantity_milli(*v);
    }
    if (const json* v = request_of(c, "memory")) {
      r.memory += quantity_value(*v);
    }
    if (const json* v = request_of(c, k_gpu)) {
      r.gpus += quantity_value(*v);
    }
  }
  return r;
}

Resources node_allocatable(const json& node) {
  Resources r;
  const json alloc = node.value("status", json::object()).value("allocatable", json::object());
  r.cpu_milli = alloc.contains("cpu") ? quantity_milli(alloc["cpu"]) : 0;
  r.memory = alloc.contains("memory") ? quantity_value(alloc["memory"]) : 0;
  r.gpus = alloc.contains(k_gpu) ? quantity_value(alloc[k_gpu]) : 0;
  r.pods = alloc.contains("pods") ? quantity_value(alloc["pods"]) : 110;
  return r;
}

std::string meta(const json& o, const char* field) {
  const auto m = o.find("metadata");
  if (m == o.end() || !m->is_object()) {
    return {};
  }
  const auto it = m->find(field);
  return it != m->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string phase_of(const json& pod) {
  return pod.value("status", json::object()).value("phase", "Pending");
}

bool terminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

bool node_ready(const json& node) {
  for (const json& c : node.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") {
      return c.value("status", "") == "True";
    }
  }
  return false;
}

bool expression_matches(const json& expr, const std::string* value) {
  const std::string op = expr.value("operator", "");
  const json values = expr.value("values", json::array());
  const auto contains = [&](const std::string& v) {
    return std::any_of(values.begin(), values.end(), [&](const json& x) { return x.is_string() && x == v; });
  };
  if (op == "In") {
    return value != nullptr && contains(*value);
  }
  if (op == "NotIn") {
    return value == nullptr || !contains(*value);
  }
  if (op == "Exists") {
    return value != nullptr;
  }
  if (op == "DoesNotExist") {
    return value == nullptr;
  }
  if ((op == "Gt" || op == "Lt") && value != nullptr && values.size() == 1 && values[0].is_string()) {
    try {
      const long long have = std::stoll(*value);
      const long long want = std::stoll(values[0].get<std::string>());
      return op == "Gt" ? have > want : have < want;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

bool term_matches(const json& term, const json& node) {
  const json labels = node["metadata"].value("labels", json::object());
  const json exprs = term.value("matchExpressions", json::array());
  const json fields = term.value("matchFields", json::array());
  if (exprs.empty() && fields.empty()) {
    return false;
  }
  for (const json& e : exprs) {
    const std::string key = e.value("key", "");
    std::string v;
    const bool present = labels.contains(key) && labels[key].is_string();
    if (present) {
      v = labels[key].get<std::string>();
    }
    if (!expression_matches(e, present ? &v : nullptr)) {
      return false;
    }
  }
  for (const json& e : fields) {
    if (e.value("key", "") != "metadata.name") {
      return false;
    }
    const std::string name = meta(node, "name");
    if (!expression_matches(e, &name)) {
      return false;
    }
  }
  return true;
}

bool affinity_matches(const json& pod, const json& node) {
  const json spec = pod.value("spec", json::object());
  const json labels = node["metadata"].value("labels", json::object());
  const json selector = spec.value("nodeSelector", json::object());
  for (const auto& [k, v] : selector.items()) {
    if (!labels.contains(k) || labels[k] != v) {
      return false;
    }
  }
  const json required = spec.value("affinity", json::object())
                            .value("nodeAffinity", json::object())
                            .value("requiredDuringSchedulingIgnoredDuringExecution", json());
  if (required.is_object()) {
    const json terms = required.value("nodeSelectorTerms", json::array());
    if (!std::any_of(terms.begin(), terms.end(), [&](const json& t) { return term_matches(t, node); })) {
      return false;
    }
  }
  return true;
}

bool tolerates(const json& tolerations, const json& taint) {
  for (const json& t : tolerations) {
    const std::string effect = t.value("effect", "");
    if (!effect.empty() && effect != taint.value("effect", "")) {
      continue;
    }
    const std::string op = t.value("operator", "Equal");
    const std::string key = t.value("key", "");
    if (op == "Exists") {
      if (key.empty() || key == taint.value("key", "")) {
        return true;
      }
    } else if (key == taint.value("key", "") && t.value("value", "") == taint.value("value", "")) {
      return true;
    }
  }
  return false;
}

// The first taint of the node the pod does not tolerate, or null.
json untolerated_taint(const json& pod, const json& node) {
  const json tolerations = pod["spec"].value("tolerations", json::array());
  for (const json& taint : node.value("spec", json::object()).value("taints", json::array())) {
    const std::string effect = taint.value("effect", "");
    if (effect != "NoSchedule" && effect != "NoExecute") {
      continue;
    }
    if (!tolerates(tolerations, taint)) {
      return taint;
    }
  }
  return nullptr;
}

std::string hex(std::uint64_t v) {
  static const char k_digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), k_digits[v & 0xF]);
    v >>= 4;
  } while (v != 0);
  return s;
}

}  // namespace

// ---- parsing -----------------------------------------------------------------

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return Error(ErrorCode::usage, "empty duration");
  }
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return std::chrono::milliseconds(std::stoll(std::string(text)) * 1000);
  }
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) {
      ++j;
    }
    if (j == i) {
      return Error(ErrorCode::usage, "invalid duration \"" + std::string(text) + "\" (examples: 30s, 1m30s, 500ms)");
    }
    const double n = std::stod(std::string(text.substr(i, j - i)));
    std::size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) {
      ++k;
    }
    const std::string_view unit = text.substr(j, k - j);
    double scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60000;
    } else if (unit == "h") {
      scale = 3600000;
    } else {
      return Error(ErrorCode::usage, "invalid duration \"" + std::string(text) + "\": unknown unit \"" +
                                         std::string(unit) + "\" (use ms, s, m or h)");
    }
    total_ms += n * scale;
    i = k;
  }
  return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

Result<NodePool> NodePool::parse(std::string_view spec) {
  NodePool pool;
  std::size_t start = 0;
  while (start < spec.size()) {
    auto comma = spec.find(',', start);
    const std::string item(
        spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? spec.size() : comma + 1;
    if (item.empty()) {
      continue;
    }
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      return Error(ErrorCode::usage, "node pool \"" + std::string(spec) + "\": \"" + item + "\" is not KEY=VALUE");
    }
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    const auto number = [&](int& out) -> Status {
      try {
        std::size_t used = 0;
        out = std::stoi(value, &used);
        if (used != value.size() || out < 0) {
          throw std::invalid_argument(value);
        }
      } catch (const std::exception&) {
        return Error(ErrorCode::usage, "node pool: " + key + " must be a non-negative integer, got \"" + value + "\"");
      }
      return {};
    };
    if (key == "name") {
      pool.name = value;
    } else if (key == "count" || key == "nodes") {
      GPUORCH_TRY(number(pool.count));
    } else if (key == "gpus") {
      GPUORCH_TRY(number(pool.gpus_per_node));
    } else if (key == "model") {
      pool.gpu_model = value;
    } else if (key == "cpu" || key == "memory") {
      if (!model::Quantity::parse(value).ok()) {
        return Error(ErrorCode::usage, "node pool: " + key + " \"" + value + "\" is not a quantity");
      }
      (key == "cpu" ? pool.cpu : pool.memory) = value;
    } else if (key == "price") {
      pool.price = value;
    } else if (key == "label") {
      const auto colon = value.find(':');
      if (colon == std::string::npos) {
        return Error(ErrorCode::usage, "node pool: label must be KEY:VALUE, got \"" + value + "\"");
      }
      pool.labels[value.substr(0, colon)] = value.substr(colon + 1);
    } else if (key == "taint") {
      // key=value:Effect, or key:Effect
      const auto colon = value.rfind(':');
      if (colon == std::string::npos) {
        return Error(ErrorCode::usage, "node pool: taint must be KEY[=VALUE]:EFFECT, got \"" + value + "\"");
      }
      const std::string effect = value.substr(colon + 1);
      if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
        return Error(ErrorCode::usage, "node pool: taint effect must be NoSchedule, PreferNoSchedule or NoExecute");
      }
      std::string kv = value.substr(0, colon);
      json taint = {{"effect", effect}};
      const auto veq = kv.find('=');
      taint["key"] = kv.substr(0, veq);
      if (veq != std::string::npos) {
        taint["value"] = kv.substr(veq + 1);
      }
      pool.taints.push_back(taint);
    } else {
      return Error(ErrorCode::usage, "node pool: unknown key \"" + key +
                                         "\" (known: name, count, gpus, model, cpu, memory, price, label, taint)");
    }
  }
  if (pool.count <= 0) {
    return Error(ErrorCode::usage, "node pool \"" + std::string(spec) + "\": count must be at least 1");
  }
  return pool;
}

std::vector<json> make_nodes(const NodePool& pool) {
  std::vector<json> nodes;
  const int width = pool.count > 100 ? 3 : 2;
  for (int i = 0; i < pool.count; ++i) {
    std::string index = std::to_string(i);
    while (static_cast<int>(index.size()) < width) {
      index.insert(index.begin(), '0');
    }
    const std::string name = pool.name + "-node-" + index;
    json labels = {{"kubernetes.io/hostname", name},
                   {"kubernetes.io/os", "linux"},
                   {"kubernetes.io/arch", "amd64"},
                   {"gpuorch.io/pool", pool.name},
                   {"nvidia.com/gpu.product", pool.gpu_model},
                   {"nvidia.com/gpu.count", std::to_string(pool.gpus_per_node)}};
    if (!pool.price.empty()) {
      labels["gpuorch.io/cost-per-gpu-hour"] = pool.price;
    }
    for (const auto& [k, v] : pool.labels) {
      labels[k] = v;
    }
    const json resources = {
        {"cpu", pool.cpu}, {"memory", pool.memory}, {k_gpu, std::to_string(pool.gpus_per_node)}, {"pods", "110"}};
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", labels}}},
                 {"spec", json::object()},
                 {"status",
                  {{"capacity", resources},
                   {"allocatable", resources},
                   {"conditions",
                    {{{"type", "Ready"},
                      {"status", "True"},
                      {"reason", "KubeletReady"},
                      {"message", "kubelet is posting ready status (simulated)"}}}},
                   {"addresses",
                    {{{"type", "InternalIP"},
                      {"address", "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)}},
                     {{"type", "Hostname"}, {"address", name}}}},
                   {"nodeInfo",
                    {{"kubeletVersion", "v1.32.0"},
                     {"kubeProxyVersion", "v1.32.0"},
                     {"osImage", "gpuorch sandbox"},
                     {"operatingSystem", "linux"},
                     {"architecture", "amd64"},
                     {"containerRuntimeVersion", "sandbox://1.0"}}}}}};
    if (!pool.taints.empty()) {
      node["spec"]["taints"] = pool.taints;
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<std::vector<json>> nodes_from_file(std::string_view content, std::string_view source) {
  GPUORCH_ASSIGN_OR_RETURN(const sched::NodeInput input, sched::parse_nodes(content, source));
  std::vector<json> out;
  std::size_t index = 0;
  for (const sched::NodeSpec& spec : input.nodes) {
    const std::string cpu = std::to_string(spec.cpu_milli) + "m";
    const std::string memory = std::to_string(spec.memory_bytes);
    const json resources = {{"cpu", cpu}, {"memory", memory}, {k_gpu, std::to_string(spec.gpu_count)}, {"pods", "110"}};
    json labels = {
        {"kubernetes.io/hostname", spec.name}, {"kubernetes.io/os", "linux"}, {"kubernetes.io/arch", "amd64"}};
    for (const auto& [k, v] : spec.labels) {
      labels[k] = v;
    }
    if (!spec.gpu_model.empty()) {
      labels[std::string(sched::k_gpu_product_label)] = spec.gpu_model;
    }
    std::optional<double> price = spec.price_per_gpu_hour;
    if (!price) {
      const auto it = input.price_by_model.find(spec.gpu_model);
      if (it != input.price_by_model.end()) {
        price = it->second;
      }
    }
    if (price) {
      std::string text = std::to_string(*price);
      text.erase(text.find_last_not_of('0') + 1);
      if (text.ends_with('.')) {
        text.pop_back();
      }
      labels[std::string(sched::k_cost_label)] = text;
    }
    json taints = json::array();
    for (const sched::Taint& t : spec.taints) {
      json taint = {{"key", t.key}, {"effect", t.effect}};
      if (!t.value.empty()) {
        taint["value"] = t.value;
      }
      taints.push_back(taint);
    }
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", spec.name}, {"labels", labels}}},
                 {"spec", json::object()},
                 {"status",
                  {{"capacity", resources},
                   {"allocatable", resources},
                   {"conditions",
                    {{{"type", "Ready"},
                      {"status", spec.ready ? "True" : "False"},
                      {"reason", spec.ready ? "KubeletReady" : "KubeletNotReady"},
                      {"message", "simulated"}}}},
                   {"addresses",
                    {{{"type", "InternalIP"},
                      {"address", "10.1." + std::to_string(index / 250) + "." + std::to_string(index % 250 + 1)}},
                     {{"type", "Hostname"}, {"address", spec.name}}}},
                   {"nodeInfo",
                    {{"kubeletVersion", "v1.32.0"},
                     {"osImage", "gpuorch sandbox"},
                     {"operatingSystem", "linux"},
                     {"architecture", "amd64"},
                     {"containerRuntimeVersion", "sandbox://1.0"}}}}}};
    if (!taints.empty()) {
      node["spec"]["taints"] = taints;
    }
    if (spec.cordoned) {
      node["spec"]["unschedulable"] = true;
    }
    out.push_back(std::move(node));
    ++index;
  }
  return out;
}

json ClusterStats::to_json() const {
  return {{"bindingChecks", binding_checks}, {"bindings", bindings},
          {"violations", violations},        {"unschedulable", unschedulable},
          {"podsSucceeded", pods_succeeded}, {"podsFailed", pods_failed}};
}

// ---- SimulatedCluster ----------------------------------------------------------

SimulatedCluster::SimulatedCluster(Store& store, ClusterOptions options)
    : m_store(store), m_options(std::move(options)), m_rng(m_options.seed) {}

SimulatedCluster::~SimulatedCluster() {
  stop();
}

Status SimulatedCluster::create_nodes() {
  const auto nodes = m_store.find_type("", "v1", "nodes");
  std::vector<json> all = m_options.extra_nodes;
  for (const NodePool& pool : m_options.pools) {
    for (json& node : make_nodes(pool)) {
      all.push_back(std::move(node));
    }
  }
  for (json& node : all) {
    auto created = m_store.create(*nodes, "", std::move(node), WriteOptions{false, "kubelet"});
    if (!created.ok() && created.error().code() != ErrorCode::conflict) {
      return std::move(created).error();
    }
  }
  return {};
}

void SimulatedCluster::start() {
  m_stop = false;
  m_thread = std::thread([this] { loop(); });
}

void SimulatedCluster::stop() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

ClusterStats SimulatedCluster::stats() const {
  std::lock_guard lock(m_mutex);
  return m_stats;
}

void SimulatedCluster::loop() {
  std::uint64_t seen = 0;
  while (!m_stop) {
    run_once();
    // Our own writes move the version too: one more pass settles them.
    const std::uint64_t now = m_store.resource_version();
    if (now != seen) {
      seen = now;
      continue;
    }
    seen = m_store.wait_for_change(seen, m_options.tick);
  }
}

void SimulatedCluster::run_once() {
  std::lock_guard lock(m_mutex);
  m_store.collect_garbage();
  reconcile_jobs();
  schedule_pods();
  run_kubelets();
}

void SimulatedCluster::emit_event(const json& involved, const std::string& type, const std::string& reason,
                                  const std::string& message, const std::string& component) {
  const auto events = m_store.find_type("", "v1", "events");
  const std::string ns = meta(involved, "namespace").empty() ? "default" : meta(involved, "namespace");
  const std::string now = m_store.now_rfc3339();
  const auto stamp = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", meta(involved, "name") + "." + hex(stamp + ++m_event_counter)}, {"namespace", ns}}},
      {"involvedObject",
       {{"apiVersion", involved.value("apiVersion", "v1")},
        {"kind", involved.value("kind", "")},
        {"name", meta(involved, "name")},
        {"namespace", ns},
        {"uid", meta(involved, "uid")},
        {"resourceVersion", meta(involved, "resourceVersion")}}},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", {{"component", component}}},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
      {"reportingComponent", component},
      {"reportingInstance", component + "-sandbox"}};
  (void)m_store.create(*events, ns, std::move(event), WriteOptions{false, component});
}

void SimulatedCluster::reconcile_jobs() {
  const auto jobs_type = m_store.find_type("batch", "v1", "jobs");
  const auto pods_type = m_store.find_type("", "v1", "pods");
  struct PodView {
    std::string name;
    std::string ns;
    std::string phase;
    bool deleting = false;
    bool running = false;
  };
  std::map<std::string, std::vector<PodView>> by_owner;
  m_store.for_each(*pods_type, [&](const json& pod) {
    for (const json& ref : pod["metadata"].value("ownerReferences", json::array())) {
      if (ref.value("kind", "") == "Job" && ref.value("controller", false)) {
        PodView v{meta(pod, "name"), meta(pod, "namespace"), phase_of(pod), !meta(pod, "deletionTimestamp").empty(),
                  false};
        v.running = v.phase == "Running";
        by_owner[ref.value("uid", "")].push_back(v);
      }
    }
  });
  std::vector<json> jobs;
  m_store.for_each(*jobs_type, [&](const json& job) {
    if (!meta(job, "deletionTimestamp").empty()) {
      return;
    }
    for (const json& c : job.value("status", json::object()).value("conditions", json::array())) {
      if ((c.value("type", "") == "Complete" || c.value("type", "") == "Failed") && c.value("status", "") == "True") {
        return;  // finished jobs need nothing
      }
    }
    jobs.push_back(job);
  });
  const std::string now = m_store.now_rfc3339();
  for (const json& job : jobs) {
    const json& spec = job["spec"];
    if (spec.value("suspend", false)) {
      continue;
    }
    const std::string uid = meta(job, "uid");
    const std::string ns = meta(job, "namespace");
    const std::string name = meta(job, "name");
    const auto& pods = by_owner[uid];
    long long succeeded = 0;
    long long failed = 0;
    long long active = 0;
    long long ready = 0;
    for (const PodView& p : pods) {
      if (p.phase == "Succeeded") {
        ++succeeded;
      } else if (p.phase == "Failed") {
        ++failed;
      } else if (!p.deleting) {
        ++active;
        if (p.running) {
          ++ready;
        }
      }
    }
    const long long completions = spec.value("completions", 1LL);
    const long long parallelism = spec.value("parallelism", 1LL);
    const long long backoff_limit = spec.value("backoffLimit", 6LL);
    std::string finished;
    std::string reason;
    std::string message;
    if (succeeded >= completions) {
      finished = "Complete";
      reason = "CompletionsReached";
      message = "Reached expected number of succeeded pods";
    } else if (failed > backoff_limit) {
      finished = "Failed";
      reason = "BackoffLimitExceeded";
      message = "Job has reached the specified backoff limit";
    } else if (spec.contains("activeDeadlineSeconds")) {
      const std::string start = job.value("status", json::object()).value("startTime", "");
      auto started = model::parse_time(start);
      if (started.ok() && std::chrono::system_clock::now() - *started >
                              std::chrono::seconds(spec.value("activeDeadlineSeconds", 0LL))) {
        finished = "Failed";
        reason = "DeadlineExceeded";
        message = "Job was active longer than specified deadline";
      }
    }
    if (!finished.empty() && finished == "Failed") {
      for (const PodView& p : pods) {
        if (!terminal(p.phase) && !p.deleting) {
          (void)m_store.remove(*pods_type, p.ns, p.name, DeleteOptions{});
        }
      }
      active = 0;
      ready = 0;
    }
    if (finished.empty()) {
      long long want = std::min(parallelism, completions - succeeded) - active;
      while (want-- > 0) {
        json tmpl = spec.value("template", json::object());
        json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", tmpl.value("metadata", json::object())},
                    {"spec", tmpl.value("spec", json::object())}};
        pod["metadata"]["generateName"] = name + "-";
        pod["metadata"]["namespace"] = ns;
        pod["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "batch/v1"},
                                                           {"kind", "Job"},
                                                           {"name", name},
                                                           {"uid", uid},
                                                           {"controller", true},
                                                           {"blockOwnerDeletion", true}}});
        auto created = m_store.create(*pods_type, ns, std::move(pod), WriteOptions{false, "kube-controller-manager"});
        if (created.ok()) {
          ++active;
          emit_event(job, "Normal", "SuccessfulCreate", "Created pod: " + meta(*created, "name"), "job-controller");
        } else {
          emit_event(job, "Warning", "FailedCreate", "Error creating: " + created.error().message(), "job-controller");
          break;
        }
      }
    }
    auto updated = m_store.mutate(*jobs_type, ns, name, Subresource::status, "kube-controller-manager", [&](json& j) {
      json status = j.value("status", json::object());
      const json before = status;
      if (!status.contains("startTime")) {
        status["startTime"] = now;
      }
      status["active"] = active;
      status["succeeded"] = succeeded;
      status["failed"] = failed;
      status["ready"] = ready;
      status["terminating"] = 0;
      status["uncountedTerminatedPods"] = json::object();
      if (!finished.empty()) {
        json conditions = status.value("conditions", json::array());
        const std::string first = finished == "Complete" ? "SuccessCriteriaMet" : "FailureTarget";
        for (const std::string& type : {first, finished}) {
          conditions.push_back({{"type", type},
                                {"status", "True"},
                                {"reason", reason},
                                {"message", message},
                                {"lastProbeTime", now},
                                {"lastTransitionTime", now}});
        }
        status["conditions"] = conditions;
        if (finished == "Complete") {
          status["completionTime"] = now;
        }
      }
      if (status == before) {
        return false;
      }
      j["status"] = status;
      return true;
    });
    if (updated.ok() && !finished.empty()) {
      emit_event(job, finished == "Complete" ? "Normal" : "Warning", finished == "Complete" ? "Completed" : reason,
                 finished == "Complete" ? "Job completed" : message, "job-controller");
    }
  }
}

void SimulatedCluster::schedule_pods() {
  const auto pods_type = m_store.find_type("", "v1", "pods");
  const auto nodes_type = m_store.find_type("", "v1", "nodes");
  std::map<std::string, Resources> used;
  std::vector<json> pending;
  m_store.for_each(*pods_type, [&](const json& pod) {
    const std::string node = pod["spec"].value("nodeName", "");
    const std::string phase = phase_of(pod);
    if (!node.empty()) {
      if (!terminal(phase)) {
        const Resources r = pod_requests(pod);
        Resources& u = used[node];
        u.cpu_milli += r.cpu_milli;
        u.memory += r.memory;
        u.gpus += r.gpus;
        u.pods += 1;
      }
      return;
    }
    const std::string scheduler = pod["spec"].value("schedulerName", "default-scheduler");
    if (phase == "Pending" && meta(pod, "deletionTimestamp").empty() && scheduler == "default-scheduler") {
      pending.push_back(pod);
    }
  });
  // This runs after every change to the store; most have no pod to place,
  // and copying every node for nothing was a visible part of a create.
  if (pending.empty()) {
    return;
  }
  std::vector<json> nodes;
  m_store.for_each(*nodes_type, [&](const json& n) { nodes.push_back(n); });
  for (const json& pod : pending) {
    const Resources need = pod_requests(pod);
    std::map<std::string, int> reasons;
    const json* best = nullptr;
    double best_score = 0;
    for (const json& node : nodes) {
      const std::string node_name = meta(node, "name");
      if (!node_ready(node)) {
        ++reasons["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"];
        continue;
      }
      if (node.value("spec", json::object()).value("unschedulable", false)) {
        ++reasons["node(s) were unschedulable"];
        continue;
      }
      if (!affinity_matches(pod, node)) {
        ++reasons["node(s) didn't match Pod's node affinity/selector"];
        continue;
      }
      const json taint = untolerated_taint(pod, node);
      if (!taint.is_null()) {
        ++reasons["node(s) had untolerated taint {" + taint.value("key", "") + ": " + taint.value("value", "") + "}"];
        continue;
      }
      const Resources cap = node_allocatable(node);
      const Resources u = used[node_name];
      ++m_stats.binding_checks;
      bool fits = true;
      if (u.pods + 1 > cap.pods) {
        ++reasons["Too many pods"];
        fits = false;
      }
      if (need.cpu_milli > 0 && u.cpu_milli + need.cpu_milli > cap.cpu_milli) {
        ++reasons["Insufficient cpu"];
        fits = false;
      }
      if (need.memory > 0 && u.memory + need.memory > cap.memory) {
        ++reasons["Insufficient memory"];
        fits = false;
      }
      if (need.gpus > 0 && u.gpus + need.gpus > cap.gpus) {
        ++reasons["Insufficient nvidia.com/gpu"];
        fits = false;
      }
      if (!fits) {
        continue;
      }
      // kube-scheduler's default spreads: prefer the least allocated node.
      const double gpu_share =
          cap.gpus > 0 ? static_cast<double>(u.gpus + need.gpus) / static_cast<double>(cap.gpus) : 0;
      const double cpu_share =
          cap.cpu_milli > 0 ? static_cast<double>(u.cpu_milli + need.cpu_milli) / static_cast<double>(cap.cpu_milli)
                            : 0;
      const double score = gpu_share + cpu_share;
      if (best == nullptr || score < best_score) {
        best = &node;
        best_score = score;
      }
    }
    const std::string pod_name = meta(pod, "name");
    const std::string ns = meta(pod, "namespace");
    const std::string uid = meta(pod, "uid");
    if (best == nullptr) {
      ++m_stats.unschedulable;
      std::vector<std::string> parts;
      for (const auto& [reason, n] : reasons) {
        parts.push_back(std::to_string(n) + " " + reason);
      }
      std::sort(parts.begin(), parts.end());
      std::string message = "0/" + std::to_string(nodes.size()) + " nodes are available";
      for (std::size_t i = 0; i < parts.size(); ++i) {
        message += (i == 0 ? ": " : ", ") + parts[i];
      }
      message += ". preemption: 0/" + std::to_string(nodes.size()) +
                 " nodes are available: " + std::to_string(nodes.size()) + " Preemption is not helpful for scheduling.";
      if (m_last_unschedulable[uid] == message) {
        continue;  // reported already; kube-scheduler backs off too
      }
      m_last_unschedulable[uid] = message;
      (void)m_store.mutate(*pods_type, ns, pod_name, Subresource::status, "kube-scheduler", [&](json& p) {
        json conditions = json::array({{{"type", "PodScheduled"},
                                        {"status", "False"},
                                        {"reason", "Unschedulable"},
                                        {"message", message},
                                        {"lastProbeTime", nullptr},
                                        {"lastTransitionTime", m_store.now_rfc3339()}}});
        p["status"]["conditions"] = conditions;
        return true;
      });
      emit_event(pod, "Warning", "FailedScheduling", message, "default-scheduler");
      continue;
    }
    const std::string node_name = meta(*best, "name");
    bool bound = false;
    auto result = m_store.mutate(*pods_type, ns, pod_name, Subresource::none, "kube-scheduler", [&](json& p) {
      if (!p["spec"].value("nodeName", "").empty() || !meta(p, "deletionTimestamp").empty()) {
        return false;
      }
      p["spec"]["nodeName"] = node_name;
      bound = true;
      return true;
    });
    if (!result.ok() || !bound) {
      continue;
    }
    m_last_unschedulable.erase(uid);
    ++m_stats.bindings;
    Resources& u = used[node_name];
    u.cpu_milli += need.cpu_milli;
    u.memory += need.memory;
    u.gpus += need.gpus;
    u.pods += 1;
    const Resources cap = node_allocatable(*best);
    if (u.gpus > cap.gpus || u.cpu_milli > cap.cpu_milli || u.memory > cap.memory) {
      ++m_stats.violations;
    }
    emit_event(pod, "Normal", "Scheduled", "Successfully assigned " + ns + "/" + pod_name + " to " + node_name,
               "default-scheduler");
  }
}

void SimulatedCluster::run_kubelets() {
  const auto pods_type = m_store.find_type("", "v1", "pods");
  const auto nodes_type = m_store.find_type("", "v1", "nodes");
  std::map<std::string, Resources> running_use;
  std::vector<json> to_start;
  std::vector<json> live;
  std::set<std::string> alive_uids;
  m_store.for_each(*pods_type, [&](const json& pod) {
    const std::string node = pod["spec"].value("nodeName", "");
    const std::string phase = phase_of(pod);
    if (node.empty() || terminal(phase)) {
      return;
    }
    alive_uids.insert(meta(pod, "uid"));
    if (phase == "Pending") {
      to_start.push_back(pod);
    } else {
      const Resources r = pod_requests(pod);
      Resources& u = running_use[node];
      u.cpu_milli += r.cpu_milli;
      u.memory += r.memory;
      u.gpus += r.gpus;
      u.pods += 1;
      live.push_back(pod);
    }
  });
  // Only pods to admit need the nodes (copied, as most changes bring none).
  std::map<std::string, json> nodes;
  if (!to_start.empty()) {
    m_store.for_each(*nodes_type, [&](const json& n) { nodes[meta(n, "name")] = n; });
  }
  // Forget pods that are gone.
  for (auto it = m_running.begin(); it != m_running.end();) {
    it = alive_uids.count(it->first) == 0 ? m_running.erase(it) : std::next(it);
  }
  const std::string now = m_store.now_rfc3339();
  const auto steady_now = Steady::now();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Pending pods bound to a node: the kubelet admits them (capacity checked
  // again, so a pod bound by a client directly cannot over-commit either).
  for (const json& pod : to_start) {
    const std::string node_name = pod["spec"].value("nodeName", "");
    const std::string ns = meta(pod, "namespace");
    const std::string name = meta(pod, "name");
    const auto node = nodes.find(node_name);
    const Resources need = pod_requests(pod);
    std::string reject;
    std::string reject_reason;
    ++m_stats.binding_checks;
    if (node == nodes.end()) {
      reject_reason = "NodeLost";
      reject = "Pod was bound to node \"" + node_name + "\", which does not exist";
    } else {
      const Resources cap = node_allocatable(node->second);
      Resources& u = running_use[node_name];
      if (need.gpus > 0 && u.gpus + need.gpus > cap.gpus) {
        reject_reason = "OutOfnvidia.com/gpu";
        reject = "Pod was rejected: Node didn't have enough resource: nvidia.com/gpu, requested: " +
                 std::to_string(need.gpus) + ", used: " + std::to_string(u.gpus) +
                 ", capacity: " + std::to_string(cap.gpus);
      } else if (need.cpu_milli > 0 && u.cpu_milli + need.cpu_milli > cap.cpu_milli) {
        reject_reason = "OutOfcpu";
        reject = "Pod was rejected: Node didn't have enough resource: cpu";
      } else if (need.memory > 0 && u.memory + need.memory > cap.memory) {
        reject_reason = "OutOfmemory";
        reject = "Pod was rejected: Node didn't have enough resource: memory";
      } else {
        u.cpu_milli += need.cpu_milli;
        u.memory += need.memory;
        u.gpus += need.gpus;
        u.pods += 1;
      }
    }
    if (!reject.empty()) {
      ++m_stats.pods_failed;
      (void)m_store.mutate(*pods_type, ns, name, Subresource::status, "kubelet", [&](json& p) {
        p["status"]["phase"] = "Failed";
        p["status"]["reason"] = reject_reason;
        p["status"]["message"] = reject;
        return true;
      });
      emit_event(pod, "Warning", reject_reason, reject, "kubelet");
      continue;
    }
    // Decide now how and when it ends: deterministic for a seed.
    Running run;
    const json annotations = pod["metadata"].value("annotations", json::object());
    std::chrono::milliseconds duration = m_options.job_duration;
    bool runs_forever = pod["spec"].value("restartPolicy", "Always") == "Always";
    if (annotations.contains(k_duration_annotation) && annotations[k_duration_annotation].is_string()) {
      auto d = parse_duration(annotations[k_duration_annotation].get<std::string>());
      if (d.ok()) {
        duration = *d;
        runs_forever = false;
      }
    }
    run.fail = unit(m_rng) < m_options.failure_rate;
    if (annotations.contains(k_outcome_annotation) && annotations[k_outcome_annotation].is_string()) {
      run.fail = annotations[k_outcome_annotation] == "Failed";
    }
    run.finish = runs_forever ? Steady::time_point::max() : steady_now + duration;
    m_running[meta(pod, "uid")] = run;
    std::string host_ip = node_name;
    for (const json& a : node->second.value("status", json::object()).value("addresses", json::array())) {
      if (a.value("type", "") == "InternalIP") {
        host_ip = a.value("address", "");
      }
    }
    const std::uint64_t ip = m_rng();
    const std::string pod_ip = "10.244." + std::to_string(ip % 250) + "." + std::to_string((ip >> 8) % 250 + 1);
    (void)m_store.mutate(*pods_type, ns, name, Subresource::status, "kubelet", [&](json& p) {
      json statuses = json::array();
      for (const json& c : p["spec"].value("containers", json::array())) {
        statuses.push_back({{"name", c.value("name", "")},
                            {"image", c.value("image", "")},
                            {"imageID", "sandbox://" + c.value("image", "")},
                            {"containerID", "sandbox://" + hex(m_rng())},
                            {"ready", true},
                            {"started", true},
                            {"restartCount", 0},
                            {"state", {{"running", {{"startedAt", now}}}}}});
      }
      json conditions = json::array();
      for (const char* type :
           {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
        conditions.push_back(
            {{"type", type}, {"status", "True"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}});
      }
      p["status"] = {{"phase", "Running"},
                     {"conditions", conditions},
                     {"hostIP", host_ip},
                     {"hostIPs", {{{"ip", host_ip}}}},
                     {"podIP", pod_ip},
                     {"podIPs", {{{"ip", pod_ip}}}},
                     {"startTime", now},
                     {"containerStatuses", statuses},
                     {"qosClass", p["status"].value("qosClass", "BestEffort")}};
      return true;
    });
    for (const json& c : pod["spec"].value("containers", json::array())) {
      emit_event(pod, "Normal", "Started", "Started container " + c.value("name", ""), "kubelet");
    }
  }
  // Running pods whose time is up end now.
  for (const json& pod : live) {
    const std::string uid = meta(pod, "uid");
    auto it = m_running.find(uid);
    if (it == m_running.end()) {
      // Running before a restart of the sandbox: finish it after the default duration.
      m_running[uid] =
          Running{pod["spec"].value("restartPolicy", "Always") == "Always" ? Steady::time_point::max()
                                                                           : steady_now + m_options.job_duration,
                  false};
      continue;
    }
    if (steady_now < it->second.finish) {
      continue;
    }
    const bool fail = it->second.fail;
    m_running.erase(it);
    if (fail) {
      ++m_stats.pods_failed;
    } else {
      ++m_stats.pods_succeeded;
    }
    (void)m_store.mutate(
        *pods_type, meta(pod, "namespace"), meta(pod, "name"), Subresource::status, "kubelet", [&](json& p) {
          p["status"]["phase"] = fail ? "Failed" : "Succeeded";
          json statuses = p["status"].value("containerStatuses", json::array());
          for (json& cs : statuses) {
            const std::string started =
                cs.value("state", json::object()).value("running", json::object()).value("startedAt", now);
            cs["ready"] = false;
            cs["started"] = false;
            cs["state"] = {{"terminated",
                            {{"exitCode", fail ? 1 : 0},
                             {"reason", fail ? "Error" : "Completed"},
                             {"startedAt", started},
                             {"finishedAt", now},
                             {"containerID", cs.value("containerID", "")}}}};
          }
          p["status"]["containerStatuses"] = statuses;
          json conditions = p["status"].value("conditions", json::array());
          for (json& c : conditions) {
            const std::string type = c.value("type", "");
            if (type == "Ready" || type == "ContainersReady") {
              c["status"] = "False";
              c["reason"] = fail ? "PodFailed" : "PodCompleted";
              c["lastTransitionTime"] = now;
            }
          }
          p["status"]["conditions"] = conditions;
          return true;
        });
  }
}

}  // namespace gpuorch::sandbox
