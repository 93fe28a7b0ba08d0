// Reconcile passes against the real `gpuorch sandbox` process: observe, plan,
// apply, repeated until every workload is terminal, with the invariants of
// DESIGN.md §6 checked after every pass. Kills are simulated by applying only
// a prefix of a plan (what a SIGKILL between two writes leaves behind).
#include <gpuorch/control/executor.hpp>
#include <gpuorch/control/job_builder.hpp>
#include <gpuorch/control/names.hpp>
#include <gpuorch/control/observe.hpp>
#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/crd.hpp>
#include <gpuorch/model/time.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "integration/sandbox_process.hpp"
#include "support/process.hpp"
#include "support/pushgateway.hpp"

using namespace gpuorch;
using namespace gpuorch::control;
using nlohmann::json;

namespace {

/// `gpuorch sandbox` with the given flags (tests/integration/sandbox_process.hpp),
/// the GPUWorkload CRD installed, and one client for the test's own reads and writes.
class Sandbox {
 public:
  explicit Sandbox(const std::vector<std::string>& extra) : m_process(extra), m_client(m_process.client()) {
    auto crd = m_client->create(kube::resources::custom_resource_definitions(), "", model::workload_crd());
    REQUIRE_MESSAGE(crd.ok(), (crd.ok() ? "" : crd.error().message()));
  }

  [[nodiscard]] kube::Client& client() const { return *m_client; }
  [[nodiscard]] std::string dir() const { return m_process.dir().string(); }
  [[nodiscard]] const std::string& kubeconfig() const { return m_process.kubeconfig(); }

  [[nodiscard]] json stats() const {
    kube::Request r;
    r.path = "/sandbox/v1/stats";
    auto res = m_client->send(r).value_or_throw();
    return json::parse(res.body);
  }

 private:
  gpuorch::testing::SandboxProcess m_process;
  std::shared_ptr<kube::Client> m_client;
};

json workload(const std::string& name, int gpus, int priority, const std::string& strategy, int max_retries = 3) {
  return {{"apiVersion", "gpuorch.io/v1alpha1"},
          {"kind", "GPUWorkload"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"modelName", "llama"},
            {"gpuCount", gpus},
            {"priority", priority},
            {"schedulingStrategy", strategy},
            {"image", "busybox"},
            {"retryPolicy", {{"maxRetries", max_retries}, {"backoffSeconds", 1}, {"maxBackoffSeconds", 2}}}}}};
}

Observed observe(const Sandbox& sandbox, std::uint64_t seed) {
  ObserveOptions o;
  o.namespace_name = "default";
  o.now = std::chrono::system_clock::now();
  o.seed = seed;
  o.page_size = 7;  // several pages even for small tests
  return observe_cluster(sandbox.client(), o).value_or_throw();
}

// Invariants after a pass: at most one live Job per workload, no GPUs
// over-committed on any node (by the observation and by the sandbox's own check).
void check_invariants(const Sandbox& sandbox, const Observed& obs) {
  std::map<std::string, int> live;
  for (const auto& j : obs.jobs) {
    if (j.live()) {
      ++live[j.owner_uid];
    }
  }
  for (const auto& [uid, n] : live) {
    CHECK_MESSAGE(n <= 1, "workload " << uid << " has " << n << " live Jobs");
  }
  const auto snap = build_cluster_state(obs);
  for (const auto& u : snap.usage) {
    CHECK_FALSE(u.overcommitted);
  }
  CHECK(sandbox.stats().value("violations", 0) == 0);
}

bool all_terminal(const Observed& obs) {
  return std::all_of(obs.workloads.begin(), obs.workloads.end(),
                     [](const model::Workload& w) { return w.status.phase && model::is_terminal(*w.status.phase); });
}

// Keeps only the first `keep` actions of the plan: what a reconciler killed
// after that many writes leaves behind.
Plan prefix(Plan plan, std::size_t keep) {
  if (plan.actions.size() > keep) {
    plan.actions.resize(keep);
  }
  return plan;
}

}  // namespace

TEST_CASE("passes run workloads to the end: placement, Jobs, retries, Events, cleanup") {
  Sandbox sandbox({"--nodes", "3", "--gpus-per-node", "4", "--job-duration", "300ms", "--seed", "3"});
  auto& client = sandbox.client();
  const std::vector<json> workloads = {
      workload("big", 4, 10, "BestFit"),
      workload("mid", 2, 5, "LeastLoaded"),
      workload("small-a", 1, 0, "Random"),
      workload("small-b", 1, 0, "CostOptimized"),
      workload("too-big", 8, 0, "LeastLoaded"),
      workload("fill-1", 4, 1, "BestFit"),
      workload("fill-2", 3, 1, "MinFragmentation"),
  };
  for (const auto& w : workloads) {
    REQUIRE(client.create(kube::resources::gpu_workloads(), "default", w).ok());
  }

  ReconcileOptions options;
  ExecutorOptions exec;
  exec.parallelism = 4;
  bool saw_scheduled_event = false;
  int passes = 0;
  for (; passes < 120; ++passes) {
    const auto obs = observe(sandbox, static_cast<std::uint64_t>(passes));
    check_invariants(sandbox, obs);
    // "too-big" can never fit and stays Pending.
    bool done = true;
    for (const auto& w : obs.workloads) {
      if (w.metadata.name != "too-big" && !(w.status.phase && model::is_terminal(*w.status.phase))) {
        done = false;
      }
    }
    if (done && !obs.workloads.empty()) {
      break;
    }
    const Plan plan = reconcile(obs, options);
    const auto report = execute(client, plan, exec).value_or_throw();
    CHECK_MESSAGE(report.errors.empty(), (report.errors.empty() ? "" : report.errors.front()));
    saw_scheduled_event = saw_scheduled_event || report.counts.scheduled > 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  REQUIRE(passes < 120);
  const auto obs = observe(sandbox, 0);
  std::map<std::string, model::Workload> by_name;
  for (const auto& w : obs.workloads) {
    by_name[w.metadata.name] = w;
    // The finalizer comes with the first Job: a workload never placed has none.
    CHECK(w.metadata.has_finalizer(k_finalizer) == (w.metadata.name != "too-big"));
  }
  for (const char* name : {"big", "mid", "small-a", "small-b", "fill-1", "fill-2"}) {
    CAPTURE(name);
    CHECK(model::to_string(by_name[name].status.phase.value()) == "Succeeded");
  }
  CHECK(by_name["too-big"].status.phase == model::Phase::pending);
  CHECK(by_name["too-big"].status.message == "0/3 nodes fit: 3 have fewer than 8 GPUs");
  CHECK(saw_scheduled_event);

  // Deletion: Jobs go first, then the finalizer, then the workload itself.
  REQUIRE(client.remove(kube::resources::gpu_workloads(), "default", "big").ok());
  for (int i = 0; i < 3; ++i) {
    (void)execute(client, reconcile(observe(sandbox, 0), options), exec).value_or_throw();
  }
  CHECK(client.get(kube::resources::gpu_workloads(), "default", "big").error().code() == ErrorCode::not_found);
  kube::ListOptions jl;
  jl.label_selector = "gpuorch.io/workload=big";
  CHECK(client.list_all(kube::resources::jobs(), "default", jl).value_or_throw()["items"].empty());
}

TEST_CASE("a pass killed after any write converges, never with two live Jobs") {
  Sandbox sandbox({"--nodes", "2", "--gpus-per-node", "4", "--job-duration", "200ms", "--seed", "5"});
  auto& client = sandbox.client();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(client
                .create(kube::resources::gpu_workloads(), "default",
                        workload("w" + std::to_string(i), 1 + i % 3, i % 4, i % 2 == 0 ? "BestFit" : "LeastLoaded"))
                .ok());
  }
  ReconcileOptions options;
  ExecutorOptions exec;
  exec.parallelism = 1;  // plan order: a prefix is exactly what a kill leaves
  std::size_t keep = 1;
  int passes = 0;
  for (; passes < 200; ++passes) {
    const auto obs = observe(sandbox, 11);
    check_invariants(sandbox, obs);
    if (all_terminal(obs) && !obs.workloads.empty()) {
      break;
    }
    const Plan plan = reconcile(obs, options);
    // Every other pass is "killed" after a varying number of writes.
    const Plan applied = passes % 2 == 0 ? prefix(plan, keep) : plan;
    keep = keep % 7 + 1;
    (void)execute(client, applied, exec).value_or_throw();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(passes < 200);
  const auto obs = observe(sandbox, 0);
  for (const auto& w : obs.workloads) {
    CAPTURE(w.metadata.name);
    CHECK(w.status.phase == model::Phase::succeeded);
  }
}

TEST_CASE("failing Jobs are retried with backoff until maxRetries, then Failed, Events are aggregated") {
  Sandbox sandbox({"--nodes", "1", "--gpus-per-node", "2", "--job-duration", "100ms", "--failure-rate", "1"});
  auto& client = sandbox.client();
  REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload("doomed", 1, 0, "BestFit", 2)).ok());
  ExecutorOptions exec;
  int passes = 0;
  for (; passes < 100; ++passes) {
    const auto obs = observe(sandbox, 1);
    check_invariants(sandbox, obs);
    if (all_terminal(obs)) {
      break;
    }
    const auto report = execute(client, reconcile(obs, {}), exec).value_or_throw();
    CHECK_MESSAGE(report.errors.empty(), (report.errors.empty() ? "" : report.errors.front()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(passes < 100);
  const auto w =
      model::workload_from_json(client.get(kube::resources::gpu_workloads(), "default", "doomed").value_or_throw())
          .value_or_throw();
  CHECK(w.status.phase == model::Phase::failed);
  CHECK(w.status.retry_count == 2);
  CHECK_MESSAGE(
      w.status.message.find("Job doomed-2 failed (BackoffLimitExceeded); no retries left (2/2)") != std::string::npos,
      w.status.message);
  kube::ListOptions jl;
  jl.label_selector = "gpuorch.io/workload=doomed";
  CHECK(client.list_all(kube::resources::jobs(), "default", jl).value_or_throw()["items"].size() == 3);

  kube::ListOptions lo;
  lo.field_selector = "involvedObject.name=doomed";
  const auto events = client.list_all(kube::resources::events(), "default", lo).value_or_throw();
  std::map<std::string, int> counts;
  for (const auto& e : events["items"]) {
    if (e.value("reportingComponent", "") == k_controller_name) {
      CHECK(counts.emplace(e.value("reason", ""), e.value("count", 0)).second);  // one Event per reason
    }
  }
  CHECK(counts == std::map<std::string, int>{{"Failed", 1}, {"Retrying", 2}, {"Scheduled", 3}});
  CHECK(client.get(kube::resources::events(), "default", event_name("doomed", w.metadata.uid, "Retrying")).ok());
}

TEST_CASE("dry-run plans write nothing") {
  Sandbox sandbox({"--nodes", "1", "--gpus-per-node", "2"});
  auto& client = sandbox.client();
  REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload("w", 1, 0, "BestFit")).ok());
  const auto before = client.get(kube::resources::gpu_workloads(), "default", "w").value_or_throw();
  const Plan plan = reconcile(observe(sandbox, 1), {});
  CHECK(plan.actions.size() == 4);  // AddFinalizer, CreateJob, UpdateStatus, EmitEvent
  const auto after = client.get(kube::resources::gpu_workloads(), "default", "w").value_or_throw();
  CHECK(before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]);
}

namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the gpuorch binary with `args` against the sandbox's kubeconfig.
CliRun run_gpuorch(const Sandbox& sandbox, std::vector<std::string> args) {
  const std::string out = sandbox.dir() + "/out";
  const std::string err = sandbox.dir() + "/err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  args.insert(args.begin(), {GPUORCH_BINARY, "--kubeconfig", sandbox.kubeconfig()});
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::string pod_name = "POD_NAME=reconcile-test";
  char* envp[] = {pod_name.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, GPUORCH_BINARY, &actions, nullptr, argv.data(), envp) == 0);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out), slurp(err)};
}

json held_lease(const std::string& holder) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", "gpuorch-reconciler"}, {"namespace", "default"}}},
          {"spec",
           {{"holderIdentity", holder},
            {"leaseDurationSeconds", 60},
            {"acquireTime", model::format_time(std::chrono::system_clock::now(), model::TimePrecision::microseconds)},
            {"renewTime", model::format_time(std::chrono::system_clock::now(), model::TimePrecision::microseconds)}}}};
}

}  // namespace

TEST_CASE("gpuorch reconcile: a live Lease holder makes the run a no-op, otherwise it writes, releases and reports") {
  Sandbox sandbox({"--nodes", "1", "--gpus-per-node", "2"});
  auto& client = sandbox.client();
  REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload("w", 1, 0, "BestFit")).ok());
  REQUIRE(client.create(kube::resources::leases(), "default", held_lease("other-reconciler")).ok());

  const auto busy = run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "default"});
  CHECK(busy.exit_code == 0);
  CHECK(busy.err.find("held by other-reconciler") != std::string::npos);
  CHECK(client.get(kube::resources::jobs(), "default", "w-0").error().code() == ErrorCode::not_found);

  REQUIRE(client.remove(kube::resources::leases(), "default", "gpuorch-reconciler").ok());
  const std::string metrics = sandbox.dir() + "/gpuorch.prom";
  const auto run = run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "default", "--metrics-file", metrics});
  CHECK_MESSAGE(run.exit_code == 0, run.err);
  CHECK(client.get(kube::resources::jobs(), "default", "w-0").ok());
  const auto lease = client.get(kube::resources::leases(), "default", "gpuorch-reconciler").value_or_throw();
  CHECK(lease["spec"].value("holderIdentity", "x").empty());  // released at the end
  const std::string text = slurp(metrics);
  CHECK(text.find("gpuorch_workloads_scheduled_total 1\n") != std::string::npos);
  CHECK(text.find("gpuorch_workloads{phase=\"Scheduled\"} 1\n") != std::string::npos);
  CHECK(text.find("gpuorch_node_gpus{node=\"gpu-node-00\",state=\"free\"} 1\n") != std::string::npos);
  CHECK(text.find("gpuorch_reconcile_last_success_timestamp_seconds ") != std::string::npos);

  const auto missing = run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "nowhere"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("kubectl create namespace nowhere") != std::string::npos);
}

TEST_CASE("reconcile pushes its metrics to a real Pushgateway - and an unreachable one fails after the writes") {
  REQUIRE_MESSAGE(std::filesystem::exists(GPUORCH_PUSHGATEWAY),
                  GPUORCH_PUSHGATEWAY << " not found (Debian package prometheus-pushgateway)");
  Sandbox sandbox({"--nodes", "1", "--gpus-per-node", "4"});
  auto& client = sandbox.client();
  for (const char* name : {"w1", "w2"}) {
    REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload(name, 1, 0, "BestFit")).ok());
  }
  REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload("too-big", 8, 0, "BestFit")).ok());
  gpuorch::testing::PushgatewayProcess gateway(GPUORCH_PUSHGATEWAY);
  REQUIRE_MESSAGE(gateway.port() != 0, "the Pushgateway did not start");
  using gpuorch::testing::sample;
  // The one group: job="gpuorch-reconcile" and no instance (the Pushgateway shows instance="").
  const std::vector<std::string> group = {"job=\"gpuorch-reconcile\"", "instance=\"\""};
  const auto with = [&](std::vector<std::string> labels) {
    labels.insert(labels.end(), group.begin(), group.end());
    return labels;
  };
  const auto unix_now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  };

  const double before_first = std::floor(unix_now());
  const auto first =
      run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "default", "--pushgateway", gateway.url()});
  const double after_first = unix_now();
  CHECK_MESSAGE(first.exit_code == 0, first.err);
  std::string text = gateway.get("/metrics");
  CHECK(sample(text, "gpuorch_workloads_scheduled_total", with({})) == "2");
  CHECK(sample(text, "gpuorch_workload_retries_total", with({})) == "0");
  CHECK(sample(text, "gpuorch_workloads", with({"phase=\"Scheduled\""})) == "2");
  CHECK(sample(text, "gpuorch_workloads", with({"phase=\"Pending\""})) == "1");
  CHECK(sample(text, "gpuorch_node_gpus", with({"node=\"gpu-node-00\"", "state=\"used\""})) == "2");
  CHECK(sample(text, "gpuorch_node_gpus", with({"node=\"gpu-node-00\"", "state=\"free\""})) == "2");
  CHECK(sample(text, "gpuorch_reconcile_duration_seconds_count", with({})) == "1");
  const auto success = sample(text, "gpuorch_reconcile_last_success_timestamp_seconds", with({}));
  REQUIRE(success.has_value());
  const double first_success = std::stod(*success);
  CHECK(first_success >= before_first);
  CHECK(first_success <= after_first + 1);
  CHECK(sample(text, "push_failure_time_seconds", with({})) == "0");
  CHECK(text.find("instance=\"reconcile") == std::string::npos);  // no per-run group

  // The next run replaces the group: its counters are its own pass's (nothing new to place).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto second =
      run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "default", "--pushgateway", gateway.url()});
  CHECK_MESSAGE(second.exit_code == 0, second.err);
  text = gateway.get("/metrics");
  CHECK(sample(text, "gpuorch_workloads_scheduled_total", with({})) == "0");
  CHECK(sample(text, "gpuorch_reconcile_duration_seconds_count", with({})) == "1");
  const auto later = sample(text, "gpuorch_reconcile_last_success_timestamp_seconds", with({}));
  REQUIRE(later.has_value());
  CHECK(std::stod(*later) > first_success);

  // Nothing listening: the pass still writes to the cluster, then exits 1 naming the URL.
  REQUIRE(client.create(kube::resources::gpu_workloads(), "default", workload("w3", 1, 0, "BestFit")).ok());
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(gpuorch::testing::free_port());
  const auto unreachable =
      run_gpuorch(sandbox, {"reconcile", "--lease-namespace", "default", "--pushgateway", nowhere});
  CHECK(unreachable.exit_code == 1);
  CHECK_MESSAGE(unreachable.err.find("error: writing the metrics: ") != std::string::npos, unreachable.err);
  CHECK_MESSAGE(unreachable.err.find(nowhere) != std::string::npos, unreachable.err);
  CHECK(client.get(kube::resources::jobs(), "default", "w3-0").ok());
  const auto w3 = client.get(kube::resources::gpu_workloads(), "default", "w3").value_or_throw();
  CHECK(w3["status"].value("phase", "") == "Scheduled");
  const auto lease = client.get(kube::resources::leases(), "default", "gpuorch-reconciler").value_or_throw();
  CHECK(lease["spec"].value("holderIdentity", "x").empty());  // released before the push
}
