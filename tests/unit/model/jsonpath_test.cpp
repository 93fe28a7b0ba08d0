// kubectl's JSONPath dialect. The expectations are what kubectl 1.32 prints
// for the same object with `kubectl get -o jsonpath=...` (the templates marked
// in tests/e2e/jsonpath_templates.txt are also compared live against kubectl
// by `e2e: jsonpath oracle`).
#include <string>

#include <doctest/doctest.h>
#include <gpuorch/model/jsonpath.hpp>
#include <nlohmann/json.hpp>

using gpuorch::model::JsonPath;
using gpuorch::model::jsonpath_text;
using nlohmann::json;

namespace {

const json& list_document() {
  static const json doc = json::parse(R"({
    "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
    "items": [
      {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
       "metadata": {"name": "alpha", "namespace": "ml", "labels": {"team": "nlp", "app.kubernetes.io/name": "train"}},
       "spec": {"modelName": "llama-3-8b", "gpuCount": 4, "priority": 100,
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "<b&>"}]},
       "status": {"phase": "Running", "assignedNode": "gpu-1"}},
      {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
       "metadata": {"name": "beta", "namespace": "ml", "labels": {"team": "vision"}},
       "spec": {"modelName": "vit", "gpuCount": 1, "priority": 5},
       "status": {"phase": "Pending"}},
      {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload",
       "metadata": {"name": "gamma", "namespace": "ml"},
       "spec": {"modelName": "mistral", "gpuCount": 8, "priority": 100, "ratio": 0.5},
       "status": {"phase": "Running", "assignedNode": "gpu-2"}}
    ]})");
  return doc;
}

std::string run(const std::string& text) {
  auto path = JsonPath::parse(text);
  REQUIRE_MESSAGE(path.ok(), (path.ok() ? "" : path.error().message()));
  auto out = path->execute(list_document());
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message()));
  return *out;
}

}  // namespace

TEST_CASE("jsonpath: kubectl's templates on a list") {
  struct Case {
    const char* tmpl;
    const char* expected;
  };
  const Case cases[] = {
      {"{.kind}", "List"},
      {"{.items[0].metadata.name}", "alpha"},
      {"{.items[*].metadata.name}", "alpha beta gamma"},
      {"{.items[-1].metadata.name}", "gamma"},
      {"{.items[0:2].metadata.name}", "alpha beta"},
      {"{.items[1:].metadata.name}", "beta gamma"},
      {"{.items[::2].metadata.name}", "alpha gamma"},
      {"{.items[0,2].metadata.name}", "alpha gamma"},
      {"{.items[*].spec.gpuCount}", "4 1 8"},
      {"{.items[0].spec.gpuCount}{\"\\n\"}", "4\n"},
      {"{.items[2].spec.ratio}", "0.5"},
      {"{.items[0].metadata.labels}", R"({"app.kubernetes.io/name":"train","team":"nlp"})"},
      {"{.items[0].spec.env[1]}", R"({"name":"B","value":"\u003cb\u0026\u003e"})"},
      {"{.items[0].spec.env[1].value}", "<b&>"},
      {"{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "train"},
      {"{.items[0].metadata.labels['app.kubernetes.io/name']}", ""},  // kubectl reads it as .app.kubernetes.io/name
      {"{.items[0].metadata.labels['app\\.kubernetes\\.io/name']}", "train"},
      {"{['items'][0]['metadata']['name']}", "alpha"},
      {"{.items[0].metadata['name','namespace']}", "alpha ml"},
      {"{.items[?(@.status.phase==\"Running\")].metadata.name}", "alpha gamma"},
      {"{.items[?(@.status.phase!='Running')].metadata.name}", "beta"},
      {"{.items[?(@.spec.gpuCount>2)].metadata.name}", "alpha gamma"},
      {"{.items[?(@.spec.gpuCount<=4)].metadata.name}", "alpha beta"},
      {"{.items[?(@.status.assignedNode)].metadata.name}", "alpha gamma"},
      {"{.items[?(@.spec.priority==100)].spec.modelName}", "llama-3-8b mistral"},
      {"{..assignedNode}", "gpu-1 gpu-2"},
      {"{.items[*]..phase}", "Running Pending Running"},
      {"{range .items[*]}{.metadata.name}{\"\\t\"}{.spec.gpuCount}{\"\\n\"}{end}", "alpha\t4\nbeta\t1\ngamma\t8\n"},
      {"{range .items[*]}[{.metadata.name}]{range .spec.env[*]}{.name}={.value};{end}{end}",
       "[alpha]A=1;B=<b&>;[beta][gamma]"},
      {"{.items[*].status.missing}", ""},
      {"{.items[1].status.assignedNode}", ""},
      {"names: {.items[*].metadata.name}.", "names: alpha beta gamma."},
      {"{'single'} {\"double\\u0021\"}", "single double!"},
      {"{$.items[0].kind}", "GPUWorkload"},
      {"{.items[0].spec.env[*].name}", "A B"},
      {"{.items[1:1].metadata.name}", ""},
      {"no braces", "no braces"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.tmpl);
    CHECK(run(c.tmpl) == c.expected);
  }
}

TEST_CASE("jsonpath: errors name the template") {
  for (const char* bad : {"{.items[0]", "{range .items[*]}{.a}", "{end}", "{.items[x]}", "{.a[1:2:3:4]}", "{}",
                          "{.items[?(@.a==\"x)]}", "{\"\\q\"}", "{.a,.b}", "{.metadata[\"name\"]}"}) {
    CAPTURE(bad);
    auto parsed = JsonPath::parse(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == gpuorch::ErrorCode::usage);
    CHECK(parsed.error().message().find(std::string("jsonpath template \"") + bad + "\"") == 0);
  }
  CHECK(JsonPath::parse("{.a,.b}").error().message() ==
        "jsonpath template \"{.a,.b}\": unrecognized character in action: U+002C ','");
  auto out = JsonPath::parse("{.items[7].metadata.name}").value_or_throw().execute(list_document());
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().message() ==
        "error executing jsonpath \"{.items[7].metadata.name}\": array index out of bounds: index 7, length 3");
  auto slice = JsonPath::parse("{.items[0:10].metadata.name}").value_or_throw().execute(list_document());
  REQUIRE_FALSE(slice.ok());
  CHECK(slice.error().message() ==
        "error executing jsonpath \"{.items[0:10].metadata.name}\": array index out of bounds: index 9, length 3");
  auto strict = JsonPath::parse("{.items[0].nope}").value_or_throw().execute(list_document(), false);
  REQUIRE_FALSE(strict.ok());
  CHECK(strict.error().message() == "error executing jsonpath \"{.items[0].nope}\": nope is not found");
}

TEST_CASE("jsonpath: values print as Go does") {
  CHECK(jsonpath_text(json("text")) == "text");
  CHECK(jsonpath_text(json(42)) == "42");
  CHECK(jsonpath_text(json(-7)) == "-7");
  CHECK(jsonpath_text(json(true)) == "true");
  CHECK(jsonpath_text(json(0.5)) == "0.5");
  CHECK(jsonpath_text(json(2.0)) == "2");
  CHECK(jsonpath_text(json(1e20)) == "100000000000000000000");
  CHECK(jsonpath_text(json(1e21)) == "1e+21");
  CHECK(jsonpath_text(json(0.0001)) == "0.0001");
  CHECK(jsonpath_text(json(0.00001)) == "1e-05");
  CHECK(jsonpath_text(json(123.456)) == "123.456");
  CHECK(jsonpath_text(json::parse(R"({"b":[1,"x"],"a":{"<":"&"}})")) == R"({"a":{"\u003c":"\u0026"},"b":[1,"x"]})");
}

TEST_CASE("jsonpath: values() gives the selected values for custom columns") {
  auto path = JsonPath::parse("{.spec.env[*].name}").value_or_throw();
  auto values = path.values(list_document()["items"][0]).value_or_throw();
  REQUIRE(values.size() == 2);
  CHECK(*values[0] == "A");
  CHECK(*values[1] == "B");
  CHECK(path.values(list_document()["items"][1]).value_or_throw().empty());
}
