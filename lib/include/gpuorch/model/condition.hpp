#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/model/time.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// metav1.Condition: one aspect of an object's state ("Scheduled", "Complete").
struct Condition {
  std::string type;
  std::string status;  ///< "True", "False" or "Unknown"
  std::int64_t observed_generation = 0;
  Time last_transition_time{};
  std::string reason;  ///< UpperCamelCase
  std::string message;
  friend bool operator==(const Condition&, const Condition&) = default;
};

inline constexpr std::string_view k_condition_true = "True";
inline constexpr std::string_view k_condition_false = "False";
inline constexpr std::string_view k_condition_unknown = "Unknown";

nlohmann::json to_json(const Condition& condition);
/// Reads a Condition; `path` prefixes field paths in errors. Fails only on wrong types.
Result<Condition> condition_from_json(const nlohmann::json& json, std::string_view path = "");

/// The metav1.Condition schema as Kubernetes publishes it (required fields, patterns, bounds).
const Schema& condition_schema();

/// The condition of `type`, or nullptr.
const Condition* find_condition(const std::vector<Condition>& conditions, std::string_view type);

/// Adds or updates the condition of `condition.type` like apimachinery's
/// meta.SetStatusCondition: lastTransitionTime changes only when the status
/// does (and is `now` for a new condition). Returns true when anything changed.
bool set_condition(std::vector<Condition>& conditions, Condition condition, Time now);

}  // namespace gpuorch::model
