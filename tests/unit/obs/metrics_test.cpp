#include <gpuorch/obs/metrics.hpp>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <gpuorch/base/error.hpp>

using namespace gpuorch::obs;

TEST_CASE("exposition: families sorted by name - children by label values - HELP and TYPE first") {
  Registry registry;
  auto& requests = registry.counter("zz_requests_total", "Requests.", {"code", "method"});
  auto& temperature = registry.gauge("aa_temperature_celsius", "Temperature.");
  requests.with({"500", "GET"}).inc(2);
  requests.with({"200", "POST"}).inc();
  requests.with({"200", "GET"}).inc(3.5);
  temperature.get().set(-4.25);
  CHECK(registry.expose() ==
        "# HELP aa_temperature_celsius Temperature.\n"
        "# TYPE aa_temperature_celsius gauge\n"
        "aa_temperature_celsius -4.25\n"
        "# HELP zz_requests_total Requests.\n"
        "# TYPE zz_requests_total counter\n"
        "zz_requests_total{code=\"200\",method=\"GET\"} 3.5\n"
        "zz_requests_total{code=\"200\",method=\"POST\"} 1\n"
        "zz_requests_total{code=\"500\",method=\"GET\"} 2\n");
}

TEST_CASE("exposition: label values and help text are escaped") {
  Registry registry;
  auto& family = registry.gauge("escaped", "Line one\nback\\slash \"quotes\" stay.", {"path"});
  family.with({"C:\\dir\n\"x\""}).set(1);
  CHECK(registry.expose() ==
        "# HELP escaped Line one\\nback\\\\slash \"quotes\" stay.\n"
        "# TYPE escaped gauge\n"
        "escaped{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
}

TEST_CASE("exposition: histograms have cumulative buckets ending at +Inf - then _sum and _count") {
  Registry registry;
  auto& h = registry.histogram("op_duration_seconds", "Durations.", {0.125, 0.5, 2}, {"op"});
  auto& read = h.with({"read"});
  read.observe(0.0625);
  read.observe(0.125);  // upper bounds are inclusive
  read.observe(0.25);
  read.observe(7);
  h.with({"write"});
  CHECK(registry.expose() ==
        "# HELP op_duration_seconds Durations.\n"
        "# TYPE op_duration_seconds histogram\n"
        "op_duration_seconds_bucket{op=\"read\",le=\"0.125\"} 2\n"
        "op_duration_seconds_bucket{op=\"read\",le=\"0.5\"} 3\n"
        "op_duration_seconds_bucket{op=\"read\",le=\"2\"} 3\n"
        "op_duration_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
        "op_duration_seconds_sum{op=\"read\"} 7.4375\n"
        "op_duration_seconds_count{op=\"read\"} 4\n"
        "op_duration_seconds_bucket{op=\"write\",le=\"0.125\"} 0\n"
        "op_duration_seconds_bucket{op=\"write\",le=\"0.5\"} 0\n"
        "op_duration_seconds_bucket{op=\"write\",le=\"2\"} 0\n"
        "op_duration_seconds_bucket{op=\"write\",le=\"+Inf\"} 0\n"
        "op_duration_seconds_sum{op=\"write\"} 0\n"
        "op_duration_seconds_count{op=\"write\"} 0\n");
}

TEST_CASE("exposition: an unlabelled histogram") {
  Registry registry;
  registry.histogram("pass_seconds", "Pass.", {1}).get().observe(0.5);
  CHECK(registry.expose() ==
        "# HELP pass_seconds Pass.\n"
        "# TYPE pass_seconds histogram\n"
        "pass_seconds_bucket{le=\"1\"} 1\n"
        "pass_seconds_bucket{le=\"+Inf\"} 1\n"
        "pass_seconds_sum 0.5\n"
        "pass_seconds_count 1\n");
}

TEST_CASE("exposition: unlabelled families show 0 at once - labelled ones only once they have a child") {
  Registry registry;
  registry.counter("plain_total", "Plain.");
  auto& labelled = registry.counter("labelled_total", "Labelled.", {"reason"});
  CHECK(registry.expose() == "# HELP plain_total Plain.\n# TYPE plain_total counter\nplain_total 0\n");
  labelled.with({"X"});
  CHECK(registry.expose().find("labelled_total{reason=\"X\"} 0\n") != std::string::npos);
  CHECK(labelled.remove({"X"}));
  CHECK(!labelled.remove({"X"}));
  CHECK(registry.expose().find("labelled_total") == std::string::npos);
  labelled.with({"A"});
  labelled.with({"B"});
  labelled.clear();
  CHECK(registry.expose().find("labelled_total") == std::string::npos);
}

TEST_CASE("exposition: an empty registry exposes nothing") {
  CHECK(Registry().expose().empty());
}

TEST_CASE("values are formatted like Prometheus: shortest round trip - +Inf - -Inf - NaN") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(42) == "42");
  CHECK(format_value(-1.5) == "-1.5");
  CHECK(format_value(0.1) == "0.1");
  CHECK(format_value(1795000000.25) == "1795000000.25");
  CHECK(format_value(1e-9) == "1e-09");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("counters never go down - gauges do") {
  Counter c;
  c.inc();
  c.inc(-5);
  c.inc(std::nan(""));
  c.inc(0.5);
  CHECK(c.value() == 1.5);
  Gauge g;
  g.set(3);
  g.dec(5);
  g.inc(0.5);
  CHECK(g.value() == -1.5);
}

TEST_CASE("names are validated - mistakes are programming errors") {
  CHECK(is_valid_metric_name("gpuorch_workloads"));
  CHECK(is_valid_metric_name("job:rate5m"));
  CHECK(!is_valid_metric_name("9lives"));
  CHECK(!is_valid_metric_name("with-dash"));
  CHECK(!is_valid_metric_name(""));
  CHECK(is_valid_label_name("_x1"));
  CHECK(!is_valid_label_name("a:b"));
  Registry registry;
  registry.counter("taken_total", "Taken.");
  CHECK_THROWS_AS(registry.gauge("taken_total", "Again."), gpuorch::Failure);
  CHECK_THROWS_AS(registry.gauge("bad-name", "Bad."), gpuorch::Failure);
  CHECK_THROWS_AS(registry.gauge("g", "Reserved label.", {"__name"}), gpuorch::Failure);
  CHECK_THROWS_AS(registry.gauge("g2", "Duplicate label.", {"a", "a"}), gpuorch::Failure);
  CHECK_THROWS_AS(registry.histogram("h", "le is reserved.", {1}, {"le"}), gpuorch::Failure);
  CHECK_THROWS_AS(registry.histogram("h2", "Unsorted.", {2, 1}), gpuorch::Failure);
  CHECK_THROWS_AS(registry.histogram("h3", "Infinite.", {1, std::numeric_limits<double>::infinity()}),
                  gpuorch::Failure);
  auto& family = registry.gauge("two_labels", "Two.", {"a", "b"});
  CHECK_THROWS_AS(family.with({"only-one"}), gpuorch::Failure);
}

TEST_CASE("concurrent updates are all counted while the registry is exposed") {
  Registry registry;
  auto& counter = registry.counter("hits_total", "Hits.", {"worker"});
  auto& histogram = registry.histogram("latency_seconds", "Latency.", {0.5});
  constexpr int k_threads = 4;
  constexpr int k_per_thread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_per_thread; ++i) {
        counter.with({std::to_string(t % 2)}).inc();
        histogram.get().observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      const auto text = registry.expose();
      CHECK(text.back() == '\n');
    }
  });
  for (auto& t : threads) {
    t.join();
  }
  reader.join();
  CHECK(counter.with({"0"}).value() == 2.0 * k_per_thread);
  CHECK(counter.with({"1"}).value() == 2.0 * k_per_thread);
  const auto snap = histogram.get().snapshot();
  CHECK(snap.count == static_cast<std::uint64_t>(k_threads * k_per_thread));
  CHECK(snap.cumulative[0] == static_cast<std::uint64_t>(k_threads * k_per_thread / 2));
  CHECK(snap.cumulative[1] == snap.count);
}
