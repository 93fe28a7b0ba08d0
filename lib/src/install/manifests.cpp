#include <gpuorch/install/manifests.hpp>

#include <algorithm>
#include <array>
#include <cctype>

#include <gpuorch/base/error.hpp>
#include <gpuorch/model/cron.hpp>
#include <gpuorch/model/yaml.hpp>

namespace gpuorch::install {
namespace {

using nlohmann::json;

/// A kind gpuorch's manifests may contain: where it is served and when it is
/// applied. Lower ranks go first; deletion runs in the reverse order.
struct KindInfo {
  std::string_view api_version;
  std::string_view kind;
  std::string_view resource;
  bool namespaced;
  int rank;
};

constexpr std::array k_kinds{
    KindInfo{"v1", "Namespace", "namespaces", false, 0},
    KindInfo{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false, 1},
    KindInfo{"v1", "ServiceAccount", "serviceaccounts", true, 2},
    KindInfo{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", false, 3},
    KindInfo{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", false, 4},
    KindInfo{"rbac.authorization.k8s.io/v1", "Role", "roles", true, 5},
    KindInfo{"rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", true, 6},
    KindInfo{"v1", "ConfigMap", "configmaps", true, 7},
    KindInfo{"v1", "Secret", "secrets", true, 7},
    KindInfo{"v1", "Service", "services", true, 8},
    KindInfo{"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", true, 8},
    KindInfo{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true, 8},
    KindInfo{"apps/v1", "Deployment", "deployments", true, 9},
    KindInfo{"batch/v1", "CronJob", "cronjobs", true, 9},
};

const KindInfo* kind_info(const json& object) {
  if (!object.is_object()) {
    return nullptr;
  }
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  for (const auto& info : k_kinds) {
    if (info.api_version == api_version && info.kind == kind) {
      return &info;
    }
  }
  return nullptr;
}

int rank_of(const json& object) {
  const KindInfo* info = kind_info(object);
  return info ? info->rank : 100;
}

bool is_kustomization(std::string_view path) {
  const auto slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return name == "kustomization.yaml" || name == "kustomization.yml";
}

/// The pod specs of a workload controller (Deployment, CronJob).
std::vector<json*> pod_specs(json& object) {
  std::vector<json*> out;
  const std::string kind = object.value("kind", "");
  json* spec = nullptr;
  if (kind == "Deployment" && object.contains("spec")) {
    spec = &object["spec"];
  } else if (kind == "CronJob" && object.contains("spec") && object["spec"].contains("jobTemplate")) {
    spec = &object["spec"]["jobTemplate"]["spec"];
  }
  if (spec && spec->is_object() && spec->contains("template") && (*spec)["template"].contains("spec")) {
    out.push_back(&(*spec)["template"]["spec"]);
  }
  return out;
}

/// The same object: kind, name and namespace agree.
bool same_object(const json& a, const json& b) {
  return a["kind"] == b["kind"] && a["metadata"]["name"] == b["metadata"]["name"] &&
         a["metadata"].value("namespace", "") == b["metadata"].value("namespace", "");
}

void sort_by_rank(std::vector<json>& objects) {
  std::stable_sort(objects.begin(), objects.end(),
                   [](const json& a, const json& b) { return rank_of(a) < rank_of(b); });
}

}  // namespace

std::string_view to_string(Mode mode) {
  return mode == Mode::cronjob ? "cronjob" : "deployment";
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "cronjob") {
    return Mode::cronjob;
  }
  if (text == "deployment") {
    return Mode::deployment;
  }
  return std::nullopt;
}

std::optional<Mode> mode_of(std::string_view path) {
  std::size_t start = 0;
  while (start < path.size()) {
    const auto slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) {
      part = part.substr(0, part.find('.'));  // the file's stem
    }
    if (auto mode = parse_mode(part)) {
      return mode;
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return std::nullopt;
}

Result<std::vector<json>> parse_files(std::span<const ManifestFile> files, std::optional<Mode> only_mode,
                                      bool include_shared) {
  std::vector<json> out;
  for (const auto& file : files) {
    if (is_kustomization(file.path)) {
      continue;
    }
    const auto mode = mode_of(file.path);
    if (mode ? (only_mode && *mode != *only_mode) : !include_shared) {
      continue;
    }
    auto documents = model::parse_yaml_stream(file.text);
    if (!documents) {
      return Error(ErrorCode::internal, "packaging/kubernetes/" + file.path + ": " + documents.error().describe());
    }
    int index = 0;
    for (auto& document : *documents) {
      ++index;
      json& object = document.value;
      const std::string where = "packaging/kubernetes/" + file.path + " document " + std::to_string(index);
      if (!kind_info(object)) {
        return Error(ErrorCode::internal,
                     where + ": gpuorch install does not know how to apply " +
                         (object.is_object() ? object.value("apiVersion", "?") + " " + object.value("kind", "?")
                                             : std::string("a non-object")));
      }
      if (!object.contains("metadata") || object["metadata"].value("name", "").empty()) {
        return Error(ErrorCode::internal, where + ": metadata.name is missing");
      }
      out.push_back(std::move(object));
    }
  }
  return out;
}

Result<std::vector<json>> install_objects(std::span<const ManifestFile> files, const Customisation& custom) {
  if (!custom.schedule.empty()) {
    if (custom.mode != Mode::cronjob) {
      return Error(ErrorCode::usage, "--schedule applies to --mode cronjob only");
    }
    if (const std::string why = model::cron_schedule_error(custom.schedule); !why.empty()) {
      return Error(ErrorCode::invalid, "--schedule \"" + custom.schedule + "\": " + why);
    }
  }
  GPUORCH_ASSIGN_OR_RETURN(auto objects, parse_files(files, custom.mode, true));
  const std::string_view controller_kind = custom.mode == Mode::cronjob ? "CronJob" : "Deployment";
  const bool has_controller = std::any_of(
      objects.begin(), objects.end(), [&](const json& object) { return object.value("kind", "") == controller_kind; });
  if (!has_controller) {
    return Error(ErrorCode::invalid, "--mode " + std::string(to_string(custom.mode)) +
                                         ": this build of gpuorch has no " + std::string(controller_kind) +
                                         " manifest in packaging/kubernetes");
  }
  for (auto& object : objects) {
    if (!custom.schedule.empty() && object.value("kind", "") == "CronJob") {
      object["spec"]["schedule"] = custom.schedule;
    }
    if (custom.image.empty()) {
      continue;
    }
    for (json* pod_spec : pod_specs(object)) {
      for (const char* list : {"initContainers", "containers"}) {
        if (!pod_spec->contains(list)) {
          continue;
        }
        for (auto& container : (*pod_spec)[list]) {
          container["image"] = custom.image;
        }
      }
    }
  }
  sort_by_rank(objects);
  return objects;
}

Result<std::vector<json>> uninstall_objects(std::span<const ManifestFile> files) {
  GPUORCH_ASSIGN_OR_RETURN(auto objects, parse_files(files, std::nullopt, true));
  sort_by_rank(objects);
  std::reverse(objects.begin(), objects.end());
  // The same object may come from several modes (a shared ServiceAccount in two overlays).
  std::vector<json> unique;
  for (auto& object : objects) {
    if (std::none_of(unique.begin(), unique.end(), [&](const json& other) { return same_object(other, object); })) {
      unique.push_back(std::move(object));
    }
  }
  return unique;
}

Result<std::vector<json>> other_mode_objects(std::span<const ManifestFile> files, Mode mode) {
  const Mode other = mode == Mode::cronjob ? Mode::deployment : Mode::cronjob;
  GPUORCH_ASSIGN_OR_RETURN(auto candidates, parse_files(files, other, false));
  // An object both modes name (the same kind, name and namespace) is applied, not pruned.
  GPUORCH_ASSIGN_OR_RETURN(const auto kept, parse_files(files, mode, false));
  std::vector<json> out;
  for (auto& object : candidates) {
    if (std::none_of(kept.begin(), kept.end(), [&](const json& k) { return same_object(k, object); })) {
      out.push_back(std::move(object));
    }
  }
  sort_by_rank(out);
  std::reverse(out.begin(), out.end());
  return out;
}

bool owned_by_gpuorch(const json& live) {
  if (!live.is_object() || !live.contains("metadata") || !live["metadata"].contains("labels")) {
    return false;
  }
  const json& labels = live["metadata"]["labels"];
  const auto it = labels.find(std::string(k_part_of_label));
  return it != labels.end() && it->is_string() && it->get<std::string>() == "gpuorch";
}

std::optional<kube::Gvr> gvr_of(const json& object) {
  const KindInfo* info = kind_info(object);
  if (!info) {
    return std::nullopt;
  }
  const std::string_view api_version = info->api_version;
  const auto slash = api_version.find('/');
  kube::Gvr gvr;
  gvr.group = slash == std::string_view::npos ? "" : std::string(api_version.substr(0, slash));
  gvr.version = std::string(slash == std::string_view::npos ? api_version : api_version.substr(slash + 1));
  gvr.resource = std::string(info->resource);
  gvr.namespaced = info->namespaced;
  return gvr;
}

std::string kubectl_name(const json& object) {
  std::string kind = object.value("kind", "");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto gvr = gvr_of(object);
  const std::string group = gvr ? gvr->group : std::string();
  const std::string name = object.contains("metadata") ? object["metadata"].value("name", "") : std::string();
  return kind + (group.empty() ? "" : "." + group) + "/" + name;
}

}  // namespace gpuorch::install
