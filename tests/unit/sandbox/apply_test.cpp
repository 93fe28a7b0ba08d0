#include <gpuorch/sandbox/store.hpp>

#include <doctest/doctest.h>

using gpuorch::sandbox::PatchOptions;
using gpuorch::sandbox::PatchType;
using gpuorch::sandbox::ResourceType;
using gpuorch::sandbox::Store;
using gpuorch::sandbox::Subresource;
using nlohmann::json;

namespace {

ResourceType type_of(const Store& store, const std::string& group, const std::string& version,
                     const std::string& plural) {
  auto t = store.find_type(group, version, plural);
  REQUIRE(t.has_value());
  return *t;
}

// A Deployment apply configuration with the given containers.
json deployment(const json& containers) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "web"}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"app", "web"}}}}},
            {"template", {{"metadata", {{"labels", {{"app", "web"}}}}}, {"spec", {{"containers", containers}}}}}}}};
}

PatchOptions manager(const std::string& name, bool force = false) {
  PatchOptions o;
  o.field_manager = name;
  o.force = force;
  return o;
}

const json& containers_of(const json& d) {
  return d["spec"]["template"]["spec"]["containers"];
}

const json* container(const json& d, const std::string& name) {
  for (const json& c : containers_of(d)) {
    if (c.value("name", "") == name) {
      return &c;
    }
  }
  return nullptr;
}

json fields_of(const json& object, const std::string& manager) {
  for (const json& e : object["metadata"]["managedFields"]) {
    if (e.value("manager", "") == manager) {
      return e["fieldsV1"];
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("apply merges containers by name: two managers each own their container") {
  Store store;
  const auto deployments = type_of(store, "apps", "v1", "deployments");
  const json a = deployment({{{"name", "app"}, {"image", "app:1"}}});
  REQUIRE(store.patch(deployments, "default", "web", PatchType::apply, a, Subresource::none, manager("alice")).ok());
  const json b = deployment({{{"name", "sidecar"}, {"image", "proxy:1"}}});
  auto both = store.patch(deployments, "default", "web", PatchType::apply, b, Subresource::none, manager("bob"));
  REQUIRE(both.ok());
  REQUIRE(containers_of(*both).size() == 2);
  CHECK((*container(*both, "app"))["image"] == "app:1");
  CHECK((*container(*both, "sidecar"))["image"] == "proxy:1");
  // Ownership is per element, keyed as the API server keys it.
  const json bob = fields_of(*both, "bob");
  const json& bob_containers = bob["f:spec"]["f:template"]["f:spec"]["f:containers"];
  CHECK(bob_containers.contains("k:{\"name\":\"sidecar\"}"));
  CHECK_FALSE(bob_containers.contains("k:{\"name\":\"app\"}"));
  CHECK(bob_containers["k:{\"name\":\"sidecar\"}"].contains("."));
  CHECK(bob_containers["k:{\"name\":\"sidecar\"}"].contains("f:image"));

  // Bob dropping his container removes it, and only it.
  json empty_b = deployment(json::array());
  empty_b["spec"]["template"]["spec"].erase("containers");
  auto dropped =
      store.patch(deployments, "default", "web", PatchType::apply, empty_b, Subresource::none, manager("bob"));
  const std::string why = dropped.ok() ? std::string() : dropped.error().message();
  INFO(why);
  REQUIRE(dropped.ok());
  CHECK(container(*dropped, "sidecar") == nullptr);
  REQUIRE(container(*dropped, "app") != nullptr);
}

TEST_CASE("apply conflicts on a field of another manager's element, names it, and force takes it over") {
  Store store;
  const auto deployments = type_of(store, "apps", "v1", "deployments");
  const json a = deployment({{{"name", "app"}, {"image", "app:1"}, {"env", {{{"name", "MODE"}, {"value", "fast"}}}}}});
  REQUIRE(store.patch(deployments, "default", "web", PatchType::apply, a, Subresource::none, manager("alice")).ok());

  // Same element, same values: shared ownership, no conflict.
  const json same = deployment({{{"name", "app"}, {"image", "app:1"}}});
  REQUIRE(store.patch(deployments, "default", "web", PatchType::apply, same, Subresource::none, manager("bob")).ok());

  // An env entry of its own merges in by name.
  const json env = deployment({{{"name", "app"}, {"image", "app:1"}, {"env", {{{"name", "DEBUG"}, {"value", "1"}}}}}});
  auto merged = store.patch(deployments, "default", "web", PatchType::apply, env, Subresource::none, manager("bob"));
  REQUIRE(merged.ok());
  CHECK((*container(*merged, "app"))["env"].size() == 2);

  // A different image conflicts with alice.
  const json other = deployment({{{"name", "app"}, {"image", "app:2"}}});
  auto conflict =
      store.patch(deployments, "default", "web", PatchType::apply, other, Subresource::none, manager("carol"));
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().http_status() == 409);
  CHECK(conflict.error().message().find("conflict with \"alice\"") != std::string::npos);
  CHECK(conflict.error().message().find(".spec.template.spec.containers[name=\"app\"].image") != std::string::npos);
  REQUIRE(!conflict.error().causes().empty());
  CHECK(conflict.error().causes()[0].reason == "FieldManagerConflict");

  auto forced =
      store.patch(deployments, "default", "web", PatchType::apply, other, Subresource::none, manager("carol", true));
  REQUIRE(forced.ok());
  CHECK((*container(*forced, "app"))["image"] == "app:2");
  const json alice = fields_of(*forced, "alice");
  CHECK_FALSE(alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"].contains("f:image"));
  // Alice keeps her env entry.
  CHECK(alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:env"].contains(
      "k:{\"name\":\"MODE\"}"));
}

TEST_CASE("apply keys container ports by containerPort and protocol, tolerations are atomic") {
  Store store;
  const auto deployments = type_of(store, "apps", "v1", "deployments");
  json a = deployment({{{"name", "app"}, {"image", "app:1"}, {"ports", {{{"containerPort", 80}}}}}});
  a["spec"]["template"]["spec"]["tolerations"] = {{{"key", "spot"}, {"operator", "Exists"}}};
  REQUIRE(store.patch(deployments, "default", "web", PatchType::apply, a, Subresource::none, manager("alice")).ok());
  json b = deployment({{{"name", "app"}, {"ports", {{{"containerPort", 80}, {"protocol", "UDP"}}}}}});
  auto merged = store.patch(deployments, "default", "web", PatchType::apply, b, Subresource::none, manager("bob"));
  REQUIRE(merged.ok());
  CHECK((*container(*merged, "app"))["ports"].size() == 2);  // 80/TCP and 80/UDP
  const json alice = fields_of(*merged, "alice");
  CHECK(alice["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:ports"].contains(
      "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"));
  // Tolerations are atomic: another list from another manager conflicts.
  json t = deployment({{{"name", "app"}}});
  t["spec"]["template"]["spec"]["tolerations"] = {{{"key", "gpu"}, {"operator", "Exists"}}};
  auto conflict = store.patch(deployments, "default", "web", PatchType::apply, t, Subresource::none, manager("bob"));
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().message().find(".spec.template.spec.tolerations") != std::string::npos);
}

TEST_CASE("finalizers apply as a set, an update takes over only the elements it adds") {
  Store store;
  const auto deployments = type_of(store, "apps", "v1", "deployments");
  json a = deployment({{{"name", "app"}, {"image", "app:1"}}});
  a["metadata"]["finalizers"] = {"a.example.com/x"};
  REQUIRE(store.patch(deployments, "default", "web", PatchType::apply, a, Subresource::none, manager("alice")).ok());
  json b = deployment({{{"name", "app"}, {"image", "app:1"}}});
  b["metadata"]["finalizers"] = {"b.example.com/y"};
  auto both = store.patch(deployments, "default", "web", PatchType::apply, b, Subresource::none, manager("bob"));
  REQUIRE(both.ok());
  CHECK((*both)["metadata"]["finalizers"] == json({"a.example.com/x", "b.example.com/y"}));
  CHECK(fields_of(*both, "bob")["f:metadata"]["f:finalizers"].contains("v:\"b.example.com/y\""));

  // A merge patch adding an env entry: the updater owns that entry only.
  const json patch = {
      {"spec",
       {{"template",
         {{"spec", {{"containers", {{{"name", "app"}, {"image", "app:1"}, {"env", {{{"name", "X"}}}}}}}}}}}}}};
  PatchOptions carol;
  carol.field_manager = "carol";
  auto patched =
      store.patch(deployments, "default", "web", PatchType::strategic_merge_patch, patch, Subresource::none, carol);
  REQUIRE(patched.ok());
  const json fields = fields_of(*patched, "carol");
  const json& c = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
  CHECK(c["f:env"].contains("k:{\"name\":\"X\"}"));
  CHECK_FALSE(c.contains("."));
  CHECK_FALSE(c.contains("f:image"));
}

TEST_CASE("custom resources keep atomic lists") {
  Store store;
  json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
              {"kind", "CustomResourceDefinition"},
              {"metadata", {{"name", "things.example.com"}}},
              {"spec",
               {{"group", "example.com"},
                {"scope", "Namespaced"},
                {"names", {{"plural", "things"}, {"kind", "Thing"}}},
                {"versions",
                 {{{"name", "v1"},
                   {"served", true},
                   {"storage", true},
                   {"schema",
                    {{"openAPIV3Schema",
                      {{"type", "object"},
                       {"properties",
                        {{"spec", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}}}}}};
  const auto crds = type_of(store, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
  REQUIRE(store.create(crds, "", crd).ok());
  const auto things = type_of(store, "example.com", "v1", "things");
  const auto thing = [](const json& containers) {
    return json{{"apiVersion", "example.com/v1"},
                {"kind", "Thing"},
                {"metadata", {{"name", "t"}}},
                {"spec", {{"containers", containers}}}};
  };
  REQUIRE(store
              .patch(things, "default", "t", PatchType::apply, thing({{{"name", "a"}}}), Subresource::none,
                     manager("alice"))
              .ok());
  auto conflict = store.patch(things, "default", "t", PatchType::apply, thing({{{"name", "b"}}}), Subresource::none,
                              manager("bob"));
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().http_status() == 409);
}
