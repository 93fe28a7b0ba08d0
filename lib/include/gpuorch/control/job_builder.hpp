#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuorch/model/workload.hpp>

namespace gpuorch::control {

/// Longest Job name: the Job controller copies it into the `job-name` label
/// of its pods, and label values stop at 63 characters.
inline constexpr std::size_t k_max_job_name_length = 63;

/// The Job name of one attempt: "<workload>-<attempt>". When that is longer
/// than 63 characters, the workload name is cut and a hash of the whole name
/// keeps it unique: "<prefix>-<8 hex>-<attempt>". Deterministic, so a rerun
/// after a crash finds (and adopts) the Job an earlier run created.
std::string job_name(std::string_view workload, std::int32_t attempt);

struct JobOptions {
  /// Image for workloads without spec.image.
  std::string default_image;
};

/// The batch/v1 Job that runs one attempt of a workload on `node`: owned by
/// the workload (controller ownerReference), labelled gpuorch.io/workload,
/// pinned by a required node affinity on metadata.name, tolerations from the
/// spec, backoffLimit 0 and restartPolicy Never (gpuorch retries, not the Job
/// controller), nvidia.com/gpu limits, cpu/memory requests, command, args and
/// env from the spec plus GPUORCH_MODEL_NAME. The image is spec.image, else
/// options.default_image (the caller checks that one of them is set).
nlohmann::json build_job(const model::Workload& workload, std::string_view node, std::int32_t attempt,
                         const JobOptions& options);

/// The delay before retry number `retry` (1 for the first retry):
/// backoffSeconds * 2^(retry-1), times a jitter factor in [0.9, 1.1] drawn from
/// (seed, key, retry), capped at maxBackoffSeconds. Whole milliseconds.
std::chrono::milliseconds retry_delay(const model::RetryPolicy& policy, std::int32_t retry, std::uint64_t seed,
                                      std::string_view key);

}  // namespace gpuorch::control
