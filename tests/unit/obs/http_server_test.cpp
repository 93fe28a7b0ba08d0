#include <gpuorch/obs/http_server.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <gpuorch/base/error.hpp>
#include <gpuorch/obs/reconcile_metrics.hpp>
#include <gpuorch/obs/watch_metrics.hpp>

#include "support/process.hpp"

using gpuorch::Error;
using gpuorch::ErrorCode;
using gpuorch::Status;
using namespace gpuorch::obs;
using namespace gpuorch::testing;
using namespace std::chrono_literals;

namespace {

ListenAddress loopback_any_port() {
  return ListenAddress{"127.0.0.1", 0};
}

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

Reply get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  auto res = client.Get(path);
  if (!res) {
    return Reply{-1, httplib::to_string(res.error()), ""};
  }
  return Reply{res->status, res->body, res->get_header_value("Content-Type")};
}

}  // namespace

TEST_CASE("listen addresses parse like controller-runtime's bind addresses") {
  CHECK_FALSE(parse_listen_address("0").value().has_value());
  CHECK(parse_listen_address(":8080").value() == ListenAddress{"", 8080});
  CHECK(parse_listen_address(":0").value() == ListenAddress{"", 0});
  CHECK(parse_listen_address("127.0.0.1:9090").value() == ListenAddress{"127.0.0.1", 9090});
  CHECK(parse_listen_address("[::1]:8081").value() == ListenAddress{"::1", 8081});
  CHECK(parse_listen_address("localhost:1").value() == ListenAddress{"localhost", 1});
  CHECK(ListenAddress{"::1", 8081}.to_string() == "[::1]:8081");
  CHECK(ListenAddress{"", 8080}.to_string() == ":8080");
  for (const char* bad : {"", "8080", ":", ":http", ":65536", ":-1", "::1:80", "[::1:80", "1.2.3.4:80x"}) {
    CAPTURE(bad);
    const auto parsed = parse_listen_address(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == ErrorCode::usage);
    CHECK(parsed.error().message().find("invalid listen address \"" + std::string(bad) + "\"") == 0);
  }
  CHECK(parse_listen_address("::1:80").error().message().find("needs brackets") != std::string::npos);
}

TEST_CASE("check reports read like the Kubernetes API server's healthz") {
  const std::vector<HealthCheck> checks{
      {"ping", [] { return Status(); }},
      {"informers", [] { return Status(Error(ErrorCode::internal, "nodes not synced")); }}};
  auto report = run_checks(checks, "readyz", false);
  CHECK_FALSE(report.ok);
  CHECK(report.body == "[+]ping ok\n[-]informers failed: nodes not synced\nreadyz check failed\n");
  report = run_checks({checks[0]}, "readyz", false);
  CHECK(report.ok);
  CHECK(report.body == "ok");
  report = run_checks({checks[0]}, "healthz", true);
  CHECK(report.body == "[+]ping ok\nhealthz check passed\n");
  CHECK(run_checks({}, "healthz", false).body == "ok");
}

TEST_CASE("the endpoint server answers metrics and probes on a free loopback port") {
  Registry registry;
  ReconcileMetrics metrics(registry);
  metrics.workload_scheduled(3);
  std::atomic<bool> synced{false};
  Endpoints endpoints;
  endpoints.metrics = &registry;
  endpoints.serve_healthz = true;
  endpoints.healthz = {{"ping", [] { return Status(); }}};
  endpoints.serve_readyz = true;
  endpoints.readyz = {{"informers", [&synced] {
                         return synced ? Status() : Status(Error(ErrorCode::internal, "caches not synced yet"));
                       }}};
  auto started = EndpointServer::start(loopback_any_port(), std::move(endpoints), "test");
  REQUIRE(started.ok());
  auto& server = **started;
  REQUIRE(server.port() > 0);
  CHECK(server.address() == "127.0.0.1:" + std::to_string(server.port()));

  auto reply = get(server.port(), "/metrics");
  CHECK(reply.status == 200);
  CHECK(reply.content_type == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(reply.body == registry.expose());
  CHECK(reply.body.find("gpuorch_workloads_scheduled_total 3\n") != std::string::npos);
  // The registry is read on every scrape.
  metrics.workload_scheduled();
  CHECK(get(server.port(), "/metrics").body.find("gpuorch_workloads_scheduled_total 4\n") != std::string::npos);

  reply = get(server.port(), "/healthz");
  CHECK(reply.status == 200);
  CHECK(reply.body == "ok");
  CHECK(get(server.port(), "/healthz?verbose").body == "[+]ping ok\nhealthz check passed\n");

  reply = get(server.port(), "/readyz");
  CHECK(reply.status == 500);
  CHECK(reply.body == "[-]informers failed: caches not synced yet\nreadyz check failed\n");
  CHECK(get(server.port(), "/readyz/informers").status == 500);
  CHECK(get(server.port(), "/readyz/nosuch").status == 404);
  synced = true;
  reply = get(server.port(), "/readyz");
  CHECK(reply.status == 200);
  CHECK(reply.body == "ok");
  CHECK(get(server.port(), "/readyz/informers").status == 200);

  reply = get(server.port(), "/other");
  CHECK(reply.status == 404);
  CHECK(reply.body == "404 page not found: /other\n");

  const int port = server.port();
  server.stop();
  server.stop();  // idempotent
  CHECK_FALSE(accepts(port));
}

TEST_CASE("a port in use is a clear error naming the flag and the reason") {
  auto first = EndpointServer::start(loopback_any_port(), Endpoints{}, "first");
  REQUIRE(first.ok());
  const int port = (*first)->port();
  auto second = EndpointServer::start(ListenAddress{"127.0.0.1", port}, Endpoints{}, "--metrics-addr");
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code() == ErrorCode::io);
  CHECK(second.error().message() ==
        "cannot listen on 127.0.0.1:" + std::to_string(port) + " (--metrics-addr): address already in use");
  // An address that is not on this machine.
  auto foreign = EndpointServer::start(ListenAddress{"192.0.2.1", 0}, Endpoints{}, "--health-addr");
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.error().message().find("(--health-addr): cannot assign requested address") != std::string::npos);
}

TEST_CASE("metrics and health on two addresses or one") {
  Registry registry;
  WatchMetrics watch(registry, {"nodes"});
  SUBCASE("two servers: each answers only its own paths") {
    ObservabilityServers::Config config;
    config.metrics_address = loopback_any_port();
    config.health_address = loopback_any_port();
    config.registry = &registry;
    auto servers = ObservabilityServers::start(config);
    REQUIRE(servers.ok());
    REQUIRE((*servers)->metrics() != nullptr);
    REQUIRE((*servers)->health() != nullptr);
    const int metrics_port = (*servers)->metrics()->port();
    const int health_port = (*servers)->health()->port();
    CHECK(metrics_port != health_port);
    CHECK(get(metrics_port, "/metrics").body.find("gpuorch_informer_synced{resource=\"nodes\"} 0\n") !=
          std::string::npos);
    CHECK(get(metrics_port, "/healthz").status == 404);
    CHECK(get(health_port, "/metrics").status == 404);
    CHECK(get(health_port, "/healthz").status == 200);
    CHECK(get(health_port, "/readyz").status == 200);
  }
  SUBCASE("one address: one server answers all three") {
    const int port = free_port();
    ObservabilityServers::Config config;
    config.metrics_address = ListenAddress{"127.0.0.1", port};
    config.health_address = ListenAddress{"127.0.0.1", port};
    config.registry = &registry;
    config.readyz = {{"informers", [] { return Status(Error(ErrorCode::internal, "not yet")); }}};
    auto servers = ObservabilityServers::start(config);
    REQUIRE(servers.ok());
    CHECK((*servers)->metrics() == (*servers)->health());
    CHECK(get(port, "/metrics").status == 200);
    CHECK(get(port, "/healthz").status == 200);
    CHECK(get(port, "/readyz").status == 500);
  }
  SUBCASE("0 disables an address") {
    ObservabilityServers::Config config;
    config.health_address = loopback_any_port();
    config.registry = &registry;
    auto servers = ObservabilityServers::start(config);
    REQUIRE(servers.ok());
    CHECK((*servers)->metrics() == nullptr);
    REQUIRE((*servers)->health() != nullptr);
    CHECK(get((*servers)->health()->port(), "/metrics").status == 404);
  }
}

TEST_CASE("a real Prometheus scrapes the endpoint server and answers queries about it") {
  // Debian's prometheus on a free loopback port with a temporary config and
  // TSDB, scraping /metrics every second.
  Registry registry;
  ReconcileMetrics metrics(registry);
  WatchMetrics watch(registry, {"gpuworkloads"});
  LeaderMetrics leader(registry);
  metrics.workload_scheduled(5);
  leader.set_leader("gpuorch-reconciler", true);
  auto server = EndpointServer::start(loopback_any_port(), Endpoints{&registry, false, {}, false, {}}, "test");
  REQUIRE(server.ok());
  TempDir dir;
  const int prometheus_port = free_port();
  const auto config_path = (dir.path() / "prometheus.yml").string();
  {
    std::ofstream config(config_path);
    config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
           << "scrape_configs:\n  - job_name: gpuorch\n    static_configs:\n"
           << "      - targets: ['127.0.0.1:" << (*server)->port() << "']\n";
  }
  const std::string prometheus = GPUORCH_PROMETHEUS;
  REQUIRE_MESSAGE(!prometheus.empty(), "prometheus (Debian package prometheus) is not installed");
  const auto log = (dir.path() / "prometheus.log").string();
  ChildProcess child(
      {prometheus, "--config.file=" + config_path, "--storage.tsdb.path=" + (dir.path() / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      log);
  REQUIRE(child.started());

  // query(expr): the instant vector's values, or nullopt while Prometheus is not up yet.
  const auto query = [&](const std::string& expr) -> std::optional<std::vector<double>> {
    httplib::Client client("127.0.0.1", prometheus_port);
    client.set_connection_timeout(1, 0);
    auto res = client.Get("/api/v1/query", httplib::Params{{"query", expr}}, httplib::Headers{});
    if (!res || res->status != 200) {
      return std::nullopt;
    }
    const auto body = nlohmann::json::parse(res->body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success") {
      return std::nullopt;
    }
    std::vector<double> values;
    for (const auto& sample : body["data"]["result"]) {
      values.push_back(std::stod(sample["value"][1].get<std::string>()));
    }
    return values;
  };
  // Up to 30 s for Prometheus to start and scrape twice.
  std::vector<double> scheduled;
  for (int i = 0; i < 300 && scheduled.empty(); ++i) {
    REQUIRE_MESSAGE(child.running(), "prometheus exited: " << read_file(log));
    scheduled = query("gpuorch_workloads_scheduled_total{job=\"gpuorch\"} > 0").value_or(std::vector<double>{});
    if (scheduled.empty()) {
      std::this_thread::sleep_for(100ms);
    }
  }
  REQUIRE_MESSAGE(scheduled.size() == 1, read_file(log));
  CHECK(scheduled[0] == 5);
  CHECK(query("up{job=\"gpuorch\"} == 1").value_or(std::vector<double>{}).size() == 1);
  CHECK(query("gpuorch_leader_election_master_status{name=\"gpuorch-reconciler\"}").value_or(std::vector<double>{}) ==
        std::vector<double>{1});
  // A new value reaches Prometheus with the next scrape.
  metrics.workload_scheduled(2);
  std::vector<double> seven;
  for (int i = 0; i < 100 && seven.empty(); ++i) {
    seven = query("gpuorch_workloads_scheduled_total == 7").value_or(std::vector<double>{});
    if (seven.empty()) {
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK(seven.size() == 1);
  // Scrape failures show as up == 0 once the server is gone.
  (*server)->stop();
  std::vector<double> down;
  for (int i = 0; i < 100 && down.empty(); ++i) {
    down = query("up{job=\"gpuorch\"} == 0").value_or(std::vector<double>{});
    if (down.empty()) {
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK(down.size() == 1);
}
