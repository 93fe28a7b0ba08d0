#pragma once

#include <string>
#include <vector>

#include <gpuorch/sandbox/resource.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// The OpenAPI v3 component schema name of a served resource's kind, as the
/// API server names it: "io.k8s.api.core.v1.Pod",
/// "io.k8s.api.batch.v1.Job", "io.gpuorch.v1alpha1.GPUWorkload" (the CRD's
/// group reversed).
std::string openapi_schema_name(const ResourceType& type);

/// The `components.schemas` of the OpenAPI v3 document of one group/version:
/// a schema for every kind in `types` (tagged with
/// x-kubernetes-group-version-kind, so that `kubectl explain` finds it) and
/// every schema they reference. Built-in kinds get the sandbox's schema set
/// (the fields the sandbox and gpuorch use, with descriptions, merge keys and
/// list types); custom resources their CRD's structural schema, with
/// `metadata` pointing at ObjectMeta.
nlohmann::json openapi_schemas(const std::vector<ResourceType>& types);

/// The Swagger 2.0 document of /openapi/v2: the same schemas as
/// `definitions` (refs under #/definitions/), no paths.
nlohmann::json openapi_v2_document(const std::vector<ResourceType>& types, const std::string& server_version);

/// `document` as the protobuf kubectl asks /openapi/v2 for
/// (application/com.github.proto-openapi.spec.v2@v1.0+protobuf: gnostic's
/// openapi.v2.Document; vendor extensions, defaults and enums as YAML text).
std::string openapi_v2_protobuf(const nlohmann::json& document);

}  // namespace gpuorch::sandbox
