#include <doctest/doctest.h>

#include <string>

#include <gpuorch/control/reconcile.hpp>
#include <gpuorch/control/validation_cache.hpp>
#include <gpuorch/model/workload.hpp>

#include "control_test_util.hpp"

namespace gpuorch::control {
using namespace testing;

namespace {

model::Workload decode(const json& j) {
  return model::workload_from_json(j).value_or_throw();
}

std::string joined(const std::vector<FieldCause>& causes) {
  std::string out;
  for (const auto& c : causes) {
    out += c.to_string() + ";";
  }
  return out;
}

TEST_CASE("ValidationCache answers what validate_workload does, once per uid and generation") {
  ValidationCache cache;
  json bad = workload_json("ml", "bad", 0);  // gpuCount 0: invalid
  const auto w = decode(bad);
  const auto direct = model::validate_workload(w);
  REQUIRE_FALSE(direct.empty());
  CHECK(joined(cache.validate(w)) == joined(direct));
  CHECK(joined(cache.validate(w)) == joined(direct));
  CHECK(cache.misses() == 1);
  CHECK(cache.hits() == 1);

  // The spec changed (a new generation): validated again, and now valid.
  bad["spec"]["gpuCount"] = 2;
  bad["metadata"]["generation"] = 2;
  CHECK(cache.validate(decode(bad)).empty());
  CHECK(cache.misses() == 2);

  // A status write keeps the generation: answered from the cache.
  bad["status"] = {{"phase", "Scheduled"}};
  bad["metadata"]["resourceVersion"] = "7";
  CHECK(cache.validate(decode(bad)).empty());
  CHECK(cache.hits() == 2);
}

TEST_CASE("ValidationCache validates again when labels or annotations change within one generation") {
  ValidationCache cache;
  json w = workload_json("ml", "w", 1);
  CHECK(cache.validate(decode(w)).empty());
  w["metadata"]["labels"] = {{"team", "-not a label value-"}};
  const auto direct = model::validate_workload(decode(w));
  REQUIRE_FALSE(direct.empty());
  CHECK(joined(cache.validate(decode(w))) == joined(direct));
  CHECK(cache.misses() == 2);
  CHECK(cache.hits() == 0);
}

TEST_CASE("ValidationCache validates every time without uid or generation, and stays within its capacity") {
  ValidationCache cache(2);
  json anonymous = workload_json("ml", "a", 1);
  anonymous["metadata"].erase("generation");
  cache.validate(decode(anonymous));
  cache.validate(decode(anonymous));
  CHECK(cache.misses() == 2);
  CHECK(cache.size() == 0);

  const auto a = decode(workload_json("ml", "a", 1));
  const auto b = decode(workload_json("ml", "b", 1));
  const auto c = decode(workload_json("ml", "c", 1));
  cache.validate(a);
  cache.validate(b);
  cache.validate(a);  // a used last: b is the one to go
  cache.validate(c);
  CHECK(cache.size() == 2);
  const auto misses = cache.misses();
  cache.validate(a);
  CHECK(cache.misses() == misses);  // still cached
  cache.validate(b);
  CHECK(cache.misses() == misses + 1);  // evicted
}

TEST_CASE("reconcile with a ValidationCache plans what it plans without one") {
  ValidationCache cache;
  for (const int gpus : {0, 2}) {
    const std::vector<json> workloads = {workload_json("ml", gpus == 0 ? "bad" : "good", gpus)};
    const std::vector<json> nodes = {node_json("n1", 8)};
    Observed observed =
        observed_from_json(workloads, {}, {}, nodes, model::parse_time("2026-03-01T12:00:00Z").value_or_throw(), 1);
    ReconcileOptions plain;
    ReconcileOptions cached;
    cached.validation_cache = &cache;
    for (int pass = 0; pass < 2; ++pass) {
      const Plan a = reconcile(observed, plain);
      const Plan b = reconcile(observed, cached);
      REQUIRE(a.actions.size() == b.actions.size());
      for (std::size_t i = 0; i < a.actions.size(); ++i) {
        CHECK(a.actions[i].kind == b.actions[i].kind);
        CHECK(a.actions[i].detail == b.actions[i].detail);
      }
    }
  }
  CHECK(cache.hits() == 2);
  CHECK(cache.misses() == 2);
}

}  // namespace
}  // namespace gpuorch::control
