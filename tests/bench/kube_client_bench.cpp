// Requests per second of the kube client against an in-process HTTP server on
// 127.0.0.1 with keep-alive: the client's own overhead (auth headers, rate
// limiter, JSON encode/decode, curl handle pool) plus loopback HTTP.
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include <httplib.h>

#include <gpuorch/kube/client.hpp>

namespace {

using namespace gpuorch::kube;

struct Server {
  httplib::Server http;
  std::thread thread;
  int port = 0;
  Server() {
    http.set_keep_alive_max_count(1000000);
    http.set_tcp_nodelay(true);
    http.Get("/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads/w", [](const httplib::Request&,
                                                                          httplib::Response& res) {
      res.set_content(
          R"({"apiVersion":"gpuorch.io/v1alpha1","kind":"GPUWorkload","metadata":{"name":"w","namespace":"ml","resourceVersion":"1"},"spec":{"modelName":"llama","gpuCount":4}})",
          "application/json");
    });
    http.Post("/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads",
              [](const httplib::Request& req, httplib::Response& res) {
                res.status = 201;
                res.set_content(req.body, "application/json");
              });
    port = http.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { http.listen_after_bind(); });
    while (!http.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~Server() {
    http.stop();
    thread.join();
  }
};

std::shared_ptr<Client> make_client(int port) {
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(port);
  ClientOptions options;
  options.qps = 0;  // measure the client, not the limiter
  return Client::create(config, options, Environment({})).value_or_throw();
}

void BM_Get(benchmark::State& state) {
  Server server;
  auto client = make_client(server.port);
  for (auto _ : state) {
    auto object = client->get(resources::gpu_workloads(), "ml", "w");
    if (!object) {
      state.SkipWithError(object.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(object);
  }
  state.counters["requests/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Get)->UseRealTime()->MinTime(2.0);

void BM_Create(benchmark::State& state) {
  Server server;
  auto client = make_client(server.port);
  const nlohmann::json workload = {{"apiVersion", "gpuorch.io/v1alpha1"},
                                   {"kind", "GPUWorkload"},
                                   {"metadata", {{"generateName", "w-"}, {"namespace", "ml"}}},
                                   {"spec", {{"modelName", "llama"}, {"gpuCount", 4}}}};
  for (auto _ : state) {
    auto created = client->create(resources::gpu_workloads(), "ml", workload);
    if (!created) {
      state.SkipWithError(created.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(created);
  }
  state.counters["requests/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Create)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
