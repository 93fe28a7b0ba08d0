#include <gpuorch/control/validation_cache.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace gpuorch::control {

ValidationCache::ValidationCache(std::size_t capacity) : m_capacity(std::max<std::size_t>(1, capacity)) {}

std::vector<FieldCause> ValidationCache::validate(const model::Workload& w) {
  const auto& meta = w.metadata;
  if (meta.uid.empty() || meta.generation <= 0) {
    std::lock_guard lock(m_mutex);
    ++m_misses;
    return model::validate_workload(w);
  }
  const std::string key = fmt::format("{}/{}", meta.uid, meta.generation);
  {
    std::lock_guard lock(m_mutex);
    if (auto it = m_entries.find(key);
        it != m_entries.end() && it->second.labels == meta.labels && it->second.annotations == meta.annotations) {
      m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
      ++m_hits;
      return it->second.causes;
    }
    ++m_misses;
  }
  // Outside the lock: validation is the expensive part, and two workers on
  // one key at once cannot happen (the work queue hands a key to one worker).
  auto causes = model::validate_workload(w);
  std::lock_guard lock(m_mutex);
  if (auto it = m_entries.find(key); it != m_entries.end()) {
    it->second.labels = meta.labels;
    it->second.annotations = meta.annotations;
    it->second.causes = causes;
    m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
    return causes;
  }
  while (m_entries.size() >= m_capacity && !m_lru.empty()) {
    m_entries.erase(m_lru.back());
    m_lru.pop_back();
  }
  m_lru.push_front(key);
  m_entries.emplace(key, Entry{meta.labels, meta.annotations, causes, m_lru.begin()});
  return causes;
}

std::size_t ValidationCache::size() const {
  std::lock_guard lock(m_mutex);
  return m_entries.size();
}

std::int64_t ValidationCache::misses() const {
  std::lock_guard lock(m_mutex);
  return m_misses;
}

std::int64_t ValidationCache::hits() const {
  std::lock_guard lock(m_mutex);
  return m_hits;
}

}  // namespace gpuorch::control
