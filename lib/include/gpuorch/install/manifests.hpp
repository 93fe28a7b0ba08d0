#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <nlohmann/json.hpp>

/// What `gpuorch install` applies and `gpuorch uninstall` removes: the objects
/// of packaging/kubernetes (embedded in the binary at build time), chosen for a
/// mode, customised, and put in the order the API server needs.
namespace gpuorch::install {

/// How the reconciler runs in the cluster.
enum class Mode {
  cronjob,     ///< one `gpuorch reconcile` pass per schedule
  deployment,  ///< `gpuorch reconcile --watch`, the continuous loop
};
std::string_view to_string(Mode mode);
std::optional<Mode> parse_mode(std::string_view text);

/// One YAML file of packaging/kubernetes, by its path relative to that directory.
struct ManifestFile {
  std::string path;
  std::string text;
};

/// The mode a file belongs to: a directory or file stem named "cronjob" or
/// "deployment" marks it; everything else (the CRD, namespace, RBAC) is shared.
std::optional<Mode> mode_of(std::string_view path);

struct Customisation {
  Mode mode = Mode::cronjob;
  std::string image;     ///< replaces every container image; empty keeps the manifests' image
  std::string schedule;  ///< the CronJob's schedule; empty keeps the manifests' one
};

/// The namespace the manifests install into.
inline constexpr std::string_view k_namespace = "gpuorch-system";
/// The field manager of `gpuorch install`'s server-side apply.
inline constexpr std::string_view k_field_manager = "gpuorch";
/// The image the manifests name until one is chosen.
inline constexpr std::string_view k_placeholder_image = "ghcr.io/OWNER/gpuorch:VERSION";

/// Every object of the files (kustomization.yaml files are skipped), checked:
/// each has apiVersion, kind and metadata.name, and a kind gpuorch knows how
/// to apply. Errors name the file and the document.
Result<std::vector<nlohmann::json>> parse_files(std::span<const ManifestFile> files, std::optional<Mode> only_mode,
                                                bool include_shared);

/// The objects `gpuorch install` applies for `custom.mode`, customised and in
/// apply order (namespaces and CRDs first, then identities and RBAC, then
/// configuration and services, the workload controllers last).
/// Invalid: a bad schedule (the API server's message), a schedule with the
/// deployment mode, or a mode with no manifests.
Result<std::vector<nlohmann::json>> install_objects(std::span<const ManifestFile> files, const Customisation& custom);

/// The objects `gpuorch uninstall` removes, of every mode, in deletion order
/// (the reverse of apply order: the reconciler first, the namespace last).
Result<std::vector<nlohmann::json>> uninstall_objects(std::span<const ManifestFile> files);

/// The label every object of the manifests carries; `gpuorch install` prunes
/// only live objects that have it with the value "gpuorch".
inline constexpr std::string_view k_part_of_label = "app.kubernetes.io/part-of";

/// The objects only the other mode has (for --mode deployment: the CronJob;
/// for --mode cronjob: the Deployment and its Service), in deletion order.
/// `gpuorch install` deletes those of them it owns, so that a mode switch
/// does not leave two reconcilers running.
Result<std::vector<nlohmann::json>> other_mode_objects(std::span<const ManifestFile> files, Mode mode);

/// Whether a live object is one gpuorch's manifests made: it carries
/// k_part_of_label=gpuorch. Objects someone else named the same are left alone.
bool owned_by_gpuorch(const nlohmann::json& live);

/// The REST resource of an object, from its apiVersion and kind.
std::optional<kube::Gvr> gvr_of(const nlohmann::json& object);

/// kubectl's name of an object: "cronjob.batch/gpuorch-reconcile", "namespace/gpuorch-system".
std::string kubectl_name(const nlohmann::json& object);

}  // namespace gpuorch::install
