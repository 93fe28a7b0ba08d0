// ExecutorOptions::on_workload_written against an in-process sandbox: the
// watch loop tells the echoes of its own writes from other changes by the
// resourceVersion this hook reports, so it must be called once for every
// write of the workload itself (finalizer added or removed, status), with
// exactly the resourceVersion the server gave the result, also after a
// conflict retry; and never for Jobs, Events or a write that failed.
#include <gpuorch/control/executor.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/kube/client.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "harness.hpp"
#include "watch_fixture.hpp"

using namespace gpuorch;
using namespace gpuorch::control;
using nlohmann::json;
using namespace gpuorch::watch_fixture;

namespace {

struct Written {
  std::string namespace_name;
  std::string name;
  std::string resource_version;
  friend bool operator==(const Written&, const Written&) = default;
};

/// The hook's calls (it runs on the executor's threads).
class Recorder {
 public:
  ExecutorOptions options() {
    ExecutorOptions o;
    o.on_workload_written = [this](const std::string& ns, const std::string& name, const std::string& rv) {
      std::lock_guard lock(m_mutex);
      m_calls.push_back({ns, name, rv});
    };
    return o;
  }
  std::vector<Written> take() {
    std::lock_guard lock(m_mutex);
    return std::exchange(m_calls, {});
  }

 private:
  std::mutex m_mutex;
  std::vector<Written> m_calls;
};

std::string rv_of(const json& object) {
  return object.is_object() ? object["metadata"].value("resourceVersion", "") : "";
}

/// An action on workload `name` as stored now (its uid, resourceVersion and finalizers).
Action action_on(chaos::Harness& h, const std::string& name, ActionKind kind) {
  const json w = stored(h, name);
  REQUIRE(w.is_object());
  Action a;
  a.kind = kind;
  a.namespace_name = "ml";
  a.workload = name;
  a.workload_uid = w["metadata"].value("uid", "");
  a.resource_version = rv_of(w);
  for (const auto& f : w["metadata"].value("finalizers", json::array())) {
    a.finalizers.push_back(f.get<std::string>());
  }
  return a;
}

ExecutionReport run(kube::Client& client, std::vector<Action> actions, const ExecutorOptions& options) {
  Plan plan;
  plan.actions = std::move(actions);
  auto report = execute(client, plan, options);
  REQUIRE(report.ok());
  INFO((report->errors.empty() ? std::string() : report->errors.front()));
  CHECK(report->workloads_failed == 0);
  return *report;
}

/// A sandbox with the workload ml/w, a client and the hook's recorder.
struct HookFixture {
  HookFixture() { REQUIRE(h->create_workload(workload("w", 1, 0)).ok()); }
  chaos::TempDir dir;
  std::unique_ptr<chaos::Harness> h = start_sandbox(dir, {});
  std::shared_ptr<kube::Client> client = client_of(*h);
  Recorder recorder;
};

}  // namespace

TEST_CASE_FIXTURE(HookFixture,
                  "on_workload_written reports each workload write with the resourceVersion the server gave it") {
  SUBCASE("add_finalizer") {
    run(*client, {action_on(*h, "w", ActionKind::add_finalizer)}, recorder.options());
    const json after = stored(*h, "w");
    CHECK(after["metadata"]["finalizers"] == json::array({std::string(k_finalizer)}));
    CHECK(recorder.take() == std::vector<Written>{{"ml", "w", rv_of(after)}});
  }

  SUBCASE("update_status") {
    Action a = action_on(*h, "w", ActionKind::update_status);
    a.status.phase = model::Phase::pending;
    a.status.message = "waiting for capacity";
    run(*client, {a}, recorder.options());
    const json after = stored(*h, "w");
    CHECK(after["status"].value("message", "") == "waiting for capacity");
    CHECK(recorder.take() == std::vector<Written>{{"ml", "w", rv_of(after)}});
  }

  SUBCASE("remove_finalizer") {
    run(*client, {action_on(*h, "w", ActionKind::add_finalizer)}, recorder.options());
    recorder.take();
    run(*client, {action_on(*h, "w", ActionKind::remove_finalizer)}, recorder.options());
    const json after = stored(*h, "w");
    CHECK(after["metadata"].value("finalizers", json::array()).empty());
    CHECK(recorder.take() == std::vector<Written>{{"ml", "w", rv_of(after)}});
  }

  SUBCASE("a chain: one call per write, in order, each with its own resourceVersion") {
    const std::string before = rv_of(stored(*h, "w"));
    Action finalizer = action_on(*h, "w", ActionKind::add_finalizer);
    Action status = finalizer;
    status.kind = ActionKind::update_status;
    status.status.phase = model::Phase::pending;
    run(*client, {finalizer, status}, recorder.options());
    const auto calls = recorder.take();
    REQUIRE(calls.size() == 2);
    CHECK(calls[1].resource_version == rv_of(stored(*h, "w")));
    CHECK(calls[0].resource_version != before);
    CHECK(calls[0].resource_version != calls[1].resource_version);
    // The first call's version is the one the status write used as its precondition:
    // had it been wrong, the status patch would have conflicted and re-read.
    CHECK(std::stoll(calls[0].resource_version) > std::stoll(before));
    CHECK(std::stoll(calls[1].resource_version) > std::stoll(calls[0].resource_version));
  }

  SUBCASE("after a conflict the retried write's resourceVersion, once") {
    Action stale = action_on(*h, "w", ActionKind::add_finalizer);
    // Someone else changes the metadata: the planned write conflicts, is re-read and retried.
    REQUIRE(client
                ->patch(kube::resources::gpu_workloads(), "ml", "w", kube::PatchType::merge,
                        R"({"metadata":{"labels":{"team":"a"}}})")
                .ok());
    const auto report = run(*client, {stale}, recorder.options());
    CHECK(report.workloads_skipped == 0);
    const json after = stored(*h, "w");
    CHECK(after["metadata"]["finalizers"] == json::array({std::string(k_finalizer)}));
    CHECK(recorder.take() == std::vector<Written>{{"ml", "w", rv_of(after)}});
  }
}

TEST_CASE_FIXTURE(HookFixture, "on_workload_written is not called for Jobs, Events or a workload write that failed") {
  Action job = action_on(*h, "w", ActionKind::create_job);
  job.job_name = "w-0";
  job.job = json::parse(R"({"apiVersion": "batch/v1", "kind": "Job",
      "metadata": {"name": "w-0", "namespace": "ml"},
      "spec": {"template": {"spec": {"restartPolicy": "Never",
                                     "containers": [{"name": "c", "image": "busybox"}]}}}})");
  Action event = action_on(*h, "w", ActionKind::emit_event);
  event.event = {"Normal", "Tested", "an Event of the hook's test"};
  run(*client, {job, event}, recorder.options());
  CHECK(recorder.take().empty());

  // A status write whose workload was deleted meanwhile fails: no call.
  Action status = action_on(*h, "w", ActionKind::update_status);
  status.status.phase = model::Phase::pending;
  REQUIRE(client->remove(kube::resources::gpu_workloads(), "ml", "w").ok());
  Plan plan;
  plan.actions = {status};
  auto report = execute(*client, plan, recorder.options());
  REQUIRE(report.ok());
  CHECK(report->workloads_failed + report->workloads_skipped == 1);
  CHECK(recorder.take().empty());
}
