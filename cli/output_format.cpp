#include "output_format.hpp"

#include "workload_table.hpp"

#include <algorithm>
#include <ostream>

namespace gpuorch::cli {

using nlohmann::json;

namespace {

constexpr std::string_view k_jsonpath_prefix = "jsonpath=";
constexpr std::string_view k_custom_columns_prefix = "custom-columns=";

/// Go's %v of a decoded JSON value, which kubectl's custom-columns prints:
/// map[key:value ...] with sorted keys, [a b c], strings raw.
std::string go_value(const json& value) {
  if (value.is_object()) {
    std::string out = "map[";
    bool first = true;
    for (const auto& [key, child] : value.items()) {
      out += first ? "" : " ";
      first = false;
      out += key + ":" + go_value(child);
    }
    return out + "]";
  }
  if (value.is_array()) {
    std::string out = "[";
    bool first = true;
    for (const auto& child : value) {
      out += first ? "" : " ";
      first = false;
      out += go_value(child);
    }
    return out + "]";
  }
  if (value.is_null()) {
    return "<nil>";
  }
  return model::jsonpath_text(value);
}

}  // namespace

std::optional<std::string> jsonpath_template(std::string_view output) {
  if (output.starts_with(k_jsonpath_prefix)) {
    return std::string(output.substr(k_jsonpath_prefix.size()));
  }
  return std::nullopt;
}

std::optional<std::string> custom_columns_spec(std::string_view output) {
  if (output.starts_with(k_custom_columns_prefix)) {
    return std::string(output.substr(k_custom_columns_prefix.size()));
  }
  return std::nullopt;
}

Result<CustomColumns> parse_custom_columns(std::string_view spec) {
  CustomColumns columns;
  if (spec.empty()) {
    return Error(ErrorCode::usage, "custom-columns format specified but no custom columns given");
  }
  std::size_t begin = 0;
  while (begin <= spec.size()) {
    auto comma = spec.find(',', begin);
    if (comma == std::string_view::npos) {
      comma = spec.size();
    }
    const auto part = spec.substr(begin, comma - begin);
    const auto colon = part.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == part.size()) {
      return Error(ErrorCode::usage,
                   "unexpected custom-columns spec: " + std::string(part) + ", expected <header>:<json-path-expr>");
    }
    std::string expr(part.substr(colon + 1));
    // kubectl's relaxed form: braces and the leading dot are optional.
    if (expr.front() != '{') {
      expr = "{" + std::string(expr.front() == '.' ? "" : ".") + expr + "}";
    }
    GPUORCH_ASSIGN_OR_RETURN(auto path, model::JsonPath::parse(expr));
    columns.push_back({std::string(part.substr(0, colon)), std::move(path)});
    begin = comma + 1;
  }
  return columns;
}

Status print_custom_columns(std::ostream& out, const CustomColumns& columns, const std::vector<json>& items,
                            bool no_headers) {
  std::vector<std::vector<std::string>> rows;
  if (!no_headers) {
    std::vector<std::string> header;
    for (const auto& column : columns) {
      header.push_back(column.header);
    }
    rows.push_back(std::move(header));
  }
  for (const auto& item : items) {
    std::vector<std::string> row;
    for (const auto& column : columns) {
      GPUORCH_ASSIGN_OR_RETURN(auto values, column.path.values(item));
      std::string cell;
      for (const auto* value : values) {
        cell += (cell.empty() ? "" : ",") + go_value(*value);
      }
      row.push_back(values.empty() ? "<none>" : cell);
    }
    rows.push_back(std::move(row));
  }
  print_aligned_rows(out, rows);
  return {};
}

CLI::Validator output_format_check(std::initializer_list<std::string> names) {
  std::vector<std::string> choices(names);
  std::string description = "{";
  for (const auto& name : choices) {
    description += name + ",";
  }
  description += "jsonpath=,custom-columns=}";
  return CLI::Validator(
      [choices](std::string& value) -> std::string {
        if (std::find(choices.begin(), choices.end(), value) != choices.end() || value.starts_with(k_jsonpath_prefix) ||
            value.starts_with(k_custom_columns_prefix)) {
          return {};
        }
        std::string list;
        for (const auto& name : choices) {
          list += name + ",";
        }
        return value + " not in {" + list + "jsonpath=TEMPLATE,custom-columns=SPEC}";
      },
      description);
}

}  // namespace gpuorch::cli
