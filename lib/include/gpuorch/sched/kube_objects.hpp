#pragma once

#include <string_view>

#include <gpuorch/base/result.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <gpuorch/sched/request.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sched {

/// The scheduling view of a core/v1 Node (as the API server or `kubectl get -o
/// json|yaml` gives it): allocatable (else capacity) CPU, memory and
/// nvidia.com/gpu; labels, taints, spec.unschedulable, the Ready condition; the
/// GPU model from the label nvidia.com/gpu.product; the price per GPU-hour from
/// the label or annotation gpuorch.io/cost-per-gpu-hour.
///
/// Errors are ErrorCode::invalid with one line "<where>: <field>: <problem>",
/// where <where> comes from `locate` (e.g. "nodes.yaml:7:13") or, without a
/// locator, is "Node <name>".
Result<NodeSpec> node_from_json(const nlohmann::json& node, const model::Locator& locate = {});

/// The scheduling request of a GPUWorkload: its GPUs, container resource
/// requests, gpuType, nodeSelector, tolerations, priority and creation time.
/// The name is "<namespace>/<name>" (just "<name>" without a namespace). The
/// workload is taken as decoded; validate it first (model::validate_workload).
Request request_from_workload(const model::Workload& workload);

}  // namespace gpuorch::sched
