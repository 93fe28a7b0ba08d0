#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <gpuorch/model/crd.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the committed CRD is exactly what gpuorch crd generates") {
  // Tests run from the source root. Regenerate with: build/dev/cli/gpuorch crd > packaging/kubernetes/base/crd.yaml
  CHECK(read_file("packaging/kubernetes/base/crd.yaml") == workload_crd_yaml());
}

TEST_CASE("the CRD describes GPUWorkload") {
  const json crd = workload_crd();
  CHECK(crd["apiVersion"] == "apiextensions.k8s.io/v1");
  CHECK(crd["kind"] == "CustomResourceDefinition");
  CHECK(crd["metadata"]["name"] == "gpuworkloads.gpuorch.io");
  CHECK(crd["spec"]["group"] == "gpuorch.io");
  CHECK(crd["spec"]["scope"] == "Namespaced");
  CHECK(crd["spec"]["names"]["plural"] == "gpuworkloads");
  CHECK(crd["spec"]["names"]["kind"] == "GPUWorkload");
  CHECK(crd["spec"]["names"]["shortNames"] == json{"gw"});
  REQUIRE(crd["spec"]["versions"].size() == 1);
  const json& version = crd["spec"]["versions"][0];
  CHECK(version["name"] == "v1alpha1");
  CHECK(version["served"] == true);
  CHECK(version["storage"] == true);
  CHECK(version["subresources"] == json{{"status", json::object()}});
  std::vector<std::string> columns;
  std::vector<std::string> wide_columns;
  for (const auto& c : version["additionalPrinterColumns"]) {
    (c.value("priority", 0) > 0 ? wide_columns : columns).push_back(c["name"].get<std::string>());
  }
  // gpuorch get's table, and the extra columns of its -o wide.
  CHECK(columns == std::vector<std::string>{"Phase", "GPUs", "Node", "Strategy", "Retries", "Age"});
  CHECK(wide_columns == std::vector<std::string>{"Model", "Priority", "GPU-Type", "Job"});

  const json& schema = version["schema"]["openAPIV3Schema"];
  CHECK(schema["required"] == json{"spec"});
  CHECK(schema["properties"]["spec"]["required"] == json{"modelName", "gpuCount"});
  CHECK(schema["properties"]["spec"]["properties"]["gpuCount"]["minimum"] == 1);
  CHECK(schema["properties"]["spec"]["properties"]["schedulingStrategy"]["enum"] ==
        json{"LeastLoaded", "Random", "CostOptimized", "BestFit", "MinFragmentation"});
  CHECK(schema["properties"]["spec"]["properties"]["schedulingStrategy"]["default"] == "LeastLoaded");
  CHECK(schema["properties"]["status"]["properties"]["phase"]["enum"] ==
        json{"Pending", "Scheduling", "Scheduled", "Running", "Succeeded", "Failed"});
  // The client validates with the very schema the CRD carries.
  CHECK(Schema::from_openapi(schema).value_or_throw() == workload_schema());
}

TEST_CASE("the CRD schema is structural and its defaults are valid") {
  const json schema = workload_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
  // Structural: every node has a type unless it is int-or-string or preserves unknown fields;
  // defaults validate against their own schema.
  std::function<void(const json&, const std::string&)> walk = [&](const json& node, const std::string& path) {
    CAPTURE(path);
    const bool typed = node.contains("type") || node.value("x-kubernetes-int-or-string", false) ||
                       node.value("x-kubernetes-preserve-unknown-fields", false);
    CHECK(typed);
    if (node.contains("default")) {
      const Schema s = Schema::from_openapi(node).value_or_throw();
      CHECK(s.validate(node["default"]).empty());
    }
    if (node.contains("properties")) {
      for (const auto& [name, child] : node["properties"].items()) {
        walk(child, path + "." + name);
      }
    }
    if (node.contains("items")) {
      walk(node["items"], path + "[]");
    }
    if (node.contains("additionalProperties") && node["additionalProperties"].is_object()) {
      walk(node["additionalProperties"], path + "{}");
    }
  };
  walk(schema, "");
  // The CRD's YAML parses back to the same JSON.
  const auto documents = parse_yaml_stream(workload_crd_yaml()).value_or_throw();
  REQUIRE(documents.size() == 1);
  CHECK(documents[0].value == workload_crd());
}

}  // namespace gpuorch::model
