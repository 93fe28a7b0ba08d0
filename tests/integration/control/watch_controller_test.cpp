// The watch loop's controller against an in-process sandbox: many workers
// placing at once on a cluster too small for everything never double-book,
// pending work is woken when capacity frees, retries follow the policy, and
// stop() drains.
#include <gpuorch/control/job_builder.hpp>
#include <gpuorch/control/watch_controller.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/obs/http_server.hpp>
#include <gpuorch/obs/metrics.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <httplib.h>

#include "harness.hpp"
#include "watch_fixture.hpp"

using namespace gpuorch;
using namespace gpuorch::control;
using nlohmann::json;
using std::chrono::milliseconds;
using namespace gpuorch::watch_fixture;

namespace {

// Makes list and watch of `resources` fail, so their caches stop following
// the server (their current watches end within the informers' 1 s timeout).
void blind(chaos::Harness& h, const std::vector<std::string>& resources) {
  sandbox::FaultConfig faults;
  for (const auto& r : resources) {
    for (const char* verb : {"list", "watch"}) {
      sandbox::ErrorRule rule;
      rule.verb = verb;
      rule.resource = r;
      rule.code = 500;
      rule.rate = 1.0;
      faults.errors.push_back(rule);
    }
  }
  h.sandbox().faults().set(faults);
}

// Options for the tests that blind caches: short watches and backoffs, so the
// informers notice the faults and recover quickly once they are lifted.
WatchControllerOptions blinded_cache_options() {
  WatchControllerOptions options;
  options.workers = 2;
  options.informer.watch_timeout_seconds = 1;
  options.informer.backoff_base = milliseconds(50);
  options.informer.backoff_cap = milliseconds(200);
  return options;
}

// Starts `controller`, waits for its caches, then blinds `resources` and waits
// until their current watches have ended.
void start_blinded(WatchController& controller, chaos::Harness& h, const std::vector<std::string>& resources) {
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  blind(h, resources);
  std::this_thread::sleep_for(milliseconds(1500));
}

std::uint64_t requests_of(chaos::Harness& h, const std::string& what) {
  const auto all = h.sandbox().faults().requests();
  const auto it = all.find(what);
  return it == all.end() ? 0 : it->second;
}

bool all_terminal(chaos::Harness& h, std::size_t expected) {
  const auto all = h.workloads();
  if (all.size() != expected) {
    return false;
  }
  for (const auto& w : all) {
    const auto phase = w.value("status", json::object()).value("phase", "");
    if (phase != "Succeeded" && phase != "Failed") {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("WatchController runs every workload to the end without double booking") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {3, milliseconds(300), 0.25});
  auto client = client_of(*h);
  WatchControllerOptions options;
  options.workers = 8;
  options.seed = 5;
  obs::Registry registry;
  WatchController controller(client, options, &registry);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  CHECK(controller.synced());

  // 40 workloads of 1..8 GPUs at once on 24 GPUs: most wait for capacity.
  constexpr int k_count = 40;
  for (int i = 0; i < k_count; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("w-{:02}", i), 1 + (i * 3) % 8, 2)).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!all_terminal(*h, k_count) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  REQUIRE(all_terminal(*h, k_count));
  const auto stats = controller.stats();
  CHECK(controller.stop(std::chrono::seconds(10)));

  // The sandbox's scheduler checks every binding: a pod that did not fit
  // where its Job was pinned would be Unschedulable.
  const json cluster = h->sandbox().stats()["cluster"];
  CHECK(cluster.value("violations", -1) == 0);
  CHECK(cluster.value("unschedulable", -1) == 0);
  std::map<std::string, int> jobs_of;
  for (const auto& j : h->jobs()) {
    ++jobs_of[j["metadata"]["labels"].value("gpuorch.io/workload", "")];
  }
  int retried = 0;
  for (const auto& w : h->workloads()) {
    const auto name = w["metadata"].value("name", "");
    const auto status = w.value("status", json::object());
    const int retries = status.value("retryCount", 0);
    INFO(name << " " << status.dump());
    CHECK(jobs_of[name] == retries + 1);  // one Job per attempt, never two
    CHECK(retries <= 2);
    if (status.value("phase", "") == "Failed") {
      CHECK(retries == 2);
    }
    retried += retries > 0 ? 1 : 0;
  }
  CHECK(retried > 0);  // the failure rate made some retry
  CHECK(stats.jobs_created >= k_count);
  CHECK(stats.wakeups > 0);  // pending work started when capacity freed
  CHECK(stats.reservations == 0);
  const auto text = registry.expose();
  CHECK(text.find("gpuorch_workloads_scheduled_total") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_depth") != std::string::npos);
  CHECK(text.find("gpuorch_workqueue_work_duration_seconds_bucket") != std::string::npos);
}

TEST_CASE("WatchController resumes after cut watches and 410s and stop is prompt") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {2, milliseconds(300), 0});
  cut_watches(*h);
  auto client = client_of(*h);
  WatchControllerOptions options;
  options.workers = 2;
  options.informer.backoff_base = milliseconds(20);
  WatchController controller(client, options);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  for (int i = 0; i < 10; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("c-{}", i), 4, 0)).ok());
    std::this_thread::sleep_for(milliseconds(150));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!all_terminal(*h, 10) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  CHECK(all_terminal(*h, 10));
  const auto stats = controller.stats();
  CHECK(stats.watch_restarts + stats.relists > 0);
  CHECK(stats.relists > 0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(controller.stop(std::chrono::seconds(10)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(controller.stopped());
}

namespace {

// An endpoint server on a free loopback port with the controller's liveness
// check as /healthz and the registry as /metrics, as `reconcile --watch` serves them.
std::unique_ptr<obs::EndpointServer> serve(const WatchController& controller, const obs::Registry* registry) {
  obs::Endpoints endpoints;
  endpoints.metrics = registry;
  endpoints.serve_healthz = true;
  endpoints.healthz = {{"ping", [] { return Status(); }},
                       {"watch-loop", [&controller] { return controller.liveness(); }}};
  auto server = obs::EndpointServer::start(obs::ListenAddress{"127.0.0.1", 0}, std::move(endpoints), "test");
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message()));
  return std::move(*server);
}

// GET http://127.0.0.1:port/path: the status (0 when nothing answered) and the body.
std::pair<int, std::string> http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Get(path.c_str());
  if (!res) {
    return {0, ""};
  }
  return {res->status, res->body};
}

// The value of one sample line ("name{labels} value") of an exposition, -1 when absent.
double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    return -1;
  }
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("WatchController liveness fails while every worker is stuck and passes once they move again") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {2, milliseconds(300), 0});
  auto client = client_of(*h);
  // One worker that blocks in the "still the leader?" checkpoint before its
  // first write until released: a worker wedged in a request.
  std::atomic<bool> blocked{true};
  std::atomic<int> waiting{0};
  WatchControllerOptions options;
  options.workers = 1;
  options.stall_timeout = milliseconds(500);
  options.executor.checkpoint = [&]() -> Status {
    ++waiting;
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (blocked && std::chrono::steady_clock::now() < limit) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    --waiting;
    return Status();
  };
  WatchController controller(client, options);
  CHECK(controller.liveness().ok());  // not started
  auto server = serve(controller, nullptr);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  CHECK(controller.liveness().ok());

  REQUIRE(h->create_workload(workload("stuck", 1, 0)).ok());
  REQUIRE(eventually([&] { return waiting.load() == 1; }, std::chrono::seconds(20)));
  // Work arrives for the wedged worker: ready, untouched.
  REQUIRE(h->create_workload(workload("behind", 1, 0)).ok());
  REQUIRE(eventually([&] { return !controller.liveness().ok(); }, std::chrono::seconds(20)));
  const auto why = controller.liveness();
  REQUIRE_FALSE(why.ok());
  INFO(why.error().message());
  CHECK(why.error().message().find("ready but no worker took or finished one for") != std::string::npos);
  CHECK(why.error().message().find("limit 0.5s; 1 being processed") != std::string::npos);
  // Over HTTP as the kubelet's probe sees it: 500, the check's name and its reason.
  const auto [status, body] = http_get(server->port(), "/healthz");
  CHECK(status == 500);
  CHECK(body.find("[+]ping ok\n") != std::string::npos);
  CHECK(body.find("[-]watch-loop failed: 1 workload key(s) ready but no worker took or finished one for ") !=
        std::string::npos);
  CHECK(body.find("healthz check failed") != std::string::npos);

  blocked = false;
  CHECK(eventually([&] { return controller.liveness().ok(); }, std::chrono::seconds(20)));
  CHECK(http_get(server->port(), "/healthz") == std::pair<int, std::string>{200, "ok"});
  CHECK(eventually([&] { return all_terminal(*h, 2); }, std::chrono::seconds(30)));
  CHECK(controller.liveness().ok());
  CHECK(controller.stop(std::chrono::seconds(10)));
  CHECK(controller.liveness().ok());  // stopping is not a failure
}

TEST_CASE("WatchController as a warm standby fills its caches and writes nothing until its workers start") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {2, milliseconds(300), 0});
  auto client = client_of(*h);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("early-{}", i), 2, 0)).ok());
  }
  WatchControllerOptions options;
  options.workers = 2;
  options.stall_timeout = milliseconds(300);
  obs::Registry registry;
  WatchController controller(client, options, &registry);
  controller.start(false);
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("late-{}", i), 2, 0)).ok());
  }
  // Long past the stall timeout with keys queued: a standby is alive, and idle.
  std::this_thread::sleep_for(milliseconds(1200));
  CHECK(controller.liveness().ok());
  CHECK_FALSE(controller.workers_started());
  CHECK(controller.stats().reconciles == 0);
  CHECK(controller.queue_depth() == 6);
  CHECK(h->jobs().empty());
  for (const auto& w : h->workloads()) {
    CHECK_FALSE(w["metadata"].contains("finalizers"));  // not even the finalizer went out
  }
  const auto text = registry.expose();
  for (const auto* resource : {"gpuworkloads", "jobs", "pods", "nodes"}) {
    CHECK(sample(text, fmt::format("gpuorch_informer_synced{{resource=\"{}\"}}", resource)) == 1);
  }

  // Leading now: every workload seen while standing by is reconciled, from the warm caches.
  const auto lists_before = h->sandbox().faults().requests();
  controller.start_workers();
  CHECK(eventually([&] { return all_terminal(*h, 6); }, std::chrono::seconds(60)));
  CHECK(controller.workers_started());
  const auto lists_after = h->sandbox().faults().requests();
  for (const auto* list : {"list gpuworkloads", "list jobs", "list pods", "list nodes"}) {
    const auto count = [&](const auto& m) { return m.contains(list) ? m.at(list) : 0; };
    CHECK_MESSAGE(count(lists_after) == count(lists_before), list);  // no re-list on taking over
  }
  CHECK(controller.stop(std::chrono::seconds(10)));
}

TEST_CASE("WatchController's queue and watch metrics move during a run") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {2, milliseconds(300), 0});
  cut_watches(*h);
  auto client = client_of(*h);
  WatchControllerOptions options;
  options.workers = 2;
  options.informer.backoff_base = milliseconds(20);
  // The first two write batches fail: their keys go back with backoff (retries).
  std::atomic<int> refusals{2};
  options.executor.checkpoint = [&]() -> Status {
    if (refusals.fetch_sub(1) > 0) {
      return Error(ErrorCode::conflict, "refused by the test");
    }
    return Status();
  };
  obs::Registry registry;
  WatchController controller(client, options, &registry);
  auto server = serve(controller, &registry);
  const auto before = registry.expose();
  CHECK(sample(before, "gpuorch_workqueue_adds_total") == 0);
  CHECK(sample(before, "gpuorch_informer_synced{resource=\"nodes\"}") == 0);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  for (int i = 0; i < 6; ++i) {
    REQUIRE(h->create_workload(workload(fmt::format("m-{}", i), 2, 0)).ok());
    std::this_thread::sleep_for(milliseconds(150));
  }
  CHECK(eventually([&] { return all_terminal(*h, 6); }, std::chrono::seconds(60)));
  // Gauges and watch counters are refreshed by the ticker once a second.
  std::this_thread::sleep_for(milliseconds(1200));
  const auto scraped = http_get(server->port(), "/metrics");
  REQUIRE(scraped.first == 200);
  const std::string& text = scraped.second;
  INFO(text);
  CHECK(sample(text, "gpuorch_workqueue_adds_total") >= 6);
  CHECK(sample(text, "gpuorch_workqueue_retries_total") >= 2);
  CHECK(sample(text, "gpuorch_workqueue_queue_duration_seconds_count") >= 6);
  CHECK(sample(text, "gpuorch_workqueue_work_duration_seconds_count") >= 6);
  CHECK(sample(text, "gpuorch_workqueue_depth") >= 0);
  double reconnects = 0;
  double relists = 0;
  for (const auto* resource : {"gpuworkloads", "jobs", "pods", "nodes"}) {
    CHECK(sample(text, fmt::format("gpuorch_informer_synced{{resource=\"{}\"}}", resource)) == 1);
    reconnects += sample(text, fmt::format("gpuorch_watch_reconnects_total{{resource=\"{}\"}}", resource));
    relists += sample(text, fmt::format("gpuorch_watch_relists_total{{resource=\"{}\"}}", resource));
  }
  CHECK(reconnects > 0);
  CHECK(relists > 0);
  const auto stats = controller.stats();
  CHECK(reconnects + relists <= static_cast<double>(stats.watch_restarts + stats.relists));
  CHECK(text.find("gpuorch_watch_restarts_total") == std::string::npos);  // one set of names
  CHECK(controller.stop(std::chrono::seconds(10)));
}

namespace {

// Real time, except that sleep_for() blocks while paused: the ticker (which
// waits between ticks through the client's clock) stops ticking.
class PausableClock final : public kube::Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  bool sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) override {
    while (paused && !stop.stop_requested()) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return m_real.sleep_for(duration, stop);
  }
  std::atomic<bool> paused{false};

 private:
  kube::SystemClock m_real;
};

}  // namespace

TEST_CASE("WatchController liveness fails while its ticker does not tick and passes once it does") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {2, milliseconds(300), 0});
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = h->kubeconfig_path();
  auto config = kube::load_rest_config(overrides, kube::Environment({}), kube::RealFileSystem());
  REQUIRE(config.ok());
  auto clock = std::make_shared<PausableClock>();
  kube::ClientDeps deps;
  deps.clock = clock;
  kube::ClientOptions co;
  co.qps = 0;
  auto client = kube::Client::create(*config, co, kube::Environment({}), deps);
  REQUIRE(client.ok());
  WatchControllerOptions options;
  options.workers = 1;
  options.stall_timeout = milliseconds(500);
  WatchController controller(*client, options);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));
  REQUIRE(eventually([&] { return controller.workers_started(); }, std::chrono::seconds(20)));
  CHECK(controller.liveness().ok());

  clock->paused = true;
  REQUIRE(eventually([&] { return !controller.liveness().ok(); }, std::chrono::seconds(20)));
  const auto why = controller.liveness();
  REQUIRE_FALSE(why.ok());
  INFO(why.error().message());
  CHECK(why.error().message().find("the ticker (wake-ups, resync, start-up) has not run for") != std::string::npos);
  CHECK(why.error().message().find("(limit 0.5s)") != std::string::npos);

  clock->paused = false;
  CHECK(eventually([&] { return controller.liveness().ok(); }, std::chrono::seconds(20)));
  CHECK(controller.stop(std::chrono::seconds(10)));
}

TEST_CASE("WatchController strict queueing: nothing starts behind a pending workload that does not fit") {
  chaos::TempDir dir;
  // One node of 8 GPUs; Jobs run 4 s.
  auto h = start_sandbox(dir, {1, milliseconds(4000), 0});
  auto client = client_of(*h);
  WatchControllerOptions options;
  options.workers = 4;
  options.reconcile.queueing = sched::QueueingPolicy::strict;
  WatchController controller(client, options);
  controller.start();
  REQUIRE(controller.wait_for_sync(std::chrono::seconds(20)));

  // hog takes 4 GPUs; high (priority 10) needs all 8 and waits for it.
  REQUIRE(h->create_workload(workload("hog", 4, 0)).ok());
  REQUIRE(eventually([&] { return jobs_of(*h, "hog").size() == 1; }, milliseconds(10000)));
  REQUIRE(h->create_workload(workload("high", 8, 0, 1, 10)).ok());
  REQUIRE(eventually(
      [&] {
        const auto w = stored(*h, "high");
        return w.is_object() && !w.value("status", json::object()).value("message", "").empty();
      },
      milliseconds(10000)));
  CHECK(jobs_of(*h, "high").empty());
  // low would fit beside hog, but high is ahead of it in queue order.
  REQUIRE(h->create_workload(workload("low", 2, 0)).ok());
  REQUIRE(eventually(
      [&] {
        const auto w = stored(*h, "low");
        return w.is_object() && !w.value("status", json::object()).value("message", "").empty();
      },
      milliseconds(10000)));
  const auto low = stored(*h, "low");
  INFO(low.dump());
  CHECK(low["status"].value("phase", "") == "Pending");
  CHECK(low["status"].value("message", "").find("waiting behind ml/high (strict queueing)") != std::string::npos);
  CHECK(jobs_of(*h, "low").empty());

  // Once hog finishes, high starts, and low only after it.
  REQUIRE(eventually([&] { return all_terminal(*h, 3); }, milliseconds(30000)));
  const auto high_jobs = jobs_of(*h, "high");
  const auto low_jobs = jobs_of(*h, "low");
  REQUIRE(high_jobs.size() == 1);
  REQUIRE(low_jobs.size() == 1);
  const auto created = [](const json& j) { return j["metadata"].value("creationTimestamp", ""); };
  CHECK(created(high_jobs.front()) <= created(low_jobs.front()));
  CHECK(controller.stop(std::chrono::seconds(10)));
  CHECK(h->sandbox().stats()["cluster"].value("violations", -1) == 0);
}

TEST_CASE("WatchController keeps the GPUs of a Job it created while the Job cache lags") {
  chaos::TempDir dir;
  // One node of 8 GPUs; the first Job runs long.
  auto h = start_sandbox(dir, {1, milliseconds(60000), 0});
  auto client = client_of(*h);
  WatchControllerOptions options = blinded_cache_options();
  options.reservation_ttl = milliseconds(200);
  WatchController controller(client, options);
  // Neither the Job nor its pods reach the caches: only the ledger knows.
  start_blinded(controller, *h, {"jobs", "pods"});

  REQUIRE(h->create_workload(workload("first", 8, 0)).ok());
  REQUIRE(eventually([&] { return phase_of(*h, "first") == "Scheduled"; }, milliseconds(10000)));
  const auto gets_before = requests_of(*h, "get jobs");
  // Several checks of the ledger later (its Job exists: still booked), a
  // second workload of 8 GPUs must not get the same GPUs.
  std::this_thread::sleep_for(milliseconds(1000));
  CHECK(requests_of(*h, "get jobs") > gets_before);  // the ledger asked the server, not the lagging cache
  REQUIRE(h->create_workload(workload("second", 8, 0)).ok());
  REQUIRE(eventually(
      [&] {
        const auto w = stored(*h, "second");
        return w.is_object() && !w.value("status", json::object()).value("message", "").empty();
      },
      milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(500));
  CHECK(phase_of(*h, "second") == "Pending");
  CHECK(jobs_of(*h, "second").empty());
  CHECK(jobs_of(*h, "first").size() == 1);
  CHECK(phase_of(*h, "first") == "Scheduled");
  CHECK(stored(*h, "first")["status"].value("retryCount", 0) == 0);
  CHECK(controller.stats().reservations == 1);

  // The caches catch up: the Job replaces its reservation.
  h->sandbox().faults().set(sandbox::FaultConfig{});
  CHECK(eventually([&] { return controller.stats().reservations == 0; }, milliseconds(10000)));
  CHECK(controller.stop(std::chrono::seconds(10)));
}

TEST_CASE("WatchController asks the server about a Job it did not create that the cache lacks") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {1, milliseconds(60000), 0});
  auto client = client_of(*h);
  WatchController controller(client, blinded_cache_options());
  start_blinded(controller, *h, {"jobs", "gpuworkloads"});

  // As another instance (e.g. the leader before a takeover) left it: the
  // workload Scheduled with Job other-0, which exists on the server only.
  auto nodes = client->list(kube::resources::nodes(), "");
  REQUIRE(nodes.ok());
  const auto node = (*nodes)["items"][0]["metadata"].value("name", "");
  json w = workload("other", 2, 3);
  w["metadata"]["finalizers"] = json::array({"gpuorch.io/cleanup"});
  w["status"] = {{"phase", "Scheduled"}, {"jobName", "other-0"}, {"assignedNode", node}, {"retryCount", 0}};
  REQUIRE(h->create_workload_in_store(w).ok());
  auto created = stored(*h, "other");
  REQUIRE(created.is_object());
  auto model = model::workload_from_json(created);
  REQUIRE(model.ok());
  REQUIRE(client->create(kube::resources::jobs(), "ml", build_job(*model, node, 0, JobOptions{})).ok());
  const auto gets_before = requests_of(*h, "get jobs");

  // The workload cache catches up, the Job cache does not.
  blind(*h, {"jobs"});
  REQUIRE(eventually([&] { return requests_of(*h, "get jobs") > gets_before; }, milliseconds(10000)));
  std::this_thread::sleep_for(milliseconds(1000));
  const auto after = stored(*h, "other");
  INFO(after.dump());
  CHECK(after["status"].value("retryCount", -1) == 0);
  CHECK(after["status"].value("jobName", "") == "other-0");
  CHECK(jobs_of(*h, "other").size() == 1);
  h->sandbox().faults().set(sandbox::FaultConfig{});
  CHECK(controller.stop(std::chrono::seconds(10)));
}
