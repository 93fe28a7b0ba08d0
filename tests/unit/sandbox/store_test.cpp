#include <gpuorch/sandbox/store.hpp>

#include <doctest/doctest.h>

using gpuorch::sandbox::DeleteOptions;
using gpuorch::sandbox::ListOptions;
using gpuorch::sandbox::PatchOptions;
using gpuorch::sandbox::PatchType;
using gpuorch::sandbox::ResourceType;
using gpuorch::sandbox::Store;
using gpuorch::sandbox::StoreOptions;
using gpuorch::sandbox::Subresource;
using gpuorch::sandbox::WriteOptions;
using nlohmann::json;

namespace {

ResourceType type_of(const Store& store, const std::string& group, const std::string& plural) {
  const std::string version =
      group.empty() || group == "batch" || group == "coordination.k8s.io" || group == "apiextensions.k8s.io"
          ? "v1"
          : "v1alpha1";
  auto t = store.find_type(group, version, plural);
  REQUIRE(t.has_value());
  return *t;
}

json pod(const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox:1.36"}}}}}}};
}

json job_named(const std::string& name) {
  json job;
  job["apiVersion"] = "batch/v1";
  job["kind"] = "Job";
  job["metadata"]["name"] = name;
  job["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  job["spec"]["template"]["spec"]["containers"] = json::array({{{"name", "main"}, {"image", "busybox"}}});
  return job;
}

json crd() {
  json schema = {{"type", "object"},
                 {"properties",
                  {{"spec",
                    {{"type", "object"},
                     {"required", {"modelName", "gpuCount"}},
                     {"properties",
                      {{"modelName", {{"type", "string"}}},
                       {"gpuCount", {{"type", "integer"}, {"minimum", 1}}},
                       {"priority", {{"type", "integer"}, {"default", 0}}}}}}},
                   {"status", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "gpuworkloads.gpuorch.io"}}},
          {"spec",
           {{"group", "gpuorch.io"},
            {"scope", "Namespaced"},
            {"names", {{"plural", "gpuworkloads"}, {"kind", "GPUWorkload"}, {"shortNames", {"gw"}}}},
            {"versions",
             {{{"name", "v1alpha1"},
               {"served", true},
               {"storage", true},
               {"schema", {{"openAPIV3Schema", schema}}},
               {"subresources", {{"status", json::object()}}}}}}}}};
}

}  // namespace

TEST_CASE("create assigns uid, resourceVersion, generation and creationTimestamp, a second create conflicts") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  auto created = store.create(pods, "default", pod("a"));
  REQUIRE(created.ok());
  CHECK_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());
  CHECK((*created)["metadata"]["generation"] == 1);
  CHECK_FALSE((*created)["metadata"]["resourceVersion"].get<std::string>().empty());
  CHECK((*created)["status"]["phase"] == "Pending");
  auto again = store.create(pods, "default", pod("a"));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().http_status() == 409);
  CHECK(again.error().reason() == "AlreadyExists");
  CHECK(again.error().message() == "pods \"a\" already exists");
}

TEST_CASE("create in a missing namespace is 404, an invalid name is 422 naming metadata.name") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  auto missing = store.create(pods, "nope", pod("a"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().http_status() == 404);
  CHECK(missing.error().message() == "namespaces \"nope\" not found");
  auto bad = store.create(pods, "default", pod("Bad_Name"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().http_status() == 422);
  REQUIRE(bad.error().causes().size() == 1);
  CHECK(bad.error().causes()[0].field == "metadata.name");
}

TEST_CASE("generateName produces a unique name with the prefix") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  json p = pod("");
  p["metadata"].erase("name");
  p["metadata"]["generateName"] = "job-";
  auto a = store.create(pods, "default", p);
  auto b = store.create(pods, "default", p);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  const std::string na = (*a)["metadata"]["name"];
  CHECK(na.starts_with("job-"));
  CHECK(na.size() == 9);
  CHECK(na != (*b)["metadata"]["name"].get<std::string>());
}

TEST_CASE("update with a stale resourceVersion is a 409 Conflict and changes nothing") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  auto created = store.create(pods, "default", pod("a"));
  REQUIRE(created.ok());
  json first = *created;
  first["metadata"]["labels"]["x"] = "1";
  REQUIRE(store.update(pods, "default", "a", first, Subresource::none).ok());
  json stale = *created;
  stale["metadata"]["labels"]["x"] = "2";
  auto conflict = store.update(pods, "default", "a", stale, Subresource::none);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().http_status() == 409);
  CHECK(conflict.error().reason() == "Conflict");
  CHECK((*store.get(pods, "default", "a"))["metadata"]["labels"]["x"] == "1");
}

TEST_CASE("generation moves with spec changes only, the status subresource never bumps it") {
  Store store;
  const auto jobs = type_of(store, "batch", "jobs");
  const json job = job_named("j");
  auto created = store.create(jobs, "default", job);
  REQUIRE(created.ok());
  json labelled = *created;
  labelled["metadata"]["labels"]["a"] = "b";
  auto after_label = store.update(jobs, "default", "j", labelled, Subresource::none);
  REQUIRE(after_label.ok());
  CHECK((*after_label)["metadata"]["generation"] == 1);
  json with_status = *after_label;
  with_status["status"]["active"] = 1;
  auto after_status = store.update(jobs, "default", "j", with_status, Subresource::status);
  REQUIRE(after_status.ok());
  CHECK((*after_status)["metadata"]["generation"] == 1);
  CHECK((*after_status)["status"]["active"] == 1);
  json spec_change = *after_status;
  spec_change["spec"]["parallelism"] = 2;
  spec_change["status"]["active"] = 5;  // ignored on the main resource
  auto after_spec = store.update(jobs, "default", "j", spec_change, Subresource::none);
  REQUIRE(after_spec.ok());
  CHECK((*after_spec)["metadata"]["generation"] == 2);
  CHECK((*after_spec)["status"]["active"] == 1);
}

TEST_CASE("delete with a finalizer marks, removing the finalizer deletes") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  json p = pod("f");
  p["metadata"]["finalizers"] = {"example.com/hold"};
  REQUIRE(store.create(pods, "default", p).ok());
  auto marked = store.remove(pods, "default", "f");
  REQUIRE(marked.ok());
  CHECK((*marked)["metadata"].contains("deletionTimestamp"));
  auto still = store.get(pods, "default", "f");
  REQUIRE(still.ok());
  json adding = *still;
  adding["metadata"]["finalizers"].push_back("example.com/another");
  auto forbidden = store.update(pods, "default", "f", adding, Subresource::none);
  REQUIRE_FALSE(forbidden.ok());
  CHECK(forbidden.error().http_status() == 422);
  auto released = store.patch(pods, "default", "f", PatchType::json_patch,
                              json::array({{{"op", "remove"}, {"path", "/metadata/finalizers"}}}), Subresource::none);
  REQUIRE(released.ok());
  CHECK(store.get(pods, "default", "f").error().http_status() == 404);
}

TEST_CASE("label and field selectors, limit and continue") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store.create(pods, "default", pod("p" + std::to_string(i), {{"tier", i % 2 == 0 ? "even" : "odd"}})).ok());
  }
  ListOptions even;
  even.label_selector = "tier in (even)";
  CHECK((*store.list(pods, "default", even))["items"].size() == 3);
  ListOptions not_odd;
  not_odd.label_selector = "tier!=odd,!missing";
  CHECK((*store.list(pods, "default", not_odd))["items"].size() == 3);
  ListOptions by_name;
  by_name.field_selector = "metadata.name=p1";
  CHECK((*store.list(pods, "default", by_name))["items"].size() == 1);
  ListOptions bad_field;
  bad_field.field_selector = "spec.image=x";
  CHECK(store.list(pods, "default", bad_field).error().http_status() == 400);
  ListOptions page;
  page.limit = 2;
  auto first = store.list(pods, "default", page);
  REQUIRE(first.ok());
  CHECK((*first)["items"].size() == 2);
  CHECK((*first)["metadata"]["remainingItemCount"] == 3);
  page.continue_token = (*first)["metadata"]["continue"];
  auto second = store.list(pods, "default", page);
  REQUIRE(second.ok());
  CHECK((*second)["items"][0]["metadata"]["name"] == "p2");
}

TEST_CASE("watch replays from a resourceVersion and answers 410 once the history moved on") {
  StoreOptions options;
  options.history = 3;
  Store store(options);
  const auto pods = type_of(store, "", "pods");
  auto a = store.create(pods, "default", pod("a"));
  REQUIRE(a.ok());
  const std::string rv = (*a)["metadata"]["resourceVersion"];
  ListOptions from;
  from.resource_version = rv;
  auto w = store.watch(pods, "default", from);
  REQUIRE(w.ok());
  REQUIRE(store.create(pods, "default", pod("b")).ok());
  auto event = (*w)->next(std::chrono::milliseconds(100));
  REQUIRE(event.has_value());
  CHECK(event->type == "ADDED");
  CHECK((*event->object)["metadata"]["name"] == "b");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store.create(pods, "default", pod("x" + std::to_string(i))).ok());
  }
  auto gone = store.watch(pods, "default", from);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().http_status() == 410);
}

TEST_CASE("a watch with a label selector sees an object leave the selection as DELETED") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  auto created = store.create(pods, "default", pod("a", {{"app", "x"}}));
  REQUIRE(created.ok());
  ListOptions sel;
  sel.label_selector = "app=x";
  sel.resource_version = (*created)["metadata"]["resourceVersion"];
  auto w = store.watch(pods, "default", sel);
  REQUIRE(w.ok());
  REQUIRE(store
              .patch(pods, "default", "a", PatchType::merge_patch, {{"metadata", {{"labels", {{"app", "y"}}}}}},
                     Subresource::none)
              .ok());
  auto event = (*w)->next(std::chrono::milliseconds(100));
  REQUIRE(event.has_value());
  CHECK(event->type == "DELETED");
}

TEST_CASE("ownerReference garbage collection deletes dependents of a deleted owner") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  const auto jobs = type_of(store, "batch", "jobs");
  const json job = job_named("j");
  auto owner = store.create(jobs, "default", job);
  REQUIRE(owner.ok());
  json dependent = pod("j-1");
  dependent["metadata"]["ownerReferences"] = {{{"apiVersion", "batch/v1"},
                                               {"kind", "Job"},
                                               {"name", "j"},
                                               {"uid", (*owner)["metadata"]["uid"]},
                                               {"controller", true}}};
  REQUIRE(store.create(pods, "default", dependent).ok());
  REQUIRE(store.remove(jobs, "default", "j").ok());
  CHECK(store.collect_garbage() >= 1);
  CHECK(store.get(pods, "default", "j-1").error().http_status() == 404);
}

TEST_CASE("dry run validates and answers without storing") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  const auto before = store.resource_version();
  auto dry = store.create(pods, "default", pod("d"), WriteOptions{true, "test"});
  REQUIRE(dry.ok());
  CHECK(store.resource_version() == before);
  CHECK(store.get(pods, "default", "d").error().http_status() == 404);
}

TEST_CASE("custom resources are served once their CRD exists, defaulted and validated by its schema") {
  Store store;
  const auto crds = type_of(store, "apiextensions.k8s.io", "customresourcedefinitions");
  REQUIRE(store.create(crds, "", crd()).ok());
  const auto gw = type_of(store, "gpuorch.io", "gpuworkloads");
  CHECK(gw.status_subresource);
  json ok = {{"apiVersion", "gpuorch.io/v1alpha1"},
             {"kind", "GPUWorkload"},
             {"metadata", {{"name", "w"}}},
             {"spec", {{"modelName", "llama"}, {"gpuCount", 2}, {"unknownField", true}}}};
  auto created = store.create(gw, "default", ok);
  REQUIRE(created.ok());
  CHECK((*created)["spec"]["priority"] == 0);
  CHECK_FALSE((*created)["spec"].contains("unknownField"));
  json bad = ok;
  bad["metadata"]["name"] = "bad";
  bad["spec"]["gpuCount"] = 0;
  auto invalid = store.create(gw, "default", bad);
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().http_status() == 422);
  REQUIRE_FALSE(invalid.error().causes().empty());
  CHECK(invalid.error().causes()[0].field == "spec.gpuCount");
  // Strategic merge patch is not for custom resources.
  auto smp = store.patch(gw, "default", "w", PatchType::strategic_merge_patch, {{"spec", {{"gpuCount", 3}}}},
                         Subresource::none);
  CHECK(smp.error().http_status() == 415);
  // Deleting the CRD removes its type and objects.
  REQUIRE(store.remove(crds, "", "gpuworkloads.gpuorch.io").ok());
  CHECK_FALSE(store.find_type("gpuorch.io", "v1alpha1", "gpuworkloads").has_value());
}

TEST_CASE("server-side apply creates, updates, removes dropped fields and reports conflicts") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  json config = pod("s", {{"a", "1"}, {"b", "2"}});
  PatchOptions alice;
  alice.field_manager = "alice";
  auto created = store.patch(pods, "default", "s", PatchType::apply, config, Subresource::none, alice);
  REQUIRE(created.ok());
  CHECK((*created)["metadata"]["managedFields"][0]["manager"] == "alice");
  json fewer = pod("s", {{"a", "1"}});
  auto applied = store.patch(pods, "default", "s", PatchType::apply, fewer, Subresource::none, alice);
  REQUIRE(applied.ok());
  CHECK_FALSE((*applied)["metadata"]["labels"].contains("b"));
  PatchOptions bob;
  bob.field_manager = "bob";
  json other = pod("s", {{"a", "changed"}});
  auto conflict = store.patch(pods, "default", "s", PatchType::apply, other, Subresource::none, bob);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().http_status() == 409);
  bob.force = true;
  auto forced = store.patch(pods, "default", "s", PatchType::apply, other, Subresource::none, bob);
  REQUIRE(forced.ok());
  CHECK((*forced)["metadata"]["labels"]["a"] == "changed");
}

TEST_CASE("strategic merge patch merges containers by name and finalizers as a set") {
  Store store;
  const auto pods = type_of(store, "", "pods");
  json p = pod("m");
  p["metadata"]["finalizers"] = {"x"};
  REQUIRE(store.create(pods, "default", p).ok());
  json patch = {{"metadata", {{"finalizers", {"y"}}}},
                {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox:1.37"}}}}}}};
  auto patched = store.patch(pods, "default", "m", PatchType::strategic_merge_patch, patch, Subresource::none);
  REQUIRE(patched.ok());
  CHECK((*patched)["metadata"]["finalizers"] == json({"x", "y"}));
  CHECK((*patched)["spec"]["containers"].size() == 1);
  CHECK((*patched)["spec"]["containers"][0]["image"] == "busybox:1.37");
  CHECK((*patched)["spec"]["containers"][0]["terminationMessagePolicy"] == "File");
}
