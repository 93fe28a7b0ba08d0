// The Lease lock against the real `gpuorch sandbox` process: candidates with
// their own clients race for the same Lease many times and exactly one wins
// each round (creation, takeover of an expired lease, and after a release).
#include <gpuorch/kube/lease.hpp>

#include <atomic>
#include <barrier>
#include <thread>

#include <doctest/doctest.h>

#include <gpuorch/model/time.hpp>

#include "integration/sandbox_process.hpp"

using namespace gpuorch::kube;
using gpuorch::testing::SandboxProcess;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr int k_candidates = 4;
constexpr int k_rounds = 60;

SandboxProcess& sandbox() {
  static SandboxProcess instance;
  return instance;
}

std::vector<std::shared_ptr<LeaseLock>> candidates(const std::string& lease, bool trust_record_times = false) {
  std::vector<std::shared_ptr<LeaseLock>> out;
  for (int i = 0; i < k_candidates; ++i) {
    LeaseLockConfig config;
    config.lease_namespace = "default";
    config.name = lease;
    config.identity = "candidate-" + std::to_string(i);
    config.trust_record_times = trust_record_times;
    out.push_back(LeaseLock::create(sandbox().client(), config).value_or_throw());
  }
  return out;
}

/// All candidates call try_acquire_or_renew at the same moment; returns who won.
std::vector<int> race(const std::vector<std::shared_ptr<LeaseLock>>& locks) {
  std::barrier start(static_cast<std::ptrdiff_t>(locks.size()));
  std::vector<int> won(locks.size(), 0);
  std::vector<std::string> errors(locks.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < locks.size(); ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto result = locks[i]->try_acquire_or_renew();
      if (!result.ok()) {
        errors[i] = result.error().message();
      } else {
        won[i] = *result ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& e : errors) {
    CHECK_MESSAGE(e.empty(), e);
  }
  std::vector<int> winners;
  for (std::size_t i = 0; i < won.size(); ++i) {
    if (won[i] != 0) {
      winners.push_back(static_cast<int>(i));
    }
  }
  return winners;
}

}  // namespace

TEST_CASE("lease: racing candidates create a missing lease - exactly one wins every round") {
  int rounds_with_one_winner = 0;
  for (int round = 0; round < k_rounds; ++round) {
    const std::string name = "race-create-" + std::to_string(round);
    auto locks = candidates(name);
    const auto winners = race(locks);
    REQUIRE(winners.size() == 1);
    ++rounds_with_one_winner;
    const auto lease = sandbox().client()->get(resources::leases(), "default", name).value_or_throw();
    CHECK(lease["spec"]["holderIdentity"] == "candidate-" + std::to_string(winners[0]));
    for (int i = 0; i < k_candidates; ++i) {
      CHECK(locks[static_cast<std::size_t>(i)]->is_leader() == (i == winners[0]));
    }
  }
  MESSAGE("create races: ", rounds_with_one_winner, "/", k_rounds, " rounds with exactly one winner");
}

TEST_CASE("lease: racing candidates take over an expired lease - exactly one wins every round") {
  auto client = sandbox().client();
  const auto stale =
      gpuorch::model::format_time(std::chrono::system_clock::now() - 1h, gpuorch::model::TimePrecision::microseconds);
  for (int round = 0; round < k_rounds; ++round) {
    const std::string name = "race-expired-" + std::to_string(round);
    REQUIRE(client
                ->create(resources::leases(), "default",
                         json{{"apiVersion", "coordination.k8s.io/v1"},
                              {"kind", "Lease"},
                              {"metadata", {{"name", name}, {"namespace", "default"}}},
                              {"spec",
                               {{"holderIdentity", "killed-run"},
                                {"leaseDurationSeconds", 15},
                                {"acquireTime", stale},
                                {"renewTime", stale},
                                {"leaseTransitions", 3}}}})
                .ok());
    auto locks = candidates(name, true);
    const auto winners = race(locks);
    REQUIRE(winners.size() == 1);
    const auto lease = client->get(resources::leases(), "default", name).value_or_throw();
    CHECK(lease["spec"]["holderIdentity"] == "candidate-" + std::to_string(winners[0]));
    CHECK(lease["spec"]["leaseTransitions"] == 4);
  }
}

TEST_CASE("lease: after a release the waiting candidates race - one wins - the holder renews - then times out") {
  const std::string name = "race-release";
  auto locks = candidates(name);
  REQUIRE(race(locks).size() == 1);
  for (int round = 0; round < k_rounds; ++round) {
    std::shared_ptr<LeaseLock> holder;
    for (const auto& l : locks) {
      if (l->is_leader()) {
        holder = l;
      }
    }
    REQUIRE(holder);
    REQUIRE(holder->try_acquire_or_renew().value());  // renewing stays with the holder
    REQUIRE(holder->release().ok());
    const auto winners = race(locks);
    REQUIRE(winners.size() == 1);
  }
  const auto lease = sandbox().client()->get(resources::leases(), "default", name).value_or_throw();
  CHECK(lease["spec"]["leaseTransitions"] == k_rounds);
}

TEST_CASE("lease: a renewer keeps the lease across its duration against a waiting candidate") {
  LeaseLockConfig config;
  config.lease_namespace = "default";
  config.name = "renewed";
  config.identity = "holder";
  config.lease_duration = 3s;
  config.renew_deadline = 2s;
  config.retry_period = 1s;
  auto holder = LeaseLock::create(sandbox().client(), config).value_or_throw();
  config.identity = "waiter";
  auto waiter = LeaseLock::create(sandbox().client(), config).value_or_throw();
  REQUIRE(holder->try_acquire_or_renew().value());
  {
    LeaseRenewer renewer(holder);
    // Twice the lease duration: the waiter must not get it while renewals go on.
    CHECK(!waiter->acquire({}, 6s).value());
    CHECK(!renewer.lost());
  }
  // The renewer released it at the end: the waiter gets it at once.
  CHECK(waiter->acquire({}, 1s).value());
}
