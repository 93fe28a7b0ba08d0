#pragma once
// Shared by the watch loop's integration tests: an in-process sandbox with
// 8-GPU nodes and the namespace ml, GPUWorkload manifests, and reading back
// what the loop wrote.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gpuorch/kube/client.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace gpuorch::watch_fixture {

using nlohmann::json;

struct SandboxShape {
  int nodes = 1;
  std::chrono::milliseconds job_duration{300};
  double failure_rate = 0;
  std::uint64_t seed = 11;
};

inline std::unique_ptr<chaos::Harness> start_sandbox(const chaos::TempDir& dir, const SandboxShape& shape) {
  sandbox::SandboxOptions so;
  sandbox::NodePool pool;
  pool.name = "gpu";
  pool.count = shape.nodes;
  pool.gpus_per_node = 8;
  so.cluster.pools = {pool};
  so.cluster.job_duration = shape.job_duration;
  so.cluster.failure_rate = shape.failure_rate;
  so.cluster.seed = shape.seed;
  so.cluster.tick = std::chrono::milliseconds(20);
  auto h = chaos::Harness::start(so, dir.path());
  REQUIRE_MESSAGE(h.ok(), (h.ok() ? "" : h.error().message()));
  REQUIRE((*h)->create_namespace("ml").ok());
  return std::move(*h);
}

// A client of the harness's sandbox without client-side rate limiting.
inline std::shared_ptr<kube::Client> client_of(chaos::Harness& h) {
  kube::ClientOptions co;
  co.qps = 0;
  auto client = h.new_client(co);
  REQUIRE(client.ok());
  return *client;
}

// Watches end after 300 ms and half of the re-watches get 410 Gone.
inline void cut_watches(chaos::Harness& h) {
  sandbox::FaultConfig faults;
  faults.watch_cut_after = std::chrono::milliseconds(300);
  faults.watch_gone_rate = 0.5;
  h.sandbox().faults().set(faults);
}

// A GPUWorkload in namespace ml with a retry policy of fixed backoff.
inline json workload(const std::string& name, int gpus, int max_retries, int backoff_seconds = 1, int priority = 0) {
  return {
      {"apiVersion", "gpuorch.io/v1alpha1"},
      {"kind", "GPUWorkload"},
      {"metadata", {{"name", name}, {"namespace", "ml"}}},
      {"spec",
       {{"modelName", "m"},
        {"gpuCount", gpus},
        {"image", "busybox"},
        {"priority", priority},
        {"retryPolicy",
         {{"maxRetries", max_retries}, {"backoffSeconds", backoff_seconds}, {"maxBackoffSeconds", backoff_seconds}}}}}};
}

// The stored workload `name` of namespace ml (null when absent).
inline json stored(chaos::Harness& h, const std::string& name) {
  for (auto& w : h.workloads()) {
    if (w["metadata"].value("name", "") == name) {
      return w;
    }
  }
  return nullptr;
}

inline std::string phase_of(chaos::Harness& h, const std::string& name) {
  const auto w = stored(h, name);
  return w.is_object() ? w.value("status", json::object()).value("phase", "") : "";
}

// The Jobs of workload `name` (label gpuorch.io/workload).
inline std::vector<json> jobs_of(chaos::Harness& h, const std::string& name) {
  std::vector<json> out;
  for (auto& j : h.jobs()) {
    if (j["metadata"].value("labels", json::object()).value("gpuorch.io/workload", "") == name) {
      out.push_back(j);
    }
  }
  return out;
}

// Waits (real time) until `done()` holds; false after `limit`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace gpuorch::watch_fixture
