#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/model/yaml.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

std::vector<YamlDocument> parse(std::string_view text) {
  return parse_yaml_stream(text).value_or_throw();
}

FieldCause parse_failure(std::string_view text) {
  auto r = parse_yaml_stream(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::invalid);
  REQUIRE(r.error().causes().size() == 1);
  return r.error().causes()[0];
}

}  // namespace

TEST_CASE("YAML scalars resolve with the core schema") {
  const auto docs = parse(R"(
bools: [true, False, TRUE, "true", yes]
nulls: [~, null, , "null"]
ints: [0, -7, +7, 0x1F, 0o17, 9223372036854775807, "8"]
floats: [1.5, -0.5, .5, 1e3, 2E-2]
strings: [16Gi, 500m, 1.4.2, 'single', !!str 5, abc]
block: |
  line one
  line two
)");
  REQUIRE(docs.size() == 1);
  const json& v = docs[0].value;
  CHECK(v["bools"] == json::parse(R"([true, false, true, "true", "yes"])"));
  CHECK(v["nulls"] == json::parse(R"([null, null, null, "null"])"));
  CHECK(v["ints"] == json::parse(R"([0, -7, 7, 31, 15, 9223372036854775807, "8"])"));
  CHECK(v["floats"] == json::parse(R"([1.5, -0.5, 0.5, 1000.0, 0.02])"));
  CHECK(v["floats"][3].is_number_float());
  CHECK(v["strings"] == json::parse(R"(["16Gi", "500m", "1.4.2", "single", "5", "abc"])"));
  CHECK(v["block"] == "line one\nline two\n");
}

TEST_CASE("YAML core schema: the edges of the number forms") {
  const auto docs = parse(R"(
ints: [-0, +12, 0o0, 0xAbC]
floats: [1., -1.e2, +.5E+1, 7e-0]
strings: [+, ., .e1, 1e, 1e+, 0o8, 0o, 0x, 0xg, 1.5e, 1.2.3, 12a, -0o7, +0x1]
)");
  REQUIRE(docs.size() == 1);
  const json& v = docs[0].value;
  CHECK(v["ints"] == json::parse(R"([0, 12, 0, 2748])"));
  CHECK(v["floats"] == json::parse(R"([1.0, -100.0, 5.0, 7.0])"));
  CHECK(v["strings"] ==
        json::parse(
            R"(["+", ".", ".e1", "1e", "1e+", "0o8", "0o", "0x", "0xg", "1.5e", "1.2.3", "12a", "-0o7", "+0x1"])"));
}

TEST_CASE("YAML streams keep positions of keys and values") {
  const auto docs = parse("a: 1\n---\n---\n# only a comment\n---\nspec:\n  gpuCount: 0\n  tags:\n  - x\n  - {k: v}\n");
  REQUIRE(docs.size() == 2);  // empty documents are skipped
  CHECK(docs[0].start == SourcePosition{1, 1});
  const auto& map = docs[1].positions;
  CHECK(docs[1].start == SourcePosition{6, 1});
  CHECK(map.key(json::json_pointer("/spec/gpuCount")) == SourcePosition{7, 3});
  CHECK(map.value(json::json_pointer("/spec/gpuCount")) == SourcePosition{7, 13});
  CHECK(map.value(json::json_pointer("/spec/tags/1")) == SourcePosition{10, 5});
  CHECK(map.value(json::json_pointer("/spec/tags/1/k")) == SourcePosition{10, 9});
  CHECK_FALSE(map.value(json::json_pointer("/spec/missing")).has_value());
  CHECK(map.nearest(json::json_pointer("/spec/missing/deeper"), false) == SourcePosition{7, 3});
  CHECK(map.nearest(json::json_pointer("/spec/tags/0"), true) == SourcePosition{9, 5});
}

TEST_CASE("YAML empty values point at their key") {
  const auto docs = parse("spec:\n  image:\n  gpuCount: 1\n");
  CHECK(docs[0].value["spec"]["image"].is_null());
  CHECK(docs[0].positions.value(json::json_pointer("/spec/image")) == SourcePosition{2, 3});
}

TEST_CASE("JSON input parses as YAML with positions") {
  const auto docs = parse("{\n  \"spec\": {\"gpuCount\": 2, \"name\": \"a\\/b\"}\n}\n");
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].value == json::parse(R"({"spec": {"gpuCount": 2, "name": "a/b"}})"));
  CHECK(docs[0].positions.value(json::json_pointer("/spec/gpuCount")) == SourcePosition{2, 24});
}

TEST_CASE("malformed YAML reports the parser's position") {
  CHECK(parse_failure("a: [1\nb: 2\n") == FieldCause{"", "malformed YAML: end of sequence flow not found", "2:2", ""});
  CHECK(parse_failure("a: b: c\n") == FieldCause{"", "malformed YAML: illegal map value", "1:5", ""});
  CHECK(parse_failure("a: 1\nb: 2\na: 3\n") ==
        FieldCause{"", "malformed YAML: mapping key \"a\" already defined at line 1", "3:1", ""});
  CHECK(parse_failure("? [a]\n: 1\n") == FieldCause{"", "malformed YAML: mapping keys must be strings", "1:3", ""});
}

TEST_CASE("to_yaml writes kubectl-style block YAML") {
  const json value = json::parse(R"({
    "apiVersion": "v1",
    "items": [{"name": "a", "ports": [1, 2]}, "plain", [], {}],
    "empty": {},
    "nested": {"deep": {"x": null, "y": false}},
    "quoted": ["8", "1.4", "true", "yes", "~", "", "a: b", "#x", "- x", "1e3", "2024-05-01T12:00:00Z", "line\nbreak"],
    "plain": ["16Gi", "500m", "ghcr.io/acme/train:1.4", "llama-3-8b", "H100"],
    "numbers": [1, -2, 0.5]
  })");
  CHECK(to_yaml(value) == R"(apiVersion: v1
empty: {}
items:
- name: a
  ports:
  - 1
  - 2
- plain
- []
- {}
nested:
  deep:
    x: null
    "y": false
numbers:
- 1
- -2
- 0.5
plain:
- 16Gi
- 500m
- ghcr.io/acme/train:1.4
- llama-3-8b
- H100
quoted:
- "8"
- "1.4"
- "true"
- "yes"
- "~"
- ""
- "a: b"
- "#x"
- "- x"
- "1e3"
- "2024-05-01T12:00:00Z"
- "line\nbreak"
)");
  CHECK(to_yaml(json("x")) == "x\n");
  CHECK(to_yaml_stream({json{{"a", 1}}, json{{"b", 2}}}) == "a: 1\n---\nb: 2\n");
}

TEST_CASE("to_yaml quotes a string exactly when kubectl does") {
  // kubectl 1.32 (go-yaml) as the oracle: `kubectl create configmap x --from-literal=k=VALUE
  // --dry-run=client -o yaml` quotes what a YAML 1.1 reader would take for a number or a date.
  for (const char* plain : {"4f45beb0-9bab-482f-a4e1-fb9661d67cb0", "12345678-1234-1234-1234-123456789012", "1.2.3",
                            "0x", "1-2", "0xG", "1e", "1.0.0-rc1", "10Gi", "3e8f", "0b", "1:60", "0o8", ".5."}) {
    CAPTURE(plain);
    CHECK(to_yaml(json(plain)) == std::string(plain) + "\n");
  }
  for (const char* quoted :
       {"0x1F", "0b101", "0o17", "+1", "1_000", "1:30", "190:20:30.15", "+.inf", ".inf", "2026-11-29", "1e3", "09",
        "1.5e+3", "2026-11-29T10:00:00Z", "0e5", "1_2_3", "+0x1F", "1:5"}) {
    CAPTURE(quoted);
    CHECK(to_yaml(json(quoted)) == "\"" + std::string(quoted) + "\"\n");
  }
}

TEST_CASE("to_yaml output parses back to the same JSON") {
  const json values[] = {
      json::parse(R"({"a": [[1, 2], [{"b": "c"}]], "s": ["8", "0x1F", "True", "null", "", " lead", "trail "]})"),
      json::parse(R"({"f": 1.0, "g": 1e100, "u": "\u00e9\u00e8", "t": "tab\there", "q": "say \"hi\""})"),
      json::parse(R"([{"k": {}}, {"k": []}, null])"),
  };
  for (const auto& v : values) {
    CAPTURE(v.dump());
    const auto docs = parse(to_yaml(v));
    REQUIRE(docs.size() == 1);
    CHECK(docs[0].value == v);
  }
}

}  // namespace gpuorch::model
