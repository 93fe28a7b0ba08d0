#pragma once

#include <string>
#include <string_view>

namespace gpuorch::cli {

/// "kubectl gpuorch" when invoked as the kubectl plugin (kubectl-gpuorch),
/// "gpuorch" otherwise, so that usage text shows what the user typed.
inline std::string program_name_for(std::string_view argv0) {
  const auto slash = argv0.find_last_of('/');
  const auto base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  if (base == "kubectl-gpuorch" || base == "kubectl_complete-gpuorch") {
    return "kubectl gpuorch";
  }
  return "gpuorch";
}

/// Whether the program runs as `kubectl_complete-gpuorch`: kubectl (1.26+)
/// runs that executable to complete `kubectl gpuorch ...`, with the words
/// after `gpuorch` (the last one being completed), and reads the answer in
/// cobra's `__complete` format.
inline bool is_kubectl_plugin_completion(std::string_view argv0) {
  const auto slash = argv0.find_last_of('/');
  const auto base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "kubectl_complete-gpuorch";
}

}  // namespace gpuorch::cli
