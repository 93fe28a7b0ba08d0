#include <gpuorch/model/workload.hpp>

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <gpuorch/model/pattern.hpp>
#include <gpuorch/model/yaml.hpp>

#include "decoder.hpp"

namespace gpuorch::model {
namespace {

using nlohmann::json;

constexpr std::string_view k_reason_invalid = "FieldValueInvalid";

Schema quantity_schema(std::string description) {
  Schema s;
  s.description = std::move(description);
  s.int_or_string = true;
  s.pattern = std::string(k_quantity_pattern);
  s.extensions["anyOf"] = json::array({{{"type", "integer"}}, {{"type", "string"}}});
  return s;
}

Schema build_spec_schema() {
  Schema spec = Schema::object("GPUWorkloadSpec is what to run and how to place it.");
  spec.property("modelName",
                Schema::string("Name of the model or job being run; shown in listings and used in labels of the Job.")
                    .with_length(1, 253),
                true);
  spec.property("gpuCount",
                Schema::integer("Number of GPUs the workload needs on a single node.")
                    .with_minimum(1)
                    .with_maximum(k_max_gpu_count),
                true);
  spec.property("priority", Schema::integer("Higher priorities are placed first; ties go to the older workload.")
                                .with_minimum(-k_max_priority)
                                .with_maximum(k_max_priority)
                                .with_default(0));
  std::vector<json> strategies;
  for (const auto name : k_scheduling_strategies) {
    strategies.emplace_back(name);
  }
  spec.property(
      "schedulingStrategy",
      Schema::string("How to choose among the nodes that fit: LeastLoaded spreads (most free GPUs), Random picks "
                     "uniformly, CostOptimized picks the cheapest GPU-hour, BestFit packs (fewest GPUs left over), "
                     "MinFragmentation minimises the GPU capacity stranded for the workload mix.")
          .with_enum(strategies)
          .with_default(std::string(k_default_scheduling_strategy)));

  Schema retry = Schema::object(
      "What to do when the workload's Job fails: retry up to maxRetries times, waiting backoffSeconds * 2^n (with "
      "jitter) capped at maxBackoffSeconds.");
  retry.property("maxRetries", Schema::integer("Retries after the first attempt; 0 disables retrying.")
                                   .with_minimum(0)
                                   .with_maximum(k_max_retries_limit)
                                   .with_default(k_default_max_retries));
  retry.property("backoffSeconds", Schema::integer("Delay before the first retry, doubled after each failure.")
                                       .with_minimum(1)
                                       .with_maximum(k_max_backoff_limit)
                                       .with_default(k_default_backoff_seconds));
  retry.property("maxBackoffSeconds", Schema::integer("Upper bound of the delay between retries.")
                                          .with_minimum(1)
                                          .with_maximum(k_max_backoff_limit)
                                          .with_default(k_default_max_backoff_seconds));
  retry.with_default(json::object());
  spec.property("retryPolicy", retry);

  spec.property("image", Schema::string("Container image the Job runs; defaults to the reconciler's --default-image.")
                             .with_length(1, std::nullopt)
                             .with_pattern(std::string(k_no_whitespace_pattern)));
  spec.property("command", Schema::array_of(Schema::string(), "Entrypoint of the container (overrides the image's)."));
  spec.property("args", Schema::array_of(Schema::string(), "Arguments to the entrypoint."));
  Schema env_var = Schema::object("An environment variable of the container.");
  env_var.property("name",
                   Schema::string("Name of the variable.")
                       .with_length(1, std::nullopt)
                       .with_pattern(std::string(k_env_var_name_pattern)),
                   true);
  env_var.property("value", Schema::string("Value of the variable."));
  spec.property("env", Schema::array_of(env_var, "Environment variables of the container."));

  Schema resources = Schema::object("CPU and memory requested for the container, besides the GPUs.");
  resources.property("cpu", quantity_schema("CPU request, e.g. \"500m\" or \"8\"."));
  resources.property("memory", quantity_schema("Memory request, e.g. \"64Gi\"."));
  spec.property("resources", resources);

  spec.property("gpuType", Schema::string("GPU model the node must have: matches the start of the node label "
                                          "nvidia.com/gpu.product (\"H100\" matches \"NVIDIA-H100-80GB-HBM3\").")
                               .with_length(1, 63));
  spec.property("nodeSelector",
                Schema::map_of(Schema::string(), "Labels the node must carry (all of them, exact values)."));

  Schema toleration = Schema::object("A taint the workload tolerates (core/v1 Toleration).");
  toleration.property("key", Schema::string("Taint key; empty with operator Exists tolerates every taint."));
  toleration.property("operator", Schema::string("Exists or Equal (the default).").with_enum({"Exists", "Equal"}));
  toleration.property("value", Schema::string("Taint value to match with operator Equal."));
  toleration.property("effect", Schema::string("Taint effect to match; empty matches all effects.")
                                    .with_enum({"NoSchedule", "PreferNoSchedule", "NoExecute"}));
  toleration.property(
      "tolerationSeconds",
      Schema::integer("With effect NoExecute: how long the pod stays bound after the taint appears.", "int64"));
  spec.property("tolerations", Schema::array_of(toleration, "Taints of nodes the workload may run on."));
  return spec;
}

Schema build_status_schema() {
  Schema status = Schema::object("GPUWorkloadStatus is what gpuorch observed and decided.");
  std::vector<json> phases;
  for (const auto phase : k_phases) {
    phases.emplace_back(to_string(phase));
  }
  status.property("phase", Schema::string("Where the workload is in its lifecycle.").with_enum(phases));
  status.property("assignedNode", Schema::string("Node the current attempt was placed on."));
  status.property("jobName", Schema::string("Job of the current attempt: <name>-<attempt>."));
  status.property("lastScheduleTime", Schema::date_time("When the current attempt was placed."));
  status.property("retryCount", Schema::integer("Retries so far.").with_minimum(0));
  status.property("nextRetryTime", Schema::date_time("Not placed again before this time (retry backoff)."));
  status.property("message", Schema::string("Human-readable detail, e.g. why the workload is pending."));
  status.property("observedGeneration",
                  Schema::integer("metadata.generation the status was computed from.", "int64").with_minimum(0));
  Schema conditions = Schema::array_of(condition_schema(), "Scheduled, Complete and Failed conditions.");
  conditions.list_type = "map";
  conditions.list_map_keys = {"type"};
  status.property("conditions", conditions);
  return status;
}

Schema build_workload_schema() {
  Schema root = Schema::object(
      "GPUWorkload runs a containerised job that needs GPUs on one node, placed by gpuorch's scheduling strategies "
      "and retried with exponential backoff.");
  root.property("apiVersion", Schema::string("APIVersion of this representation: gpuorch.io/v1alpha1."));
  root.property("kind", Schema::string("Kind of this representation: GPUWorkload."));
  root.property("metadata", Schema::object());
  root.property("spec", build_spec_schema(), true);
  root.property("status", build_status_schema());
  return root;
}

// The schema used for client-side validation: the CRD's, with real metadata.
const Schema& validation_schema() {
  static const Schema schema = [] {
    Schema s = workload_schema();
    s.properties["metadata"] = object_meta_schema();
    return s;
  }();
  return schema;
}

ValidateOptions child_options(const ValidateOptions& parent, std::string_view key) {
  ValidateOptions o = parent;
  o.path = field_path_child(parent.path, key);
  o.pointer = parent.pointer / std::string(key);
  return o;
}

// Quantity fields: parse with the real parser for a precise message.
void check_quantities(const json& spec, const ValidateOptions& spec_options, std::vector<FieldCause>& out,
                      std::set<std::string>& reported) {
  const auto resources = spec.find("resources");
  if (resources == spec.end() || !resources->is_object()) {
    return;
  }
  const ValidateOptions res = child_options(spec_options, "resources");
  for (const char* name : {"cpu", "memory"}) {
    const auto it = resources->find(name);
    if (it == resources->end() || !(it->is_string() || it->is_number_integer())) {
      continue;
    }
    const ValidateOptions at = child_options(res, name);
    const std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    auto q = Quantity::parse(text);
    if (!q.ok()) {
      out.push_back(located_cause(at, at.path, q.error().message(), k_reason_invalid, at.pointer, MarkTarget::value));
      reported.insert(at.path);
    } else if (q->sign() < 0) {
      out.push_back(located_cause(at, at.path, fmt::format("must not be negative, got {}", it->dump()),
                                  k_reason_invalid, at.pointer, MarkTarget::value));
      reported.insert(at.path);
    }
  }
}

void check_retry_policy(const json& spec, const ValidateOptions& spec_options, std::vector<FieldCause>& out) {
  const auto retry = spec.find("retryPolicy");
  if (retry == spec.end() || !retry->is_object()) {
    return;
  }
  const auto backoff = retry->find("backoffSeconds");
  const auto max_backoff = retry->find("maxBackoffSeconds");
  if (backoff == retry->end() || max_backoff == retry->end() || !backoff->is_number() || !max_backoff->is_number()) {
    return;
  }
  if (max_backoff->get<double>() < backoff->get<double>()) {
    const ValidateOptions at = child_options(child_options(spec_options, "retryPolicy"), "maxBackoffSeconds");
    out.push_back(located_cause(
        at, at.path, fmt::format("must be >= backoffSeconds ({}), got {}", backoff->dump(), max_backoff->dump()),
        k_reason_invalid, at.pointer, MarkTarget::value));
  }
}

void check_env(const json& spec, const ValidateOptions& spec_options, std::vector<FieldCause>& out) {
  const auto env = spec.find("env");
  if (env == spec.end() || !env->is_array()) {
    return;
  }
  const ValidateOptions env_options = child_options(spec_options, "env");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < env->size(); ++i) {
    const json& item = (*env)[i];
    if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
      continue;
    }
    const std::string name = item["name"].get<std::string>();
    if (!seen.insert(name).second) {
      const std::string path = field_path_child(field_path_index(env_options.path, i), "name");
      out.push_back(located_cause(env_options, path, fmt::format("duplicate name {}", json_text(name)),
                                  "FieldValueDuplicate", env_options.pointer / i / "name", MarkTarget::value));
    }
  }
}

// The string at `key`, or "" when absent or not a string (the schema reports those).
std::string string_member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void check_tolerations(const json& spec, const ValidateOptions& spec_options, std::vector<FieldCause>& out) {
  const auto tolerations = spec.find("tolerations");
  if (tolerations == spec.end() || !tolerations->is_array()) {
    return;
  }
  const ValidateOptions list = child_options(spec_options, "tolerations");
  for (std::size_t i = 0; i < tolerations->size(); ++i) {
    const json& t = (*tolerations)[i];
    if (!t.is_object()) {
      continue;
    }
    const std::string at = field_path_index(list.path, i);
    const auto ptr = list.pointer / i;
    const std::string key = string_member(t, "key");
    const std::string op = string_member(t, "operator");
    const std::string value = string_member(t, "value");
    const std::string effect = string_member(t, "effect");
    if (key.empty() && op != "Exists") {
      out.push_back(located_cause(list, field_path_child(at, "operator"),
                                  "must be Exists when key is empty (to tolerate every taint)", k_reason_invalid,
                                  t.contains("operator") ? ptr / "operator" : ptr, MarkTarget::value));
    }
    if (op == "Exists" && !value.empty()) {
      out.push_back(located_cause(list, field_path_child(at, "value"),
                                  fmt::format("must be empty when operator is Exists, got {}", json_text(value)),
                                  k_reason_invalid, ptr / "value", MarkTarget::value));
    }
    if (t.contains("tolerationSeconds") && !t["tolerationSeconds"].is_null() && effect != "NoExecute") {
      out.push_back(located_cause(list, field_path_child(at, "tolerationSeconds"),
                                  "may only be set when effect is NoExecute", k_reason_invalid,
                                  ptr / "tolerationSeconds", MarkTarget::key));
    }
    if (!key.empty()) {
      if (const std::string e = check_qualified_name(key); !e.empty()) {
        out.push_back(located_cause(list, field_path_child(at, "key"),
                                    fmt::format("invalid key {}: {}", json_text(key), e), k_reason_invalid, ptr / "key",
                                    MarkTarget::value));
      }
    }
  }
}

json quantity_json(const Quantity& q) {
  return q.to_string();
}

}  // namespace

// ---- phases ------------------------------------------------------------------------

std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::pending:
      return "Pending";
    case Phase::scheduling:
      return "Scheduling";
    case Phase::scheduled:
      return "Scheduled";
    case Phase::running:
      return "Running";
    case Phase::succeeded:
      return "Succeeded";
    case Phase::failed:
      return "Failed";
  }
  return "Pending";
}

std::optional<Phase> parse_phase(std::string_view text) {
  for (const auto phase : k_phases) {
    if (to_string(phase) == text) {
      return phase;
    }
  }
  return std::nullopt;
}

bool is_terminal(Phase phase) {
  return phase == Phase::succeeded || phase == Phase::failed;
}

bool WorkloadStatus::empty() const {
  return *this == WorkloadStatus{};
}

// ---- codecs ------------------------------------------------------------------------

nlohmann::json to_json(const WorkloadSpec& spec) {
  json j = {
      {"modelName", spec.model_name},
      {"gpuCount", spec.gpu_count},
      {"priority", spec.priority},
      {"schedulingStrategy", spec.scheduling_strategy},
      {"retryPolicy",
       {{"maxRetries", spec.retry_policy.max_retries},
        {"backoffSeconds", spec.retry_policy.backoff_seconds},
        {"maxBackoffSeconds", spec.retry_policy.max_backoff_seconds}}},
  };
  if (!spec.image.empty()) {
    j["image"] = spec.image;
  }
  if (!spec.command.empty()) {
    j["command"] = spec.command;
  }
  if (!spec.args.empty()) {
    j["args"] = spec.args;
  }
  if (!spec.env.empty()) {
    json env = json::array();
    for (const auto& var : spec.env) {
      env.push_back({{"name", var.name}, {"value", var.value}});
    }
    j["env"] = std::move(env);
  }
  if (!spec.resources.empty()) {
    json resources = json::object();
    if (spec.resources.cpu) {
      resources["cpu"] = quantity_json(*spec.resources.cpu);
    }
    if (spec.resources.memory) {
      resources["memory"] = quantity_json(*spec.resources.memory);
    }
    j["resources"] = std::move(resources);
  }
  if (!spec.gpu_type.empty()) {
    j["gpuType"] = spec.gpu_type;
  }
  if (!spec.node_selector.empty()) {
    j["nodeSelector"] = spec.node_selector;
  }
  if (!spec.tolerations.empty()) {
    json list = json::array();
    for (const auto& t : spec.tolerations) {
      json item = json::object();
      if (!t.key.empty()) {
        item["key"] = t.key;
      }
      if (!t.operator_.empty()) {
        item["operator"] = t.operator_;
      }
      if (!t.value.empty()) {
        item["value"] = t.value;
      }
      if (!t.effect.empty()) {
        item["effect"] = t.effect;
      }
      if (t.toleration_seconds) {
        item["tolerationSeconds"] = *t.toleration_seconds;
      }
      list.push_back(std::move(item));
    }
    j["tolerations"] = std::move(list);
  }
  return j;
}

nlohmann::json to_json(const WorkloadStatus& status) {
  json j = json::object();
  if (status.phase) {
    j["phase"] = to_string(*status.phase);
  }
  if (!status.assigned_node.empty()) {
    j["assignedNode"] = status.assigned_node;
  }
  if (!status.job_name.empty()) {
    j["jobName"] = status.job_name;
  }
  if (status.last_schedule_time) {
    j["lastScheduleTime"] = format_time(*status.last_schedule_time);
  }
  j["retryCount"] = status.retry_count;
  if (status.next_retry_time) {
    j["nextRetryTime"] = format_time(*status.next_retry_time);
  }
  if (!status.message.empty()) {
    j["message"] = status.message;
  }
  if (status.observed_generation != 0) {
    j["observedGeneration"] = status.observed_generation;
  }
  if (!status.conditions.empty()) {
    json list = json::array();
    for (const auto& c : status.conditions) {
      list.push_back(to_json(c));
    }
    j["conditions"] = std::move(list);
  }
  return j;
}

nlohmann::json to_json(const Workload& workload) {
  json j = {
      {"apiVersion", k_api_version},
      {"kind", k_workload_kind},
      {"metadata", to_json(workload.metadata)},
      {"spec", to_json(workload.spec)},
  };
  if (!workload.status.empty()) {
    j["status"] = to_json(workload.status);
  }
  return j;
}

Result<Workload> workload_from_json(const nlohmann::json& input) {
  detail::Decoder d;
  Workload w;
  if (!d.expect_object(input, "")) {
    return Error(ErrorCode::invalid, "invalid GPUWorkload").with_causes(std::move(d.causes));
  }
  json doc = input;
  workload_schema().apply_defaults(doc);

  const std::string api_version = d.str(doc, "apiVersion", "");
  if (!api_version.empty() && api_version != k_api_version) {
    d.causes.push_back(FieldCause{"apiVersion",
                                  fmt::format("must be \"{}\", got {}", k_api_version, json_text(api_version)),
                                  {},
                                  std::string(k_reason_invalid)});
  }
  const std::string kind = d.str(doc, "kind", "");
  if (!kind.empty() && kind != k_workload_kind) {
    d.causes.push_back(FieldCause{"kind",
                                  fmt::format("must be \"{}\", got {}", k_workload_kind, json_text(kind)),
                                  {},
                                  std::string(k_reason_invalid)});
  }

  if (const auto* meta = detail::Decoder::member(doc, "metadata")) {
    auto decoded = object_meta_from_json(*meta, "metadata");
    if (decoded.ok()) {
      w.metadata = std::move(decoded).value();
    } else {
      for (const auto& cause : decoded.error().causes()) {
        d.causes.push_back(cause);
      }
    }
  }

  if (const auto* spec_ptr = detail::Decoder::member(doc, "spec"); spec_ptr != nullptr) {
    const json& spec = *spec_ptr;
    const std::string path = "spec";
    if (d.expect_object(spec, path)) {
      WorkloadSpec& s = w.spec;
      s.model_name = d.str(spec, "modelName", path);
      s.gpu_count = d.int32(spec, "gpuCount", path).value_or(0);
      s.priority = d.int32(spec, "priority", path).value_or(0);
      s.scheduling_strategy = d.str(spec, "schedulingStrategy", path);
      if (const auto* retry = detail::Decoder::member(spec, "retryPolicy")) {
        const std::string at = "spec.retryPolicy";
        if (d.expect_object(*retry, at)) {
          s.retry_policy.max_retries = d.int32(*retry, "maxRetries", at).value_or(k_default_max_retries);
          s.retry_policy.backoff_seconds = d.int32(*retry, "backoffSeconds", at).value_or(k_default_backoff_seconds);
          s.retry_policy.max_backoff_seconds =
              d.int32(*retry, "maxBackoffSeconds", at).value_or(k_default_max_backoff_seconds);
        }
      }
      s.image = d.str(spec, "image", path);
      s.command = d.strings(spec, "command", path);
      s.args = d.strings(spec, "args", path);
      d.array(spec, "env", path, [&](const json& item, const std::string& at) {
        if (d.expect_object(item, at)) {
          s.env.push_back(EnvVar{d.str(item, "name", at), d.str(item, "value", at)});
        }
      });
      if (const auto* resources = detail::Decoder::member(spec, "resources")) {
        const std::string at = "spec.resources";
        if (d.expect_object(*resources, at)) {
          for (const char* name : {"cpu", "memory"}) {
            const auto* v = detail::Decoder::member(*resources, name);
            if (v == nullptr) {
              continue;
            }
            if (!v->is_string() && !v->is_number()) {
              d.type_error(field_path_child(at, name), "a quantity string such as \"8\" or \"64Gi\"", *v);
              continue;
            }
            auto q = Quantity::parse(v->is_string() ? v->get<std::string>() : v->dump());
            if (!q.ok()) {
              d.causes.push_back(
                  FieldCause{field_path_child(at, name), q.error().message(), {}, std::string(k_reason_invalid)});
              continue;
            }
            (std::string_view(name) == "cpu" ? s.resources.cpu : s.resources.memory) = *q;
          }
        }
      }
      s.gpu_type = d.str(spec, "gpuType", path);
      s.node_selector = d.string_map(spec, "nodeSelector", path);
      d.array(spec, "tolerations", path, [&](const json& item, const std::string& at) {
        if (d.expect_object(item, at)) {
          Toleration t;
          t.key = d.str(item, "key", at);
          t.operator_ = d.str(item, "operator", at);
          t.value = d.str(item, "value", at);
          t.effect = d.str(item, "effect", at);
          t.toleration_seconds = d.int64(item, "tolerationSeconds", at);
          s.tolerations.push_back(std::move(t));
        }
      });
    }
  }

  if (const auto* status_ptr = detail::Decoder::member(doc, "status"); status_ptr != nullptr) {
    const json& status = *status_ptr;
    const std::string path = "status";
    if (d.expect_object(status, path)) {
      WorkloadStatus& st = w.status;
      if (const std::string phase = d.str(status, "phase", path); !phase.empty()) {
        st.phase = parse_phase(phase);
        if (!st.phase) {
          d.causes.push_back(FieldCause{"status.phase",
                                        fmt::format("must be one of Pending, Scheduling, Scheduled, Running, "
                                                    "Succeeded, Failed, got {}",
                                                    json_text(phase)),
                                        {},
                                        "FieldValueNotSupported"});
        }
      }
      st.assigned_node = d.str(status, "assignedNode", path);
      st.job_name = d.str(status, "jobName", path);
      st.last_schedule_time = d.time(status, "lastScheduleTime", path);
      st.retry_count = d.int32(status, "retryCount", path).value_or(0);
      st.next_retry_time = d.time(status, "nextRetryTime", path);
      st.message = d.str(status, "message", path);
      st.observed_generation = d.int64(status, "observedGeneration", path).value_or(0);
      d.array(status, "conditions", path, [&](const json& item, const std::string& at) {
        auto c = condition_from_json(item, at);
        if (c.ok()) {
          st.conditions.push_back(std::move(c).value());
        } else {
          for (const auto& cause : c.error().causes()) {
            d.causes.push_back(cause);
          }
        }
      });
    }
  }

  if (!d.causes.empty()) {
    if (w.metadata.name.empty()) {
      const auto name = json::json_pointer("/metadata/name");
      if (doc.contains(name) && doc.at(name).is_string()) {
        w.metadata.name = doc.at(name).get<std::string>();
      }
    }
    const std::string what = w.metadata.name.empty() ? std::string("invalid GPUWorkload")
                                                     : fmt::format("invalid GPUWorkload \"{}\"", w.metadata.name);
    return Error(ErrorCode::invalid, what).with_causes(std::move(d.causes));
  }
  return w;
}

std::string to_yaml(const Workload& workload) {
  return to_yaml(to_json(workload));
}

Result<Workload> workload_from_yaml(std::string_view text) {
  GPUORCH_ASSIGN_OR_RETURN(auto documents, parse_yaml_stream(text));
  if (documents.size() != 1) {
    return Error(ErrorCode::invalid, fmt::format("expected one YAML document, got {}", documents.size()));
  }
  return workload_from_json(documents[0].value);
}

// ---- schema and validation ---------------------------------------------------------

const Schema& workload_schema() {
  static const Schema schema = build_workload_schema();
  return schema;
}

std::vector<FieldCause> validate_workload(const nlohmann::json& document, const ValidateOptions& options) {
  std::vector<FieldCause> out;
  if (!document.is_object()) {
    out.push_back(located_cause(options, options.path,
                                fmt::format("must be an object, got {}", describe_json_value(document)),
                                "FieldValueTypeInvalid", options.pointer, MarkTarget::value));
    return out;
  }
  // Identity first: the rest of the checks only make sense for a GPUWorkload.
  for (const auto& [field, expected] : {std::pair{"apiVersion", k_api_version}, std::pair{"kind", k_workload_kind}}) {
    const ValidateOptions at = child_options(options, field);
    const auto it = document.find(field);
    if (it == document.end() || it->is_null()) {
      out.push_back(located_cause(at, at.path, fmt::format("required field is missing (must be \"{}\")", expected),
                                  "FieldValueRequired", options.pointer, MarkTarget::value));
    } else if (*it != expected) {
      out.push_back(located_cause(at, at.path,
                                  fmt::format("must be \"{}\", got {}", expected, describe_json_value(*it)),
                                  k_reason_invalid, at.pointer, MarkTarget::value));
    }
  }
  if (!out.empty()) {
    return out;
  }

  json doc = document;
  validation_schema().apply_defaults(doc);

  std::vector<FieldCause> semantic;
  std::set<std::string> replaced;  // fields whose schema cause a semantic one replaces
  if (const auto meta = doc.find("metadata"); meta != doc.end() && meta->is_object()) {
    semantic = validate_object_meta(*meta, child_options(options, "metadata"), k_max_workload_name_length);
  } else if (meta == doc.end()) {
    semantic = validate_object_meta(json::object(), child_options(options, "metadata"), k_max_workload_name_length);
  }
  if (const auto spec = doc.find("spec"); spec != doc.end() && spec->is_object()) {
    const ValidateOptions spec_options = child_options(options, "spec");
    check_quantities(*spec, spec_options, semantic, replaced);
    check_retry_policy(*spec, spec_options, semantic);
    check_env(*spec, spec_options, semantic);
    check_tolerations(*spec, spec_options, semantic);
    if (const auto selector = spec->find("nodeSelector"); selector != spec->end()) {
      validate_label_map(*selector, child_options(spec_options, "nodeSelector"), semantic);
    }
  }

  for (auto& cause : validation_schema().validate(doc, options)) {
    if (replaced.count(cause.field) == 0) {
      out.push_back(std::move(cause));
    }
  }
  for (auto& cause : semantic) {
    out.push_back(std::move(cause));
  }
  return out;
}

std::vector<FieldCause> validate_workload(const Workload& workload) {
  return validate_workload(to_json(workload));
}

}  // namespace gpuorch::model
