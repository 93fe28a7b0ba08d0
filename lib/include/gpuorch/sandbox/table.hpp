#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/sandbox/resource.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// What each Table row carries besides its cells (the includeObject parameter).
enum class IncludeObject { none, metadata, object };

/// Parses includeObject ("None", "Metadata", "Object"; default Metadata).
IncludeObject parse_include_object(std::string_view text);

/// Converts objects to a meta.k8s.io/v1 Table, the format `kubectl get`
/// prints: built-in resources get kubectl's usual columns, custom resources
/// their CRD's additionalPrinterColumns. `with_columns` false leaves out the
/// column definitions (watch events after the first).
nlohmann::json to_table(const ResourceType& type, const std::vector<const nlohmann::json*>& objects,
                        IncludeObject include, std::chrono::system_clock::time_point now, bool with_columns = true);

/// kubectl's human-readable duration ("45s", "5m3s", "3h5m", "2d3h").
std::string human_duration(std::chrono::seconds d);

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `.a[0].b`,
/// `.a[*].b` and `.a[?(@.type=="Ready")].status`. Several matches are
/// joined with commas; null when nothing matches.
nlohmann::json eval_json_path(const nlohmann::json& object, std::string_view path);

}  // namespace gpuorch::sandbox
