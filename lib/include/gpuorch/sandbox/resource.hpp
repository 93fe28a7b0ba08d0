#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gpuorch/base/error.hpp>
#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// One column of the server-side Table output (metav1.TableColumnDefinition),
/// with the JSONPath-like expression that fills it (CRD additionalPrinterColumns).
struct PrinterColumn {
  std::string name;
  std::string type = "string";  ///< string, integer, number, boolean, date
  std::string json_path;        ///< ".spec.gpuCount"; empty when a built-in formatter fills it
  std::string description;
  std::string format;
  int priority = 0;  ///< 0: always shown; >0: only with -o wide
};

/// Admission of one object: applies defaults and returns the field causes that
/// make it invalid (empty when valid). Paths are relative to the object root.
using Admitter = std::function<std::vector<FieldCause>(nlohmann::json& object)>;

/// Everything the server knows about one served resource (group, version,
/// plural) — the row of discovery and the rules its objects follow.
struct ResourceType {
  std::string group;  ///< "" for the core group
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status_subresource = false;
  /// Status sent on create is dropped (CRDs with a status subresource, pods, jobs).
  bool reset_status_on_create = false;
  /// Unconditional PUT (no metadata.resourceVersion) allowed.
  bool allow_unconditional_update = true;
  bool custom = false;        ///< served because a CRD exists
  std::string crd_name;       ///< "<plural>.<group>" for custom resources
  std::string storage_group;  ///< bucket key: objects are shared between versions of one group/plural
  /// Top-level fields named differently than in storage (external, stored):
  /// set when the resource is a view of another group's objects
  /// (events.k8s.io/v1 Events are core/v1 Events with renamed fields).
  std::vector<std::pair<std::string, std::string>> field_renames;
  std::vector<PrinterColumn> columns;
  /// The CRD version's openAPIV3Schema (custom resources), for /openapi/v3.
  /// Shared and immutable: a ResourceType is copied on every lookup, and a
  /// deep copy of a CRD's schema on each request was measurable.
  std::shared_ptr<const nlohmann::json> openapi_schema;
  /// Field selector labels besides metadata.name and metadata.namespace.
  std::vector<std::string> selectable_fields;
  Admitter admit;  ///< defaults + validation beyond the generic metadata checks
  /// Fields the schema does not declare ("spec.gpuCnt"), for
  /// fieldValidation=Strict|Warn; unset for resources without a schema.
  std::function<std::vector<std::string>(const nlohmann::json& object)> unknown_fields;

  [[nodiscard]] std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  /// "pods", "jobs.batch": how kubectl names the resource in messages.
  [[nodiscard]] std::string qualified_plural() const { return group.empty() ? plural : plural + "." + group; }
  /// Objects of every version of one group/plural live in one bucket.
  [[nodiscard]] std::string bucket() const { return storage_group + "/" + plural; }
  /// A stored object (or a partial one: a patch, an apply configuration) in
  /// this resource's field names, and back.
  [[nodiscard]] nlohmann::json to_external(nlohmann::json stored) const;
  [[nodiscard]] nlohmann::json to_stored(nlohmann::json external) const;
  [[nodiscard]] std::string list_kind() const { return kind + "List"; }
  /// Every field selector label the resource accepts.
  [[nodiscard]] std::vector<std::string> field_labels() const;
};

/// The built-in resources the sandbox serves (namespaces, nodes, pods, jobs,
/// events, leases, CRDs).
std::vector<ResourceType> builtin_types();

/// The resources a CustomResourceDefinition serves, one per served version.
/// Fails with the CRD's field causes when it is not acceptable.
Result<std::vector<ResourceType>> types_from_crd(const nlohmann::json& crd);

/// Validates metadata.name the way the API server does for the kind
/// (DNS subdomain for most, DNS label for namespaces). Empty when valid.
std::vector<FieldCause> validate_object_name(const ResourceType& type, const std::string& name);

}  // namespace gpuorch::sandbox
