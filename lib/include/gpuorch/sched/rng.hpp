#pragma once

#include <cstdint>
#include <span>
#include <utility>

namespace gpuorch::sched {

/// A small, fast, seedable generator (xoshiro256**, seeded through
/// splitmix64). Its sequence is fixed by the seed on every platform, unlike
/// the std:: distributions, so a seed names one exact simulation everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);

  std::uint64_t next();
  /// Uniform in [0, bound); bound must be > 0. Unbiased (Lemire's method).
  std::uint64_t below(std::uint64_t bound);
  /// Uniform in [0, 1).
  double unit();

  /// Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::span<T> items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      const std::size_t j = below(i);
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  std::uint64_t m_s[4];
};

}  // namespace gpuorch::sched
