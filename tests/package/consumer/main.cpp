// Reads a GPUWorkload (YAML) on stdin with the installed libgpuorch, validates
// it and prints one line; exit 1 with the library's message when it is invalid.
#include <gpuorch/model/workload.hpp>
#include <gpuorch/version.hpp>

#include <iostream>
#include <iterator>
#include <string>

int main() {
  const std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  auto workload = gpuorch::model::workload_from_yaml(text);
  if (!workload) {
    std::cout << "invalid: " << workload.error().describe() << "\n";
    return 1;
  }
  const auto causes = gpuorch::model::validate_workload(*workload);
  if (!causes.empty()) {
    std::cout << "invalid: " << causes.front().to_string() << "\n";
    return 1;
  }
  std::cout << "libgpuorch " << gpuorch::build_info::k_version << ": " << workload->spec.model_name << " wants "
            << workload->spec.gpu_count << " GPU(s) with " << workload->spec.scheduling_strategy << "\n";
  return 0;
}
