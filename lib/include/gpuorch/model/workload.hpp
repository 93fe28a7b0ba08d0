#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/error.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/model/condition.hpp>
#include <gpuorch/model/object_meta.hpp>
#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/model/time.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

// ---- the resource's identity ------------------------------------------------------

inline constexpr std::string_view k_group = "gpuorch.io";
inline constexpr std::string_view k_version = "v1alpha1";
inline constexpr std::string_view k_api_version = "gpuorch.io/v1alpha1";
inline constexpr std::string_view k_workload_kind = "GPUWorkload";
inline constexpr std::string_view k_workload_list_kind = "GPUWorkloadList";
inline constexpr std::string_view k_workload_plural = "gpuworkloads";
inline constexpr std::string_view k_workload_singular = "gpuworkload";
inline constexpr std::string_view k_workload_short_name = "gw";
/// The CRD's name: <plural>.<group>.
inline constexpr std::string_view k_workload_crd_name = "gpuworkloads.gpuorch.io";

/// Placement strategies the CRD accepts, in documentation order.
inline constexpr std::array<std::string_view, 5> k_scheduling_strategies = {"LeastLoaded", "Random", "CostOptimized",
                                                                            "BestFit", "MinFragmentation"};
inline constexpr std::string_view k_default_scheduling_strategy = "LeastLoaded";

/// Retry policy defaults (applied by the CRD's schema and by the decoder).
inline constexpr std::int32_t k_default_max_retries = 3;
inline constexpr std::int32_t k_default_backoff_seconds = 10;
inline constexpr std::int32_t k_default_max_backoff_seconds = 300;

/// Bounds enforced by the schema.
inline constexpr std::int32_t k_max_gpu_count = 1024;
inline constexpr std::int32_t k_max_priority = 1'000'000'000;
inline constexpr std::int32_t k_max_retries_limit = 100;
inline constexpr std::int32_t k_max_backoff_limit = 86'400;
/// Workload names stay short enough that the Job name "<name>-<attempt>" fits
/// the 63 characters of the `job-name` label Kubernetes puts on its pods.
inline constexpr std::size_t k_max_workload_name_length = 56;

// ---- spec --------------------------------------------------------------------------

/// The lifecycle of a workload (status.phase).
enum class Phase { pending, scheduling, scheduled, running, succeeded, failed };
inline constexpr std::array<Phase, 6> k_phases = {Phase::pending, Phase::scheduling, Phase::scheduled,
                                                  Phase::running, Phase::succeeded,  Phase::failed};
/// "Pending", "Scheduling", ...
std::string_view to_string(Phase phase);
/// Parses the CRD spelling; nullopt for anything else.
std::optional<Phase> parse_phase(std::string_view text);
/// Succeeded and Failed never change again.
bool is_terminal(Phase phase);

struct RetryPolicy {
  std::int32_t max_retries = k_default_max_retries;
  std::int32_t backoff_seconds = k_default_backoff_seconds;
  std::int32_t max_backoff_seconds = k_default_max_backoff_seconds;
  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

/// Container resource requests; absent means "not requested".
struct ResourceRequests {
  std::optional<Quantity> cpu;
  std::optional<Quantity> memory;
  [[nodiscard]] bool empty() const { return !cpu && !memory; }
  friend bool operator==(const ResourceRequests&, const ResourceRequests&) = default;
};

struct EnvVar {
  std::string name;
  std::string value;
  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};

/// core/v1 Toleration.
struct Toleration {
  std::string key;
  std::string operator_;  ///< "Exists" or "Equal" ("" means Equal)
  std::string value;
  std::string effect;  ///< "NoSchedule", "PreferNoSchedule", "NoExecute" or "" (all)
  std::optional<std::int64_t> toleration_seconds;
  friend bool operator==(const Toleration&, const Toleration&) = default;
};

struct WorkloadSpec {
  std::string model_name;
  std::int32_t gpu_count = 0;
  std::int32_t priority = 0;
  std::string scheduling_strategy{k_default_scheduling_strategy};
  RetryPolicy retry_policy;
  std::string image;  ///< empty: the reconciler's --default-image
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  ResourceRequests resources;
  std::string gpu_type;  ///< matches the node label nvidia.com/gpu.product by prefix
  std::map<std::string, std::string> node_selector;
  std::vector<Toleration> tolerations;
  friend bool operator==(const WorkloadSpec&, const WorkloadSpec&) = default;
};

// ---- status ------------------------------------------------------------------------

/// Condition types of a workload.
inline constexpr std::string_view k_condition_scheduled = "Scheduled";
inline constexpr std::string_view k_condition_complete = "Complete";
inline constexpr std::string_view k_condition_failed = "Failed";

struct WorkloadStatus {
  std::optional<Phase> phase;  ///< nullopt until the reconciler first sees the workload
  std::string assigned_node;
  std::string job_name;
  std::optional<Time> last_schedule_time;
  std::int32_t retry_count = 0;
  std::optional<Time> next_retry_time;
  std::string message;
  std::int64_t observed_generation = 0;
  std::vector<Condition> conditions;
  [[nodiscard]] bool empty() const;
  friend bool operator==(const WorkloadStatus&, const WorkloadStatus&) = default;
};

/// A GPUWorkload object.
struct Workload {
  ObjectMeta metadata;
  WorkloadSpec spec;
  WorkloadStatus status;
  friend bool operator==(const Workload&, const Workload&) = default;
};

// ---- codecs ------------------------------------------------------------------------

/// The JSON object, with apiVersion and kind. Fields with schema defaults
/// (priority, schedulingStrategy, retryPolicy) are always written, as the API
/// server stores them; optional fields only when set; status only when not empty.
nlohmann::json to_json(const Workload& workload);
nlohmann::json to_json(const WorkloadSpec& spec);
nlohmann::json to_json(const WorkloadStatus& status);

/// Reads a GPUWorkload. Defaults are applied first (as the API server does);
/// unknown fields are ignored; apiVersion/kind, when present, must match.
/// Fails (ErrorCode::invalid, one cause per problem) on wrong types and
/// unparsable quantities, times and phases, but not on out-of-bounds values:
/// a stored object that breaks the rules can still be read (and marked Failed).
Result<Workload> workload_from_json(const nlohmann::json& json);

/// The YAML form (`kubectl get -o yaml` style) and its reader.
std::string to_yaml(const Workload& workload);
Result<Workload> workload_from_yaml(std::string_view text);

// ---- schema and validation ---------------------------------------------------------

/// The OpenAPI v3 schema of GPUWorkload: the one definition from which the CRD
/// is generated and against which manifests are validated. `metadata` is a
/// bare object here, as a CRD must declare it.
const Schema& workload_schema();

/// Validates a GPUWorkload document as `kubectl create --validate=strict`
/// against the installed CRD would, plus the checks a schema cannot express
/// (metadata names and labels, quantities, retry backoff ordering, env name
/// uniqueness, toleration rules). Defaults are applied to a copy first.
/// `options.locate` (optional) fills causes' locations.
std::vector<FieldCause> validate_workload(const nlohmann::json& document, const ValidateOptions& options = {});

/// The same checks for a typed workload (e.g. one read from the cluster).
std::vector<FieldCause> validate_workload(const Workload& workload);

}  // namespace gpuorch::model
