#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/version.hpp>
#include <nlohmann/json.hpp>

#include "app.hpp"

namespace gpuorch::cli {
namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  const int code = run_cli(ctx, std::move(args));
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("version prints the build version") {
  const auto r = run({"version"});
  CHECK(r.code == 0);
  CHECK(r.out.starts_with(std::string("gpuorch v") + build_info::k_version));
  CHECK(r.err.empty());
}

TEST_CASE("version -o json is machine-readable") {
  const auto r = run({"version", "-o", "json"});
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("gitVersion") == std::string("v") + build_info::k_version);
  CHECK(j.contains("gitCommit"));
}

TEST_CASE("usage errors exit 2 with one error line, never CLI11's own codes") {
  const auto unknown = run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK(unknown.out.empty());
  CHECK(unknown.err.starts_with("error: "));

  const auto none = run({});
  CHECK(none.code == 2);

  const auto bad_value = run({"version", "-o", "xml"});
  CHECK(bad_value.code == 2);
  CHECK(bad_value.err.find("xml") != std::string::npos);

  const auto bad_verbosity = run({"-v", "12", "version"});
  CHECK(bad_verbosity.code == 2);
}

TEST_CASE("--help prints usage to stdout and exits 0") {
  const auto r = run({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("version") != std::string::npos);
  CHECK(r.out.find("--kubeconfig") != std::string::npos);
  const auto sub = run({"version", "--help"});
  CHECK(sub.code == 0);
  CHECK(sub.out.find("--output") != std::string::npos);
}

TEST_CASE("global flags are accepted before and after the command") {
  CHECK(run({"-v", "4", "version"}).code == 0);
  CHECK(run({"version", "--log-format", "json"}).code == 0);
  CHECK(run({"--log-format", "xml", "version"}).code == 2);
}

}  // namespace gpuorch::cli
