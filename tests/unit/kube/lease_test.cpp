#include <gpuorch/kube/lease.hpp>

#include <map>
#include <mutex>

#include <doctest/doctest.h>

#include <gpuorch/model/time.hpp>

#include "unit/kube/fakes.hpp"

using gpuorch::ErrorCode;
using gpuorch::Result;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* k_base = "http://api.test/apis/coordination.k8s.io/v1/namespaces/ns/leases";

/// An in-memory API server for Leases in namespace "ns": GET, POST (create)
/// and PUT with resourceVersion preconditions, answering metav1.Status errors
/// like the real one. Optionally fails the next request(s).
class FakeLeaseApi final : public HttpTransport {
 public:
  Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard lock(m_mutex);
    ++requests;
    if (fail_next > 0) {
      --fail_next;
      return HttpResponse{503, {}, status(503, "ServiceUnavailable", "try later"), "1.1"};
    }
    if (forbid) {
      return HttpResponse{403, {}, status(403, "Forbidden", "leases is forbidden"), "1.1"};
    }
    std::string url = request.url.substr(0, request.url.find('?'));
    if (request.method == "POST" && url == k_base) {
      json object = json::parse(request.body);
      const std::string name = object["metadata"]["name"];
      if (m_objects.contains(name)) {
        return HttpResponse{409, {}, status(409, "AlreadyExists", "already exists"), "1.1"};
      }
      object["metadata"]["resourceVersion"] = std::to_string(++m_rv);
      m_objects[name] = object;
      return HttpResponse{201, {}, object.dump(), "1.1"};
    }
    const std::string prefix = std::string(k_base) + "/";
    if (!url.starts_with(prefix)) {
      return HttpResponse{404, {}, status(404, "NotFound", "no route"), "1.1"};
    }
    const std::string name = url.substr(prefix.size());
    const auto it = m_objects.find(name);
    if (it == m_objects.end()) {
      return HttpResponse{404, {}, status(404, "NotFound", "leases \"" + name + "\" not found"), "1.1"};
    }
    if (request.method == "GET") {
      return HttpResponse{200, {}, it->second.dump(), "1.1"};
    }
    if (request.method == "PUT") {
      json object = json::parse(request.body);
      if (object["metadata"].value("resourceVersion", "") != it->second["metadata"]["resourceVersion"]) {
        return HttpResponse{409, {}, status(409, "Conflict", "the object has been modified"), "1.1"};
      }
      object["metadata"]["resourceVersion"] = std::to_string(++m_rv);
      it->second = object;
      ++writes;
      return HttpResponse{200, {}, object.dump(), "1.1"};
    }
    return HttpResponse{405, {}, status(405, "MethodNotAllowed", "no"), "1.1"};
  }

  json object(const std::string& name) {
    std::lock_guard lock(m_mutex);
    return m_objects.at(name);
  }
  void put_directly(const std::string& name, const json& spec) {
    std::lock_guard lock(m_mutex);
    m_objects[name] = {{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", std::to_string(++m_rv)}}},
                       {"spec", spec}};
  }

  int requests = 0;
  int writes = 0;
  int fail_next = 0;
  bool forbid = false;

 private:
  static std::string status(int code, const std::string& reason, const std::string& message) {
    return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                {"code", code},     {"reason", reason},   {"message", message}}
        .dump();
  }
  std::mutex m_mutex;
  std::map<std::string, json> m_objects;
  long m_rv = 100;
};

struct Harness {
  std::shared_ptr<FakeLeaseApi> api = std::make_shared<FakeLeaseApi>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();

  std::shared_ptr<Client> client() {
    RestConfig config;
    config.server = "http://api.test";
    ClientOptions options;
    options.qps = 0;
    options.max_retries = 0;
    ClientDeps deps;
    deps.transport = api;
    deps.clock = clock;
    deps.random = std::make_shared<FixedRandom>(0.5);
    return Client::create(config, options, Environment({}), deps).value_or_throw();
  }
  /// A candidate with its own clock reading (all share the fake clock here).
  std::shared_ptr<LeaseLock> candidate(const std::string& identity, bool trust_record_times = false) {
    LeaseLockConfig config;
    config.lease_namespace = "ns";
    config.name = "gpuorch-reconciler";
    config.identity = identity;
    config.trust_record_times = trust_record_times;
    return LeaseLock::create(client(), config, clock).value_or_throw();
  }
};

}  // namespace

TEST_CASE("lease: expiry is judged by local time since the record last changed") {
  const auto t0 = std::chrono::steady_clock::time_point(1000s);
  const auto wall = std::chrono::system_clock::time_point(1'800'000'000s);
  LeaderElectionRecord record;
  record.holder_identity = "other";
  record.lease_duration_seconds = 15;
  record.renew_time = wall - 3600s;  // its own clock says long ago: ignored by default
  CHECK(lease_still_held(record, t0, t0, wall, false));
  CHECK(lease_still_held(record, t0, t0 + 14999ms, wall, false));
  CHECK(!lease_still_held(record, t0, t0 + 15s, wall, false));
  // Trusting the record's times: stale by its renewTime, so expired at once.
  CHECK(!lease_still_held(record, t0, t0, wall, true));
  record.renew_time = wall - 5s;
  CHECK(lease_still_held(record, t0, t0, wall, true));
  CHECK(!lease_still_held(record, t0, t0 + 15s, wall, true));  // both must agree it is alive
  record.renew_time.reset();
  record.acquire_time = wall - 1s;
  CHECK(lease_still_held(record, t0, t0, wall, true));
  // Nobody holds a released lease.
  record.holder_identity.clear();
  CHECK(!lease_still_held(record, t0, t0, wall, false));
  // A released lease's 1s duration.
  record.holder_identity = "other";
  record.lease_duration_seconds = 1;
  CHECK(!lease_still_held(record, t0, t0 + 1s, wall, false));
}

TEST_CASE("lease: records round-trip through the Lease spec as MicroTime") {
  LeaderElectionRecord record;
  record.holder_identity = "pod-a_1234";
  record.lease_duration_seconds = 15;
  record.acquire_time = std::chrono::system_clock::time_point(1'800'000'000s) + 123456us;
  record.renew_time = std::chrono::system_clock::time_point(1'800'000'010s);
  record.lease_transitions = 4;
  json lease = {{"spec", {{"preferredHolder", "keep-me"}}}};
  record_to_lease(record, lease);
  CHECK(lease["spec"]["acquireTime"] == "2027-01-15T08:00:00.123456Z");
  CHECK(lease["spec"]["renewTime"] == "2027-01-15T08:00:10.000000Z");
  CHECK(lease["spec"]["preferredHolder"] == "keep-me");
  CHECK(record_from_lease(lease) == record);
  CHECK(record_from_lease(json::object()) == LeaderElectionRecord{});
}

TEST_CASE("lease: create when absent - renew when ours - back off while another holds it") {
  Harness h;
  auto a = h.candidate("a");
  auto b = h.candidate("b");
  REQUIRE(a->try_acquire_or_renew().value());
  CHECK(a->is_leader());
  auto spec = h.api->object("gpuorch-reconciler")["spec"];
  CHECK(spec["holderIdentity"] == "a");
  CHECK(spec["leaseDurationSeconds"] == 15);
  CHECK(spec["leaseTransitions"] == 0);
  const auto acquired = spec["acquireTime"];
  CHECK(spec["renewTime"] == acquired);

  CHECK(!b->try_acquire_or_renew().value());
  CHECK(!b->is_leader());
  CHECK(b->observed_holder() == "a");

  h.clock->advance(2s);
  REQUIRE(a->try_acquire_or_renew().value());
  spec = h.api->object("gpuorch-reconciler")["spec"];
  CHECK(spec["acquireTime"] == acquired);  // a renewal keeps the term
  CHECK(spec["renewTime"] != acquired);
  CHECK(spec["leaseTransitions"] == 0);

  // a keeps renewing: b keeps seeing a changed record, so it never expires for b.
  for (int i = 0; i < 20; ++i) {
    h.clock->advance(2s);
    REQUIRE(a->try_acquire_or_renew().value());
    CHECK(!b->try_acquire_or_renew().value());
  }
}

TEST_CASE("lease: a holder that stops renewing is taken over after the lease duration") {
  Harness h;
  auto a = h.candidate("a");
  auto b = h.candidate("b");
  REQUIRE(a->try_acquire_or_renew().value());
  CHECK(!b->try_acquire_or_renew().value());  // b first sees the record now
  h.clock->advance(14s);
  CHECK(!b->try_acquire_or_renew().value());
  h.clock->advance(1s);
  REQUIRE(b->try_acquire_or_renew().value());
  auto spec = h.api->object("gpuorch-reconciler")["spec"];
  CHECK(spec["holderIdentity"] == "b");
  CHECK(spec["leaseTransitions"] == 1);
  CHECK(spec["acquireTime"] ==
        gpuorch::model::format_time(h.clock->now(), gpuorch::model::TimePrecision::microseconds));
  // a comes back: it lost, and learns so.
  CHECK(!a->try_acquire_or_renew().value());
  CHECK(!a->is_leader());
  CHECK(a->observed_holder() == "b");
}

TEST_CASE("lease: a fresh process waits out a stale lease unless it trusts the record's times") {
  Harness h;
  h.api->put_directly(
      "gpuorch-reconciler",
      {{"holderIdentity", "killed-run"},
       {"leaseDurationSeconds", 15},
       {"renewTime", gpuorch::model::format_time(h.clock->now() - 1h, gpuorch::model::TimePrecision::microseconds)},
       {"leaseTransitions", 7}});
  auto cautious = h.candidate("cautious");
  CHECK(!cautious->try_acquire_or_renew().value());
  auto trusting = h.candidate("trusting", true);
  REQUIRE(trusting->try_acquire_or_renew().value());
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["leaseTransitions"] == 8);
}

TEST_CASE("lease: release clears the holder and sets a 1s duration - others take over after it") {
  Harness h;
  auto a = h.candidate("a");
  auto b = h.candidate("b");
  REQUIRE(a->try_acquire_or_renew().value());
  CHECK(!b->try_acquire_or_renew().value());
  REQUIRE(a->release().ok());
  CHECK(!a->is_leader());
  auto spec = h.api->object("gpuorch-reconciler")["spec"];
  CHECK(spec["holderIdentity"] == "");
  CHECK(spec["leaseDurationSeconds"] == 1);
  CHECK(spec["leaseTransitions"] == 0);
  // Nobody holds it: b takes it at once.
  REQUIRE(b->try_acquire_or_renew().value());
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["leaseTransitions"] == 1);
  // Releasing what is not ours writes nothing.
  const int writes = h.api->writes;
  REQUIRE(a->release().ok());
  CHECK(h.api->writes == writes);
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["holderIdentity"] == "b");
}

TEST_CASE("lease: a write based on a stale read loses (resourceVersion precondition)") {
  Harness h;
  auto a = h.candidate("a");
  REQUIRE(a->try_acquire_or_renew().value());
  REQUIRE(a->release().ok());
  // b reads the released lease, then c writes before b does: b's PUT carries
  // the old resourceVersion and must lose.
  auto b = h.candidate("b");
  auto c = h.candidate("c");
  auto lease = h.api->object("gpuorch-reconciler");
  REQUIRE(c->try_acquire_or_renew().value());
  auto client = h.client();
  lease["spec"]["holderIdentity"] = "b";
  auto stale = client->update(resources::leases(), "ns", lease);
  REQUIRE(!stale.ok());
  CHECK(stale.error().code() == ErrorCode::conflict);
  CHECK(!b->try_acquire_or_renew().value());
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["holderIdentity"] == "c");
}

TEST_CASE("lease: errors are reported - not taken for a lost race") {
  Harness h;
  auto a = h.candidate("a");
  h.api->forbid = true;
  auto forbidden = a->try_acquire_or_renew();
  REQUIRE(!forbidden.ok());
  CHECK(forbidden.error().code() == ErrorCode::auth);
  CHECK(forbidden.error().message().find("lease ns/gpuorch-reconciler") != std::string::npos);
  // acquire() gives up at once on Forbidden.
  auto waited = a->acquire({}, 30s);
  REQUIRE(!waited.ok());
  CHECK(h.clock->sleeps().empty());
  // Transient failures are retried every retry period until the deadline.
  h.api->forbid = false;
  h.api->fail_next = 3;
  REQUIRE(a->acquire({}, 30s).value());
  CHECK(h.clock->sleeps() == std::vector<std::chrono::milliseconds>{2s, 2s, 2s});
}

TEST_CASE("lease: acquire waits for the holder's lease to run out - or gives up at the deadline") {
  Harness h;
  auto a = h.candidate("a");
  auto b = h.candidate("b");
  REQUIRE(a->try_acquire_or_renew().value());
  CHECK(!b->acquire({}, 5s).value());
  REQUIRE(b->acquire({}, 30s).value());
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["holderIdentity"] == "b");
}

TEST_CASE("lease: configuration is checked like client-go's") {
  Harness h;
  LeaseLockConfig config;
  config.lease_namespace = "ns";
  config.name = "l";
  CHECK(LeaseLock::create(h.client(), config).error().code() == ErrorCode::usage);  // no identity
  config.identity = "me";
  CHECK(LeaseLock::create(h.client(), config).ok());
  config.renew_deadline = 15s;
  CHECK(LeaseLock::create(h.client(), config).error().code() == ErrorCode::usage);
  config.renew_deadline = 2s;
  CHECK(LeaseLock::create(h.client(), config).error().code() == ErrorCode::usage);
}

TEST_CASE("lease: the renewer notices a takeover and does not release someone else's lease") {
  Harness h;
  auto a = h.candidate("a");
  REQUIRE(a->try_acquire_or_renew().value());
  // Another candidate forcibly took the lease (e.g. it judged a's lease expired).
  auto lease = h.api->object("gpuorch-reconciler");
  lease["spec"]["holderIdentity"] = "thief";
  h.api->put_directly("gpuorch-reconciler", lease["spec"]);
  std::string reason;
  {
    LeaseRenewer renewer(a, [&](const std::string& why) { reason = why; });
    const auto token = renewer.lost_token();
    for (int i = 0; i < 1000 && !token.stop_requested(); ++i) {
      std::this_thread::sleep_for(1ms);
    }
    CHECK(renewer.lost());
  }
  CHECK(reason == "lease ns/gpuorch-reconciler was taken over by thief");
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["holderIdentity"] == "thief");
}

TEST_CASE("lease: the renewer keeps renewing and releases at the end") {
  Harness h;
  auto a = h.candidate("a");
  REQUIRE(a->try_acquire_or_renew().value());
  {
    LeaseRenewer renewer(a);
    for (int i = 0; i < 1000 && h.api->writes < 5; ++i) {
      std::this_thread::sleep_for(1ms);
    }
    CHECK(!renewer.lost());
    REQUIRE(renewer.stop_and_release().ok());
  }
  CHECK(h.api->writes >= 5);
  CHECK(h.api->object("gpuorch-reconciler")["spec"]["holderIdentity"] == "");
}

TEST_CASE("lease: the renewer gives up after the renew deadline without a successful renewal") {
  Harness h;
  auto a = h.candidate("a");
  REQUIRE(a->try_acquire_or_renew().value());
  h.api->fail_next = 1000;
  std::string reason;
  LeaseRenewer renewer(a, [&](const std::string& why) { reason = why; });
  const auto token = renewer.lost_token();
  for (int i = 0; i < 2000 && !token.stop_requested(); ++i) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(renewer.lost());
  CHECK(reason.starts_with("lease ns/gpuorch-reconciler not renewed within 10s: "));
}

TEST_CASE("lease: the default identity is the pod name - else host name plus a random suffix") {
  FixedRandom random(0.7);
  CHECK(default_lease_identity(Environment({{"POD_NAME", "gpuorch-reconcile-28912345-abcde"}}), random) ==
        "gpuorch-reconcile-28912345-abcde");
  const auto identity = default_lease_identity(Environment({}), random);
  const auto underscore = identity.rfind('_');
  REQUIRE(underscore != std::string::npos);
  CHECK(underscore > 0);
  CHECK(identity.substr(underscore + 1) == "bbbbbbbb");  // 0.7 * 16 = 11
  SeededRandom seeded(1);
  CHECK(default_lease_identity(Environment({}), seeded) != default_lease_identity(Environment({}), seeded));
}
