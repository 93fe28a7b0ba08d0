#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/model/manifest.hpp>

namespace gpuorch::model {
namespace {

std::vector<std::string> problems_of(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& r : validate_manifest_inputs(read_manifest_inputs({path}, local_file_system(), nullptr))) {
    for (const auto& c : r.causes) {
      out.push_back(c.to_string());
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    out += line + "\n";
  }
  return out;
}

}  // namespace

// Globbed when the test runs, so a new example is covered without touching this file.
TEST_CASE("every example is a valid GPUWorkload") {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator("examples")) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 5);
  for (const auto& file : files) {
    CAPTURE(file);
    CHECK(joined(problems_of(file)) == "");
    const auto results = validate_manifest_inputs(read_manifest_inputs({file}, local_file_system(), nullptr));
    CHECK_FALSE(results.empty());
  }
}

TEST_CASE("bad manifests in tests/data report exact messages") {
  const std::string dir = "tests/data/manifests/";
  CHECK(joined(problems_of(dir + "gpucount-zero.yaml")) ==
        "tests/data/manifests/gpucount-zero.yaml:7:13: spec.gpuCount: must be >= 1, got 0\n");
  CHECK(joined(problems_of(dir + "unknown-field.yaml")) ==
        "tests/data/manifests/unknown-field.yaml:6:3: spec.gpuCount: required field is missing\n"
        "tests/data/manifests/unknown-field.yaml:7:3: spec: unknown field \"gpuCnt\"\n"
        "tests/data/manifests/unknown-field.yaml:9:5: spec.retryPolicy: unknown field \"maxRetrys\"\n");
  CHECK(joined(problems_of(dir + "wrong-types.yaml")) ==
        "tests/data/manifests/wrong-types.yaml:5:11: metadata.labels: must be an object, got an array\n"
        "tests/data/manifests/wrong-types.yaml:8:13: spec.gpuCount: must be an integer, got \"four\"\n"
        "tests/data/manifests/wrong-types.yaml:9:13: spec.priority: must be an integer, got \"high\"\n"
        "tests/data/manifests/wrong-types.yaml:10:12: spec.command: must be an array, got \"python train.py\"\n"
        "tests/data/manifests/wrong-types.yaml:12:10: spec.resources.cpu: must be an integer or a string, got 1.5\n");
  CHECK(joined(problems_of(dir + "malformed.yaml")) ==
        "tests/data/manifests/malformed.yaml:8:1: malformed YAML: end of sequence flow not found\n");
  CHECK(joined(problems_of(dir + "malformed.json")) ==
        "tests/data/manifests/malformed.json:4:44: malformed JSON: syntax error while parsing object key - "
        "unexpected '}'; expected string literal\n");
  CHECK(joined(problems_of(dir + "wrong-kind.yaml")) ==
        "tests/data/manifests/wrong-kind.yaml:1:13: apiVersion: must be \"gpuorch.io/v1alpha1\", got \"batch/v1\"\n"
        "tests/data/manifests/wrong-kind.yaml:2:7: kind: must be \"GPUWorkload\", got \"Job\"\n");
  CHECK(joined(problems_of(dir + "no-manifests")) ==
        "no manifests (*.yaml, *.yml, *.json) in directory \"tests/data/manifests/no-manifests\"\n");
  CHECK(joined(problems_of("tests/data/manifests/missing.yaml")) ==
        "the path \"tests/data/manifests/missing.yaml\" does not exist\n");
  const auto bad = problems_of(dir + "bad-values.yaml");
  REQUIRE(bad.size() == 9);
  CHECK(bad[0] ==
        "tests/data/manifests/bad-values.yaml:4:9: metadata.name: must be a lowercase RFC 1123 subdomain: lower case "
        "letters, digits, '-' and '.', starting and ending with a letter or digit, got \"Train_Job\"");
  CHECK(bad[6] ==
        "tests/data/manifests/bad-values.yaml:13:24: spec.retryPolicy.maxBackoffSeconds: must be >= backoffSeconds "
        "(600), got 60");
  CHECK(bad[8] ==
        "tests/data/manifests/bad-values.yaml:22:14: spec.tolerations[0].value: must be empty when operator is "
        "Exists, got \"true\"");
}

}  // namespace gpuorch::model
