#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
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

/// 64-bit FNV-1a of `text`, continuing from `hash` (stable across runs and
/// machines: deterministic names and seeds derive from it).
constexpr std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 0xcbf29ce484222325ULL) noexcept {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// `text` without leading and trailing ASCII white space (space, \t, \n, \v, \f, \r).
inline std::string_view trim(std::string_view text) noexcept {
  constexpr std::string_view k_space = " \t\n\v\f\r";
  const auto begin = text.find_first_not_of(k_space);
  if (begin == std::string_view::npos) {
    return {};
  }
  return text.substr(begin, text.find_last_not_of(k_space) - begin + 1);
}

}  // namespace gpuorch
