// Readers of node and workload files for `gpuorch simulate`. Pure: they parse
// text they are given; the caller reads the file.

#include <gpuorch/sched/inputs.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include <gpuorch/base/strings.hpp>
#include <gpuorch/model/manifest.hpp>
#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/time.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/kube_objects.hpp>

#include "json_reader.hpp"

namespace gpuorch::sched {
namespace {

constexpr std::int64_t k_mib = std::int64_t{1} << 20;
constexpr std::int64_t k_gib = std::int64_t{1} << 30;

Error at(std::string_view source, std::size_t line, std::string_view message) {
  return Error(ErrorCode::config, fmt::format("{}:{}: {}", source, line, message));
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

// "2017-10-09 07:01:55" (UTC) -> seconds since the epoch: an RFC 3339 time
// but for the separator and the zone, so the model's parser reads it.
std::optional<std::int64_t> parse_philly_time(std::string_view text) {
  if (text.size() != 19 || (text[10] != ' ' && text[10] != 'T')) {
    return std::nullopt;
  }
  std::string rfc3339(text);
  rfc3339[10] = 'T';
  rfc3339 += 'Z';
  const auto time = model::parse_time(rfc3339);
  if (!time.ok()) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(time->time_since_epoch()).count();
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
// Read with the model's YAML reader, the one `gpuorch validate` and `submit`
// use: same YAML rules, and errors at "file:line:column".

using nlohmann::json;
using Pointer = json::json_pointer;

std::string kind_of(const json& object) {
  return object.is_object() && object.contains("kind") && object["kind"].is_string() ? object["kind"].get<std::string>()
                                                                                     : std::string();
}

std::string api_version_of(const json& object) {
  return object.is_object() && object.contains("apiVersion") && object["apiVersion"].is_string()
             ? object["apiVersion"].get<std::string>()
             : std::string();
}

model::Locator locator_of(const model::ManifestDocument& doc) {
  return [&doc](const Pointer& pointer, model::MarkTarget target) {
    return doc.locate(pointer, target == model::MarkTarget::key);
  };
}

/// The objects of a YAML/JSON source, typed lists (NodeList, GPUWorkloadList)
/// flattened like `kind: List`. Malformed input: ErrorCode::config,
/// "file:line:column: malformed YAML: ...".
Result<std::vector<model::ManifestDocument>> load_objects(std::string_view content, std::string_view source) {
  auto parsed = model::parse_manifest(model::ManifestSource{std::string(source), std::string(content)});
  if (!parsed.ok()) {
    return Error(ErrorCode::config, parsed.error().message());
  }
  std::vector<model::ManifestDocument> objects;
  for (auto& doc : *parsed) {
    const auto kind = kind_of(doc.value);
    if (kind.ends_with("List") && doc.value.contains("items") && doc.value["items"].is_array()) {
      const auto& items = doc.value["items"];
      for (std::size_t i = 0; i < items.size(); ++i) {
        model::ManifestDocument item;
        item.source = doc.source;
        item.base = doc.base / "items" / i;
        item.start = doc.positions ? doc.positions->value(item.base).value_or(doc.start) : doc.start;
        item.value = items[i];
        item.positions = doc.positions;
        objects.push_back(std::move(item));
      }
      continue;
    }
    objects.push_back(std::move(doc));
  }
  for (std::size_t i = 0; i < objects.size(); ++i) {
    objects[i].index = i;
  }
  return objects;
}

Result<NodeInput> parse_kube_nodes(const std::vector<model::ManifestDocument>& objects) {
  NodeInput input;
  input.format = InputFormat::kube_nodes;
  for (const auto& obj : objects) {
    if (kind_of(obj.value) != "Node") {
      return Error(ErrorCode::config, fmt::format("{}: expected kind Node, got \"{}\"",
                                                  obj.locate(Pointer("/kind"), false), kind_of(obj.value)));
    }
    auto node = node_from_json(obj.value, locator_of(obj));
    if (!node.ok()) {
      return Error(ErrorCode::config, node.error().message());
    }
    input.nodes.push_back(std::move(node).value());
  }
  return input;
}

// The compact gpuorch node list:
//   apiVersion: gpuorch.io/v1alpha1
//   kind: NodePool
//   prices: {H100: 4.1}            # price per GPU-hour by GPU model
//   nodes:
//     - {name: h100, count: 4, gpus: 8, gpuModel: H100, cpu: "96", memory: 1Ti,
//        labels: {...}, taints: [...], costPerGPUHour: 4.5, ready: true, cordoned: false,
//        used: {gpus: 2, cpu: "16", memory: 128Gi}}   # in use when the run starts (snapshots)
Status parse_gpuorch_nodes(const model::ManifestDocument& doc, NodeInput& input) {
  const auto locate = locator_of(doc);
  const detail::JsonReader r(doc.value, locate, doc.source);
  if (const json* prices = r.find(Pointer("/prices"))) {
    if (!prices->is_object()) {
      return r.error(Pointer("/prices"), "expected a map of GPU model to price per GPU-hour");
    }
    for (const auto& [model, value] : prices->items()) {
      GPUORCH_ASSIGN_OR_RETURN(const double price, r.number(Pointer("/prices") / model));
      if (price < 0) {
        return r.error(Pointer("/prices") / model, fmt::format("must be >= 0, got {}", price));
      }
      input.price_by_model[model] = price;
    }
  }
  const json* nodes = r.find(Pointer("/nodes"));
  if (nodes == nullptr || !nodes->is_array()) {
    return r.error(Pointer("/nodes"), "a list of nodes is required");
  }
  constexpr std::array<std::string_view, 12> k_known{"name",     "count",  "gpus",   "gpuModel",       "cpu",
                                                     "memory",   "labels", "taints", "costPerGPUHour", "ready",
                                                     "cordoned", "used"};
  for (std::size_t i = 0; i < nodes->size(); ++i) {
    const auto at = Pointer("/nodes") / i;
    const json& n = (*nodes)[i];
    if (!n.is_object()) {
      return r.error(at, "each entry must be a map");
    }
    for (const auto& [key, value] : n.items()) {
      if (std::find(k_known.begin(), k_known.end(), key) == k_known.end()) {
        return r.error(at / key, "unknown field", true);
      }
    }
    NodeSpec node;
    GPUORCH_ASSIGN_OR_RETURN(node.name, r.scalar(at / "name"));
    if (node.name.empty()) {
      return r.error(at / "name", "required");
    }
    std::int64_t count = 1;
    if (r.find(at / "count") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(const double c, r.number(at / "count"));
      if (c < 1 || c > 1e6 || std::floor(c) != c) {
        return r.error(at / "count", fmt::format("must be a whole number >= 1, got {}", c));
      }
      count = static_cast<std::int64_t>(c);
    }
    if (r.find(at / "gpus") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(const auto gpus, r.quantity(at / "gpus"));
      if (gpus.milli() % 1000 != 0 || gpus.value() > k_max_gpus_per_node) {
        return r.error(at / "gpus", fmt::format("must be a whole number between 0 and {}, got {}", k_max_gpus_per_node,
                                                gpus.to_string()));
      }
      node.gpu_count = static_cast<std::int32_t>(gpus.value());
    }
    GPUORCH_ASSIGN_OR_RETURN(node.gpu_model, r.scalar(at / "gpuModel"));
    if (r.find(at / "cpu") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(const auto cpu, r.quantity(at / "cpu"));
      node.cpu_milli = cpu.milli();
    }
    if (r.find(at / "memory") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(const auto memory, r.quantity(at / "memory"));
      node.memory_bytes = memory.value();
    }
    GPUORCH_ASSIGN_OR_RETURN(node.labels, r.string_map(at / "labels", false));
    GPUORCH_ASSIGN_OR_RETURN(node.taints, r.taints(at / "taints"));
    if (r.find(at / "costPerGPUHour") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(const double price, r.number(at / "costPerGPUHour"));
      if (price < 0) {
        return r.error(at / "costPerGPUHour", fmt::format("must be >= 0, got {}", price));
      }
      node.price_per_gpu_hour = price;
    }
    if (r.find(at / "ready") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(node.ready, r.boolean(at / "ready"));
    }
    if (r.find(at / "cordoned") != nullptr) {
      GPUORCH_ASSIGN_OR_RETURN(node.cordoned, r.boolean(at / "cordoned"));
    }
    if (!node.gpu_model.empty() && node.label(k_gpu_product_label) == nullptr) {
      node.labels.emplace_back(k_gpu_product_label, node.gpu_model);
    }
    NodeInUse used;
    if (const json* u = r.find(at / "used")) {
      if (!u->is_object()) {
        return r.error(at / "used", "expected a map with gpus, cpu and memory");
      }
      for (const auto& [key, value] : u->items()) {
        if (key != "gpus" && key != "cpu" && key != "memory") {
          return r.error(at / "used" / key, "unknown field", true);
        }
      }
      if (r.find(at / "used" / "gpus") != nullptr) {
        GPUORCH_ASSIGN_OR_RETURN(const auto gpus, r.quantity(at / "used" / "gpus"));
        used.gpus = static_cast<std::int32_t>(std::clamp<std::int64_t>(gpus.value(), -1, k_max_gpus_per_node + 1));
      }
      if (r.find(at / "used" / "cpu") != nullptr) {
        GPUORCH_ASSIGN_OR_RETURN(const auto cpu, r.quantity(at / "used" / "cpu"));
        used.cpu_milli = cpu.milli();
      }
      if (r.find(at / "used" / "memory") != nullptr) {
        GPUORCH_ASSIGN_OR_RETURN(const auto memory, r.quantity(at / "used" / "memory"));
        used.memory_bytes = memory.value();
      }
      if (used.gpus < 0 || used.gpus > node.gpu_count || used.cpu_milli < 0 || used.cpu_milli > node.cpu_milli ||
          used.memory_bytes < 0 || used.memory_bytes > node.memory_bytes) {
        return r.error(at / "used", "must be between 0 and the node's gpus, cpu and memory");
      }
    }
    const bool has_usage = used.gpus > 0 || used.cpu_milli > 0 || used.memory_bytes > 0;
    if (count == 1) {
      if (has_usage) {
        used.node = node.name;
        input.in_use.push_back(used);
      }
      input.nodes.push_back(std::move(node));
      continue;
    }
    for (std::int64_t k = 0; k < count; ++k) {
      NodeSpec copy = node;
      copy.name = fmt::format("{}-{}", node.name, k);
      if (has_usage) {
        used.node = copy.name;
        input.in_use.push_back(used);
      }
      input.nodes.push_back(std::move(copy));
    }
  }
  return {};
}

/// GPUWorkloads pass exactly the checks of `gpuorch validate` (and so of
/// `submit`); every problem of the file is reported, each at file:line:column.
Result<WorkloadInput> parse_gpu_workloads(const std::vector<model::ManifestDocument>& objects,
                                          std::string_view source) {
  WorkloadInput input;
  input.format = InputFormat::gpu_workloads;
  std::vector<FieldCause> causes;
  for (const auto& obj : objects) {
    auto result = model::validate_manifest(obj, objects.size());
    if (!result.valid()) {
      causes.insert(causes.end(), result.causes.begin(), result.causes.end());
      continue;
    }
    auto workload = model::workload_from_json(obj.value);
    if (!workload.ok()) {
      // Validation accepts only what the decoder reads; keep any disagreement visible.
      for (auto cause : workload.error().causes()) {
        cause.location = obj.locate(Pointer(""), false);
        causes.push_back(std::move(cause));
      }
      continue;
    }
    input.workloads.push_back(request_from_workload(*workload));
  }
  if (!causes.empty()) {
    return Error(ErrorCode::invalid, fmt::format("{}: invalid GPUWorkload{}:", source, objects.size() == 1 ? "" : "s"))
        .with_causes(std::move(causes));
  }
  return input;
}

InputFormat detect_objects(const std::vector<model::ManifestDocument>& objects) {
  if (objects.empty()) {
    return InputFormat::unknown;
  }
  const auto& first = objects.front().value;
  const auto kind = kind_of(first);
  if (kind == "Node") {
    return InputFormat::kube_nodes;
  }
  if (kind == model::k_workload_kind) {
    return InputFormat::gpu_workloads;
  }
  if (kind == "NodePool" && api_version_of(first).starts_with("gpuorch.io/")) {
    return InputFormat::gpuorch_nodes;
  }
  return InputFormat::unknown;
}

InputFormat detect_csv(std::string_view content) {
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
  if (const auto csv = detect_csv(content); csv != InputFormat::unknown) {
    return csv;
  }
  auto objects = load_objects(content, "");
  return objects.ok() ? detect_objects(*objects) : InputFormat::unknown;
}

Result<NodeInput> parse_nodes(std::string_view content, std::string_view source) {
  NodeInput input;
  auto format = detect_csv(content);
  std::vector<model::ManifestDocument> objects;
  if (format == InputFormat::unknown) {
    GPUORCH_ASSIGN_OR_RETURN(objects, load_objects(content, source));
    format = detect_objects(objects);
  }
  switch (format) {
    case InputFormat::alibaba_nodes: {
      GPUORCH_ASSIGN_OR_RETURN(input, parse_alibaba_nodes(content, source));
      break;
    }
    case InputFormat::kube_nodes: {
      GPUORCH_ASSIGN_OR_RETURN(input, parse_kube_nodes(objects));
      break;
    }
    case InputFormat::gpuorch_nodes: {
      input.format = format;
      for (const auto& obj : objects) {
        if (auto status = parse_gpuorch_nodes(obj, input); !status.ok()) {
          return Error(ErrorCode::config, status.error().message());
        }
      }
      break;
    }
    case InputFormat::alibaba_pods:
    case InputFormat::philly:
    case InputFormat::gpu_workloads:
      return Error(ErrorCode::config,
                   fmt::format("{}: this is a workload file ({}), not a node file", source, to_string(format)));
    case InputFormat::unknown:
      return Error(ErrorCode::config, describe_unknown(source));
  }
  if (input.nodes.empty()) {
    return Error(ErrorCode::config, fmt::format("{}: no nodes", source));
  }
  return input;
}

Result<WorkloadInput> parse_workloads(std::string_view content, std::string_view source) {
  auto format = detect_csv(content);
  std::vector<model::ManifestDocument> objects;
  if (format == InputFormat::unknown) {
    GPUORCH_ASSIGN_OR_RETURN(objects, load_objects(content, source));
    format = detect_objects(objects);
  }
  switch (format) {
    case InputFormat::alibaba_pods:
      return parse_alibaba_pods(content, source);
    case InputFormat::philly:
      return parse_philly(content, source);
    case InputFormat::gpu_workloads:
      return parse_gpu_workloads(objects, source);
    case InputFormat::alibaba_nodes:
    case InputFormat::kube_nodes:
    case InputFormat::gpuorch_nodes:
      return Error(ErrorCode::config,
                   fmt::format("{}: this is a node file ({}), not a workload file", source, to_string(format)));
    case InputFormat::unknown:
      break;
  }
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
