#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuorch::cli {

/// Nodes a placement filtered out for one reason.
struct FilteredNodes {
  std::string reason;  ///< "lack 4 free GPUs", "not Ready"
  std::vector<std::string> nodes;
};

/// One scored candidate node.
struct CandidateRow {
  std::string node;
  double score = 0;
  std::int32_t free_gpus = 0;
  std::int32_t gpus = 0;
  std::string gpu_model;
};

/// What the scheduling core says about a workload, evaluated on the cluster as
/// it is now (without the workload's own Jobs and pods).
struct PlacementView {
  std::string strategy;
  /// Set when no explanation could be computed (the text says why).
  std::string error;
  /// The workload holds a node already (status.assignedNode): explain where it went.
  std::string assigned_node;
  std::size_t total_nodes = 0;
  std::size_t feasible = 0;
  /// "0/12 nodes fit: 9 lack 4 free GPUs, 3 not Ready".
  std::string summary;
  /// The node the strategy picks now ("" when none fits).
  std::string choice;
  std::vector<CandidateRow> top;
  std::vector<FilteredNodes> filtered;
};

/// Everything `gpuorch describe` shows about one GPUWorkload, as read from the API.
struct DescribeInput {
  nlohmann::json workload;
  std::vector<nlohmann::json> jobs;    ///< its Jobs (label gpuorch.io/workload)
  std::vector<nlohmann::json> pods;    ///< the pods of those Jobs
  std::vector<nlohmann::json> events;  ///< Events whose involvedObject is the workload
  std::optional<PlacementView> placement;
};

/// Prints the kubectl-describe-style text: metadata, spec, status, conditions,
/// Jobs, pods, the placement explanation and Events (oldest first, with
/// kubectl's "AGE (xCOUNT over AGE)" column). `now` makes ages deterministic.
void print_describe(std::ostream& out, const DescribeInput& input, std::chrono::system_clock::time_point now);

/// kubectl's Events table: "<none>" when empty.
void print_events(std::ostream& out, std::vector<nlohmann::json> events, std::chrono::system_clock::time_point now);

}  // namespace gpuorch::cli
