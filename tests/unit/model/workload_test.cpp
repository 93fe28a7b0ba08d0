#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

// A fully specified workload as the API server would store it.
const char* const k_full = R"({
  "apiVersion": "gpuorch.io/v1alpha1",
  "kind": "GPUWorkload",
  "metadata": {
    "name": "llama-finetune",
    "namespace": "ml",
    "labels": {"team": "research"},
    "annotations": {"gpuorch.io/note": "nightly"},
    "uid": "5f1c8a9e-2b7d-4d3e-9f0a-1b2c3d4e5f60",
    "resourceVersion": "12345",
    "generation": 2,
    "finalizers": ["gpuorch.io/cleanup"],
    "creationTimestamp": "2024-05-01T12:00:00Z",
    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1", "controller": true}]
  },
  "spec": {
    "modelName": "llama-3-8b",
    "gpuCount": 4,
    "priority": 100,
    "schedulingStrategy": "BestFit",
    "retryPolicy": {"maxRetries": 5, "backoffSeconds": 20, "maxBackoffSeconds": 600},
    "image": "ghcr.io/acme/train:1.4",
    "command": ["python", "train.py"],
    "args": ["--epochs", "3"],
    "env": [{"name": "WANDB_MODE", "value": "offline"}],
    "resources": {"cpu": "8", "memory": "64Gi"},
    "gpuType": "H100",
    "nodeSelector": {"topology.kubernetes.io/zone": "eu-west-1a"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                    {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60}]
  },
  "status": {
    "phase": "Running",
    "assignedNode": "gpu-node-07",
    "jobName": "llama-finetune-1",
    "lastScheduleTime": "2024-05-01T12:01:00Z",
    "retryCount": 1,
    "nextRetryTime": "2024-05-01T12:00:50Z",
    "message": "running on gpu-node-07",
    "observedGeneration": 2,
    "conditions": [{"type": "Scheduled", "status": "True", "lastTransitionTime": "2024-05-01T12:01:00Z",
                    "reason": "Placed", "message": "placed on gpu-node-07 by BestFit", "observedGeneration": 2}]
  }
})";

json minimal_json() {
  return json::parse(R"({"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
                         "metadata": {"name": "job"}, "spec": {"modelName": "m", "gpuCount": 1}})");
}

std::vector<std::string> problems(const json& doc) {
  std::vector<std::string> out;
  for (const auto& c : validate_workload(doc)) {
    out.push_back(c.to_string());
  }
  return out;
}

json with(json doc, const std::string& pointer, json value) {
  doc[json::json_pointer(pointer)] = std::move(value);
  return doc;
}

}  // namespace

TEST_CASE("Workload JSON round trips exactly") {
  const json full = json::parse(k_full);
  const Workload w = workload_from_json(full).value_or_throw();
  CHECK(w.metadata.name == "llama-finetune");
  CHECK(w.metadata.generation == 2);
  CHECK(w.metadata.owner_references.at(0).controller == true);
  CHECK(w.spec.gpu_count == 4);
  CHECK(w.spec.resources.memory->value() == 64LL * 1024 * 1024 * 1024);
  CHECK(w.spec.resources.cpu->milli() == 8000);
  CHECK(w.spec.tolerations.at(1).toleration_seconds == 60);
  CHECK(w.status.phase == Phase::running);
  CHECK(w.status.retry_count == 1);
  CHECK(w.status.conditions.at(0).observed_generation == 2);
  CHECK(to_json(w) == full);
  CHECK(workload_from_json(to_json(w)).value_or_throw() == w);
  CHECK(validate_workload(full).empty());
  CHECK(validate_workload(w).empty());
}

TEST_CASE("Workload YAML round trips exactly") {
  const Workload w = workload_from_json(json::parse(k_full)).value_or_throw();
  const std::string yaml = to_yaml(w);
  CHECK(workload_from_yaml(yaml).value_or_throw() == w);
  CHECK(to_yaml(workload_from_yaml(yaml).value_or_throw()) == yaml);
  CHECK(yaml.find("  resources:\n    cpu: \"8\"\n    memory: 64Gi\n") != std::string::npos);
  CHECK(yaml.find("  - name: WANDB_MODE\n    value: offline\n") != std::string::npos);
}

TEST_CASE("Workload decoding applies the schema's defaults") {
  const Workload w = workload_from_json(minimal_json()).value_or_throw();
  CHECK(w.spec.priority == 0);
  CHECK(w.spec.scheduling_strategy == "LeastLoaded");
  CHECK(w.spec.retry_policy == RetryPolicy{3, 10, 300});
  CHECK(w.status.empty());
  const json encoded = to_json(w);
  CHECK(encoded["spec"] == json::parse(R"({"modelName": "m", "gpuCount": 1, "priority": 0,
      "schedulingStrategy": "LeastLoaded", "retryPolicy": {"maxRetries": 3, "backoffSeconds": 10,
      "maxBackoffSeconds": 300}})"));
  CHECK_FALSE(encoded.contains("status"));
  // Quantities come back canonical, integers included.
  const Workload q =
      workload_from_json(with(with(minimal_json(), "/spec/resources/cpu", 2), "/spec/resources/memory", "0.5Gi"))
          .value_or_throw();
  CHECK(to_json(q)["spec"]["resources"] == json{{"cpu", "2"}, {"memory", "512Mi"}});
}

TEST_CASE("Workload decoding reports wrong types with field paths") {
  const json bad = with(with(with(with(minimal_json(), "/spec/gpuCount", "four"), "/status/phase", "Sleeping"),
                             "/spec/resources/memory", "lots"),
                        "/metadata/labels", json::array());
  const auto r = workload_from_json(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::invalid);
  CHECK(r.error().message() == "invalid GPUWorkload \"job\"");
  std::vector<std::string> lines;
  for (const auto& c : r.error().causes()) {
    lines.push_back(c.to_string());
  }
  CHECK(lines == std::vector<std::string>{
                     "metadata.labels: must be an object, got an array",
                     "spec.gpuCount: must be an integer, got \"four\"",
                     "spec.resources.memory: invalid quantity \"lots\": must start with a number, such as \"500m\", "
                     "\"2\" or \"16Gi\"",
                     "status.phase: must be one of Pending, Scheduling, Scheduled, Running, Succeeded, Failed, got "
                     "\"Sleeping\"",
                 });
  // Bounds are not the decoder's business: the reconciler must be able to read and fail such objects.
  CHECK(workload_from_json(with(minimal_json(), "/spec/gpuCount", 0)).ok());
  CHECK_FALSE(workload_from_json(with(minimal_json(), "/kind", "Pod")).ok());
  CHECK_FALSE(workload_from_json(json::array()).ok());
}

TEST_CASE("validate_workload mirrors the CRD and the API server") {
  struct Case {
    json doc;
    std::vector<std::string> expected;
  };
  const json m = minimal_json();
  const std::vector<Case> cases = {
      {m, {}},
      {with(m, "/spec/gpuCount", 0), {"spec.gpuCount: must be >= 1, got 0"}},
      {with(m, "/spec/gpuCount", 2000), {"spec.gpuCount: must be <= 1024, got 2000"}},
      {with(m, "/spec/gpuCount", "4"), {"spec.gpuCount: must be an integer, got \"4\""}},
      {with(m, "/spec/gpuCnt", 4), {"spec: unknown field \"gpuCnt\""}},
      {with(m, "/spec/modelName", ""), {"spec.modelName: must not be empty"}},
      {[&] {
         json d = m;
         d["spec"].erase("modelName");
         return d;
       }(),
       {"spec.modelName: required field is missing"}},
      {[&] {
         json d = m;
         d.erase("spec");
         return d;
       }(),
       {"spec: required field is missing"}},
      {with(m, "/spec/schedulingStrategy", "Fastest"),
       {"spec.schedulingStrategy: must be one of \"LeastLoaded\", \"Random\", \"CostOptimized\", \"BestFit\", "
        "\"MinFragmentation\", got \"Fastest\""}},
      {with(m, "/spec/priority", 2000000000), {"spec.priority: must be <= 1000000000, got 2000000000"}},
      {with(m, "/spec/retryPolicy", {{"maxRetries", -1}}), {"spec.retryPolicy.maxRetries: must be >= 0, got -1"}},
      {with(m, "/spec/retryPolicy", {{"backoffSeconds", 60}, {"maxBackoffSeconds", 30}}),
       {"spec.retryPolicy.maxBackoffSeconds: must be >= backoffSeconds (60), got 30"}},
      {with(m, "/spec/retryPolicy", {{"backoffSeconds", 600}}),
       {"spec.retryPolicy.maxBackoffSeconds: must be >= backoffSeconds (600), got 300"}},
      {with(m, "/spec/resources", {{"cpu", "lots"}}),
       {"spec.resources.cpu: invalid quantity \"lots\": must start with a number, such as \"500m\", \"2\" or "
        "\"16Gi\""}},
      {with(m, "/spec/resources", {{"memory", "64GB"}}),
       {"spec.resources.memory: invalid quantity \"64GB\": unknown suffix \"GB\" (use n, u, m, k, M, G, T, P, E, Ki, "
        "Mi, Gi, Ti, Pi, Ei or an exponent such as e3)"}},
      {with(m, "/spec/resources", {{"cpu", "-1"}}), {"spec.resources.cpu: must not be negative, got \"-1\""}},
      {with(m, "/spec/resources", {{"cpu", 1.5}}), {"spec.resources.cpu: must be an integer or a string, got 1.5"}},
      {with(m, "/spec/resources", {{"cpu", 4}, {"memory", "16Gi"}}), {}},
      {with(m, "/spec/image", "ghcr.io/acme/train 1.4"),
       {"spec.image: must match the regular expression \"^\\\\S+$\", got \"ghcr.io/acme/train 1.4\""}},
      {with(m, "/spec/env", {{{"name", "A"}, {"value", "1"}}, {{"name", "A"}}}),
       {"spec.env[1].name: duplicate name \"A\""}},
      {with(m, "/spec/env", {{{"value", "1"}}}), {"spec.env[0].name: required field is missing"}},
      {with(m, "/spec/env", {{{"name", "1X"}}}),
       {"spec.env[0].name: must match the regular expression \"^[-._a-zA-Z][-._a-zA-Z0-9]*$\", got \"1X\""}},
      {with(m, "/spec/tolerations", {{{"operator", "Equal"}, {"value", "x"}}}),
       {"spec.tolerations[0].operator: must be Exists when key is empty (to tolerate every taint)"}},
      {with(m, "/spec/tolerations", {{{"key", "k"}, {"operator", "Exists"}, {"value", "x"}}}),
       {"spec.tolerations[0].value: must be empty when operator is Exists, got \"x\""}},
      {with(m, "/spec/tolerations", {{{"key", "k"}, {"effect", "NoSchedule"}, {"tolerationSeconds", 5}}}),
       {"spec.tolerations[0].tolerationSeconds: may only be set when effect is NoExecute"}},
      {with(m, "/spec/tolerations", {{{"key", "k"}, {"effect", "Sometimes"}}}),
       {"spec.tolerations[0].effect: must be one of \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\", got "
        "\"Sometimes\""}},
      {with(m, "/spec/nodeSelector", {{"bad key", "v"}, {"ok", "bad value!"}}),
       {"spec.nodeSelector: invalid key \"bad key\": name part must consist of letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit",
        "spec.nodeSelector[ok]: invalid value \"bad value!\": must be empty or consist of letters, digits, '-', '_' "
        "or '.', starting and ending with a letter or digit"}},
      {with(m, "/metadata/name", "My_Job"),
       {"metadata.name: must be a lowercase RFC 1123 subdomain: lower case letters, digits, '-' and '.', starting "
        "and ending with a letter or digit, got \"My_Job\""}},
      {with(m, "/metadata/name", std::string(57, 'a')), {"metadata.name: must be no more than 56 characters, got 57"}},
      {with(m, "/metadata", {{"generateName", "job-"}}), {}},
      {with(m, "/metadata", json::object()), {"metadata.name: required field is missing (or set generateName)"}},
      {with(m, "/metadata/namespace", "ML"),
       {"metadata.namespace: must be a lowercase RFC 1123 label: lower case letters, digits and '-', starting and "
        "ending with a letter or digit, got \"ML\""}},
      {with(m, "/metadata/nam", "x"), {"metadata: unknown field \"nam\""}},
      {with(m, "/metadata/creationTimestamp", nullptr), {}},
      {with(m, "/apiVersion", "gpuorch.io/v1"), {"apiVersion: must be \"gpuorch.io/v1alpha1\", got \"gpuorch.io/v1\""}},
      {with(with(m, "/kind", "Deployment"), "/spec/gpuCount", 0),
       {"kind: must be \"GPUWorkload\", got \"Deployment\""}},
      {[&] {
         json d = m;
         d.erase("apiVersion");
         return d;
       }(),
       {"apiVersion: required field is missing (must be \"gpuorch.io/v1alpha1\")"}},
      {with(m, "/status/phase", "Done"),
       {"status.phase: must be one of \"Pending\", \"Scheduling\", \"Scheduled\", \"Running\", \"Succeeded\", "
        "\"Failed\", got \"Done\""}},
      {json::array(), {"must be an object, got an array"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.doc.dump());
    CHECK(problems(c.doc) == c.expected);
  }
}

TEST_CASE("Phases and conditions") {
  for (const auto phase : k_phases) {
    CHECK(parse_phase(to_string(phase)) == phase);
  }
  CHECK_FALSE(parse_phase("pending").has_value());
  CHECK(is_terminal(Phase::failed));
  CHECK_FALSE(is_terminal(Phase::running));

  using namespace std::chrono;
  const Time t0 = parse_time("2024-05-01T12:00:00Z").value_or_throw();
  const Time t1 = t0 + minutes(5);
  std::vector<Condition> conditions;
  CHECK(set_condition(conditions, {"Scheduled", "True", 1, {}, "Placed", "on n1"}, t0));
  CHECK(conditions.at(0).last_transition_time == t0);
  CHECK_FALSE(set_condition(conditions, {"Scheduled", "True", 1, {}, "Placed", "on n1"}, t1));
  CHECK(set_condition(conditions, {"Scheduled", "True", 1, {}, "Placed", "on n2"}, t1));
  CHECK(conditions.at(0).last_transition_time == t0);  // same status: no transition
  CHECK(set_condition(conditions, {"Scheduled", "False", 1, {}, "Retrying", "job failed"}, t1));
  CHECK(conditions.at(0).last_transition_time == t1);
  REQUIRE(find_condition(conditions, "Scheduled") != nullptr);
  CHECK(find_condition(conditions, "Complete") == nullptr);
}

}  // namespace gpuorch::model

TEST_CASE("object names: the RFC 1123 and qualified-name grammars at their edges") {
  using gpuorch::model::check_dns1123_label;
  using gpuorch::model::check_dns1123_subdomain;
  using gpuorch::model::check_label_value;
  using gpuorch::model::check_qualified_name;
  for (const char* ok : {"a", "0", "a-b", "a--0", "llama-3-8b"}) {
    CAPTURE(ok);
    CHECK(check_dns1123_label(ok).empty());
    CHECK(check_dns1123_subdomain(ok).empty());
  }
  for (const char* bad : {"", "-a", "a-", "A", "a_b", "a.b", "a b"}) {
    CAPTURE(bad);
    CHECK_FALSE(check_dns1123_label(bad).empty());
  }
  CHECK(check_dns1123_subdomain("a.b-c.0").empty());
  for (const char* bad : {"", ".a", "a.", "a..b", "a.-b", "a-.b", "a.B"}) {
    CAPTURE(bad);
    CHECK_FALSE(check_dns1123_subdomain(bad).empty());
  }
  for (const char* ok : {"a", "A_b.c-D", "gpuorch.io/workload", "x.y/Z9"}) {
    CAPTURE(ok);
    CHECK(check_qualified_name(ok).empty());
  }
  for (const char* bad : {"_a", "a_", "a/b/c", "-", "a b", "Bad.Prefix/x", "/x", "x/"}) {
    CAPTURE(bad);
    CHECK_FALSE(check_qualified_name(bad).empty());
  }
  CHECK(check_label_value("").empty());
  CHECK(check_label_value("v1.2_3-x").empty());
  CHECK_FALSE(check_label_value(".v").empty());
}
