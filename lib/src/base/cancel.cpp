#include <gpuorch/base/cancel.hpp>

#include <algorithm>
#include <string>
#include <thread>

namespace gpuorch {

Status CancelToken::check(std::string_view what) const {
  if (!cancelled()) {
    return {};
  }
  return Error(ErrorCode::cancelled, std::string(what) + " cancelled");
}

bool CancelToken::wait_for(std::chrono::milliseconds duration) const {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (!cancelled()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return true;
    }
    std::this_thread::sleep_for(std::min(left, k_poll_interval));
  }
  return false;
}

}  // namespace gpuorch
