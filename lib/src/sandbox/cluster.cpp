#include <gpuorch/sandbox/cluster.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

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

/// Counts one pod requesting `pod` in `used`.
void add_pod(Resources& used, const Resources& pod) {
  used.cpu_milli += pod.cpu_milli;
  used.memory += pod.memory;
  used.gpus += pod.gpus;
  used.pods += 1;
}

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

// A member of an object, or nullptr: unlike json::value() with an object or
// array default, nothing is copied (these run over every pod after every change).
const json* member(const json& o, const char* key) {
  if (!o.is_object()) {
    return nullptr;
  }
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

// A string member ("" when absent or not a string).
std::string string_member(const json* o, const char* key, const char* fallback = "") {
  const json* v = o == nullptr ? nullptr : member(*o, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string(fallback);
}

Resources pod_requests(const json& pod) {
  Resources r;
  r.pods = 1;
  const json* spec = member(pod, "spec");
  const json* containers = spec == nullptr ? nullptr : member(*spec, "containers");
  if (containers == nullptr || !containers->is_array()) {
    return r;
  }
  for (const json& c : *containers) {
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

// The member `key` of `o` when it is an object (else an empty one); no copy.
const json& object_member(const json* o, const char* key) {
  static const json k_empty = json::object();
  const json* v = o == nullptr ? nullptr : member(*o, key);
  return v != nullptr && v->is_object() ? *v : k_empty;
}

// The member `key` of `o` when it is an array (else an empty one); no copy.
const json& array_member(const json* o, const char* key) {
  static const json k_empty = json::array();
  const json* v = o == nullptr ? nullptr : member(*o, key);
  return v != nullptr && v->is_array() ? *v : k_empty;
}

Resources node_allocatable(const json& node) {
  Resources r;
  const json& alloc = object_member(&object_member(&node, "status"), "allocatable");
  const json* cpu = member(alloc, "cpu");
  const json* memory = member(alloc, "memory");
  const json* gpus = member(alloc, k_gpu);
  const json* pods = member(alloc, "pods");
  r.cpu_milli = cpu != nullptr ? quantity_milli(*cpu) : 0;
  r.memory = memory != nullptr ? quantity_value(*memory) : 0;
  r.gpus = gpus != nullptr ? quantity_value(*gpus) : 0;
  r.pods = pods != nullptr ? quantity_value(*pods) : 110;
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
  return string_member(member(pod, "status"), "phase", "Pending");
}

// spec.nodeName ("" when unbound).
std::string node_of(const json& pod) {
  return string_member(member(pod, "spec"), "nodeName");
}

// A string member as a view into `o` ("" when absent or not a string): no allocation.
std::string_view string_view_member(const json& o, const char* key) {
  const json* v = member(o, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

// The uid of the Job that controls a pod ("" when none), as a view into the pod.
std::string_view controller_job_uid(const json& pod) {
  const json* m = member(pod, "metadata");
  const json* refs = m == nullptr ? nullptr : member(*m, "ownerReferences");
  if (refs == nullptr || !refs->is_array()) {
    return {};
  }
  for (const json& ref : *refs) {
    const json* controller = member(ref, "controller");
    if (string_view_member(ref, "kind") == "Job" && controller != nullptr && controller->is_boolean() &&
        controller->get<bool>()) {
      return string_view_member(ref, "uid");
    }
  }
  return {};
}

bool terminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed";
}

bool node_ready(const json& node) {
  for (const json& c : array_member(&object_member(&node, "status"), "conditions")) {
    if (c.value("type", "") == "Ready") {
      return c.value("status", "") == "True";
    }
  }
  return false;
}

bool expression_matches(const json& expr, const std::string* value) {
  const std::string op = expr.value("operator", "");
  const json& values = array_member(&expr, "values");
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
  const json& labels = object_member(&object_member(&node, "metadata"), "labels");
  const json& exprs = array_member(&term, "matchExpressions");
  const json& fields = array_member(&term, "matchFields");
  if (exprs.empty() && fields.empty()) {
    return false;
  }
  for (const json& e : exprs) {
    const std::string key = e.value("key", "");
    std::string v;
    const json* label = member(labels, key.c_str());
    const bool present = label != nullptr && label->is_string();
    if (present) {
      v = label->get<std::string>();
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

// (Called for every node per pending pod: nothing of the pod or node is copied.)
bool affinity_matches(const json& pod, const json& node) {
  const json& spec = object_member(&pod, "spec");
  const json& labels = object_member(&object_member(&node, "metadata"), "labels");
  const json& selector = object_member(&spec, "nodeSelector");
  for (const auto& [k, v] : selector.items()) {
    const json* label = member(labels, k.c_str());
    if (label == nullptr || *label != v) {
      return false;
    }
  }
  const json* required = member(object_member(&object_member(&spec, "affinity"), "nodeAffinity"),
                                "requiredDuringSchedulingIgnoredDuringExecution");
  if (required != nullptr && required->is_object()) {
    const json& terms = array_member(required, "nodeSelectorTerms");
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
  const json& tolerations = array_member(&object_member(&pod, "spec"), "tolerations");
  for (const json& taint : array_member(&object_member(&node, "spec"), "taints")) {
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
    const auto started = Steady::now();
    run_once();
    // Our own writes move the version too: one more pass settles them, after
    // the batch window, so that a stream of writes costs a pass per window.
    const std::uint64_t now = m_store.resource_version();
    if (now != seen) {
      seen = now;
      std::this_thread::sleep_until(started + m_options.batch);
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
  // The Jobs still to follow: not finished, not being deleted, not suspended.
  // (Finished ones need nothing, and most Jobs of a busy sandbox are.)
  std::vector<ObjectPtr> open_jobs;
  std::set<std::string, std::less<>> open_uids;
  m_store.for_each_object(*jobs_type, [&](const ObjectPtr& ptr) {
    const json& job = *ptr;
    if (!meta(job, "deletionTimestamp").empty()) {
      return;
    }
    if (const json* status = member(job, "status")) {
      if (const json* conditions = member(*status, "conditions"); conditions != nullptr && conditions->is_array()) {
        for (const json& c : *conditions) {
          const std::string type = string_member(&c, "type");
          if ((type == "Complete" || type == "Failed") && string_member(&c, "status") == "True") {
            return;
          }
        }
      }
    }
    const json* spec = member(job, "spec");
    if (spec == nullptr || !spec->is_object() || spec->value("suspend", false)) {
      return;
    }
    open_uids.insert(meta(job, "uid"));
    open_jobs.push_back(ptr);
  });
  if (open_jobs.empty()) {
    return;
  }
  std::map<std::string, std::vector<PodView>> by_owner;
  m_store.for_each(*pods_type, [&](const json& pod) {
    // Every pod is looked at on every pass: nothing is allocated for the ones of finished Jobs.
    if (const auto uid = controller_job_uid(pod); !uid.empty() && open_uids.find(uid) != open_uids.end()) {
      PodView v{meta(pod, "name"), meta(pod, "namespace"), phase_of(pod), !meta(pod, "deletionTimestamp").empty(),
                false};
      v.running = v.phase == "Running";
      by_owner[std::string(uid)].push_back(std::move(v));
    }
  });
  // What the Job controller makes of a Job and its pods.
  struct Progress {
    long long succeeded = 0;
    long long failed = 0;
    long long active = 0;
    long long ready = 0;
    long long want = 0;  // pods to create
    std::string finished;
    std::string reason;
    std::string message;
  };
  static const std::vector<PodView> k_no_pods;
  const auto progress_of = [&](const json& job) {
    Progress p;
    const json& spec = job["spec"];
    const auto owned = by_owner.find(meta(job, "uid"));
    const auto& pods = owned == by_owner.end() ? k_no_pods : owned->second;
    for (const PodView& pod : pods) {
      if (pod.phase == "Succeeded") {
        ++p.succeeded;
      } else if (pod.phase == "Failed") {
        ++p.failed;
      } else if (!pod.deleting) {
        ++p.active;
        if (pod.running) {
          ++p.ready;
        }
      }
    }
    const long long completions = spec.value("completions", 1LL);
    const long long parallelism = spec.value("parallelism", 1LL);
    const long long backoff_limit = spec.value("backoffLimit", 6LL);
    if (p.succeeded >= completions) {
      p.finished = "Complete";
      p.reason = "CompletionsReached";
      p.message = "Reached expected number of succeeded pods";
    } else if (p.failed > backoff_limit) {
      p.finished = "Failed";
      p.reason = "BackoffLimitExceeded";
      p.message = "Job has reached the specified backoff limit";
    } else if (spec.contains("activeDeadlineSeconds")) {
      const std::string start = string_member(member(job, "status"), "startTime");
      auto started = model::parse_time(start);
      if (started.ok() && std::chrono::system_clock::now() - *started >
                              std::chrono::seconds(spec.value("activeDeadlineSeconds", 0LL))) {
        p.finished = "Failed";
        p.reason = "DeadlineExceeded";
        p.message = "Job was active longer than specified deadline";
      }
    }
    if (p.finished.empty()) {
      p.want = std::min(parallelism, completions - p.succeeded) - p.active;
    }
    return p;
  };
  // Whether the Job's status already says what the pass would write (and no
  // pod is to be created): the common case, which then costs no copy.
  const auto settled = [](const json& job, const Progress& p) {
    if (!p.finished.empty() || p.want > 0) {
      return false;
    }
    const json* status = member(job, "status");
    if (status == nullptr || !status->is_object() || member(*status, "startTime") == nullptr) {
      return false;
    }
    const auto equals = [&](const char* key, long long want) {
      const json* v = member(*status, key);
      return v != nullptr && v->is_number_integer() && v->get<long long>() == want;
    };
    const json* uncounted = member(*status, "uncountedTerminatedPods");
    return equals("active", p.active) && equals("succeeded", p.succeeded) && equals("failed", p.failed) &&
           equals("ready", p.ready) && equals("terminating", 0) && uncounted != nullptr && uncounted->is_object() &&
           uncounted->empty();
  };
  const std::string now = m_store.now_rfc3339();
  for (const ObjectPtr& ptr : open_jobs) {
    const json& job = *ptr;
    if (settled(job, progress_of(job))) {
      continue;
    }
    const json& spec = job["spec"];
    const std::string uid = meta(job, "uid");
    const std::string ns = meta(job, "namespace");
    const std::string name = meta(job, "name");
    const auto owned = by_owner.find(uid);
    const auto& pods = owned == by_owner.end() ? k_no_pods : owned->second;
    Progress progress = progress_of(job);
    long long& succeeded = progress.succeeded;
    long long& failed = progress.failed;
    long long& active = progress.active;
    long long& ready = progress.ready;
    const std::string& finished = progress.finished;
    const std::string& reason = progress.reason;
    const std::string& message = progress.message;
    const long long completions = spec.value("completions", 1LL);
    const long long parallelism = spec.value("parallelism", 1LL);
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
  std::vector<ObjectPtr> pending;
  m_store.for_each_object(*pods_type, [&](const ObjectPtr& ptr) {
    const json& pod = *ptr;
    const json* spec = member(pod, "spec");
    if (!string_member(spec, "nodeName").empty()) {
      return;
    }
    if (phase_of(pod) == "Pending" && meta(pod, "deletionTimestamp").empty() &&
        string_member(spec, "schedulerName", "default-scheduler") == "default-scheduler") {
      pending.push_back(ptr);
    }
  });
  // This runs after every change to the store; most have no pod to place,
  // and summing every bound pod or copying every node for nothing was a
  // visible part of the sandbox's CPU under load.
  if (pending.empty()) {
    return;
  }
  std::map<std::string, Resources> used;
  m_store.for_each(*pods_type, [&](const json& pod) {
    const std::string node = node_of(pod);
    if (node.empty() || terminal(phase_of(pod))) {
      return;
    }
    const Resources r = pod_requests(pod);
    add_pod(used[node], r);
  });
  std::vector<ObjectPtr> nodes;
  m_store.for_each_object(*nodes_type, [&](const ObjectPtr& n) { nodes.push_back(n); });
  for (const ObjectPtr& pending_pod : pending) {
    const json& pod = *pending_pod;
    const Resources need = pod_requests(pod);
    std::map<std::string, int> reasons;
    const json* best = nullptr;
    double best_score = 0;
    for (const ObjectPtr& node_ptr : nodes) {
      const json& node = *node_ptr;
      const std::string node_name = meta(node, "name");
      if (!node_ready(node)) {
        ++reasons["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"];
        continue;
      }
      if (object_member(&node, "spec").value("unschedulable", false)) {
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
    add_pod(u, need);
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
  std::vector<ObjectPtr> to_start;
  std::vector<ObjectPtr> live;  // running pods whose time is up, or not timed yet
  std::set<std::string> alive_uids;
  const auto steady_now = Steady::now();
  m_store.for_each_object(*pods_type, [&](const ObjectPtr& ptr) {
    const json& pod = *ptr;
    const std::string node = node_of(pod);
    if (node.empty()) {
      return;
    }
    const std::string phase = phase_of(pod);
    if (terminal(phase)) {
      return;
    }
    std::string uid = meta(pod, "uid");
    if (phase == "Pending") {
      to_start.push_back(ptr);
    } else {
      // Only what ends now is looked at again: most running pods have time left.
      const auto run = m_running.find(uid);
      if (run == m_running.end() || steady_now >= run->second.finish) {
        live.push_back(ptr);
      }
    }
    alive_uids.insert(std::move(uid));
  });
  // Only pods to admit need the nodes and what the running pods use (copied
  // and summed only then, as most changes bring none).
  std::map<std::string, ObjectPtr> nodes;
  if (!to_start.empty()) {
    m_store.for_each_object(*nodes_type, [&](const ObjectPtr& n) { nodes[meta(*n, "name")] = n; });
    m_store.for_each(*pods_type, [&](const json& pod) {
      const std::string node = node_of(pod);
      const std::string phase = phase_of(pod);
      if (node.empty() || terminal(phase) || phase == "Pending") {
        return;
      }
      const Resources r = pod_requests(pod);
      add_pod(running_use[node], r);
    });
  }
  // Forget pods that are gone.
  for (auto it = m_running.begin(); it != m_running.end();) {
    it = alive_uids.count(it->first) == 0 ? m_running.erase(it) : std::next(it);
  }
  const std::string now = m_store.now_rfc3339();
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Pending pods bound to a node: the kubelet admits them (capacity checked
  // again, so a pod bound by a client directly cannot over-commit either).
  for (const ObjectPtr& starting : to_start) {
    const json& pod = *starting;
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
      const Resources cap = node_allocatable(*node->second);
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
        add_pod(u, need);
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
    for (const json& a : node->second->value("status", json::object()).value("addresses", json::array())) {
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
  for (const ObjectPtr& running : live) {
    const json& pod = *running;
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
