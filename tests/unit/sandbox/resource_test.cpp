#include <gpuorch/sandbox/openapi.hpp>
#include <gpuorch/sandbox/store.hpp>

#include <algorithm>
#include <functional>

#include <doctest/doctest.h>

using gpuorch::sandbox::ResourceType;
using gpuorch::sandbox::Store;
using nlohmann::json;

namespace {

ResourceType type_of(const Store& store, const std::string& group, const std::string& plural) {
  auto t = store.find_type(group, "v1", plural);
  REQUIRE(t.has_value());
  return *t;
}

json cronjob(const std::string& name, const std::string& schedule) {
  json pod_spec = {{"restartPolicy", "OnFailure"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "CronJob"},
          {"metadata", {{"name", name}}},
          {"spec", {{"schedule", schedule}, {"jobTemplate", {{"spec", {{"template", {{"spec", pod_spec}}}}}}}}}};
}

}  // namespace

TEST_CASE("cron job schedules are validated as the CronJob API does, and defaults applied") {
  Store store;
  const auto cronjobs = type_of(store, "batch", "cronjobs");
  int i = 0;
  for (const char* ok : {"*/5 * * * *", "0 0 * * SUN", "@hourly", "0 9-17 * JAN-MAR MON-FRI", "15,45 */2 1 * 0-6"}) {
    auto created = store.create(cronjobs, "default", cronjob("ok-" + std::to_string(i++), ok));
    CHECK_MESSAGE(created.ok(), ok);
  }
  auto created = store.get(cronjobs, "default", "ok-0");
  REQUIRE(created.ok());
  CHECK((*created)["spec"]["concurrencyPolicy"] == "Allow");
  CHECK((*created)["spec"]["suspend"] == false);
  CHECK((*created)["spec"]["successfulJobsHistoryLimit"] == 3);
  CHECK((*created)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler");
  for (const char* bad : {"61 * * * *", "* * * *", "TZ=UTC 0 * * * *", "@fortnightly", "*/0 * * * *"}) {
    auto rejected = store.create(cronjobs, "default", cronjob("bad", bad));
    REQUIRE_FALSE(rejected.ok());
    CHECK(rejected.error().http_status() == 422);
    REQUIRE(!rejected.error().causes().empty());
    CHECK(rejected.error().causes()[0].field == "spec.schedule");
  }
}

TEST_CASE("services get a cluster IP and port defaults, a port without a number is 422") {
  Store store;
  const auto services = type_of(store, "", "services");
  json svc = {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}}},
              {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}};
  auto created = store.create(services, "default", svc);
  REQUIRE(created.ok());
  const json& spec = (*created)["spec"];
  CHECK(spec["type"] == "ClusterIP");
  CHECK(spec["ports"][0]["protocol"] == "TCP");
  CHECK(spec["ports"][0]["targetPort"] == 80);
  const std::string ip = spec["clusterIP"].get<std::string>();
  CHECK(ip.starts_with("10."));
  CHECK(spec["clusterIPs"] == json::array({ip}));
  // The address stays with the service across updates.
  json changed = *created;
  changed["spec"].erase("clusterIP");
  changed["spec"].erase("clusterIPs");
  changed["metadata"]["labels"]["tier"] = "front";
  auto updated = store.update(services, "default", "web", changed, gpuorch::sandbox::Subresource::none);
  REQUIRE(updated.ok());
  CHECK((*updated)["spec"]["clusterIP"] == ip);

  svc["metadata"]["name"] = "broken";
  svc["spec"]["ports"] = {{{"name", "http"}}};
  auto rejected = store.create(services, "default", svc);
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().causes()[0].field == "spec.ports[0].port");
}

TEST_CASE("secrets fold stringData into base64 data, deployments need a selector matching the template") {
  Store store;
  const auto secrets = type_of(store, "", "secrets");
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "token"}}},
                 {"stringData", {{"token", "hello"}}}};
  auto created = store.create(secrets, "default", secret);
  REQUIRE(created.ok());
  CHECK((*created)["data"]["token"] == "aGVsbG8=");
  CHECK((*created)["type"] == "Opaque");
  CHECK_FALSE(created->contains("stringData"));

  auto deployments = store.find_type("apps", "v1", "deployments");
  REQUIRE(deployments.has_value());
  json d;
  d["apiVersion"] = "apps/v1";
  d["kind"] = "Deployment";
  d["metadata"]["name"] = "web";
  d["spec"]["selector"]["matchExpressions"] =
      json::array({{{"key", "app"}, {"operator", "In"}, {"values", json::array({"web"})}}});
  d["spec"]["template"]["metadata"]["labels"]["app"] = "api";
  d["spec"]["template"]["spec"]["containers"] = json::array({{{"name", "c"}, {"image", "nginx"}}});
  auto rejected = store.create(*deployments, "default", d);
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().causes()[0].field == "spec.template.metadata.labels");
  d["spec"]["template"]["metadata"]["labels"]["app"] = "web";
  auto ok = store.create(*deployments, "default", d);
  REQUIRE(ok.ok());
  CHECK((*ok)["spec"]["replicas"] == 1);
  CHECK((*ok)["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%");
}

TEST_CASE("events.k8s.io/v1 Events are core/v1 Events with renamed fields") {
  const auto types = gpuorch::sandbox::builtin_types();
  const auto it =
      std::find_if(types.begin(), types.end(), [](const ResourceType& t) { return t.group == "events.k8s.io"; });
  REQUIRE(it != types.end());
  CHECK(it->bucket() == "/events");
  const json core = {{"involvedObject", {{"name", "x"}}},
                     {"message", "hi"},
                     {"reportingComponent", "c"},
                     {"reason", "R"},
                     {"metadata", {{"managedFields", {{{"fieldsV1", {{"f:message", json::object()}}}}}}}}};
  const json external = it->to_external(core);
  CHECK(external["regarding"]["name"] == "x");
  CHECK(external["note"] == "hi");
  CHECK(external["reportingController"] == "c");
  CHECK(external["reason"] == "R");
  CHECK(external["metadata"]["managedFields"][0]["fieldsV1"].contains("f:note"));
  CHECK(it->to_stored(external) == core);
}

TEST_CASE("OpenAPI schemas: every served built-in kind, tagged, with what it references") {
  const auto types = gpuorch::sandbox::builtin_types();
  const json schemas = gpuorch::sandbox::openapi_schemas(types);
  for (const ResourceType& t : types) {
    const std::string name = gpuorch::sandbox::openapi_schema_name(t);
    REQUIRE_MESSAGE(schemas.contains(name), name);
    const json& gvk = schemas[name]["x-kubernetes-group-version-kind"][0];
    CHECK(gvk["kind"] == t.kind);
    CHECK(gvk["group"] == t.group);
  }
  // Every reference resolves.
  const std::string prefix = "#/components/schemas/";
  std::function<void(const json&)> check = [&](const json& s) {
    if (s.is_object()) {
      for (const auto& [k, v] : s.items()) {
        if (k == "$ref") {
          CHECK_MESSAGE(schemas.contains(v.get<std::string>().substr(prefix.size())), v.get<std::string>());
        } else {
          check(v);
        }
      }
    } else if (s.is_array()) {
      for (const json& v : s) {
        check(v);
      }
    }
  };
  check(schemas);
  const json& containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
  CHECK(containers["x-kubernetes-list-map-keys"] == json::array({"name"}));
  const json v2 = gpuorch::sandbox::openapi_v2_document(types, "v1.32.0");
  CHECK(v2["swagger"] == "2.0");
  CHECK(v2["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"] ==
        "#/definitions/io.k8s.api.core.v1.PodSpec");
  const std::string pb = gpuorch::sandbox::openapi_v2_protobuf(v2);
  REQUIRE(pb.size() > 5);
  CHECK(pb.substr(0, 5) == std::string("\x0a\x03"
                                       "2.0",
                                       5));
}
