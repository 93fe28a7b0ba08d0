// Kubernetes objects seen by the scheduler: Node JSON -> NodeSpec and
// GPUWorkload -> Request. `simulate` (node and workload files) and the
// reconciler (objects from the API server) share these conversions, so both
// see the same cluster.

#include <gpuorch/sched/kube_objects.hpp>

#include <charconv>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include <gpuorch/model/quantity.hpp>
#include <gpuorch/sched/inputs.hpp>

#include "json_reader.hpp"

namespace gpuorch::sched {

using nlohmann::json;
using Pointer = json::json_pointer;

Result<NodeSpec> node_from_json(const nlohmann::json& node, const model::Locator& locate) {
  detail::JsonReader r(node, locate, "Node");
  if (!node.is_object()) {
    return r.error(Pointer(""), fmt::format("expected a Node object, got {}", node.type_name()));
  }
  NodeSpec spec;
  GPUORCH_ASSIGN_OR_RETURN(spec.name, r.string(Pointer("/metadata/name")));
  if (spec.name.empty()) {
    return r.error(Pointer("/metadata/name"), "required");
  }
  r.set_where(fmt::format("Node {}", spec.name));
  GPUORCH_ASSIGN_OR_RETURN(spec.labels, r.string_map(Pointer("/metadata/labels")));
  GPUORCH_ASSIGN_OR_RETURN(const Labels annotations, r.string_map(Pointer("/metadata/annotations")));

  Pointer resources("/status/allocatable");
  if (const json* allocatable = r.find(resources); allocatable == nullptr || !allocatable->is_object()) {
    resources = Pointer("/status/capacity");
  }
  if (const json* found = r.find(resources); found == nullptr || !found->is_object()) {
    return r.error(Pointer("/status/allocatable"), "required (or status.capacity)");
  }
  if (r.find(resources / "cpu") != nullptr) {
    GPUORCH_ASSIGN_OR_RETURN(const auto cpu, r.quantity(resources / "cpu"));
    spec.cpu_milli = cpu.milli();
  }
  if (r.find(resources / "memory") != nullptr) {
    GPUORCH_ASSIGN_OR_RETURN(const auto memory, r.quantity(resources / "memory"));
    spec.memory_bytes = memory.value();
  }
  if (const auto gpu = resources / std::string(k_gpu_resource); r.find(gpu) != nullptr) {
    GPUORCH_ASSIGN_OR_RETURN(const auto gpus, r.quantity(gpu));
    if (gpus.milli() % 1000 != 0 || gpus.value() > k_max_gpus_per_node) {
      return r.error(
          gpu, fmt::format("must be a whole number of GPUs up to {}, got {}", k_max_gpus_per_node, gpus.to_string()));
    }
    spec.gpu_count = static_cast<std::int32_t>(gpus.value());
  }
  if (const auto* product = spec.label(k_gpu_product_label)) {
    spec.gpu_model = *product;
  }

  // The price: a label wins over an annotation of the same key.
  std::optional<std::pair<Pointer, std::string>> price;
  if (const auto* label = spec.label(k_cost_label)) {
    price.emplace(Pointer("/metadata/labels") / std::string(k_cost_label), *label);
  } else {
    for (const auto& [key, value] : annotations) {
      if (key == k_cost_label) {
        price.emplace(Pointer("/metadata/annotations") / key, value);
      }
    }
  }
  if (price) {
    const auto& text = price->second;
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || value < 0 || !std::isfinite(value)) {
      return r.error(price->first, fmt::format("not a price per GPU-hour: \"{}\"", text));
    }
    spec.price_per_gpu_hour = value;
  }

  if (r.find(Pointer("/spec/unschedulable")) != nullptr) {
    GPUORCH_ASSIGN_OR_RETURN(spec.cordoned, r.boolean(Pointer("/spec/unschedulable")));
  }
  GPUORCH_ASSIGN_OR_RETURN(spec.taints, r.taints(Pointer("/spec/taints")));
  if (const json* conditions = r.find(Pointer("/status/conditions")); conditions != nullptr && conditions->is_array()) {
    for (const auto& condition : *conditions) {
      if (condition.is_object() && condition.value("type", json()) == "Ready") {
        spec.ready = condition.value("status", json()) == "True";
      }
    }
  }
  return spec;
}

Request request_from_workload(const model::Workload& workload) {
  Request r;
  const auto& meta = workload.metadata;
  r.name = meta.namespace_name.empty() ? meta.name : fmt::format("{}/{}", meta.namespace_name, meta.name);
  const auto& spec = workload.spec;
  r.gpu_count = spec.gpu_count;
  r.priority = spec.priority;
  if (spec.resources.cpu) {
    r.cpu_milli = spec.resources.cpu->milli();
  }
  if (spec.resources.memory) {
    r.memory_bytes = spec.resources.memory->value();
  }
  if (!spec.gpu_type.empty()) {
    r.gpu_models.push_back(spec.gpu_type);
  }
  for (const auto& [key, value] : spec.node_selector) {
    r.node_selector.emplace_back(key, value);
  }
  for (const auto& t : spec.tolerations) {
    Toleration toleration;
    toleration.key = t.key;
    toleration.op = t.operator_.empty() ? "Equal" : t.operator_;
    toleration.value = t.value;
    toleration.effect = t.effect;
    r.tolerations.push_back(std::move(toleration));
  }
  if (meta.creation_timestamp) {
    r.creation_time =
        std::chrono::duration_cast<std::chrono::seconds>(meta.creation_timestamp->time_since_epoch()).count();
  }
  return r;
}

}  // namespace gpuorch::sched
