// Readers of node and workload files for `gpuorch simulate`. Pure: they parse
// text they are given; the caller reads the file.

#include <gpuorch/sched/inputs.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/time.hpp>

namespace gpuorch::sched {
namespace {

constexpr std::int64_t k_mib = std::int64_t{1} << 20;
constexpr std::int64_t k_gib = std::int64_t{1} << 30;

Error at(std::string_view source, std::size_t line, std::string_view message) {
  return Error(ErrorCode::config, fmt::format("{}:{}: {}", source, line, message));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.front())) != 0)) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) != 0)) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view first_line(std::string_view content) {
  // Skip a UTF-8 byte order mark and leading blank lines.
  if (content.substr(0, 3) == "\xEF\xBB\xBF") {
    content.remove_prefix(3);
  }
  while (!content.empty()) {
    const auto end = content.find('\n');
    const auto line = trim(content.substr(0, end));
    if (!line.empty()) {
      return line;
    }
    if (end == std::string_view::npos) {
      break;
    }
    content.remove_prefix(end + 1);
  }
  return {};
}

// --- CSV ------------------------------------------------------------------

std::vector<std::string_view> split_csv(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(
        trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return fields;
}

/// A CSV file with a header, read row by row with columns found by name.
class CsvReader {
 public:
  CsvReader(std::string_view content, std::string_view source) : m_rest(content), m_source(source) {
    if (m_rest.substr(0, 3) == "\xEF\xBB\xBF") {
      m_rest.remove_prefix(3);
    }
  }

  Status read_header(std::span<const std::string_view> required) {
    if (!next_row()) {
      return Error(ErrorCode::config, fmt::format("{}: empty file", m_source));
    }
    m_header.assign(m_fields.begin(), m_fields.end());
    for (const auto name : required) {
      if (!column(name)) {
        return at(m_source, m_line, fmt::format("missing column \"{}\" in the header", name));
      }
    }
    return {};
  }

  /// Advances to the next non-empty row; false at the end.
  bool next_row() {
    while (!m_rest.empty()) {
      const auto end = m_rest.find('\n');
      auto line = m_rest.substr(0, end);
      m_rest = end == std::string_view::npos ? std::string_view{} : m_rest.substr(end + 1);
      ++m_line;
      if (trim(line).empty()) {
        continue;
      }
      m_fields = split_csv(line);
      return true;
    }
    return false;
  }

  [[nodiscard]] std::optional<std::size_t> column(std::string_view name) const {
    const auto it = std::find(m_header.begin(), m_header.end(), name);
    if (it == m_header.end()) {
      return std::nullopt;
    }
    return static_cast<std::size_t>(it - m_header.begin());
  }

  Result<std::string_view> field(std::string_view name) const {
    const auto c = column(name);
    if (!c) {
      return std::string_view{};
    }
    if (*c >= m_fields.size()) {
      return error(fmt::format("{}: missing (the row has {} of {} columns)", name, m_fields.size(), m_header.size()));
    }
    return m_fields[*c];
  }

  Result<std::int64_t> integer(std::string_view name, bool allow_empty = false) const {
    GPUORCH_ASSIGN_OR_RETURN(const auto text, field(name));
    if (text.empty() && allow_empty) {
      return std::int64_t{0};
    }
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size()) {
      return value;
    }
    // Some exports write integers as floats ("12.0").
    GPUORCH_ASSIGN_OR_RETURN(const double d, number_of(name, text));
    if (std::floor(d) == d && std::abs(d) < 9e18) {
      return static_cast<std::int64_t>(d);
    }
    return error(fmt::format("{}: not an integer: \"{}\"", name, text));
  }

  Result<double> number(std::string_view name) const {
    GPUORCH_ASSIGN_OR_RETURN(const auto text, field(name));
    return number_of(name, text);
  }

  [[nodiscard]] Error error(std::string_view message) const { return at(m_source, m_line, message); }
  [[nodiscard]] std::size_t line() const noexcept { return m_line; }

 private:
  Result<double> number_of(std::string_view name, std::string_view text) const {
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
      return error(fmt::format("{}: not a number: \"{}\"", name, text));
    }
    return value;
  }

  std::string_view m_rest;
  std::string_view m_source;
  std::size_t m_line = 0;
  std::vector<std::string_view> m_fields;
  std::vector<std::string_view> m_header;
};

Result<NodeInput> parse_alibaba_nodes(std::string_view content, std::string_view source) {
  CsvReader csv(content, source);
  constexpr std::array<std::string_view, 5> k_required{"sn", "cpu_milli", "memory_mib", "gpu", "model"};
  GPUORCH_TRY(csv.read_header(k_required));
  NodeInput input;
  input.format = InputFormat::alibaba_nodes;
  while (csv.next_row()) {
    NodeSpec node;
    GPUORCH_ASSIGN_OR_RETURN(const auto name, csv.field("sn"));
    node.name = std::string(name);
    GPUORCH_ASSIGN_OR_RETURN(node.cpu_milli, csv.integer("cpu_milli"));
    GPUORCH_ASSIGN_OR_RETURN(const auto mib, csv.integer("memory_mib"));
    node.memory_bytes = mib * k_mib;
    GPUORCH_ASSIGN_OR_RETURN(const auto gpus, csv.integer("gpu"));
    GPUORCH_ASSIGN_OR_RETURN(const auto model, csv.field("model"));
    node.gpu_model = std::string(model);
    if (node.name.empty()) {
      return csv.error("sn: empty node name");
    }
    if (node.cpu_milli < 0 || mib < 0 || gpus < 0 || gpus > k_max_gpus_per_node) {
      return csv.error(
          fmt::format("capacity out of range (cpu_milli {}, memory_mib {}, gpu {})", node.cpu_milli, mib, gpus));
    }
    node.gpu_count = static_cast<std::int32_t>(gpus);
    if (!node.gpu_model.empty()) {
      node.labels.emplace_back(k_gpu_product_label, node.gpu_model);
    }
    input.nodes.push_back(std::move(node));
  }
  return input;
}

Result<WorkloadInput> parse_alibaba_pods(std::string_view content, std::string_view source) {
  CsvReader csv(content, source);
  constexpr std::array<std::string_view, 5> k_required{"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"};
  GPUORCH_TRY(csv.read_header(k_required));
  WorkloadInput input;
  input.format = InputFormat::alibaba_pods;
  while (csv.next_row()) {
    Request r;
    GPUORCH_ASSIGN_OR_RETURN(const auto name, csv.field("name"));
    r.name = std::string(name);
    GPUORCH_ASSIGN_OR_RETURN(r.cpu_milli, csv.integer("cpu_milli"));
    GPUORCH_ASSIGN_OR_RETURN(const auto mib, csv.integer("memory_mib"));
    r.memory_bytes = mib * k_mib;
    GPUORCH_ASSIGN_OR_RETURN(const auto gpus, csv.integer("num_gpu"));
    GPUORCH_ASSIGN_OR_RETURN(const auto milli, csv.integer("gpu_milli", true));
    if (gpus < 0 || gpus > k_max_gpus_per_node) {
      return csv.error(fmt::format("num_gpu: must be between 0 and {}, got {}", k_max_gpus_per_node, gpus));
    }
    r.gpu_count = static_cast<std::int32_t>(gpus);
    if (gpus > 0) {
      if (milli <= 0 || milli > k_milli_per_gpu) {
        return csv.error(fmt::format("gpu_milli: must be between 1 and 1000 when num_gpu > 0, got {}", milli));
      }
      if (gpus > 1 && milli != k_milli_per_gpu) {
        return csv.error(fmt::format("gpu_milli: a share ({}) is only possible with num_gpu 1, got {}", milli, gpus));
      }
      r.gpu_milli = static_cast<std::int32_t>(milli);
    }
    GPUORCH_ASSIGN_OR_RETURN(const auto spec, csv.field("gpu_spec"));
    std::size_t start = 0;
    while (start < spec.size()) {
      const auto bar = spec.find('|', start);
      const auto model = trim(spec.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
      if (!model.empty()) {
        r.gpu_models.emplace_back(model);
      }
      start = bar == std::string_view::npos ? spec.size() : bar + 1;
    }
    GPUORCH_ASSIGN_OR_RETURN(r.creation_time, csv.integer("creation_time", true));
    GPUORCH_ASSIGN_OR_RETURN(const auto deleted, csv.integer("deletion_time", true));
    GPUORCH_ASSIGN_OR_RETURN(const auto scheduled, csv.integer("scheduled_time", true));
    const auto started = scheduled > 0 ? scheduled : r.creation_time;
    r.duration = deleted > started ? deleted - started : 0;
    if (r.cpu_milli < 0 || mib < 0) {
      return csv.error("cpu_milli and memory_mib must be >= 0");
    }
    input.workloads.push_back(std::move(r));
  }
  return input;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2017-10-09 07:01:55" (UTC) -> seconds since the epoch.
std::optional<std::int64_t> parse_philly_time(std::string_view text) {
  int y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  unsigned h = 0;
  unsigned mi = 0;
  unsigned s = 0;
  if (text.size() != 19 || text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T') ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const auto num = [&](std::size_t pos, std::size_t len, auto& out) {
    const auto [p, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return ec == std::errc() && p == text.data() + pos + len;
  };
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) || !num(17, 2, s) ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

Result<WorkloadInput> parse_philly(std::string_view content, std::string_view source) {
  CsvReader csv(content, source);
  constexpr std::array<std::string_view, 3> k_required{"timestamp", "duration", "num_gpus"};
  GPUORCH_TRY(csv.read_header(k_required));
  WorkloadInput input;
  input.format = InputFormat::philly;
  std::size_t index = 0;
  while (csv.next_row()) {
    Request r;
    r.name = fmt::format("philly-{:05}", index++);
    GPUORCH_ASSIGN_OR_RETURN(const auto ts, csv.field("timestamp"));
    const auto t = parse_philly_time(ts);
    if (!t) {
      return csv.error(fmt::format("timestamp: not a \"YYYY-MM-DD hh:mm:ss\" time: \"{}\"", ts));
    }
    r.creation_time = *t;
    GPUORCH_ASSIGN_OR_RETURN(const double duration, csv.number("duration"));
    if (duration < 0) {
      return csv.error(fmt::format("duration: must be >= 0, got {}", duration));
    }
    r.duration = static_cast<std::int64_t>(std::llround(duration));
    GPUORCH_ASSIGN_OR_RETURN(const auto gpus, csv.integer("num_gpus"));
    if (gpus < 0 || gpus > 1'000'000) {
      return csv.error(fmt::format("num_gpus: must be >= 0, got {}", gpus));
    }
    // Jobs larger than any node are kept: a replay reports them as unplaceable.
    r.gpu_count = static_cast<std::int32_t>(gpus);
    GPUORCH_ASSIGN_OR_RETURN(const auto cluster, csv.field("cluster"));
    if (!cluster.empty()) {
      r.name += "-" + std::string(cluster);
    }
    input.workloads.push_back(std::move(r));
  }
  return input;
}

// --- YAML / JSON ----------------------------------------------------------

std::size_t line_of(const YAML::Node& node) {
  return static_cast<std::size_t>(node.Mark().line) + 1;
}

Result<std::vector<YAML::Node>> load_documents(std::string_view content, std::string_view source) {
  try {
    return YAML::LoadAll(std::string(content));
  } catch (const YAML::Exception& e) {
    return at(source, static_cast<std::size_t>(e.mark.line) + 1, e.msg);
  }
}

Result<std::string> scalar(const YAML::Node& node, std::string_view field, std::string_view source) {
  if (!node.IsScalar()) {
    return at(source, line_of(node), fmt::format("{}: expected a scalar", field));
  }
  return node.Scalar();
}

Result<std::int64_t> quantity_milli(const YAML::Node& node, std::string_view field, std::string_view source) {
  GPUORCH_ASSIGN_OR_RETURN(const auto text, scalar(node, field, source));
  auto q = model::Quantity::parse(text);
  if (!q.ok()) {
    return at(source, line_of(node), fmt::format("{}: {}", field, q.error().message()));
  }
  return q->milli();
}

Result<std::int64_t> quantity_value(const YAML::Node& node, std::string_view field, std::string_view source) {
  GPUORCH_ASSIGN_OR_RETURN(const auto text, scalar(node, field, source));
  auto q = model::Quantity::parse(text);
  if (!q.ok()) {
    return at(source, line_of(node), fmt::format("{}: {}", field, q.error().message()));
  }
  return q->value();
}

Result<double> number(const YAML::Node& node, std::string_view field, std::string_view source) {
  GPUORCH_ASSIGN_OR_RETURN(const auto text, scalar(node, field, source));
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return at(source, line_of(node), fmt::format("{}: not a number: \"{}\"", field, text));
  }
  return value;
}

Result<bool> boolean(const YAML::Node& node, std::string_view field, std::string_view source) {
  GPUORCH_ASSIGN_OR_RETURN(const auto text, scalar(node, field, source));
  if (text == "true" || text == "True") {
    return true;
  }
  if (text == "false" || text == "False") {
    return false;
  }
  return at(source, line_of(node), fmt::format("{}: expected true or false, got \"{}\"", field, text));
}

Result<Labels> string_map(const YAML::Node& node, std::string_view field, std::string_view source) {
  Labels out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsMap()) {
    return at(source, line_of(node), fmt::format("{}: expected a map", field));
  }
  for (const auto& kv : node) {
    GPUORCH_ASSIGN_OR_RETURN(auto value, scalar(kv.second, fmt::format("{}.{}", field, kv.first.Scalar()), source));
    out.emplace_back(kv.first.Scalar(), std::move(value));
  }
  return out;
}

Result<std::vector<Taint>> taints(const YAML::Node& node, std::string_view field, std::string_view source) {
  std::vector<Taint> out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    return at(source, line_of(node), fmt::format("{}: expected a list", field));
  }
  for (const auto& t : node) {
    if (!t.IsMap() || !t["key"] || !t["effect"]) {
      return at(source, line_of(t), fmt::format("{}: a taint needs key and effect", field));
    }
    Taint taint{t["key"].Scalar(), t["value"] ? t["value"].Scalar() : std::string(), t["effect"].Scalar()};
    if (taint.effect != "NoSchedule" && taint.effect != "PreferNoSchedule" && taint.effect != "NoExecute") {
      return at(
          source, line_of(t["effect"]),
          fmt::format("{}: effect must be NoSchedule, PreferNoSchedule or NoExecute, got \"{}\"", field, taint.effect));
    }
    out.push_back(std::move(taint));
  }
  return out;
}

Result<std::vector<Toleration>> tolerations(const YAML::Node& node, std::string_view field, std::string_view source) {
  std::vector<Toleration> out;
  if (!node || node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    return at(source, line_of(node), fmt::format("{}: expected a list", field));
  }
  for (const auto& t : node) {
    if (!t.IsMap()) {
      return at(source, line_of(t), fmt::format("{}: expected a map", field));
    }
    Toleration tol;
    tol.key = t["key"] ? t["key"].Scalar() : std::string();
    tol.op = t["operator"] ? t["operator"].Scalar() : std::string("Equal");
    tol.value = t["value"] ? t["value"].Scalar() : std::string();
    tol.effect = t["effect"] ? t["effect"].Scalar() : std::string();
    if (tol.op != "Equal" && tol.op != "Exists") {
      return at(source, line_of(t), fmt::format("{}: operator must be Equal or Exists, got \"{}\"", field, tol.op));
    }
    out.push_back(std::move(tol));
  }
  return out;
}

std::string kind_of(const YAML::Node& doc) {
  return doc.IsMap() && doc["kind"] && doc["kind"].IsScalar() ? doc["kind"].Scalar() : std::string();
}

std::string api_version_of(const YAML::Node& doc) {
  return doc.IsMap() && doc["apiVersion"] && doc["apiVersion"].IsScalar() ? doc["apiVersion"].Scalar() : std::string();
}

// The objects of every document, with Lists and NodeLists flattened.
std::vector<YAML::Node> objects_of(const std::vector<YAML::Node>& docs) {
  std::vector<YAML::Node> out;
  for (const auto& doc : docs) {
    if (!doc || doc.IsNull()) {
      continue;
    }
    const auto kind = kind_of(doc);
    if (kind.ends_with("List") && doc["items"] && doc["items"].IsSequence()) {
      for (const auto& item : doc["items"]) {
        out.push_back(item);
      }
    } else {
      out.push_back(doc);
    }
  }
  return out;
}

Result<NodeSpec> parse_kube_node(const YAML::Node& obj, std::string_view source) {
  NodeSpec node;
  const auto meta = obj["metadata"];
  if (!meta || !meta["name"]) {
    return at(source, line_of(obj), "Node: metadata.name is required");
  }
  node.name = meta["name"].Scalar();
  GPUORCH_ASSIGN_OR_RETURN(node.labels, string_map(meta["labels"], "metadata.labels", source));
  GPUORCH_ASSIGN_OR_RETURN(const auto annotations, string_map(meta["annotations"], "metadata.annotations", source));
  const auto status = obj["status"];
  // yaml-cpp's operator= writes through to the referenced node; reset() rebinds.
  YAML::Node resources;
  if (status && status["allocatable"] && status["allocatable"].IsMap()) {
    resources.reset(status["allocatable"]);
  } else if (status && status["capacity"]) {
    resources.reset(status["capacity"]);
  }
  if (!resources || !resources.IsMap()) {
    return at(source, line_of(obj),
              fmt::format("Node {}: status.allocatable (or status.capacity) is required", node.name));
  }
  if (resources["cpu"]) {
    GPUORCH_ASSIGN_OR_RETURN(node.cpu_milli, quantity_milli(resources["cpu"], "status.allocatable.cpu", source));
  }
  if (resources["memory"]) {
    GPUORCH_ASSIGN_OR_RETURN(node.memory_bytes,
                             quantity_value(resources["memory"], "status.allocatable.memory", source));
  }
  if (const auto gpu = resources[std::string(k_gpu_resource)]) {
    GPUORCH_ASSIGN_OR_RETURN(const auto gpus, quantity_value(gpu, "status.allocatable[nvidia.com/gpu]", source));
    if (gpus < 0 || gpus > k_max_gpus_per_node) {
      return at(source, line_of(gpu),
                fmt::format("Node {}: {} GPUs, at most {} are supported", node.name, gpus, k_max_gpus_per_node));
    }
    node.gpu_count = static_cast<std::int32_t>(gpus);
  }
  if (const auto* product = node.label(k_gpu_product_label)) {
    node.gpu_model = *product;
  }
  const auto price_text = [&]() -> const std::string* {
    if (const auto* l = node.label(k_cost_label)) {
      return l;
    }
    for (const auto& [k, v] : annotations) {
      if (k == k_cost_label) {
        return &v;
      }
    }
    return nullptr;
  }();
  if (price_text != nullptr) {
    double price = 0;
    const auto [ptr, ec] = std::from_chars(price_text->data(), price_text->data() + price_text->size(), price);
    if (ec != std::errc() || ptr != price_text->data() + price_text->size() || price < 0) {
      return at(source, line_of(meta),
                fmt::format("Node {}: {}: not a price: \"{}\"", node.name, k_cost_label, *price_text));
    }
    node.price_per_gpu_hour = price;
  }
  if (const auto spec = obj["spec"]) {
    if (spec["unschedulable"]) {
      GPUORCH_ASSIGN_OR_RETURN(node.cordoned, boolean(spec["unschedulable"], "spec.unschedulable", source));
    }
    GPUORCH_ASSIGN_OR_RETURN(node.taints, taints(spec["taints"], "spec.taints", source));
  }
  if (status && status["conditions"] && status["conditions"].IsSequence()) {
    for (const auto& c : status["conditions"]) {
      if (c["type"] && c["type"].Scalar() == "Ready") {
        node.ready = c["status"] && c["status"].Scalar() == "True";
      }
    }
  }
  return node;
}

Result<NodeInput> parse_kube_nodes(const std::vector<YAML::Node>& docs, std::string_view source) {
  NodeInput input;
  input.format = InputFormat::kube_nodes;
  for (const auto& obj : objects_of(docs)) {
    if (kind_of(obj) != "Node") {
      return at(source, line_of(obj), fmt::format("expected kind Node, got \"{}\"", kind_of(obj)));
    }
    GPUORCH_ASSIGN_OR_RETURN(auto node, parse_kube_node(obj, source));
    input.nodes.push_back(std::move(node));
  }
  return input;
}

// The compact gpuorch node list:
//   apiVersion: gpuorch.io/v1alpha1
//   kind: NodePool
//   prices: {H100: 4.1}            # price per GPU-hour by GPU model
//   nodes:
//     - {name: h100, count: 4, gpus: 8, gpuModel: H100, cpu: "96", memory: 1Ti,
//        labels: {...}, taints: [...], costPerGPUHour: 4.5, ready: true, cordoned: false}
Result<NodeInput> parse_gpuorch_nodes(const YAML::Node& doc, std::string_view source) {
  NodeInput input;
  input.format = InputFormat::gpuorch_nodes;
  if (const auto prices = doc["prices"]) {
    if (!prices.IsMap()) {
      return at(source, line_of(prices), "prices: expected a map of GPU model to price per GPU-hour");
    }
    for (const auto& kv : prices) {
      GPUORCH_ASSIGN_OR_RETURN(const double price, number(kv.second, "prices." + kv.first.Scalar(), source));
      input.price_by_model[kv.first.Scalar()] = price;
    }
  }
  const auto nodes = doc["nodes"];
  if (!nodes || !nodes.IsSequence()) {
    return at(source, line_of(doc), "nodes: a list of nodes is required");
  }
  constexpr std::array<std::string_view, 11> k_known{
      "name", "count", "gpus", "gpuModel", "cpu", "memory", "labels", "taints", "costPerGPUHour", "ready", "cordoned"};
  for (const auto& n : nodes) {
    if (!n.IsMap()) {
      return at(source, line_of(n), "nodes: each entry must be a map");
    }
    for (const auto& kv : n) {
      if (std::find(k_known.begin(), k_known.end(), kv.first.Scalar()) == k_known.end()) {
        return at(source, line_of(kv.first), fmt::format("nodes: unknown field \"{}\"", kv.first.Scalar()));
      }
    }
    if (!n["name"]) {
      return at(source, line_of(n), "nodes: name is required");
    }
    NodeSpec node;
    node.name = n["name"].Scalar();
    std::int64_t count = 1;
    if (n["count"]) {
      GPUORCH_ASSIGN_OR_RETURN(const double c, number(n["count"], "count", source));
      if (c < 1 || c > 1e6 || std::floor(c) != c) {
        return at(source, line_of(n["count"]), fmt::format("count: must be a whole number >= 1, got {}", c));
      }
      count = static_cast<std::int64_t>(c);
    }
    if (n["gpus"]) {
      GPUORCH_ASSIGN_OR_RETURN(const auto gpus, quantity_value(n["gpus"], "gpus", source));
      if (gpus < 0 || gpus > k_max_gpus_per_node) {
        return at(source, line_of(n["gpus"]),
                  fmt::format("gpus: must be between 0 and {}, got {}", k_max_gpus_per_node, gpus));
      }
      node.gpu_count = static_cast<std::int32_t>(gpus);
    }
    node.gpu_model = n["gpuModel"] ? n["gpuModel"].Scalar() : std::string();
    if (n["cpu"]) {
      GPUORCH_ASSIGN_OR_RETURN(node.cpu_milli, quantity_milli(n["cpu"], "cpu", source));
    }
    if (n["memory"]) {
      GPUORCH_ASSIGN_OR_RETURN(node.memory_bytes, quantity_value(n["memory"], "memory", source));
    }
    GPUORCH_ASSIGN_OR_RETURN(node.labels, string_map(n["labels"], "labels", source));
    GPUORCH_ASSIGN_OR_RETURN(node.taints, taints(n["taints"], "taints", source));
    if (n["costPerGPUHour"]) {
      GPUORCH_ASSIGN_OR_RETURN(const double price, number(n["costPerGPUHour"], "costPerGPUHour", source));
      node.price_per_gpu_hour = price;
    }
    if (n["ready"]) {
      GPUORCH_ASSIGN_OR_RETURN(node.ready, boolean(n["ready"], "ready", source));
    }
    if (n["cordoned"]) {
      GPUORCH_ASSIGN_OR_RETURN(node.cordoned, boolean(n["cordoned"], "cordoned", source));
    }
    if (!node.gpu_model.empty() && node.label(k_gpu_product_label) == nullptr) {
      node.labels.emplace_back(k_gpu_product_label, node.gpu_model);
    }
    if (node.cpu_milli < 0 || node.memory_bytes < 0) {
      return at(source, line_of(n), fmt::format("node {}: cpu and memory must be >= 0", node.name));
    }
    if (count == 1) {
      input.nodes.push_back(std::move(node));
      continue;
    }
    for (std::int64_t i = 0; i < count; ++i) {
      NodeSpec copy = node;
      copy.name = fmt::format("{}-{}", node.name, i);
      input.nodes.push_back(std::move(copy));
    }
  }
  return input;
}

Result<Request> parse_gpu_workload(const YAML::Node& obj, std::string_view source) {
  Request r;
  const auto meta = obj["metadata"];
  if (!meta || !meta["name"]) {
    return at(source, line_of(obj), "GPUWorkload: metadata.name is required");
  }
  r.name = meta["name"].Scalar();
  if (meta["namespace"] && meta["namespace"].IsScalar()) {
    r.name = meta["namespace"].Scalar() + "/" + r.name;
  }
  if (const auto created = meta["creationTimestamp"]; created && created.IsScalar() && !created.Scalar().empty()) {
    auto t = model::parse_time(created.Scalar());
    if (!t.ok()) {
      return at(source, line_of(created), fmt::format("metadata.creationTimestamp: {}", t.error().message()));
    }
    r.creation_time = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  }
  const auto spec = obj["spec"];
  if (!spec || !spec.IsMap()) {
    return at(source, line_of(obj), fmt::format("GPUWorkload {}: spec is required", r.name));
  }
  if (!spec["gpuCount"]) {
    return at(source, line_of(spec), fmt::format("GPUWorkload {}: spec.gpuCount: required", r.name));
  }
  GPUORCH_ASSIGN_OR_RETURN(const double gpus, number(spec["gpuCount"], "spec.gpuCount", source));
  if (gpus < 1 || gpus > k_max_gpus_per_node || std::floor(gpus) != gpus) {
    return at(source, line_of(spec["gpuCount"]),
              fmt::format("spec.gpuCount: must be a whole number between 1 and {}, got {}", k_max_gpus_per_node, gpus));
  }
  r.gpu_count = static_cast<std::int32_t>(gpus);
  if (spec["priority"]) {
    GPUORCH_ASSIGN_OR_RETURN(const double p, number(spec["priority"], "spec.priority", source));
    if (std::floor(p) != p || std::abs(p) > 1e9) {
      return at(source, line_of(spec["priority"]), fmt::format("spec.priority: must be an integer, got {}", p));
    }
    r.priority = static_cast<std::int32_t>(p);
  }
  if (const auto res = spec["resources"]) {
    if (res["cpu"]) {
      GPUORCH_ASSIGN_OR_RETURN(r.cpu_milli, quantity_milli(res["cpu"], "spec.resources.cpu", source));
    }
    if (res["memory"]) {
      GPUORCH_ASSIGN_OR_RETURN(r.memory_bytes, quantity_value(res["memory"], "spec.resources.memory", source));
    }
  }
  if (spec["gpuType"] && spec["gpuType"].IsScalar() && !spec["gpuType"].Scalar().empty()) {
    r.gpu_models.push_back(spec["gpuType"].Scalar());
  }
  GPUORCH_ASSIGN_OR_RETURN(r.node_selector, string_map(spec["nodeSelector"], "spec.nodeSelector", source));
  GPUORCH_ASSIGN_OR_RETURN(r.tolerations, tolerations(spec["tolerations"], "spec.tolerations", source));
  return r;
}

Result<WorkloadInput> parse_gpu_workloads(const std::vector<YAML::Node>& docs, std::string_view source) {
  WorkloadInput input;
  input.format = InputFormat::gpu_workloads;
  for (const auto& obj : objects_of(docs)) {
    if (kind_of(obj) != "GPUWorkload") {
      return at(source, line_of(obj), fmt::format("expected kind GPUWorkload, got \"{}\"", kind_of(obj)));
    }
    GPUORCH_ASSIGN_OR_RETURN(auto r, parse_gpu_workload(obj, source));
    input.workloads.push_back(std::move(r));
  }
  return input;
}

InputFormat detect_yaml(const std::vector<YAML::Node>& docs) {
  for (const auto& obj : objects_of(docs)) {
    const auto kind = kind_of(obj);
    if (kind == "Node") {
      return InputFormat::kube_nodes;
    }
    if (kind == "GPUWorkload") {
      return InputFormat::gpu_workloads;
    }
    if (kind == "NodePool" && api_version_of(obj).starts_with("gpuorch.io/")) {
      return InputFormat::gpuorch_nodes;
    }
    break;
  }
  return InputFormat::unknown;
}

std::string describe_unknown(std::string_view source) {
  return fmt::format(
      "{}: unrecognised format (expected an Alibaba node or pod CSV, a Philly CSV, a gpuorch NodePool, Kubernetes "
      "Nodes or GPUWorkloads)",
      source);
}

}  // namespace

std::string_view to_string(InputFormat format) {
  switch (format) {
    case InputFormat::unknown:
      return "unknown";
    case InputFormat::alibaba_nodes:
      return "alibaba-nodes";
    case InputFormat::alibaba_pods:
      return "alibaba-pods";
    case InputFormat::philly:
      return "philly";
    case InputFormat::gpuorch_nodes:
      return "gpuorch-nodepool";
    case InputFormat::kube_nodes:
      return "kubernetes-nodes";
    case InputFormat::gpu_workloads:
      return "gpuworkloads";
  }
  return "unknown";
}

InputFormat detect_format(std::string_view content) {
  const auto line = first_line(content);
  if (line.starts_with("sn,") || (line.find(",gpu,") != std::string_view::npos && line.find("model") != line.npos &&
                                  line.find("cpu_milli") != line.npos)) {
    return InputFormat::alibaba_nodes;
  }
  if (line.starts_with("name,") && line.find("num_gpu") != std::string_view::npos) {
    return InputFormat::alibaba_pods;
  }
  if (line.starts_with("timestamp,") && line.find("num_gpus") != std::string_view::npos) {
    return InputFormat::philly;
  }
  try {
    return detect_yaml(YAML::LoadAll(std::string(content)));
  } catch (const YAML::Exception&) {
    return InputFormat::unknown;
  }
}

Result<NodeInput> parse_nodes(std::string_view content, std::string_view source) {
  const auto format = detect_format(content);
  NodeInput input;
  switch (format) {
    case InputFormat::alibaba_nodes: {
      GPUORCH_ASSIGN_OR_RETURN(input, parse_alibaba_nodes(content, source));
      break;
    }
    case InputFormat::kube_nodes:
    case InputFormat::gpuorch_nodes: {
      GPUORCH_ASSIGN_OR_RETURN(const auto docs, load_documents(content, source));
      if (format == InputFormat::kube_nodes) {
        GPUORCH_ASSIGN_OR_RETURN(input, parse_kube_nodes(docs, source));
      } else {
        const auto objects = objects_of(docs);
        for (const auto& doc : objects) {
          GPUORCH_ASSIGN_OR_RETURN(auto part, parse_gpuorch_nodes(doc, source));
          for (auto& n : part.nodes) {
            input.nodes.push_back(std::move(n));
          }
          input.price_by_model.merge(part.price_by_model);
        }
        input.format = format;
      }
      break;
    }
    case InputFormat::alibaba_pods:
    case InputFormat::philly:
    case InputFormat::gpu_workloads:
      return Error(ErrorCode::config,
                   fmt::format("{}: this is a workload file ({}), not a node file", source, to_string(format)));
    case InputFormat::unknown: {
      // Report a YAML syntax error with its line when that is the cause.
      GPUORCH_TRY(load_documents(content, source));
      return Error(ErrorCode::config, describe_unknown(source));
    }
  }
  if (input.nodes.empty()) {
    return Error(ErrorCode::config, fmt::format("{}: no nodes", source));
  }
  return input;
}

Result<WorkloadInput> parse_workloads(std::string_view content, std::string_view source) {
  const auto format = detect_format(content);
  switch (format) {
    case InputFormat::alibaba_pods:
      return parse_alibaba_pods(content, source);
    case InputFormat::philly:
      return parse_philly(content, source);
    case InputFormat::gpu_workloads: {
      GPUORCH_ASSIGN_OR_RETURN(const auto docs, load_documents(content, source));
      return parse_gpu_workloads(docs, source);
    }
    case InputFormat::alibaba_nodes:
    case InputFormat::kube_nodes:
    case InputFormat::gpuorch_nodes:
      return Error(ErrorCode::config,
                   fmt::format("{}: this is a node file ({}), not a workload file", source, to_string(format)));
    case InputFormat::unknown:
      break;
  }
  GPUORCH_TRY(load_documents(content, source));
  return Error(ErrorCode::config, describe_unknown(source));
}

Result<std::vector<NodeSpec>> synthetic_nodes(std::string_view spec, std::size_t pool) {
  const auto bad = [&](std::string_view why) {
    return Error(
        ErrorCode::usage,
        fmt::format("--cluster \"{}\": {} (expected COUNTxGPUS[:MODEL[:CPU[:MEMORY]]], e.g. 64x8:H100)", spec, why));
  };
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() > 4) {
    return bad("too many fields");
  }
  const auto x = parts[0].find('x');
  if (x == std::string_view::npos) {
    return bad("missing 'x' between node count and GPUs per node");
  }
  std::int64_t count = 0;
  std::int64_t gpus = 0;
  const auto count_text = parts[0].substr(0, x);
  const auto gpus_text = parts[0].substr(x + 1);
  if (std::from_chars(count_text.data(), count_text.data() + count_text.size(), count).ptr !=
          count_text.data() + count_text.size() ||
      count_text.empty() || count < 1 || count > 1'000'000) {
    return bad("node count must be between 1 and 1000000");
  }
  if (std::from_chars(gpus_text.data(), gpus_text.data() + gpus_text.size(), gpus).ptr !=
          gpus_text.data() + gpus_text.size() ||
      gpus_text.empty() || gpus < 0 || gpus > k_max_gpus_per_node) {
    return bad(fmt::format("GPUs per node must be between 0 and {}", k_max_gpus_per_node));
  }
  NodeSpec node;
  node.gpu_count = static_cast<std::int32_t>(gpus);
  node.gpu_model = parts.size() > 1 ? std::string(parts[1]) : std::string();
  node.cpu_milli = std::max<std::int64_t>(8, 12 * gpus) * 1000;
  node.memory_bytes = std::max<std::int64_t>(64, 128 * gpus) * k_gib;
  if (parts.size() > 2) {
    auto q = model::Quantity::parse(parts[2]);
    if (!q.ok() || q->sign() < 0) {
      return bad(fmt::format("CPU \"{}\" is not a quantity", parts[2]));
    }
    node.cpu_milli = q->milli();
  }
  if (parts.size() > 3) {
    auto q = model::Quantity::parse(parts[3]);
    if (!q.ok() || q->sign() < 0) {
      return bad(fmt::format("memory \"{}\" is not a quantity", parts[3]));
    }
    node.memory_bytes = q->value();
  }
  if (!node.gpu_model.empty()) {
    node.labels.emplace_back(k_gpu_product_label, node.gpu_model);
  }
  std::string prefix = node.gpu_model.empty() ? std::string(gpus > 0 ? "gpu" : "cpu") : node.gpu_model;
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return std::isalnum(c) != 0 ? static_cast<char>(std::tolower(c)) : '-'; });
  const auto width = fmt::format("{}", count - 1).size();
  std::vector<NodeSpec> nodes;
  nodes.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    NodeSpec copy = node;
    copy.name = fmt::format("{}-{}-{:0{}}", prefix, pool, i, width);
    nodes.push_back(std::move(copy));
  }
  return nodes;
}

}  // namespace gpuorch::sched
