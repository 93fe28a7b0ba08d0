#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/error.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/model/time.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// metav1.OwnerReference: the object that owns this one (garbage collection).
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;
  friend bool operator==(const OwnerReference&, const OwnerReference&) = default;
};

/// metav1.ObjectMeta, the fields gpuorch reads and writes. Empty strings,
/// empty collections and zero generation mean "absent" (Kubernetes' omitempty).
struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::vector<std::string> finalizers;
  std::optional<Time> creation_timestamp;
  std::optional<Time> deletion_timestamp;
  std::optional<std::int64_t> deletion_grace_period_seconds;
  std::vector<OwnerReference> owner_references;

  [[nodiscard]] bool has_finalizer(std::string_view finalizer) const;
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

/// The JSON form (`metadata` of an object); times at second precision like metav1.Time.
nlohmann::json to_json(const ObjectMeta& meta);
nlohmann::json to_json(const OwnerReference& ref);

/// Reads ObjectMeta; unknown fields (managedFields, ...) are ignored. Fails
/// (ErrorCode::invalid, causes under `path`) only on wrong types.
Result<ObjectMeta> object_meta_from_json(const nlohmann::json& json, std::string_view path = "metadata");

/// The OpenAPI schema of ObjectMeta used for client-side validation (a CRD
/// declares metadata as a bare object; the API server checks it itself).
const Schema& object_meta_schema();

/// Checks the API server applies to metadata that a schema cannot express:
/// name or generateName present, names are DNS-1123 subdomains (at most
/// `max_name_length` characters), namespace is a DNS-1123 label, label keys and
/// values and annotation keys are well formed. `meta` is the JSON object;
/// `options.path`/`options.pointer` say where it is ("metadata", "/metadata").
std::vector<FieldCause> validate_object_meta(const nlohmann::json& meta, const ValidateOptions& options,
                                             std::size_t max_name_length = 253);

/// Label-map checks (keys qualified names, values label values) for
/// metadata.labels and selectors such as spec.nodeSelector.
void validate_label_map(const nlohmann::json& labels, const ValidateOptions& options, std::vector<FieldCause>& out);

/// Label and name syntax, as in k8s.io/apimachinery/pkg/util/validation. Each
/// returns "" when valid, else the reason ("must be no more than 63 characters").
std::string check_dns1123_subdomain(std::string_view value, std::size_t max_length = 253);
std::string check_dns1123_label(std::string_view value);
std::string check_qualified_name(std::string_view value);  ///< label and annotation keys
std::string check_label_value(std::string_view value);

}  // namespace gpuorch::model
