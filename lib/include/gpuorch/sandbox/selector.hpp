#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// A parsed label selector (`app=x,tier!=db,env in (a,b),!legacy,gpu`), as
/// the `labelSelector` query parameter and metav1.LabelSelector express it.
class LabelSelector {
 public:
  enum class Op { equals, not_equals, in, not_in, exists, not_exists };
  struct Requirement {
    std::string key;
    Op op = Op::exists;
    std::vector<std::string> values;
  };

  /// Parses the string form; an empty string selects everything.
  static Result<LabelSelector> parse(std::string_view text);
  /// Converts a metav1.LabelSelector object (matchLabels, matchExpressions).
  static Result<LabelSelector> from_json(const nlohmann::json& selector);

  [[nodiscard]] bool matches(const nlohmann::json& labels) const;
  [[nodiscard]] bool empty() const { return m_requirements.empty(); }
  [[nodiscard]] const std::vector<Requirement>& requirements() const { return m_requirements; }

 private:
  std::vector<Requirement> m_requirements;
};

/// A parsed field selector (`metadata.name=x,status.phase!=Running`). Only
/// the fields a resource supports may be used (see supported_field()).
class FieldSelector {
 public:
  struct Requirement {
    std::string field;
    bool negate = false;
    std::string value;
  };

  /// Parses and checks each field against `supported` (field label names);
  /// an unsupported field is a 400 BadRequest like the real server's.
  static Result<FieldSelector> parse(std::string_view text, const std::vector<std::string>& supported);

  [[nodiscard]] bool matches(const nlohmann::json& object) const;
  [[nodiscard]] bool empty() const { return m_requirements.empty(); }

 private:
  std::vector<Requirement> m_requirements;
};

/// The value of a field selector's field in an object ("" when absent).
std::string field_value(const nlohmann::json& object, std::string_view field);

}  // namespace gpuorch::sandbox
