#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <gpuorch/model/workload.hpp>

namespace gpuorch::control {

/// The outcome of model::validate_workload() per workload spec, so that a
/// loop reconciling one workload many times (each Job and pod change of a
/// running workload) validates its spec once. Keyed by (uid, generation): the
/// API server bumps metadata.generation on every spec change, and name and
/// namespace never change; labels and annotations (also validated, and
/// changeable without a new generation) are kept with the entry and compared.
/// A workload without uid or generation is validated every time. Bounded:
/// the least recently used entry goes first. Thread-safe.
class ValidationCache {
 public:
  explicit ValidationCache(std::size_t capacity = 4096);

  /// What model::validate_workload(w) returns, computed at most once per
  /// (uid, generation, labels, annotations) while the entry is cached.
  std::vector<FieldCause> validate(const model::Workload& w);

  [[nodiscard]] std::size_t size() const;
  /// Validations done (cache misses) and answered from the cache, since construction.
  [[nodiscard]] std::int64_t misses() const;
  [[nodiscard]] std::int64_t hits() const;

 private:
  struct Entry {
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::vector<FieldCause> causes;
    std::list<std::string>::iterator lru;
  };

  std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Entry> m_entries;
  std::list<std::string> m_lru;  ///< most recently used first
  std::int64_t m_hits = 0;
  std::int64_t m_misses = 0;
};

}  // namespace gpuorch::control
