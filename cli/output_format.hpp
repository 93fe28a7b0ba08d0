#pragma once

#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <gpuorch/base/result.hpp>
#include <gpuorch/model/jsonpath.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::cli {

/// The template of "-o jsonpath=TEMPLATE" (nullopt for other formats).
std::optional<std::string> jsonpath_template(std::string_view output);

/// The spec of "-o custom-columns=NAME:EXPR,..." (nullopt for other formats).
std::optional<std::string> custom_columns_spec(std::string_view output);

struct CustomColumn {
  std::string header;
  model::JsonPath path;
};
using CustomColumns = std::vector<CustomColumn>;

/// Parses kubectl's custom-columns spec: comma-separated HEADER:EXPR, where
/// EXPR is a JSONPath with or without braces (".metadata.name", "{.spec.gpuCount}").
Result<CustomColumns> parse_custom_columns(std::string_view spec);

/// One row per object, columns 3 spaces apart; a column without a value shows
/// "<none>", several values are joined by commas (as kubectl does).
Status print_custom_columns(std::ostream& out, const CustomColumns& columns, const std::vector<nlohmann::json>& items,
                            bool no_headers);

/// A CLI11 check accepting `names`, "jsonpath=TEMPLATE" and "custom-columns=SPEC".
/// Its description lists the choices for completion and --help.
CLI::Validator output_format_check(std::initializer_list<std::string> names);

}  // namespace gpuorch::cli
