#pragma once

#include <string_view>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// Decodes a request body in Kubernetes' protobuf encoding
/// (`application/vnd.kubernetes.protobuf`: the "k8s\0" magic, then a
/// runtime.Unknown wrapping the typed message) into the JSON form of the
/// object. kubectl's typed clients (`kubectl create job`, `create namespace`,
/// `run`) send this. Covers the fields those commands and the sandbox's
/// resources use (Job, Pod, Namespace, Lease with their metadata, pod
/// template, containers, resources, tolerations, node affinity); fields it
/// does not know are skipped. Unknown kinds are a 415 UnsupportedMediaType.
Result<nlohmann::json> decode_kubernetes_protobuf(std::string_view body);

}  // namespace gpuorch::sandbox
