#pragma once

// Builders of API objects for the control tests: small JSON objects shaped
// like what the API server returns.

#include <string>

#include <nlohmann/json.hpp>

namespace gpuorch::control::testing {

using nlohmann::json;

inline json node_json(const std::string& name, int gpus, bool ready = true, const std::string& product = "H100") {
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}, {"labels", {{"nvidia.com/gpu.product", product}}}}},
            {"spec", json::object()},
            {"status",
             {{"allocatable", {{"cpu", "64"}, {"memory", "512Gi"}, {"nvidia.com/gpu", std::to_string(gpus)}}},
              {"conditions", json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
  return n;
}

inline json pod_json(const std::string& ns, const std::string& name, const std::string& node, int gpus,
                     const std::string& phase = "Running", const std::string& owner_job_uid = "") {
  json p = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      {"spec",
       {{"containers", json::array({{{"name", "c"},
                                     {"image", "busybox"},
                                     {"resources", {{"limits", {{"nvidia.com/gpu", std::to_string(gpus)}}}}}}})}}},
      {"status", {{"phase", phase}}}};
  if (!node.empty()) {
    p["spec"]["nodeName"] = node;
  }
  if (!owner_job_uid.empty()) {
    p["metadata"]["ownerReferences"] = json::array(
        {{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", "j"}, {"uid", owner_job_uid}, {"controller", true}}});
  }
  return p;
}

inline json job_json(const std::string& ns, const std::string& name, const std::string& workload,
                     const std::string& node, int gpus, const std::string& uid) {
  json j = {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata",
             {{"name", name},
              {"namespace", ns},
              {"uid", uid},
              {"resourceVersion", "7"},
              {"labels", {{"gpuorch.io/workload", workload}}},
              {"ownerReferences", json::array({{{"apiVersion", "gpuorch.io/v1alpha1"},
                                                {"kind", "GPUWorkload"},
                                                {"name", workload},
                                                {"uid", "w-" + workload},
                                                {"controller", true}}})}}},
            {"spec",
             {{"backoffLimit", 0},
              {"template",
               {{"spec",
                 {{"restartPolicy", "Never"},
                  {"affinity",
                   {{"nodeAffinity",
                     {{"requiredDuringSchedulingIgnoredDuringExecution",
                       {{"nodeSelectorTerms",
                         json::array({{{"matchFields", json::array({{{"key", "metadata.name"},
                                                                     {"operator", "In"},
                                                                     {"values", json::array({node})}}})}}})}}}}}}},
                  {"containers", json::array({{{"name", "workload"},
                                               {"image", "busybox"},
                                               {"resources", {{"limits", {{"nvidia.com/gpu", gpus}}}}}}})}}}}}}},
            {"status", json::object()}};
  return j;
}

inline void finish_job(json& job, const std::string& type, const std::string& reason = "") {
  job["status"]["conditions"] = json::array({{{"type", type}, {"status", "True"}, {"reason", reason}}});
}

inline json workload_json(const std::string& ns, const std::string& name, int gpus, int priority = 0,
                          const std::string& created = "2026-01-01T00:00:00Z") {
  return {{"apiVersion", "gpuorch.io/v1alpha1"},
          {"kind", "GPUWorkload"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "w-" + name},
            {"resourceVersion", "1"},
            {"generation", 1},
            {"creationTimestamp", created}}},
          {"spec", {{"modelName", "llama"}, {"gpuCount", gpus}, {"priority", priority}, {"image", "busybox"}}}};
}

}  // namespace gpuorch::control::testing
