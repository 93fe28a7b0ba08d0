// `promtool check metrics` (Debian package prometheus) accepts the exposition
// and finds no lint problems in the reconciler's metric names.
#include <gpuorch/obs/reconcile_metrics.hpp>
#include <gpuorch/obs/textfile.hpp>
#include <gpuorch/obs/watch_metrics.hpp>

#include <cctype>
#include <filesystem>

#include <doctest/doctest.h>

#include "support/process.hpp"

using namespace gpuorch::obs;
using namespace gpuorch::testing;

namespace {

constexpr const char* k_promtool = GPUORCH_PROMTOOL;

RunResult check_metrics(const Registry& registry) {
  TempDir dir;
  const auto path = (dir.path() / "metrics.prom").string();
  REQUIRE(write_textfile(path, registry).ok());
  return run({k_promtool, "check", "metrics"}, path);
}

}  // namespace

TEST_CASE("promtool: the reconciler's metrics pass `promtool check metrics`") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_promtool), "promtool is not installed (Debian package prometheus)");
  Registry registry;
  ReconcileMetrics metrics(registry, {"RetriesExhausted", "InvalidSpec"});
  metrics.workload_scheduled(2);
  metrics.workload_retried();
  metrics.workload_failed("JobFailed");
  metrics.set_workloads_by_phase({{"Running", 1}});
  metrics.set_node_gpus({{"gpu-a", 3, 5}, {"node \"quoted\"\\", 8, 0}});
  metrics.pass_finished(std::chrono::milliseconds(12), true, std::chrono::system_clock::now());
  const auto result = check_metrics(registry);
  CHECK_MESSAGE(result.exit_code == 0, result.output);
  CHECK_MESSAGE(result.output.empty(), result.output);
}

TEST_CASE("promtool: the check can fail (a counter without _total is reported)") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_promtool), "promtool is not installed (Debian package prometheus)");
  Registry registry;
  registry.counter("gpuorch_bad_counter", "No _total suffix.").get().inc();
  const auto result = check_metrics(registry);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("gpuorch_bad_counter") != std::string::npos);
}

TEST_CASE("promtool: the packaged alert rules pass `promtool check rules` and their unit tests") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_promtool), "promtool is not installed (Debian package prometheus)");
  // The working directory of unit tests is the repository root.
  const auto check = run({k_promtool, "check", "rules", "packaging/prometheus/gpuorch-alerts.yaml"});
  CHECK_MESSAGE(check.exit_code == 0, check.output);
  CHECK(check.output.find("SUCCESS: 6 rules found") != std::string::npos);
  const auto tested = run({k_promtool, "test", "rules", "packaging/prometheus/gpuorch-alerts.test.yaml"});
  CHECK_MESSAGE(tested.exit_code == 0, tested.output);
}

TEST_CASE("promtool: the alert rules use only metric names the reconciler exposes") {
  Registry registry;
  ReconcileMetrics metrics(registry, {"RetriesExhausted"});
  metrics.pass_finished(std::chrono::seconds(1), true, std::chrono::system_clock::now());
  LeaderMetrics leader(registry);  // the watch loop's replicas
  leader.set_leader("gpuorch-reconciler", false);
  const auto exposed = registry.expose();
  const std::string rules = read_file("packaging/prometheus/gpuorch-alerts.yaml");
  REQUIRE(!rules.empty());
  std::size_t at = 0;
  int names = 0;
  while ((at = rules.find("gpuorch_", at)) != std::string::npos) {
    std::size_t end = at;
    while (end < rules.size() && (std::isalnum(static_cast<unsigned char>(rules[end])) != 0 || rules[end] == '_')) {
      ++end;
    }
    const std::string name = rules.substr(at, end - at);
    CHECK_MESSAGE(exposed.find("\n" + name) != std::string::npos, (name + " is not exposed"));
    ++names;
    at = end;
  }
  CHECK(names >= 5);
}
