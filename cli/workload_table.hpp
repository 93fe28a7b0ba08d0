#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuorch::cli {

/// kubectl's AGE column (duration.HumanDuration): "90s", "5m3s", "3h5m", "2d3h", "400d", "3y100d".
std::string human_age(std::chrono::seconds age);

struct TableOptions {
  bool wide = false;            ///< extra columns: MODEL, PRIORITY, GPU-TYPE, JOB
  bool with_namespace = false;  ///< a leading NAMESPACE column (-A)
  bool no_headers = false;
  std::chrono::system_clock::time_point now;
};

/// Prints rows as kubectl's tabwriter does: every cell but a row's last padded
/// to its column's widest cell plus 3 spaces (at least 6 wide), so that a row
/// whose last cells are empty ends in blanks, byte for byte as kubectl's.
void print_aligned_rows(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

/// Prints GPUWorkload objects as kubectl prints the CRD's printer columns:
/// NAME PHASE GPUS NODE STRATEGY RETRIES AGE, upper-case headers, columns
/// separated by 3 spaces, absent values as empty cells.
void print_workload_table(std::ostream& out, const std::vector<nlohmann::json>& items, const TableOptions& options);

}  // namespace gpuorch::cli
