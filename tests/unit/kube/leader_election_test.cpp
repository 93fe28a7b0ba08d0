#include <gpuorch/kube/leader_election.hpp>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/http.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/sandbox/sandbox.hpp>

#include "unit/kube/fakes.hpp"

using namespace gpuorch;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using namespace std::chrono_literals;

namespace {

/// A clock that only moves when the test advances it; sleepers wake when the
/// time they wait for is reached (or their stop token is requested), so
/// candidates run against the real sandbox on a time line the test controls.
/// advance() waits (a little real time at most) until the threads it woke
/// have gone back to sleep, so a slow HTTP round trip on a loaded machine does
/// not let clock time pass in the middle of it.
class ManualClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(m_mutex);
    return m_wall;
  }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    std::lock_guard lock(m_mutex);
    return m_mono;
  }
  bool sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) override {
    std::unique_lock lock(m_mutex);
    const auto self = std::this_thread::get_id();
    m_woken.erase(self);
    const auto until = m_mono + duration;
    m_sleepers[self] = until;
    m_cv.notify_all();
    std::stop_callback wake(stop, [this] {
      std::lock_guard inner(m_mutex);
      m_cv.notify_all();
    });
    m_cv.wait(lock, [&] { return m_mono >= until || stop.stop_requested(); });
    m_sleepers.erase(self);
    return !stop.stop_requested();
  }
  void advance(std::chrono::nanoseconds d) {
    std::unique_lock lock(m_mutex);
    m_mono += d;
    m_wall += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    for (const auto& [thread, until] : m_sleepers) {
      if (until <= m_mono) {
        m_woken.insert(thread);
      }
    }
    m_cv.notify_all();
    // A thread that exits instead of sleeping again is given up on after 500 ms.
    m_cv.wait_for(lock, 500ms, [&] { return m_woken.empty(); });
    m_woken.clear();
  }
  /// Waits (real time, up to `timeout`) until at least `n` threads sleep on this clock.
  bool wait_for_sleepers(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [&] { return m_sleepers.size() >= n; });
  }

 private:
  mutable std::mutex m_mutex;
  std::condition_variable_any m_cv;
  std::chrono::system_clock::time_point m_wall{std::chrono::seconds(1'800'000'000)};
  std::chrono::steady_clock::time_point m_mono{std::chrono::seconds(1000)};
  std::map<std::thread::id, std::chrono::steady_clock::time_point> m_sleepers;
  std::set<std::thread::id> m_woken;
};

/// Sends through a real transport until cut; then every request fails as if
/// the process had died or lost its network.
class CuttableTransport final : public HttpTransport {
 public:
  explicit CuttableTransport(std::shared_ptr<HttpTransport> inner) : m_inner(std::move(inner)) {}
  Result<HttpResponse> send(const HttpRequest& request) override {
    if (cut) {
      return Error(ErrorCode::transport, "connection refused (cut by the test)");
    }
    return m_inner->send(request);
  }
  std::atomic<bool> cut{false};

 private:
  std::shared_ptr<HttpTransport> m_inner;
};

/// An in-process sandbox and candidates with their own clients.
struct Cluster {
  sandbox::Sandbox sandbox{[] {
    sandbox::SandboxOptions options;
    options.cluster.pools.clear();
    return options;
  }()};
  RestConfig config;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();

  std::string kubeconfig_path;

  Cluster() {
    REQUIRE(sandbox.start().ok());
    char path[] = "/tmp/gpuorch-leader-test-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    kubeconfig_path = path;
    const std::string text = sandbox.kubeconfig();
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    ConfigOverrides overrides;
    overrides.kubeconfig = kubeconfig_path;
    config = load_rest_config(overrides, Environment({}), RealFileSystem()).value_or_throw();
  }
  ~Cluster() {
    (void)sandbox.stop();
    ::unlink(kubeconfig_path.c_str());
  }

  struct Candidate {
    std::shared_ptr<CuttableTransport> transport;
    std::shared_ptr<Client> client;
    std::shared_ptr<LeaseLock> lock;
  };
  Candidate candidate(const std::string& identity, std::chrono::seconds lease = 15s, std::chrono::seconds renew = 10s,
                      std::chrono::seconds retry = 2s, const std::string& lease_namespace = "default") {
    TransportConfig transport_config;
    transport_config.ca_pem = config.ca_pem;
    Candidate c;
    c.transport =
        std::make_shared<CuttableTransport>(std::make_shared<CurlTransport>(transport_config, Environment({})));
    ClientOptions options;
    options.qps = 0;
    options.max_retries = 0;
    ClientDeps deps;
    deps.transport = c.transport;
    c.client = Client::create(config, options, Environment({}), deps).value_or_throw();
    LeaseLockConfig lock_config;
    lock_config.lease_namespace = lease_namespace;
    lock_config.name = "gpuorch-reconciler";
    lock_config.identity = identity;
    lock_config.lease_duration = lease;
    lock_config.renew_deadline = renew;
    lock_config.retry_period = retry;
    c.lock = LeaseLock::create(c.client, lock_config, clock).value_or_throw();
    return c;
  }
  std::string holder() const {
    auto lease = sandbox_lease();
    return lease.value("spec", nlohmann::json::object()).value("holderIdentity", std::string());
  }
  nlohmann::json sandbox_lease() const {
    auto client = Client::create(config, {}, Environment({})).value_or_throw();
    auto got = client->get(resources::leases(), "default", "gpuorch-reconciler");
    return got.ok() ? *got : nlohmann::json::object();
  }
};

/// What one elector did, in the manual clock's time.
struct Timeline {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> events;
  void add(const std::string& what, const Clock& clock) {
    std::lock_guard lock(mutex);
    events.emplace_back(what, clock.monotonic());
  }
  std::optional<std::chrono::steady_clock::time_point> at(const std::string& what) {
    std::lock_guard lock(mutex);
    for (const auto& [name, when] : events) {
      if (name == what) {
        return when;
      }
    }
    return std::nullopt;
  }
};

/// Advances the clock in small steps until `done` or `limit` of clock time
/// has passed. Before each step it waits for some thread to sleep on the
/// clock (every candidate sleeps between its Lease requests), so clock time
/// does not pass while a request is on its way.
template <typename Pred>
bool advance_until(ManualClock& clock, std::chrono::milliseconds step, std::chrono::seconds limit, Pred done) {
  const auto end = clock.monotonic() + limit;
  while (!done()) {
    if (clock.monotonic() >= end) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
    (void)clock.wait_for_sleepers(1, 2000ms);
    if (done()) {
      break;
    }
    clock.advance(step);
  }
  return true;
}

}  // namespace

TEST_CASE("leader election: one candidate leads at once and releases on stop") {
  Cluster cluster;
  auto a = cluster.candidate("a");
  Timeline timeline;
  LeaderCallbacks callbacks;
  callbacks.on_started_leading = [&] { timeline.add("started", *cluster.clock); };
  callbacks.on_stopped_leading = [&](const std::string& why) { timeline.add("stopped: " + why, *cluster.clock); };
  LeaderElector elector(a.lock, callbacks, std::make_shared<FixedRandom>(0));
  std::stop_source stop;
  std::atomic<bool> working{false};
  Status result = Error(ErrorCode::internal, "not run");
  std::thread runner([&] {
    result = elector.run(stop.get_token(), [&](std::stop_token token) {
      working = true;
      while (!token.stop_requested()) {
        std::this_thread::sleep_for(1ms);
      }
      working = false;
    });
  });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return working.load(); }));
  CHECK(elector.is_leader());
  CHECK(elector.leader() == "a");
  CHECK(cluster.holder() == "a");
  // It keeps the lease through many renewals (30 s of clock time).
  advance_until(*cluster.clock, 100ms, 30s, [] { return false; });
  CHECK(working);
  CHECK(cluster.holder() == "a");
  const auto lease = cluster.sandbox_lease();
  CHECK(lease["spec"]["leaseDurationSeconds"] == 15);
  stop.request_stop();
  runner.join();
  CHECK(result.ok());
  CHECK_FALSE(working);
  CHECK_FALSE(elector.is_leader());
  CHECK(cluster.holder() == "");
  CHECK(timeline.at("stopped: released lease default/gpuorch-reconciler").has_value());
}

TEST_CASE("leader election: a standby waits - the leader dies - the standby takes over after the lease duration") {
  Cluster cluster;
  auto a = cluster.candidate("a");
  auto b = cluster.candidate("b");
  Timeline timeline;
  auto callbacks_for = [&](const std::string& who) {
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [&, who] { timeline.add(who + " started", *cluster.clock); };
    callbacks.on_stopped_leading = [&, who](const std::string&) { timeline.add(who + " stopped", *cluster.clock); };
    callbacks.on_new_leader = [&, who](const std::string& leader) {
      timeline.add(who + " sees " + (leader.empty() ? "nobody" : leader), *cluster.clock);
    };
    return callbacks;
  };
  LeaderElector ea(a.lock, callbacks_for("a"), std::make_shared<FixedRandom>(0));
  LeaderElector eb(b.lock, callbacks_for("b"), std::make_shared<FixedRandom>(0));
  std::stop_source stop;
  std::atomic<int> leaders{0};
  std::atomic<int> max_leaders{0};
  const auto work = [&](std::stop_token token) {
    const int now = ++leaders;
    int seen = max_leaders.load();
    while (now > seen && !max_leaders.compare_exchange_weak(seen, now)) {
    }
    while (!token.stop_requested()) {
      std::this_thread::sleep_for(1ms);
    }
    --leaders;
  };
  Status ra = Error(ErrorCode::internal, "not run");
  Status rb = Error(ErrorCode::internal, "not run");
  std::thread ta([&] { ra = ea.run(stop.get_token(), work); });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return ea.is_leader(); }));
  std::thread tb([&] { rb = eb.run(stop.get_token(), work); });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return timeline.at("b sees a").has_value(); }));
  // b stands by through many of a's renewals.
  advance_until(*cluster.clock, 100ms, 30s, [] { return false; });
  CHECK(ea.is_leader());
  CHECK_FALSE(eb.is_leader());
  CHECK(eb.leader() == "a");

  // a "dies": none of its requests reach the API server any more.
  const auto renewed_before = cluster.sandbox_lease()["spec"]["renewTime"];
  a.transport->cut = true;
  const auto died = cluster.clock->monotonic();
  REQUIRE(advance_until(*cluster.clock, 100ms, 40s, [&] { return eb.is_leader(); }));
  ta.join();
  // a noticed it could not renew and stopped leading, before b took over.
  REQUIRE_FALSE(ra.ok());
  CHECK(ra.error().code() == ErrorCode::conflict);
  CHECK(ra.error().message().starts_with(
      "leader election lost: lease default/gpuorch-reconciler not renewed within 10s"));
  const auto a_stopped = timeline.at("a stopped");
  const auto b_started = timeline.at("b started");
  REQUIRE(a_stopped.has_value());
  REQUIRE(b_started.has_value());
  CHECK(*a_stopped < *b_started);
  CHECK(max_leaders == 1);
  // b waited out the lease duration after the last renewal it saw, and took
  // over within a retry period after that.
  const auto takeover = *b_started - died;
  MESSAGE("takeover after the leader died: " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
                                             << " ms of clock time");
  CHECK(takeover >= 15s - 2s);
  CHECK(takeover <= 15s + 2s + 2s + 1s);
  CHECK(cluster.holder() == "b");
  CHECK(cluster.sandbox_lease()["spec"]["leaseTransitions"].get<int>() >= 1);
  CHECK(cluster.sandbox_lease()["spec"]["renewTime"] != renewed_before);

  stop.request_stop();
  tb.join();
  CHECK(rb.ok());
  CHECK(cluster.holder() == "");
}

TEST_CASE("leader election: a leader that shuts down releases - the standby takes over within a retry period") {
  Cluster cluster;
  auto a = cluster.candidate("a");
  auto b = cluster.candidate("b");
  LeaderElector ea(a.lock, {}, std::make_shared<FixedRandom>(0));
  LeaderElector eb(b.lock, {}, std::make_shared<FixedRandom>(0));
  std::stop_source stop_a;
  std::stop_source stop_b;
  std::atomic<bool> a_working{false};
  std::atomic<bool> overlap{false};
  const auto idle = [](std::stop_token token) {
    while (!token.stop_requested()) {
      std::this_thread::sleep_for(1ms);
    }
  };
  Status ra;
  Status rb;
  std::thread ta([&] {
    ra = ea.run(stop_a.get_token(), [&](std::stop_token token) {
      a_working = true;
      idle(token);
      // In-flight work finishes before the lease is released.
      std::this_thread::sleep_for(50ms);
      a_working = false;
    });
  });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return ea.is_leader(); }));
  std::thread tb([&] {
    rb = eb.run(stop_b.get_token(), [&](std::stop_token token) {
      overlap = overlap || a_working;  // never two leaders working at once
      idle(token);
    });
  });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return eb.leader() == "a"; }));
  const auto shutdown = cluster.clock->monotonic();
  stop_a.request_stop();
  ta.join();
  CHECK(ra.ok());
  REQUIRE(advance_until(*cluster.clock, 100ms, 10s, [&] { return eb.is_leader(); }));
  const auto takeover = cluster.clock->monotonic() - shutdown;
  MESSAGE("takeover after a release: " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count()
                                       << " ms of clock time");
  // The released lease has a 1 s duration: b takes it at its next attempt after that.
  CHECK(takeover <= 1s + 2s + 500ms);
  CHECK(cluster.holder() == "b");
  stop_b.request_stop();
  tb.join();
  CHECK(rb.ok());
  CHECK_FALSE(overlap);
}

TEST_CASE("leader election: stop while campaigning returns at once - work never starts") {
  Cluster cluster;
  auto a = cluster.candidate("a");
  auto b = cluster.candidate("b");
  REQUIRE(a.lock->try_acquire_or_renew().value());
  LeaderElector eb(b.lock, {}, std::make_shared<FixedRandom>(0));
  std::stop_source stop;
  bool worked = false;
  Status rb = Error(ErrorCode::internal, "not run");
  std::thread tb([&] { rb = eb.run(stop.get_token(), [&](std::stop_token) { worked = true; }); });
  advance_until(*cluster.clock, 100ms, 5s, [] { return false; });
  stop.request_stop();
  tb.join();
  CHECK(rb.ok());
  CHECK_FALSE(worked);
  CHECK(cluster.holder() == "a");
}

TEST_CASE("leader election: a missing Lease namespace is an error at once - a standby reports read errors") {
  Cluster cluster;
  auto a = cluster.candidate("a", 15s, 10s, 2s, "no-such-namespace");
  LeaderElector elector(a.lock, {}, std::make_shared<FixedRandom>(0));
  bool worked = false;
  const auto result = elector.run(std::stop_token(), [&](std::stop_token) { worked = true; });
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code() == ErrorCode::not_found);
  CHECK(result.error().message().starts_with("leader election on lease no-such-namespace/gpuorch-reconciler: "));
  CHECK_FALSE(worked);
  CHECK_FALSE(elector.last_error().empty());

  // A standby whose requests fail says why; once they succeed again it does not.
  auto b = cluster.candidate("b");
  auto c = cluster.candidate("c");
  REQUIRE(b.lock->try_acquire_or_renew().value());
  LeaderElector standby(c.lock, {}, std::make_shared<FixedRandom>(0));
  std::stop_source stop;
  std::thread runner([&] { (void)standby.run(stop.get_token(), [](std::stop_token) {}); });
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return standby.leader() == "b"; }));
  CHECK(standby.last_error().empty());
  c.transport->cut = true;
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return !standby.last_error().empty(); }));
  CHECK(standby.last_error().find("cut by the test") != std::string::npos);
  c.transport->cut = false;
  REQUIRE(advance_until(*cluster.clock, 100ms, 5s, [&] { return standby.last_error().empty(); }));
  stop.request_stop();
  runner.join();
}
