// The watch loop's scheduling of work against an in-process sandbox: a retry
// waits for its scheduled time, freed capacity wakes only the pending
// workloads that could fit, the periodic resync looks again without events,
// and stop() lets the reconcile in flight finish while nothing new starts.
#include <gpuorch/control/watch_controller.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/time.hpp>
#include <gpuorch/sched/queue.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "harness.hpp"
#include "watch_fixture.hpp"

using namespace gpuorch;
using namespace gpuorch::control;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace gpuorch::watch_fixture;

TEST_CASE("WatchController retries a failed Job at its scheduled retry time, not before and not much after") {
  chaos::TempDir dir;
  // Every pod fails: the first attempt ends Failed and the policy schedules a retry.
  auto h = start_sandbox(dir, {1, milliseconds(200), 1.0, 3});
  WatchControllerOptions options;
  options.workers = 2;
  WatchController controller(client_of(*h), options);
  controller.start();
  REQUIRE(controller.wait_for_sync(seconds(20)));
  REQUIRE(h->create_workload(workload("flaky", 1, 1, 3)).ok());

  // The failure is recorded with the retry's time in status.nextRetryTime.
  std::string next_retry;
  REQUIRE(eventually(
      [&] {
        next_retry = stored(*h, "flaky").value("status", json::object()).value("nextRetryTime", "");
        return !next_retry.empty();
      },
      seconds(30)));
  const auto at = model::parse_time(next_retry);
  REQUIRE(at.ok());
  const auto first_jobs = jobs_of(*h, "flaky");
  REQUIRE(first_jobs.size() == 1);
  const auto first = first_jobs.front()["metadata"].value("name", "");
  // The retry's Job: any Job of the workload other than the first attempt's.
  const auto retry_job = [&]() -> std::optional<json> {
    for (auto& j : jobs_of(*h, "flaky")) {
      if (j["metadata"].value("name", "") != first) {
        return j;
      }
    }
    return std::nullopt;
  };
  // Nothing may happen before the retry time: poll until then, a second Job is early.
  while (std::chrono::system_clock::now() < *at - milliseconds(100)) {
    INFO("a retry Job exists before " << next_retry);
    REQUIRE_FALSE(retry_job().has_value());
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Then the retry's Job follows promptly: the delayed add fires at its time.
  std::optional<json> retried;
  REQUIRE(eventually(
      [&] {
        retried = retry_job();
        return retried.has_value();
      },
      seconds(20)));
  const auto seen = std::chrono::system_clock::now();
  CHECK(seen - *at < seconds(5));  // bounded: the plan's requeue time, not a resync or a 10 s recheck
  const auto created = model::parse_time((*retried)["metadata"].value("creationTimestamp", ""));
  REQUIRE(created.ok());
  CHECK(*created >= *at);  // whole seconds, like nextRetryTime: never early
  CHECK(stored(*h, "flaky")["status"].value("retryCount", 0) == 1);
  CHECK(controller.stats().resyncs == 0);
  CHECK(controller.stop(seconds(10)));
}

TEST_CASE("WatchController wakes only the pending workloads that fit in the capacity that freed") {
  chaos::TempDir dir;
  // One node of 8 GPUs; pods run far longer than the test.
  auto h = start_sandbox(dir, {1, std::chrono::minutes(10), 0, 3});
  WatchControllerOptions options;
  options.workers = 2;
  // Only a wake-up (no periodic re-check of unschedulable work, no resync) can start a pending workload.
  options.reconcile.unschedulable_interval = std::chrono::hours(1);
  options.resync_period = milliseconds(0);
  options.reconcile.queueing = sched::QueueingPolicy::best_effort;  // the 2-GPU one may pass the 8-GPU ones
  WatchController controller(client_of(*h), options);
  controller.start();
  REQUIRE(controller.wait_for_sync(seconds(20)));
  REQUIRE(h->create_workload(workload("big-run", 6, 0)).ok());
  REQUIRE(h->create_workload(workload("small-run", 2, 0)).ok());
  REQUIRE(eventually([&] { return phase_of(*h, "big-run") == "Running" && phase_of(*h, "small-run") == "Running"; },
                     seconds(30)));
  // The 8-GPU ones come first in queue order (higher priority).
  REQUIRE(h->create_workload(workload("wait-8a", 8, 0, 1, 10)).ok());
  REQUIRE(h->create_workload(workload("wait-8b", 8, 0, 1, 10)).ok());
  REQUIRE(h->create_workload(workload("wait-2", 2, 0)).ok());
  REQUIRE(eventually(
      [&] {
        for (const auto* name : {"wait-8a", "wait-8b", "wait-2"}) {
          const auto status = stored(*h, name).value("status", json::object());
          if (status.value("phase", "") != "Pending" || status.value("message", "").empty()) {
            return false;
          }
        }
        return true;
      },
      seconds(30)));
  CHECK(h->jobs().size() == 2);
  const auto wakeups_before = controller.stats().wakeups;

  // 2 GPUs free: the 2-GPU workload is woken and placed; the 8-GPU ones are not woken.
  REQUIRE(h->delete_workload("ml", "small-run").ok());
  REQUIRE(eventually([&] { return jobs_of(*h, "wait-2").size() == 1; }, seconds(30)));
  CHECK(eventually([&] { return phase_of(*h, "wait-2") == "Running"; }, seconds(30)));
  // Later events of the deletion (the pod, the Job) could wake again: let them arrive.
  CHECK(eventually([&] { return jobs_of(*h, "small-run").empty(); }, seconds(30)));
  std::this_thread::sleep_for(milliseconds(500));
  const auto stats = controller.stats();
  const auto woken = stats.wakeups - wakeups_before;
  INFO("wakeups " << woken);
  CHECK(woken >= 1);
  // Had an 8-GPU workload been woken (they come first in queue order), the
  // count would be at least 2 in the tick that freed the GPUs plus the 2-GPU one.
  CHECK(woken <= 2);
  CHECK(jobs_of(*h, "wait-8a").empty());
  CHECK(jobs_of(*h, "wait-8b").empty());
  CHECK(phase_of(*h, "wait-8a") == "Pending");
  CHECK(phase_of(*h, "wait-8b") == "Pending");
  CHECK(controller.stop(seconds(10)));
}

TEST_CASE("WatchController's periodic resync reconciles workloads again when no event arrives") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {1, milliseconds(200), 0, 3});
  auto client = client_of(*h);
  REQUIRE(h->create_workload(workload("done", 1, 0)).ok());
  WatchControllerOptions options;
  options.workers = 1;
  WatchController once(client, options);  // the default resync (10 minutes): not within this test
  once.start();
  REQUIRE(once.wait_for_sync(seconds(20)));
  REQUIRE(eventually([&] { return phase_of(*h, "done") == "Succeeded"; }, seconds(30)));
  // Quiet: the first loop's count stops moving (the last events of the run arrived).
  REQUIRE(eventually(
      [&] {
        const auto n = once.stats().reconciles;
        std::this_thread::sleep_for(milliseconds(700));
        return once.stats().reconciles == n && once.queue_depth() == 0;
      },
      seconds(30)));

  // A second loop with a short resync over the same, now quiet, cluster.
  options.resync_period = milliseconds(300);
  WatchController resyncing(client, options);
  resyncing.start();
  REQUIRE(resyncing.wait_for_sync(seconds(20)));
  REQUIRE(eventually([&] { return resyncing.stats().reconciles >= 1; }, seconds(20)));  // the start-up pass
  const auto quiet_once = once.stats().reconciles;
  const auto before = resyncing.stats();
  REQUIRE(eventually([&] { return resyncing.stats().resyncs >= before.resyncs + 3; }, seconds(30)));
  const auto after = resyncing.stats();
  // Each resync queued the one (terminal, unchanged) workload again.
  CHECK(after.reconciles >= before.reconciles + 2);
  CHECK(after.writes == before.writes);  // looked again, nothing to change
  CHECK(once.stats().resyncs == 0);
  CHECK(once.stats().reconciles == quiet_once);  // no event arrived meanwhile
  CHECK(resyncing.stop(seconds(10)));
  CHECK(once.stop(seconds(10)));
}

TEST_CASE("WatchController stop lets the reconcile in flight finish its writes and starts nothing new") {
  chaos::TempDir dir;
  auto h = start_sandbox(dir, {1, std::chrono::minutes(10), 0, 3});
  std::atomic<bool> blocked{true};
  std::atomic<int> waiting{0};
  std::atomic<int> checkpoints{0};
  WatchControllerOptions options;
  options.workers = 1;
  // The worker pauses in the "still the leader?" checkpoint before its writes.
  options.executor.checkpoint = [&]() -> Status {
    ++checkpoints;
    ++waiting;
    const auto limit = std::chrono::steady_clock::now() + seconds(60);
    while (blocked && std::chrono::steady_clock::now() < limit) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    --waiting;
    return Status();
  };
  WatchController controller(client_of(*h), options);
  controller.start();
  REQUIRE(controller.wait_for_sync(seconds(20)));
  REQUIRE(h->create_workload(workload("in-flight", 2, 0)).ok());
  REQUIRE(eventually([&] { return waiting.load() == 1; }, seconds(20)));
  REQUIRE(h->create_workload(workload("queued", 2, 0)).ok());
  REQUIRE(eventually([&] { return controller.queue_depth() >= 1; }, seconds(20)));

  auto stopped = std::async(std::launch::async, [&] { return controller.stop(seconds(60)); });
  REQUIRE(eventually([&] { return controller.stopped(); }, seconds(10)));
  // stop() cannot return while the worker is inside its reconcile.
  CHECK(stopped.wait_for(milliseconds(300)) == std::future_status::timeout);
  CHECK(waiting.load() == 1);
  blocked = false;
  REQUIRE(stopped.wait_for(seconds(30)) == std::future_status::ready);
  CHECK(stopped.get());  // drained within the grace period
  const auto reached = checkpoints.load();

  // The in-flight reconcile completed its writes: finalizer, Job, status.
  const auto w = stored(*h, "in-flight");
  REQUIRE(w.is_object());
  CHECK(w["metadata"].contains("finalizers"));
  CHECK(jobs_of(*h, "in-flight").size() == 1);
  CHECK(w.value("status", json::object()).value("phase", "") != "");
  // The queued one was never started: no write, no Job.
  const auto q = stored(*h, "queued");
  REQUIRE(q.is_object());
  CHECK_FALSE(q["metadata"].contains("finalizers"));
  CHECK(q.value("status", json::object()).value("phase", "").empty());
  CHECK(jobs_of(*h, "queued").empty());
  CHECK(controller.stats().reconciles == 1);
  std::this_thread::sleep_for(milliseconds(300));
  CHECK(checkpoints.load() == reached);  // nothing runs after stop() returned
}
