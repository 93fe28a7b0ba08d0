#include "workload_table.hpp"

#include <sstream>
#include <string>

#include <doctest/doctest.h>

using namespace gpuorch::cli;
using std::chrono::seconds;

TEST_CASE("human_age writes ages like kubectl") {
  CHECK(human_age(seconds(0)) == "0s");
  CHECK(human_age(seconds(90)) == "90s");
  CHECK(human_age(seconds(303)) == "5m3s");
  CHECK(human_age(seconds(300)) == "5m");
  CHECK(human_age(seconds(45 * 60)) == "45m");
  CHECK(human_age(seconds(3 * 3600 + 5 * 60)) == "3h5m");
  CHECK(human_age(seconds(20 * 3600)) == "20h");
  CHECK(human_age(seconds(2 * 86400 + 3 * 3600)) == "2d3h");
  CHECK(human_age(seconds(400LL * 86400)) == "400d");
  CHECK(human_age(seconds(3LL * 365 * 86400 + 100 * 86400)) == "3y100d");
  CHECK(human_age(seconds(-5)) == "0s");
}

TEST_CASE("print_workload_table aligns columns with 3 spaces and leaves absent values empty") {
  const auto now = std::chrono::system_clock::time_point(seconds(1'800'000'000));
  const std::vector<nlohmann::json> items = {
      nlohmann::json::parse(
          R"({"metadata":{"name":"llama-ft","namespace":"ml","creationTimestamp":"2027-01-15T07:54:40Z"},
        "spec":{"gpuCount":4,"schedulingStrategy":"BestFit","modelName":"llama-3-8b","priority":100},
        "status":{"phase":"Running","assignedNode":"gpu-node-07","retryCount":0,"jobName":"llama-ft-0"}})"),
      nlohmann::json::parse(R"({"metadata":{"name":"bert","namespace":"nlp","creationTimestamp":"2027-01-15T07:59:10Z"},
        "spec":{"gpuCount":1,"schedulingStrategy":"LeastLoaded","modelName":"bert"}})"),
  };
  TableOptions options;
  options.now = now;
  std::ostringstream plain;
  print_workload_table(plain, items, options);
  CHECK(plain.str() ==
        "NAME       PHASE     GPUS   NODE          STRATEGY      RETRIES   AGE\n"
        "llama-ft   Running   4      gpu-node-07   BestFit       0         5m20s\n"
        "bert                 1                    LeastLoaded             50s\n");

  options.wide = true;
  options.with_namespace = true;
  options.no_headers = true;
  std::ostringstream wide;
  print_workload_table(wide, items, options);
  CHECK(
      wide.str() ==
      // Without headers the narrow columns show kubectl's minimum cell width of 6.
      // bert's last cells (PRIORITY, GPU-TYPE, JOB) are empty: like kubectl's
      // tabwriter, the row keeps the padding of MODEL (9), PRIORITY (6) and GPU-TYPE (6).
      "ml    llama-ft   Running   4     gpu-node-07   BestFit       0     5m20s   llama-3-8b   100         llama-ft-0\n"
      "nlp   bert                 1                   LeastLoaded         50s     bert" +
          std::string(9 + 6 + 6, ' ') + "\n");
}
