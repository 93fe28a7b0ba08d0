#include <doctest/doctest.h>
#include <gpuorch/control/job_builder.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/control/reconcile.hpp>

#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "control_test_util.hpp"

namespace gpuorch::control {
using namespace testing;

namespace {

model::Time at(const char* text) {
  return model::parse_time(text).value_or_throw();
}

const model::Time k_now = at("2026-03-01T12:00:00Z");

// A workload as the reconciler last left it: finalizer set, a phase, a retry count.
json tracked(const std::string& name, int gpus, const char* phase = nullptr, int retries = 0) {
  json w = workload_json("ml", name, gpus);
  w["metadata"]["finalizers"] = json::array({"gpuorch.io/cleanup"});
  if (phase != nullptr) {
    w["status"]["phase"] = phase;
    w["status"]["retryCount"] = retries;
    if (std::string(phase) == "Scheduled" || std::string(phase) == "Running") {
      w["status"]["jobName"] = job_name(name, retries);
      w["status"]["assignedNode"] = "a";
    }
  }
  return w;
}

struct World {
  std::vector<json> workloads;
  std::vector<json> jobs;
  std::vector<json> pods;
  std::vector<json> nodes = {node_json("a", 8), node_json("b", 4)};

  [[nodiscard]] Plan plan(const ReconcileOptions& options = {}) const {
    const Observed obs = observed_from_json(workloads, jobs, pods, nodes, k_now, 42);
    REQUIRE(obs.warnings.empty());
    return reconcile(obs, options);
  }
};

std::vector<ActionKind> kinds(const Plan& plan, const std::string& workload) {
  std::vector<ActionKind> out;
  for (const auto& a : plan.actions) {
    if (a.workload == workload) {
      out.push_back(a.kind);
    }
  }
  return out;
}

const Action* find(const Plan& plan, const std::string& workload, ActionKind kind) {
  for (const auto& a : plan.actions) {
    if (a.workload == workload && a.kind == kind) {
      return &a;
    }
  }
  return nullptr;
}

std::string names(const std::vector<ActionKind>& ks) {
  std::string out;
  for (const auto k : ks) {
    out += out.empty() ? "" : ",";
    out += to_string(k);
  }
  return out;
}

json job_for(const std::string& workload, int attempt, const std::string& node, int gpus) {
  return job_json("ml", job_name(workload, attempt), workload, node, gpus, "job-" + workload + std::to_string(attempt));
}

}  // namespace

TEST_CASE("state machine: one branch per row") {
  struct Row {
    const char* name;
    std::function<void(World&)> setup;
    const char* actions;       // expected action kinds of workload "w", in order
    const char* phase_after;   // status.phase written, or "" when no status write
    const char* message_part;  // a phrase the new message contains
  };
  const std::vector<Row> rows = {
      {"new workload without finalizer: finalizer, then placement",
       [](World& world) { world.workloads.push_back(workload_json("ml", "w", 4)); },
       "AddFinalizer,CreateJob,UpdateStatus,EmitEvent", "Scheduled", "Job w-0 created on node a"},
      {"new workload that does not fit: no finalizer while it has no Job to clean up",
       [](World& world) { world.workloads.push_back(workload_json("ml", "w", 16)); }, "UpdateStatus,EmitEvent",
       "Pending", "0/2 nodes fit"},
      {"new invalid workload: Failed without a finalizer",
       [](World& world) {
         json w = workload_json("ml", "w", 2);
         w["spec"]["gpuCount"] = 0;
         world.workloads.push_back(w);
       },
       "UpdateStatus,EmitEvent", "Failed", "spec.gpuCount"},
      {"a Job of a workload without the finalizer: the finalizer first",
       [](World& world) {
         json w = workload_json("ml", "w", 2);
         w["status"]["phase"] = "Pending";
         world.workloads.push_back(w);
         world.jobs.push_back(job_for("w", 0, "b", 2));
       },
       "AddFinalizer,UpdateStatus,EmitEvent", "Scheduled", "Job w-0 created on node b"},
      {"retry after a failed Job, finalizer missing: one finalizer write before the new Job",
       [](World& world) {
         json w = workload_json("ml", "w", 2);
         w["status"] = {{"phase", "Pending"}, {"retryCount", 1}, {"nextRetryTime", "2026-03-01T11:59:00Z"}};
         world.workloads.push_back(w);
         json old = job_for("w", 0, "a", 2);
         finish_job(old, "Failed", "BackoffLimitExceeded");
         world.jobs.push_back(old);
       },
       "AddFinalizer,CreateJob,UpdateStatus,EmitEvent", "Scheduled", "Job w-1 created"},
      {"pending and fits: Job, status, Event",
       [](World& world) { world.workloads.push_back(tracked("w", 2, "Pending")); }, "CreateJob,UpdateStatus,EmitEvent",
       "Scheduled", "Job w-0 created"},
      {"pending and does not fit: Pending with the reason",
       [](World& world) { world.workloads.push_back(tracked("w", 16, "Pending")); }, "UpdateStatus,EmitEvent",
       "Pending", "0/2 nodes fit"},
      {"pending in backoff: nothing",
       [](World& world) {
         json w = tracked("w", 2, "Pending", 1);
         w["status"]["nextRetryTime"] = "2026-03-01T12:00:30Z";
         world.workloads.push_back(w);
       },
       "", "", ""},
      {"pending, backoff over: placed as attempt 1",
       [](World& world) {
         json w = tracked("w", 2, "Pending", 1);
         w["status"]["nextRetryTime"] = "2026-03-01T11:59:00Z";
         world.workloads.push_back(w);
       },
       "CreateJob,UpdateStatus,EmitEvent", "Scheduled", "Job w-1 created"},
      {"pending with its Job already there (crash after create): adopted",
       [](World& world) {
         world.workloads.push_back(tracked("w", 2, "Pending"));
         world.jobs.push_back(job_for("w", 0, "b", 2));
       },
       "UpdateStatus,EmitEvent", "Scheduled", "Job w-0 created on node b"},
      {"invalid spec: Failed naming the field",
       [](World& world) {
         json w = tracked("w", 2, "Pending");
         w["spec"]["gpuCount"] = 0;
         world.workloads.push_back(w);
       },
       "UpdateStatus,EmitEvent", "Failed", "spec.gpuCount"},
      {"scheduled, pod running: Running",
       [](World& world) {
         world.workloads.push_back(tracked("w", 2, "Scheduled"));
         world.jobs.push_back(job_for("w", 0, "a", 2));
         world.pods.push_back(pod_json("ml", "w-0-x", "a", 2, "Running", "job-w0"));
       },
       "UpdateStatus", "Running", "running on node a"},
      {"scheduled, pod not running yet: no write",
       [](World& world) {
         json w = tracked("w", 2, "Scheduled");
         w["status"]["message"] = "Job w-0 created on node a; waiting for its pod to run";
         w["status"]["observedGeneration"] = 1;
         world.workloads.push_back(w);
         world.jobs.push_back(job_for("w", 0, "a", 2));
       },
       "", "", ""},
      {"running, Job complete: Succeeded",
       [](World& world) {
         world.workloads.push_back(tracked("w", 2, "Running"));
         json j = job_for("w", 0, "a", 2);
         finish_job(j, "Complete");
         world.jobs.push_back(j);
       },
       "UpdateStatus,EmitEvent", "Succeeded", "completed"},
      {"running, Job failed, retries left: Pending with a retry time",
       [](World& world) {
         world.workloads.push_back(tracked("w", 2, "Running"));
         json j = job_for("w", 0, "a", 2);
         finish_job(j, "Failed", "BackoffLimitExceeded");
         world.jobs.push_back(j);
       },
       "UpdateStatus,EmitEvent", "Pending", "retry 1/3"},
      {"running, Job failed, no retries left: Failed",
       [](World& world) {
         world.workloads.push_back(tracked("w", 2, "Running", 3));
         json j = job_for("w", 3, "a", 2);
         finish_job(j, "Failed", "BackoffLimitExceeded");
         world.jobs.push_back(j);
       },
       "UpdateStatus,EmitEvent", "Failed", "no retries left (3/3)"},
      {"scheduled, Job deleted: retry", [](World& world) { world.workloads.push_back(tracked("w", 2, "Scheduled")); },
       "UpdateStatus,EmitEvent", "Pending", "was deleted"},
      {"succeeded is final", [](World& world) { world.workloads.push_back(tracked("w", 2, "Succeeded")); }, "", "", ""},
      {"failed is final, even with a spec that is now invalid",
       [](World& world) {
         json w = tracked("w", 2, "Failed");
         w["spec"]["gpuCount"] = 0;
         world.workloads.push_back(w);
       },
       "", "", ""},
      {"being deleted: Jobs deleted, then the finalizer removed",
       [](World& world) {
         json w = tracked("w", 2, "Running");
         w["metadata"]["deletionTimestamp"] = "2026-03-01T11:59:00Z";
         world.workloads.push_back(w);
         world.jobs.push_back(job_for("w", 0, "a", 2));
       },
       "DeleteJob,RemoveFinalizer", "", ""},
      {"being deleted while a Job is still terminating: finalizer stays",
       [](World& world) {
         json w = tracked("w", 2, "Running");
         w["metadata"]["deletionTimestamp"] = "2026-03-01T11:59:00Z";
         world.workloads.push_back(w);
         json j = job_for("w", 0, "a", 2);
         j["metadata"]["deletionTimestamp"] = "2026-03-01T11:59:30Z";
         world.jobs.push_back(j);
       },
       "", "", ""},
      {"a live Job of an older attempt is deleted before placing again",
       [](World& world) {
         json w = tracked("w", 2, "Pending", 1);
         world.workloads.push_back(w);
         world.jobs.push_back(job_for("w", 0, "a", 2));
       },
       "DeleteJob", "", ""},
      {"no image anywhere: stays Pending and says so",
       [](World& world) {
         json w = tracked("w", 2, "Pending");
         w["spec"].erase("image");
         world.workloads.push_back(w);
       },
       "UpdateStatus,EmitEvent", "Pending", "--default-image"},
  };
  for (const auto& row : rows) {
    const std::string row_name = row.name;
    CAPTURE(row_name);
    World world;
    row.setup(world);
    const Plan plan = world.plan();
    CHECK(names(kinds(plan, "w")) == row.actions);
    const Action* status = find(plan, "w", ActionKind::update_status);
    if (std::string(row.phase_after).empty()) {
      CHECK(status == nullptr);
    } else {
      REQUIRE(status != nullptr);
      CHECK(model::to_string(status->status.phase.value()) == row.phase_after);
      CHECK_MESSAGE(status->status.message.find(row.message_part) != std::string::npos, status->status.message);
      CHECK(status->status.observed_generation == 1);
    }
  }
}

TEST_CASE("placement follows queue order and reserves within the pass") {
  World world;
  world.nodes = {node_json("a", 4)};
  json low = tracked("low", 4, "Pending");
  low["spec"]["priority"] = 1;
  json high = tracked("high", 4, "Pending");
  high["spec"]["priority"] = 10;
  json small = tracked("small", 1, "Pending");
  world.workloads = {low, high, small};
  const Plan plan = world.plan();
  CHECK(find(plan, "high", ActionKind::create_job) != nullptr);
  CHECK(find(plan, "low", ActionKind::create_job) == nullptr);
  CHECK(find(plan, "small", ActionKind::create_job) == nullptr);
  const auto* low_status = find(plan, "low", ActionKind::update_status);
  REQUIRE(low_status != nullptr);
  CHECK(low_status->status.message == "0/1 nodes fit: 1 lack 4 free GPUs");
  CHECK(plan.counts.scheduled == 1);
  CHECK(plan.counts.unschedulable == 2);
  REQUIRE(plan.node_gpus.size() == 1);
  CHECK(plan.node_gpus[0].node == "a");
  CHECK(plan.node_gpus[0].total == 4);
  CHECK(plan.node_gpus[0].free == 0);  // after the pass's own placement
}

TEST_CASE("strict queueing stops behind a blocked head, best effort lets small work through") {
  World world;
  world.nodes = {node_json("a", 4)};
  json big = tracked("big", 8, "Pending");
  big["spec"]["priority"] = 10;
  world.workloads = {big, tracked("small", 1, "Pending")};
  ReconcileOptions strict;
  strict.queueing = sched::QueueingPolicy::strict;
  const Plan s = world.plan(strict);
  CHECK(find(s, "small", ActionKind::create_job) == nullptr);
  CHECK(find(s, "small", ActionKind::update_status)->status.message == "waiting behind ml/big (strict queueing)");
  const Plan b = world.plan();
  CHECK(find(b, "small", ActionKind::create_job) != nullptr);
}

TEST_CASE("the placement hook: asked only when something is to be placed, its blocker honoured") {
  World world;
  world.nodes = {node_json("a", 4)};
  const Observed one_node = observed_from_json({}, {}, {}, world.nodes, k_now, 42);
  ClusterSnapshot snapshot = build_cluster_state(one_node);
  int asked = 0;
  std::optional<std::string> blocker;
  ReconcileOptions options;
  options.placement = [&] {
    ++asked;
    return ReconcileOptions::Placement{&snapshot, blocker};
  };
  SUBCASE("a workload that follows its Job never asks") {
    world.workloads = {tracked("run", 2, "Running")};
    world.jobs = {job_for("run", 0, "a", 2)};
    const Plan plan = world.plan(options);
    CHECK(asked == 0);
    CHECK(plan.node_gpus.empty());
  }
  SUBCASE("a pending workload books into the caller's state") {
    world.workloads = {tracked("w", 3, "Pending")};
    const Plan plan = world.plan(options);
    CHECK(asked == 1);
    REQUIRE(find(plan, "w", ActionKind::create_job) != nullptr);
    CHECK(snapshot.state.whole_free_gpus(0) == 1);
    CHECK(plan.node_gpus.empty());
  }
  SUBCASE("a blocker from the caller holds every candidate back, even one that fits") {
    blocker = "ml/ahead";
    world.workloads = {tracked("w", 1, "Pending")};
    const Plan plan = world.plan(options);
    CHECK(asked == 1);
    CHECK(find(plan, "w", ActionKind::create_job) == nullptr);
    CHECK(find(plan, "w", ActionKind::update_status)->status.message == "waiting behind ml/ahead (strict queueing)");
    CHECK(plan.counts.unschedulable == 1);
    CHECK(snapshot.state.whole_free_gpus(0) == 4);
  }
}

TEST_CASE("a Job pinned to a node but without a visible pod is never double-booked") {
  World world;
  world.nodes = {node_json("a", 4)};
  json other = tracked("other", 4, "Scheduled");
  other["status"]["jobName"] = "other-0";
  world.workloads = {other, tracked("w", 1, "Pending")};
  world.jobs = {job_for("other", 0, "a", 4)};
  const Plan plan = world.plan();
  CHECK(find(plan, "w", ActionKind::create_job) == nullptr);
  CHECK(find(plan, "w", ActionKind::update_status)->status.message == "0/1 nodes fit: 1 lack 1 free GPU");
}

TEST_CASE("each workload's strategy decides its node") {
  World world;
  world.nodes = {node_json("big", 8), node_json("small", 2)};
  json packed = tracked("packed", 2, "Pending");
  packed["spec"]["schedulingStrategy"] = "BestFit";
  json spread = tracked("spread", 2, "Pending");
  spread["spec"]["schedulingStrategy"] = "LeastLoaded";
  world.workloads = {packed, spread};
  const Plan plan = world.plan();
  CHECK(find(plan, "packed", ActionKind::update_status)->status.assigned_node == "small");
  CHECK(find(plan, "spread", ActionKind::update_status)->status.assigned_node == "big");
}

TEST_CASE("the Job: name, owner, label, affinity, resources, env, policy") {
  World world;
  json w = tracked("w", 2, "Pending");
  w["spec"]["resources"] = {{"cpu", "4"}, {"memory", "16Gi"}};
  w["spec"]["command"] = json::array({"python", "train.py"});
  w["spec"]["tolerations"] = json::array({{{"key", "gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
  world.workloads = {w};
  const Plan plan = world.plan();
  const Action* create = find(plan, "w", ActionKind::create_job);
  REQUIRE(create != nullptr);
  const json& job = create->job;
  CHECK(job["metadata"]["name"] == "w-0");
  CHECK(job["metadata"]["labels"]["gpuorch.io/workload"] == "w");
  const json& owner = job["metadata"]["ownerReferences"][0];
  CHECK(owner["kind"] == "GPUWorkload");
  CHECK(owner["uid"] == "w-w");
  CHECK(owner["controller"] == true);
  CHECK(job["spec"]["backoffLimit"] == 0);
  const json& pod = job["spec"]["template"]["spec"];
  CHECK(pod["restartPolicy"] == "Never");
  CHECK(pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
           ["matchFields"][0]["values"][0] == "a");
  CHECK(pod["tolerations"][0]["operator"] == "Exists");
  const json& c = pod["containers"][0];
  CHECK(c["image"] == "busybox");
  CHECK(c["command"] == json::array({"python", "train.py"}));
  CHECK(c["resources"]["limits"]["nvidia.com/gpu"] == "2");
  CHECK(c["resources"]["requests"]["cpu"] == "4");
  CHECK(c["resources"]["requests"]["memory"] == "16Gi");
  CHECK(c["env"][0] == json{{"name", "GPUORCH_MODEL_NAME"}, {"value", "llama"}});
  // The observation of the new Job accounts it exactly like the sandbox's pod would be.
  const auto view = job_view_from_json(job).value_or_throw();
  CHECK(view.node == "a");
  CHECK(view.gpus == 2);
  CHECK(view.cpu_milli == 4000);
}

TEST_CASE("default image fills in when the spec has none") {
  World world;
  json w = tracked("w", 2, "Pending");
  w["spec"].erase("image");
  world.workloads = {w};
  ReconcileOptions options;
  options.default_image = "ghcr.io/acme/run:1";
  const Plan plan = world.plan(options);
  REQUIRE(find(plan, "w", ActionKind::create_job) != nullptr);
  CHECK(find(plan, "w", ActionKind::create_job)->job["spec"]["template"]["spec"]["containers"][0]["image"] ==
        "ghcr.io/acme/run:1");
}

TEST_CASE("job names: <workload>-<attempt>, shortened with a hash past 63 characters") {
  CHECK(job_name("train", 0) == "train-0");
  CHECK(job_name("train", 12) == "train-12");
  const std::string long_a(70, 'a');
  const std::string long_b = std::string(69, 'a') + "b";
  const auto a = job_name(long_a, 3);
  const auto b = job_name(long_b, 3);
  CHECK(a.size() <= 63);
  CHECK(b.size() <= 63);
  CHECK(a != b);
  CHECK(a.ends_with("-3"));
  CHECK(job_name(long_a, 3) == a);   // deterministic
  const std::string exact(61, 'x');  // 61 + "-0" = 63: kept as is
  CHECK(job_name(exact, 0) == exact + "-0");
  CHECK(job_name(exact, 10).size() == 63);
  const std::string dashes = std::string(50, 'a') + "----------------------";
  CHECK(job_name(dashes, 1).find("--") == std::string::npos);
}

TEST_CASE("retry delays: base*2^n within +-10 %, capped, deterministic by seed") {
  model::RetryPolicy p{5, 10, 300};
  for (int retry = 1; retry <= 8; ++retry) {
    CAPTURE(retry);
    const double base = 10'000.0 * (1 << (retry - 1));
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
      const auto d = retry_delay(p, retry, seed, "uid-1").count();
      CHECK(d >= static_cast<std::int64_t>(std::min(base * 0.9, 300'000.0)));
      CHECK(d <= static_cast<std::int64_t>(std::min(base * 1.1, 300'000.0)));
    }
  }
  CHECK(retry_delay(p, 2, 7, "uid-1") == retry_delay(p, 2, 7, "uid-1"));
  std::set<std::int64_t> distinct;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    distinct.insert(retry_delay(p, 1, seed, "uid-1").count());
  }
  CHECK(distinct.size() > 10);  // the jitter actually varies
  CHECK(retry_delay(p, 60, 1, "x").count() == 300'000);
}

TEST_CASE("backoff is persisted as nextRetryTime and says so") {
  World world;
  world.workloads.push_back(tracked("w", 2, "Running"));
  json j = job_for("w", 0, "a", 2);
  finish_job(j, "Failed", "BackoffLimitExceeded");
  world.jobs.push_back(j);
  const Plan plan = world.plan();
  const auto* s = find(plan, "w", ActionKind::update_status);
  REQUIRE(s != nullptr);
  REQUIRE(s->status.next_retry_time.has_value());
  const auto delay = *s->status.next_retry_time - k_now;
  CHECK(delay >= std::chrono::seconds(9));
  CHECK(delay <= std::chrono::seconds(12));
  CHECK(s->status.retry_count == 1);
  CHECK(s->status.job_name.empty());
  CHECK(find(plan, "w", ActionKind::emit_event)->event.reason == "Retrying");
  CHECK(plan.requeue_at == s->status.next_retry_time);
  CHECK(plan.counts.retries == 1);
}

TEST_CASE("orphaned Jobs are deleted once old enough, recent ones are left alone") {
  World world;
  json orphan = job_for("gone", 0, "a", 2);
  orphan["metadata"]["creationTimestamp"] = "2026-03-01T11:00:00Z";
  json recent = job_for("new", 0, "a", 2);
  recent["metadata"]["creationTimestamp"] = "2026-03-01T11:59:50Z";
  world.jobs = {orphan, recent};
  const Plan plan = world.plan();
  REQUIRE(plan.actions.size() == 1);
  CHECK(plan.actions[0].kind == ActionKind::delete_job);
  CHECK(plan.actions[0].job_name == "gone-0");
}

TEST_CASE("the same observation gives the same plan") {
  World world;
  for (int i = 0; i < 20; ++i) {
    json w = tracked("w" + std::to_string(i), 1 + i % 3, "Pending");
    w["spec"]["schedulingStrategy"] = i % 2 == 0 ? "Random" : "BestFit";
    world.workloads.push_back(w);
  }
  const auto a = to_json(world.plan());
  const auto b = to_json(world.plan());
  CHECK(a == b);
}

TEST_CASE("plan renders as a table and as JSON") {
  World world;
  world.workloads = {workload_json("ml", "w", 2)};
  const Plan plan = world.plan();
  std::ostringstream table;
  print_plan_table(table, plan, false);
  CHECK(table.str().starts_with("WORKLOAD   ACTION         DETAIL\n"));
  CHECK(table.str().find("w          CreateJob      w-0 on node a (2 GPUs, LeastLoaded)") != std::string::npos);
  const json j = to_json(plan);
  CHECK(j["kind"] == "ReconcilePlan");
  CHECK(j["actions"].size() == 4);
  CHECK(j["summary"]["scheduled"] == 1);
  std::ostringstream empty;
  print_plan_table(empty, Plan{}, false);
  CHECK(empty.str() == "No actions.\n");
}

TEST_CASE("a repeated unschedulable pass writes nothing new") {
  World world;
  world.workloads.push_back(tracked("w", 16, "Pending"));
  const Plan first = world.plan();
  const auto* s = find(first, "w", ActionKind::update_status);
  REQUIRE(s != nullptr);
  json again = tracked("w", 16, "Pending");
  again["status"] = model::to_json(s->status);
  world.workloads = {again};
  const Plan second = world.plan();
  CHECK(second.actions.empty());
}

}  // namespace gpuorch::control
