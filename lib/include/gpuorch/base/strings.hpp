#pragma once

#include <cctype>
#include <cstddef>
#include <string_view>

namespace gpuorch {

/// ASCII case-insensitive equality (HTTP header names, strategy names).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace gpuorch
