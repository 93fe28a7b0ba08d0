#include <gpuorch/obs/pushgateway.hpp>

#include <chrono>
#include <mutex>
#include <regex>
#include <thread>

#include <doctest/doctest.h>

#include <gpuorch/obs/reconcile_metrics.hpp>

#include "support/process.hpp"
#include "support/pushgateway.hpp"

using namespace gpuorch::obs;
using namespace gpuorch::testing;
using gpuorch::ErrorCode;
using gpuorch::Result;
namespace kube = gpuorch::kube;

namespace {

/// Records requests and answers with a canned response or error.
class RecordingTransport final : public kube::HttpTransport {
 public:
  Result<kube::HttpResponse> send(const kube::HttpRequest& request) override {
    std::lock_guard lock(m_mutex);
    requests.push_back(request);
    if (error) {
      return *error;
    }
    return response;
  }
  std::vector<kube::HttpRequest> requests;
  kube::HttpResponse response{202, {}, "", "1.1"};
  std::optional<gpuorch::Error> error;

 private:
  std::mutex m_mutex;
};

constexpr const char* k_pushgateway = GPUORCH_PUSHGATEWAY;

}  // namespace

TEST_CASE("pushgateway: grouping key paths escape values as the Pushgateway expects") {
  CHECK(grouping_path("gpuorch-reconcile", {}).value() == "/metrics/job/gpuorch-reconcile");
  CHECK(grouping_path("a b", {{"cluster", "eu-1"}}).value() == "/metrics/job/a%20b/cluster/eu-1");
  CHECK(grouping_path("j", {{"path", "a/b"}}).value() == "/metrics/job/j/path@base64/YS9i");
  CHECK(grouping_path("j", {{"path", "/x?"}}).value() == "/metrics/job/j/path@base64/L3g_");
  CHECK(grouping_path("j", {{"zone", ""}}).value() == "/metrics/job/j/zone@base64/=");
  CHECK(grouping_path("team/ml", {}).value() == "/metrics/job@base64/dGVhbS9tbA==");
  CHECK(grouping_path("j", {{"q", "100%"}}).value() == "/metrics/job/j/q/100%25");
  CHECK(grouping_path("", {}).error().code() == ErrorCode::usage);
  CHECK(grouping_path("j", {{"job", "x"}}).error().code() == ErrorCode::usage);
  CHECK(grouping_path("j", {{"bad-name", "x"}}).error().code() == ErrorCode::usage);
  CHECK(grouping_path("j", {{"a", "1"}, {"a", "2"}}).error().code() == ErrorCode::usage);
}

TEST_CASE("pushgateway: URL checks - methods - content type - timeout") {
  auto transport = std::make_shared<RecordingTransport>();
  PushgatewayOptions options;
  options.url = "http://pgw.example:9091/prefix//";
  options.grouping = {{"cluster", "eu/west"}};
  options.timeout = std::chrono::milliseconds(1500);
  auto gateway = Pushgateway::create(options, {}, transport);
  REQUIRE(gateway.ok());
  CHECK(gateway->url() == "http://pgw.example:9091/prefix/metrics/job/gpuorch-reconcile/cluster@base64/ZXUvd2VzdA==");
  Registry registry;
  registry.counter("x_total", "X.").get().inc();
  REQUIRE(gateway->push(registry).ok());
  REQUIRE(gateway->push_add(registry).ok());
  REQUIRE(gateway->remove().ok());
  REQUIRE(transport->requests.size() == 3);
  CHECK(transport->requests[0].method == "PUT");
  CHECK(transport->requests[0].body == registry.expose());
  CHECK(transport->requests[0].timeout == std::chrono::milliseconds(1500));
  CHECK(kube::find_header(transport->requests[0].headers, "content-type") == std::string(k_text_content_type));
  CHECK(transport->requests[1].method == "POST");
  CHECK(transport->requests[2].method == "DELETE");
  CHECK(transport->requests[2].body.empty());

  for (const char* bad : {"pgw:9091", "ftp://x", "http://", "http://h/?q=1"}) {
    options.url = bad;
    auto refused = Pushgateway::create(options, {}, transport);
    REQUIRE(!refused.ok());
    CHECK(refused.error().code() == ErrorCode::usage);
  }
}

TEST_CASE("pushgateway: errors name the URL - the status and the gateway's message") {
  auto transport = std::make_shared<RecordingTransport>();
  PushgatewayOptions options;
  options.url = "http://user:secret@pgw:9091";
  auto gateway = Pushgateway::create(options, {}, transport).value_or_throw();
  transport->response = {400, {}, "pushed metrics are invalid or inconsistent with existing metrics\n", "1.1"};
  Registry registry;
  auto status = gateway.push(registry);
  REQUIRE(!status.ok());
  CHECK(status.error().code() == ErrorCode::api);
  CHECK(status.error().http_status() == 400);
  CHECK(status.error().message() ==
        "pushing metrics to the Pushgateway (PUT http://<masked>@pgw:9091/metrics/job/gpuorch-reconcile): HTTP 400: "
        "pushed "
        "metrics are invalid or inconsistent with existing metrics");
  CHECK(status.error().message().find("secret") == std::string::npos);

  transport->error = gpuorch::Error(ErrorCode::transport, "connection refused");
  status = gateway.push(registry);
  REQUIRE(!status.ok());
  CHECK(status.error().code() == ErrorCode::transport);
  CHECK(status.error().message() ==
        "pushing metrics to the Pushgateway (PUT http://<masked>@pgw:9091/metrics/job/gpuorch-reconcile): connection "
        "refused");
}

TEST_CASE("pushgateway: nothing listening is a transport error naming the URL") {
  PushgatewayOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(free_port());
  options.timeout = std::chrono::seconds(5);
  auto gateway = Pushgateway::create(options, kube::Environment({})).value_or_throw();
  Registry registry;
  auto status = gateway.push(registry);
  REQUIRE(!status.ok());
  CHECK(status.error().code() == ErrorCode::transport);
  CHECK(status.error().message().find(options.url + "/metrics/job/gpuorch-reconcile") != std::string::npos);
}

TEST_CASE("pushgateway: push - replace - add and delete against Debian's prometheus-pushgateway") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_pushgateway),
                  "prometheus-pushgateway is not installed (scripts/install-deps.sh installs it)");
  PushgatewayProcess server(k_pushgateway);
  REQUIRE_MESSAGE(server.port() != 0, "prometheus-pushgateway did not start");

  Registry registry;
  ReconcileMetrics metrics(registry, {"RetriesExhausted"});
  metrics.workload_scheduled(3);
  metrics.workload_failed("RetriesExhausted");
  metrics.set_workloads_by_phase({{"Running", 2}, {"Pending", 5}});
  metrics.set_node_gpus({{"gpu-node-1", 6, 2}});
  metrics.pass_finished(std::chrono::milliseconds(750), true,
                        std::chrono::system_clock::time_point(std::chrono::seconds(1'795'000'000)));

  PushgatewayOptions options;
  options.url = server.url();
  options.grouping = {{"cluster", "eu/west 1"}};
  auto gateway = Pushgateway::create(options, kube::Environment({})).value_or_throw();
  auto pushed = gateway.push(registry);
  REQUIRE_MESSAGE(pushed.ok(), (pushed.ok() ? "" : pushed.error().message()));

  const std::string job = "job=\"gpuorch-reconcile\"";
  const std::string cluster = "cluster=\"eu/west 1\"";
  auto text = server.get("/metrics");
  CHECK(sample(text, "gpuorch_workloads_scheduled_total", {job, cluster}) == "3");
  CHECK(sample(text, "gpuorch_workloads_failed_total", {job, "reason=\"RetriesExhausted\""}) == "1");
  CHECK(sample(text, "gpuorch_workloads", {job, "phase=\"Pending\""}) == "5");
  CHECK(sample(text, "gpuorch_workloads", {job, "phase=\"Failed\""}) == "0");
  CHECK(sample(text, "gpuorch_node_gpus", {job, "node=\"gpu-node-1\"", "state=\"used\""}) == "2");
  CHECK(sample(text, "gpuorch_reconcile_duration_seconds_bucket", {job, "le=\"1\""}) == "1");
  CHECK(sample(text, "gpuorch_reconcile_duration_seconds_sum", {job}) == "0.75");
  CHECK(sample(text, "gpuorch_reconcile_last_success_timestamp_seconds", {job}) == "1.795e+09");
  CHECK(sample(text, "push_failure_time_seconds", {job, cluster}) == "0");

  // PUT replaces the whole group: a family not pushed again disappears.
  Registry second;
  second.gauge("gpuorch_workloads", "GPUWorkloads by status.phase.", {"phase"}).with({"Succeeded"}).set(9);
  REQUIRE(gateway.push(second).ok());
  text = server.get("/metrics");
  CHECK(!sample(text, "gpuorch_workloads_scheduled_total", {job}));
  CHECK(sample(text, "gpuorch_workloads", {job, "phase=\"Succeeded\""}) == "9");
  CHECK(!sample(text, "gpuorch_workloads", {job, "phase=\"Pending\""}));

  // POST replaces only the families it carries.
  Registry third;
  third.counter("gpuorch_workload_retries_total", "Retries.").get().inc(4);
  REQUIRE(gateway.push_add(third).ok());
  text = server.get("/metrics");
  CHECK(sample(text, "gpuorch_workload_retries_total", {job}) == "4");
  CHECK(sample(text, "gpuorch_workloads", {job, "phase=\"Succeeded\""}) == "9");

  // A push the gateway refuses is an error with its status and the URL: here
  // another group where gpuorch_workloads is a counter, not a gauge.
  Registry conflicting;
  conflicting.counter("gpuorch_workloads", "Now a counter.", {"phase"}).with({"Succeeded"}).inc();
  PushgatewayOptions other = options;
  other.grouping = {{"cluster", "other"}};
  auto other_gateway = Pushgateway::create(other, kube::Environment({})).value_or_throw();
  auto refused = other_gateway.push(conflicting);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::api);
  CHECK(refused.error().http_status() == 400);
  CHECK(refused.error().message().find(other_gateway.url()) != std::string::npos);

  // The gateway answers DELETE with 202 and drops the group asynchronously.
  REQUIRE(gateway.remove().ok());
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    text = server.get("/metrics");
    gone = !sample(text, "gpuorch_workloads", {job});
    if (!gone) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  CHECK(gone);
}
