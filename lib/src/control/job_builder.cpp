#include <gpuorch/control/job_builder.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <gpuorch/base/strings.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/sched/inputs.hpp>
#include <gpuorch/sched/rng.hpp>

namespace gpuorch::control {
namespace {

using nlohmann::json;

json toleration_json(const model::Toleration& t) {
  json out = json::object();
  if (!t.key.empty()) {
    out["key"] = t.key;
  }
  if (!t.operator_.empty()) {
    out["operator"] = t.operator_;
  }
  if (!t.value.empty()) {
    out["value"] = t.value;
  }
  if (!t.effect.empty()) {
    out["effect"] = t.effect;
  }
  if (t.toleration_seconds) {
    out["tolerationSeconds"] = *t.toleration_seconds;
  }
  return out;
}

}  // namespace

std::string job_name(std::string_view workload, std::int32_t attempt) {
  const std::string suffix = fmt::format("-{}", attempt);
  if (workload.size() + suffix.size() <= k_max_job_name_length) {
    return fmt::format("{}{}", workload, suffix);
  }
  const std::string hash = fmt::format("-{:08x}", static_cast<std::uint32_t>(fnv1a(workload)));
  std::string prefix(workload.substr(0, k_max_job_name_length - suffix.size() - hash.size()));
  // A name must end alphanumeric before the next '-' part; trailing dots and dashes would make "--" or ".-".
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) {
    prefix.pop_back();
  }
  return prefix + hash + suffix;
}

json build_job(const model::Workload& workload, std::string_view node, std::int32_t attempt,
               const JobOptions& options) {
  const auto& meta = workload.metadata;
  const auto& spec = workload.spec;
  const json labels = {{std::string(k_workload_label), meta.name}};

  json env = json::array({{{"name", std::string(k_model_name_env)}, {"value", spec.model_name}}});
  for (const auto& e : spec.env) {
    if (e.name != k_model_name_env) {
      env.push_back({{"name", e.name}, {"value", e.value}});
    }
  }
  json requests = json::object();
  if (spec.resources.cpu) {
    requests["cpu"] = spec.resources.cpu->to_string();
  }
  if (spec.resources.memory) {
    requests["memory"] = spec.resources.memory->to_string();
  }
  const std::string gpus = std::to_string(spec.gpu_count);
  requests[std::string(sched::k_gpu_resource)] = gpus;
  json container = {{"name", std::string(k_container_name)},
                    {"image", spec.image.empty() ? options.default_image : spec.image},
                    {"env", env},
                    {"resources", {{"limits", {{std::string(sched::k_gpu_resource), gpus}}}, {"requests", requests}}}};
  if (!spec.command.empty()) {
    container["command"] = spec.command;
  }
  if (!spec.args.empty()) {
    container["args"] = spec.args;
  }
  json tolerations = json::array();
  for (const auto& t : spec.tolerations) {
    tolerations.push_back(toleration_json(t));
  }
  json pod_spec = {
      {"restartPolicy", "Never"},
      {"affinity",
       {{"nodeAffinity",
         {{"requiredDuringSchedulingIgnoredDuringExecution",
           {{"nodeSelectorTerms",
             json::array({{{"matchFields", json::array({{{"key", "metadata.name"},
                                                         {"operator", "In"},
                                                         {"values", json::array({std::string(node)})}}})}}})}}}}}}},
      {"containers", json::array({container})}};
  if (!tolerations.empty()) {
    pod_spec["tolerations"] = tolerations;
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", job_name(meta.name, attempt)},
            {"namespace", meta.namespace_name},
            {"labels", labels},
            {"ownerReferences", json::array({{{"apiVersion", std::string(model::k_api_version)},
                                              {"kind", std::string(model::k_workload_kind)},
                                              {"name", meta.name},
                                              {"uid", meta.uid},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"spec",
           {{"backoffLimit", 0},
            {"completions", 1},
            {"parallelism", 1},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

std::chrono::milliseconds retry_delay(const model::RetryPolicy& policy, std::int32_t retry, std::uint64_t seed,
                                      std::string_view key) {
  const double base_ms = std::max(0, policy.backoff_seconds) * 1000.0;
  const double cap_ms = std::max(0, policy.max_backoff_seconds) * 1000.0;
  const int exponent = std::clamp(retry - 1, 0, 62);
  sched::Rng rng(fnv1a(key, seed ^ (static_cast<std::uint64_t>(retry) * std::uint64_t{0x9e3779b97f4a7c15})));
  const double jitter = 0.9 + 0.2 * rng.unit();
  const double delay = std::min(cap_ms, std::ldexp(base_ms, exponent) * jitter);
  return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

}  // namespace gpuorch::control
