#include <gpuorch/install/manifests.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

using gpuorch::ErrorCode;
using gpuorch::install::ManifestFile;
using gpuorch::install::Mode;
using nlohmann::json;
namespace install = gpuorch::install;

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::string text;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
      text.append(buffer, n);
    }
    std::fclose(f);
  }
  return text;
}

/// packaging/kubernetes as the build embeds it (the tests run in the source tree).
std::vector<ManifestFile> repository_manifests() {
  const std::filesystem::path dir = "packaging/kubernetes";
  std::vector<ManifestFile> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back({std::filesystem::relative(entry.path(), dir).generic_string(), read_file(entry.path())});
    }
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

/// A pod spec's body, indented under its `spec:` key.
std::string pod(const std::string& indent) {
  return "\n" + indent + "serviceAccountName: gpuorch-reconciler\n" + indent + "containers:\n" + indent +
         "  - name: reconcile\n" + indent + "    image: ghcr.io/OWNER/gpuorch:VERSION\n";
}

std::vector<ManifestFile> synthetic() {
  return {
      {"base/kustomization.yaml", "resources: [rbac.yaml]\n"},
      {"base/rbac.yaml",
       "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n---\n"
       "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: gpuorch-system}\n"},
      {"base/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: gpuorch-system}\n"},
      {"cronjob/cronjob.yaml", std::string("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: "
                                           "gpuorch-system}\nspec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    "
                                           "spec:\n      template:\n        spec:") +
                                   pod("          ")},
      {"deployment/service.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: gpuorch-system}\n"},
      {"deployment/deployment.yaml",
       std::string("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: gpuorch-system}\nspec:\n  "
                   "template:\n    spec:") +
           pod("      ")},
  };
}

std::vector<std::string> kinds(const std::vector<json>& objects) {
  std::vector<std::string> out;
  for (const auto& object : objects) {
    out.push_back(object["kind"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("mode_of: a directory or file stem names the mode, the rest is shared") {
  CHECK(install::mode_of("cronjob.yaml") == Mode::cronjob);
  CHECK(install::mode_of("deployment/service.yaml") == Mode::deployment);
  CHECK(install::mode_of("overlays/deployment/patch.yaml") == Mode::deployment);
  CHECK_FALSE(install::mode_of("base/rbac.yaml").has_value());
  CHECK_FALSE(install::mode_of("crd.yaml").has_value());
}

TEST_CASE("install objects: the mode's files plus the shared ones, in apply order") {
  const auto files = synthetic();
  auto cron = install::install_objects(files, {Mode::cronjob, "", ""});
  REQUIRE(cron.ok());
  CHECK(kinds(*cron) == std::vector<std::string>{"Namespace", "ServiceAccount", "ClusterRole", "CronJob"});
  auto deploy = install::install_objects(files, {Mode::deployment, "", ""});
  REQUIRE(deploy.ok());
  CHECK(kinds(*deploy) ==
        std::vector<std::string>{"Namespace", "ServiceAccount", "ClusterRole", "Service", "Deployment"});
}

TEST_CASE("install objects: --image replaces every container image and --schedule the CronJob's") {
  const auto files = synthetic();
  auto cron = install::install_objects(files, {Mode::cronjob, "registry.example/g:1", "*/5 * * * *"});
  REQUIRE(cron.ok());
  const json& cronjob = cron->back();
  CHECK(cronjob["spec"]["schedule"] == "*/5 * * * *");
  CHECK(cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/g:1");
  auto deploy = install::install_objects(files, {Mode::deployment, "registry.example/g:2", ""});
  REQUIRE(deploy.ok());
  CHECK(deploy->back()["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/g:2");
}

TEST_CASE("install objects: a bad schedule or a schedule without a CronJob is refused") {
  const auto files = synthetic();
  auto bad = install::install_objects(files, {Mode::cronjob, "", "*/5 * * *"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::invalid);
  CHECK(bad.error().message() == "--schedule \"*/5 * * *\": expected exactly 5 fields, found 4: */5 * * *");
  auto deploy = install::install_objects(files, {Mode::deployment, "", "* * * * *"});
  REQUIRE_FALSE(deploy.ok());
  CHECK(deploy.error().code() == ErrorCode::usage);
}

TEST_CASE("install objects: a mode without its controller manifest is an error, not an empty install") {
  auto files = synthetic();
  files.erase(
      std::remove_if(files.begin(), files.end(), [](const auto& f) { return f.path.starts_with("deployment/"); }),
      files.end());
  auto deploy = install::install_objects(files, {Mode::deployment, "", ""});
  REQUIRE_FALSE(deploy.ok());
  CHECK(deploy.error().message().find("no Deployment manifest") != std::string::npos);
}

TEST_CASE("uninstall objects: every mode, reverse apply order, each object once") {
  auto files = synthetic();
  files.push_back({"deployment/rbac.yaml",
                   "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: "
                   "gpuorch-system}\n"});
  auto objects = install::uninstall_objects(files);
  REQUIRE(objects.ok());
  CHECK(kinds(*objects) ==
        std::vector<std::string>{"Deployment", "CronJob", "Service", "ClusterRole", "ServiceAccount", "Namespace"});
}

TEST_CASE("an unknown kind or a nameless object in the manifests is reported with its file") {
  std::vector<ManifestFile> files{{"extra.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}};
  auto unknown = install::uninstall_objects(files);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message() ==
        "packaging/kubernetes/extra.yaml document 1: gpuorch install does not know how to apply example.com/v1 Widget");
  files = {{"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {}\n"}};
  auto nameless = install::uninstall_objects(files);
  REQUIRE_FALSE(nameless.ok());
  CHECK(nameless.error().message() == "packaging/kubernetes/ns.yaml document 1: metadata.name is missing");
}

TEST_CASE("gvr_of and kubectl_name follow the API's resources and kubectl's names") {
  const json cronjob = {{"apiVersion", "batch/v1"}, {"kind", "CronJob"}, {"metadata", {{"name", "c"}}}};
  const auto gvr = install::gvr_of(cronjob);
  REQUIRE(gvr.has_value());
  CHECK(gvr->group == "batch");
  CHECK(gvr->resource == "cronjobs");
  CHECK(gvr->namespaced);
  CHECK(install::kubectl_name(cronjob) == "cronjob.batch/c");
  const json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "gpuorch-system"}}}};
  CHECK(install::kubectl_name(ns) == "namespace/gpuorch-system");
  CHECK_FALSE(install::gvr_of(ns)->namespaced);
}

TEST_CASE("the repository's packaging/kubernetes installs in cronjob mode with the CRD before the CronJob") {
  const auto files = repository_manifests();
  REQUIRE_FALSE(files.empty());
  auto objects = install::install_objects(files, {Mode::cronjob, "registry.example/g:1", ""});
  if (!objects.ok()) {
    FAIL(objects.error().message());
  }
  const auto k = kinds(*objects);
  CHECK(k.front() == "Namespace");
  CHECK(std::find(k.begin(), k.end(), "CustomResourceDefinition") != k.end());
  CHECK(k.back() == "CronJob");
  for (const auto& object : *objects) {
    if (install::gvr_of(object)->namespaced) {
      CHECK(object["metadata"].value("namespace", "") == install::k_namespace);
    }
  }
  auto all = install::uninstall_objects(files);
  REQUIRE(all.ok());
  CHECK(all->back()["kind"] == "Namespace");
}

TEST_CASE("other mode objects: what only the other mode has, in deletion order, never a shared object") {
  auto files = synthetic();
  // A ServiceAccount both modes name is applied by either, so never pruned.
  files.push_back({"deployment/rbac.yaml",
                   "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa2, namespace: "
                   "gpuorch-system}\n"});
  files.push_back({"cronjob/rbac.yaml",
                   "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa2, namespace: "
                   "gpuorch-system}\n"});
  auto from_cron = install::other_mode_objects(files, Mode::cronjob);
  REQUIRE(from_cron.ok());
  CHECK(kinds(*from_cron) == std::vector<std::string>{"Deployment", "Service"});
  auto from_deploy = install::other_mode_objects(files, Mode::deployment);
  REQUIRE(from_deploy.ok());
  CHECK(kinds(*from_deploy) == std::vector<std::string>{"CronJob"});
}

TEST_CASE("owned_by_gpuorch: only the part-of label with the value gpuorch") {
  CHECK(install::owned_by_gpuorch(json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/part-of":"gpuorch"}}})")));
  CHECK_FALSE(
      install::owned_by_gpuorch(json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/part-of":"other"}}})")));
  CHECK_FALSE(
      install::owned_by_gpuorch(json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/name":"gpuorch"}}})")));
  CHECK_FALSE(install::owned_by_gpuorch(json::parse(R"({"metadata":{"name":"gpuorch-reconcile"}})")));
}

TEST_CASE("the repository's other-mode objects carry the label install prunes by") {
  const auto files = repository_manifests();
  for (const Mode mode : {Mode::cronjob, Mode::deployment}) {
    auto others = install::other_mode_objects(files, mode);
    REQUIRE(others.ok());
    CHECK_FALSE(others->empty());
    for (const auto& object : *others) {
      INFO(install::kubectl_name(object));
      CHECK(install::owned_by_gpuorch(object));
    }
  }
  auto from_cron = install::other_mode_objects(files, Mode::cronjob);
  CHECK(from_cron->front()["kind"] == "Deployment");
}
