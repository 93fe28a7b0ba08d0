#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <gpuorch/model/schema.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

// A small CRD-like schema exercising every enforced keyword.
Schema sample() {
  Schema spec = Schema::object("what to run");
  spec.property("name", Schema::string().with_length(1, 8), true);
  spec.property("count", Schema::integer().with_minimum(1).with_maximum(16), true);
  spec.property("ratio", Schema::number().with_minimum(0, true).with_maximum(1, true));
  spec.property("mode", Schema::string().with_enum({"Fast", "Slow"}).with_default("Fast"));
  spec.property("tags", Schema::array_of(Schema::string().with_pattern("^[a-z]+$")));
  spec.property("labels", Schema::map_of(Schema::string()));
  spec.property("size", [] {
    Schema s;
    s.int_or_string = true;
    return s;
  }());
  spec.property("when", [] {
    Schema s = Schema::string();
    s.format = "date-time";
    return s;
  }());
  spec.property("free", [] {
    Schema s = Schema::object();
    s.preserve_unknown_fields = true;
    return s;
  }());
  spec.property("opt", [] {
    Schema s = Schema::string();
    s.nullable = true;
    return s;
  }());
  spec.property("policy", Schema::object()
                              .property("retries", Schema::integer().with_default(3).with_minimum(0))
                              .property("backoff", Schema::integer().with_default(10))
                              .with_default(json::object()));
  Schema conditions = Schema::array_of(Schema::object()
                                           .property("type", Schema::string(), true)
                                           .property("status", Schema::string().with_enum({"True", "False"})));
  conditions.list_type = "map";
  conditions.list_map_keys = {"type"};
  spec.property("conditions", conditions);
  Schema set = Schema::array_of(Schema::string());
  set.list_type = "set";
  spec.property("set", set);
  Schema root = Schema::object();
  root.property("spec", spec, true);
  return root;
}

std::vector<std::string> causes_of(const json& value, bool strict = true) {
  ValidateOptions options;
  options.reject_unknown_fields = strict;
  std::vector<std::string> out;
  for (const auto& cause : sample().validate(value, options)) {
    out.push_back(cause.to_string());
  }
  return out;
}

json with_spec(json extra) {
  json spec = {{"name", "a"}, {"count", 1}};
  spec.update(extra);
  return {{"spec", spec}};
}

}  // namespace

TEST_CASE("Schema accepts valid values") {
  CHECK(causes_of(with_spec(json::object())).empty());
  CHECK(causes_of(with_spec({{"ratio", 0.5},
                             {"mode", "Slow"},
                             {"tags", {"a", "bc"}},
                             {"labels", {{"k", "v"}}},
                             {"size", 3},
                             {"when", "2024-05-01T12:00:00Z"},
                             {"free", {{"anything", {1, 2}}}},
                             {"opt", nullptr},
                             {"conditions", {{{"type", "A"}}, {{"type", "B"}, {"status", "True"}}}},
                             {"set", {"x", "y"}}}))
            .empty());
  CHECK(causes_of(with_spec({{"size", "16Gi"}, {"count", 4.0}})).empty());
}

TEST_CASE("Schema reports every violation with its field path") {
  struct Case {
    json value;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {json::object(), {"spec: required field is missing"}},
      {json::array(), {"must be an object, got an array"}},
      {{{"spec", {{"count", 1}}}}, {"spec.name: required field is missing"}},
      {with_spec({{"count", 0}}), {"spec.count: must be >= 1, got 0"}},
      {with_spec({{"count", 17}}), {"spec.count: must be <= 16, got 17"}},
      {with_spec({{"count", "4"}}), {"spec.count: must be an integer, got \"4\""}},
      {with_spec({{"count", 1.5}}), {"spec.count: must be an integer, got 1.5"}},
      {with_spec({{"count", 5000000000}}), {"spec.count: must fit in a 32-bit integer, got 5000000000"}},
      {with_spec({{"count", nullptr}}), {"spec.count: must be an integer, got null"}},
      {with_spec({{"ratio", 0}}), {"spec.ratio: must be > 0, got 0"}},
      {with_spec({{"ratio", 1}}), {"spec.ratio: must be < 1, got 1"}},
      {with_spec({{"ratio", true}}), {"spec.ratio: must be a number, got true"}},
      {with_spec({{"name", ""}}), {"spec.name: must not be empty"}},
      {with_spec({{"name", "abcdefghi"}}), {"spec.name: must be at most 8 characters long, got 9"}},
      {with_spec({{"name", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}}), {}},
      {with_spec({{"name", 7}}), {"spec.name: must be a string, got 7"}},
      {with_spec({{"mode", "Medium"}}), {"spec.mode: must be one of \"Fast\", \"Slow\", got \"Medium\""}},
      {with_spec({{"tags", {"ok", "Not-OK"}}}),
       {"spec.tags[1]: must match the regular expression \"^[a-z]+$\", got \"Not-OK\""}},
      {with_spec({{"tags", "a"}}), {"spec.tags: must be an array, got \"a\""}},
      {with_spec({{"labels", {{"k", 1}}}}), {"spec.labels[k]: must be a string, got 1"}},
      {with_spec({{"size", 1.5}}), {"spec.size: must be an integer or a string, got 1.5"}},
      {with_spec({{"when", "yesterday"}}),
       {"spec.when: must be an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\", got \"yesterday\""}},
      {with_spec({{"cnt", 1}, {"zzz", 2}}), {"spec: unknown field \"cnt\"", "spec: unknown field \"zzz\""}},
      {with_spec({{"policy", {{"retries", -1}, {"extra", true}}}}),
       {"spec.policy: unknown field \"extra\"", "spec.policy.retries: must be >= 0, got -1"}},
      {with_spec({{"conditions", {{{"type", "A"}}, {{"type", "A"}, {"status", "Maybe"}}, {{"status", "True"}}}}}),
       {"spec.conditions[1].status: must be one of \"True\", \"False\", got \"Maybe\"",
        "spec.conditions[2].type: required field is missing", "spec.conditions[1]: duplicate entry with type=\"A\""}},
      {with_spec({{"set", {"x", "y", "x"}}}), {"spec.set[2]: duplicate value \"x\""}},
      {{{"spec", {{"count", 0}, {"name", ""}, {"bogus", 1}}}},
       {"spec: unknown field \"bogus\"", "spec.count: must be >= 1, got 0", "spec.name: must not be empty"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value.dump());
    CHECK(causes_of(c.value) == c.expected);
  }
}

TEST_CASE("Schema ignores unknown fields when not strict") {
  CHECK(causes_of(with_spec({{"cnt", 1}}), false).empty());
  CHECK(causes_of(with_spec({{"cnt", 1}, {"count", 0}}), false) ==
        std::vector<std::string>{"spec.count: must be >= 1, got 0"});
}

TEST_CASE("Schema validation fills reason, path prefix and location") {
  ValidateOptions options;
  options.path = "spec";
  options.pointer = json::json_pointer("/spec");
  options.locate = [](const json::json_pointer& ptr, MarkTarget target) {
    return ptr.to_string() + (target == MarkTarget::key ? "@key" : "@value");
  };
  const Schema spec = *sample().find("spec");
  const auto causes = spec.validate({{"name", "a"}, {"count", 0}, {"x", 1}}, options);
  REQUIRE(causes.size() == 2);
  CHECK(causes[0] == FieldCause{"spec.count", "must be >= 1, got 0", "/spec/count@value", "FieldValueInvalid"});
  CHECK(causes[1] == FieldCause{"spec", "unknown field \"x\"", "/spec/x@key", "FieldValueUnknown"});
  const auto missing = spec.validate({{"count", 1}}, options);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0] == FieldCause{"spec.name", "required field is missing", "/spec@value", "FieldValueRequired"});
}

TEST_CASE("Schema applies defaults recursively") {
  json value = with_spec({{"opt", nullptr}});
  sample().apply_defaults(value);
  CHECK(value["spec"]["mode"] == "Fast");
  CHECK(value["spec"]["policy"] == json{{"retries", 3}, {"backoff", 10}});
  CHECK(value["spec"]["opt"].is_null());  // nullable: null stays

  json partial = with_spec({{"policy", {{"retries", 0}}}, {"mode", nullptr}});
  sample().apply_defaults(partial);
  CHECK(partial["spec"]["policy"] == json{{"retries", 0}, {"backoff", 10}});
  CHECK(partial["spec"]["mode"] == "Fast");  // null on a non-nullable field is defaulted

  json wrong_type = {{"spec", "text"}};
  sample().apply_defaults(wrong_type);
  CHECK(wrong_type == json{{"spec", "text"}});
}

TEST_CASE("Schema prunes undeclared fields but keeps preserved ones") {
  json value = with_spec({{"junk", 1}, {"free", {{"kept", 1}}}, {"labels", {{"a", "b"}}}});
  value["top"] = true;
  sample().prune(value);
  CHECK(value == with_spec({{"free", {{"kept", 1}}}, {"labels", {{"a", "b"}}}}));
}

TEST_CASE("Schema round trips through OpenAPI JSON") {
  const Schema original = sample();
  const json openapi = original.to_openapi();
  CHECK(openapi["properties"]["spec"]["properties"]["count"] ==
        json{{"type", "integer"}, {"format", "int32"}, {"minimum", 1}, {"maximum", 16}});
  CHECK(openapi["properties"]["spec"]["properties"]["size"] == json{{"x-kubernetes-int-or-string", true}});
  CHECK(openapi["properties"]["spec"]["required"] == json{"name", "count"});
  const auto parsed = Schema::from_openapi(openapi);
  REQUIRE(parsed.ok());
  CHECK(*parsed == original);
  CHECK(parsed->to_openapi() == openapi);
}

TEST_CASE("Schema keeps keywords it does not enforce") {
  const json openapi = {
      {"type", "object"},
      {"x-kubernetes-validations", {{{"rule", "self.a > 0"}}}},
      {"properties", {{"a", {{"anyOf", json::array({{{"type", "integer"}}, {{"type", "string"}}})}}}}},
  };
  const auto parsed = Schema::from_openapi(openapi);
  REQUIRE(parsed.ok());
  CHECK(parsed->to_openapi() == openapi);
  json free = {{"type", "object"}, {"additionalProperties", true}};
  const auto any = Schema::from_openapi(free);
  REQUIRE(any.ok());
  CHECK(any->validate({{"whatever", 1}}).empty());
  CHECK(any->to_openapi() == free);
}

TEST_CASE("Schema::from_openapi rejects malformed schemas with paths") {
  const json bad = {
      {"type", "object"},
      {"properties", {{"a", {{"type", "text"}}}, {"b", {{"minLength", -1}}}, {"c", {{"pattern", "("}}}}},
      {"required", "a"},
  };
  const auto parsed = Schema::from_openapi(bad);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code() == ErrorCode::invalid);
  std::vector<std::string> lines;
  for (const auto& c : parsed.error().causes()) {
    lines.push_back(c.to_string());
  }
  CHECK(lines == std::vector<std::string>{
                     "properties[a].type: must be one of \"object\", \"array\", \"string\", \"integer\", \"number\", "
                     "\"boolean\", got \"text\"",
                     "properties[b].minLength: must be a non-negative integer, got -1",
                     "properties[c].pattern: invalid regular expression \"(\"",
                     "required: must be an array of strings, got \"a\"",
                 });
  CHECK_FALSE(Schema::from_openapi(json::array()).ok());
}

TEST_CASE("Schema::find walks properties") {
  const Schema s = sample();
  REQUIRE(s.find("spec.count") != nullptr);
  CHECK(s.find("spec.count")->type == "integer");
  CHECK(s.find("spec.policy.retries")->default_value == json(3));
  CHECK(s.find("spec.nope") == nullptr);
  CHECK(s.find("") == &s);
}

}  // namespace gpuorch::model
