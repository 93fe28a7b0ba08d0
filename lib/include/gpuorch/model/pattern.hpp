#pragma once

#include <string_view>

namespace gpuorch::model {

/// Kubernetes' own pattern for resource.Quantity in OpenAPI (what kubectl
/// explain shows), used by the GPUWorkload's resources.cpu and .memory.
inline constexpr std::string_view k_quantity_pattern =
    "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+)"
    ")))?$";
/// A non-empty string without whitespace (spec.image).
inline constexpr std::string_view k_no_whitespace_pattern = "^\\S+$";
/// An environment variable name as core/v1 accepts it (spec.env[].name).
inline constexpr std::string_view k_env_var_name_pattern = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";

/// Tells whether a value matches one particular schema pattern.
using PatternMatcher = bool (*)(std::string_view value);

/// A hand-written matcher for a pattern of gpuorch's own CRD schema (the
/// constants above), which gives the same answers as std::regex_search with
/// the ECMAScript grammar; nullptr for any other pattern. Compiling one
/// std::regex with bracket expressions such as the quantity pattern costs
/// more CPU than the rest of the client-side validation of a manifest, and
/// every short-lived `gpuorch submit` would pay it.
PatternMatcher builtin_pattern_matcher(std::string_view pattern);

}  // namespace gpuorch::model
