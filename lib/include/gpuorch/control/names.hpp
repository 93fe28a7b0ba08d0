#pragma once

#include <string_view>

namespace gpuorch::control {

/// Label on every Job gpuorch creates: the name of its GPUWorkload.
inline constexpr std::string_view k_workload_label = "gpuorch.io/workload";
/// Finalizer that keeps a workload until its Jobs are gone.
inline constexpr std::string_view k_finalizer = "gpuorch.io/cleanup";
/// reportingController / reportingComponent of Events, and the controller's name.
inline constexpr std::string_view k_controller_name = "gpuorch.io/reconciler";
/// fieldManager of the reconciler's writes.
inline constexpr std::string_view k_field_manager = "gpuorch-reconciler";
/// Environment variable the Job's container gets with spec.modelName.
inline constexpr std::string_view k_model_name_env = "GPUORCH_MODEL_NAME";
/// Container name inside the Job's pod.
inline constexpr std::string_view k_container_name = "workload";

/// Event reasons (core/v1 Event.reason), one constant each.
namespace reasons {
inline constexpr std::string_view scheduled = "Scheduled";
inline constexpr std::string_view failed_scheduling = "FailedScheduling";
inline constexpr std::string_view retrying = "Retrying";
inline constexpr std::string_view succeeded = "Succeeded";
inline constexpr std::string_view failed = "Failed";
inline constexpr std::string_view invalid_spec = "InvalidSpec";
}  // namespace reasons

/// Reasons of the workload's conditions and of gpuorch_workloads_failed_total{reason}.
namespace condition_reasons {
inline constexpr std::string_view job_created = "JobCreated";
inline constexpr std::string_view unschedulable = "Unschedulable";
inline constexpr std::string_view backoff = "BackoffWaiting";
inline constexpr std::string_view job_complete = "JobComplete";
inline constexpr std::string_view job_failed = "JobFailed";
inline constexpr std::string_view job_deleted = "JobDeleted";
inline constexpr std::string_view retries_exhausted = "RetriesExhausted";
inline constexpr std::string_view invalid_spec = "InvalidSpec";
}  // namespace condition_reasons

}  // namespace gpuorch::control
