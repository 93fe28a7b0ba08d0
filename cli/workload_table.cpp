#include "workload_table.hpp"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include <gpuorch/model/time.hpp>

namespace gpuorch::cli {
namespace {

using nlohmann::json;

std::string string_at(const json& object, std::initializer_list<const char*> path) {
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) {
      return {};
    }
    auto it = node->find(key);
    if (it == node->end()) {
      return {};
    }
    node = &*it;
  }
  if (node->is_string()) {
    return node->get<std::string>();
  }
  if (node->is_number_integer()) {
    return std::to_string(node->get<long long>());
  }
  return {};
}

}  // namespace

std::string human_age(std::chrono::seconds age) {
  const long long seconds = std::max<long long>(0, age.count());
  if (seconds < 120) {
    return fmt::format("{}s", seconds);
  }
  const long long minutes = seconds / 60;
  if (minutes < 10) {
    return seconds % 60 == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, seconds % 60);
  }
  if (minutes < 180) {
    return fmt::format("{}m", minutes);
  }
  const long long hours = minutes / 60;
  if (hours < 8) {
    return minutes % 60 == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, minutes % 60);
  }
  if (hours < 48) {
    return fmt::format("{}h", hours);
  }
  const long long days = hours / 24;
  if (days < 8) {
    return hours % 24 == 0 ? fmt::format("{}d", days) : fmt::format("{}d{}h", days, hours % 24);
  }
  if (days < 365 * 2) {
    return fmt::format("{}d", days);
  }
  const long long years = days / 365;
  if (years < 8) {
    return days % 365 == 0 ? fmt::format("{}y", years) : fmt::format("{}y{}d", years, days % 365);
  }
  return fmt::format("{}y", years);
}

void print_workload_table(std::ostream& out, const std::vector<json>& items, const TableOptions& options) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (options.with_namespace) {
    header.emplace_back("NAMESPACE");
  }
  for (const char* column : {"NAME", "PHASE", "GPUS", "NODE", "STRATEGY", "RETRIES", "AGE"}) {
    header.emplace_back(column);
  }
  if (options.wide) {
    for (const char* column : {"MODEL", "PRIORITY", "GPU-TYPE", "JOB"}) {
      header.emplace_back(column);
    }
  }
  if (!options.no_headers) {
    rows.push_back(header);
  }
  for (const auto& item : items) {
    std::vector<std::string> row;
    if (options.with_namespace) {
      row.push_back(string_at(item, {"metadata", "namespace"}));
    }
    row.push_back(string_at(item, {"metadata", "name"}));
    row.push_back(string_at(item, {"status", "phase"}));
    row.push_back(string_at(item, {"spec", "gpuCount"}));
    row.push_back(string_at(item, {"status", "assignedNode"}));
    row.push_back(string_at(item, {"spec", "schedulingStrategy"}));
    row.push_back(string_at(item, {"status", "retryCount"}));
    std::string age;
    if (auto created = string_at(item, {"metadata", "creationTimestamp"}); !created.empty()) {
      if (auto time = model::parse_time(created)) {
        age = human_age(std::chrono::duration_cast<std::chrono::seconds>(options.now - *time));
      }
    }
    row.push_back(age.empty() ? "<unknown>" : age);
    if (options.wide) {
      row.push_back(string_at(item, {"spec", "modelName"}));
      row.push_back(string_at(item, {"spec", "priority"}));
      row.push_back(string_at(item, {"spec", "gpuType"}));
      row.push_back(string_at(item, {"status", "jobName"}));
    }
    rows.push_back(std::move(row));
  }
  print_aligned_rows(out, rows);
}

void print_aligned_rows(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::size_t columns = 0;
  for (const auto& row : rows) {
    columns = std::max(columns, row.size());
  }
  std::vector<std::size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        // kubectl's tabwriter: 3 spaces of padding, cells at least 6 wide.
        line.append(std::max<std::size_t>(widths[i] + 3, 6) - row[i].size(), ' ');
      }
    }
    // No trimming: like kubectl's, a row whose last cells are empty ends in
    // the padding of the cells before them.
    out << line << '\n';
  }
}

}  // namespace gpuorch::cli
