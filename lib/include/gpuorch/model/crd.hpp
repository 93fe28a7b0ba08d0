#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// The apiextensions.k8s.io/v1 CustomResourceDefinition of GPUWorkload,
/// generated from workload_schema(): namespaced, v1alpha1 served and stored,
/// status subresource, printer columns and short name. This is what
/// `gpuorch crd` prints and what packaging/kubernetes/base/crd.yaml holds.
nlohmann::json workload_crd();

/// workload_crd() as YAML, with a comment header saying how it was made.
std::string workload_crd_yaml();

}  // namespace gpuorch::model
