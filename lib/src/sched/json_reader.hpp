#pragma once

// Typed reads from a JSON object parsed from a node or workload file, with
// errors that point at the offending field: "nodes.yaml:7:13: nodes[0].memory:
// invalid quantity ...". Internal to the sched module.

#include <optional>
#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>
#include <gpuorch/model/quantity.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/sched/cluster_state.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sched::detail {

/// "/status/allocatable/nvidia.com~1gpu" -> "status.allocatable[nvidia.com/gpu]",
/// "/spec/taints/0/effect" -> "spec.taints[0].effect" (as validation names fields).
std::string field_path(const nlohmann::json::json_pointer& pointer);

class JsonReader {
 public:
  using Pointer = nlohmann::json::json_pointer;

  /// `where` names the object in errors when `locate` gives no position ("Node gpu-1").
  JsonReader(const nlohmann::json& root, const model::Locator& locate, std::string where)
      : m_root(root), m_locate(locate), m_where(std::move(where)) {}

  void set_where(std::string where) { m_where = std::move(where); }

  /// ErrorCode::invalid: "<location or where>: <field>: <message>".
  [[nodiscard]] Error error(const Pointer& at, std::string_view message, bool at_key = false) const;

  /// The value at a pointer, or nullptr when absent or null.
  [[nodiscard]] const nlohmann::json* find(const Pointer& at) const;

  /// An optional string ("" when absent).
  [[nodiscard]] Result<std::string> string(const Pointer& at) const;
  /// An optional scalar as text: strings as they are, numbers and booleans as YAML writes them.
  [[nodiscard]] Result<std::string> scalar(const Pointer& at) const;
  /// A required non-negative quantity, written as a string ("16Gi") or, as YAML allows, a number (8).
  [[nodiscard]] Result<model::Quantity> quantity(const Pointer& at) const;
  /// A required finite number (a numeric string is accepted too).
  [[nodiscard]] Result<double> number(const Pointer& at) const;
  /// A required boolean.
  [[nodiscard]] Result<bool> boolean(const Pointer& at) const;
  /// An optional map of strings (`strict`: values must be strings, else any scalar).
  [[nodiscard]] Result<Labels> string_map(const Pointer& at, bool strict = true) const;
  /// An optional list of core/v1 taints.
  [[nodiscard]] Result<std::vector<Taint>> taints(const Pointer& at) const;

 private:
  const nlohmann::json& m_root;
  const model::Locator& m_locate;
  std::string m_where;
};

}  // namespace gpuorch::sched::detail
