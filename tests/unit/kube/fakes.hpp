#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube::testing {

/// An in-memory file system keyed by exact path.
class FakeFileSystem final : public FileSystem {
 public:
  explicit FakeFileSystem(std::string cwd = "/home/dev") : m_cwd(std::move(cwd)) {}
  void add(const std::string& path, std::string content) { m_files[path] = std::move(content); }
  void remove(const std::string& path) { m_files.erase(path); }

  [[nodiscard]] Result<std::string> read_file(const std::string& path) const override {
    ++m_reads[path];
    auto it = m_files.find(path);
    if (it == m_files.end()) {
      return Error(ErrorCode::io, fmt::format("open {}: No such file or directory", path));
    }
    return it->second;
  }
  [[nodiscard]] bool is_regular_file(const std::string& path) const override { return m_files.count(path) != 0; }
  [[nodiscard]] std::string current_directory() const override { return m_cwd; }
  [[nodiscard]] int reads(const std::string& path) const {
    auto it = m_reads.find(path);
    return it == m_reads.end() ? 0 : it->second;
  }

 private:
  std::string m_cwd;
  std::map<std::string, std::string> m_files;
  mutable std::map<std::string, int> m_reads;
};

/// A clock that only moves when told to; sleeping advances it.
class FakeClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(m_mutex);
    return m_wall;
  }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    std::lock_guard lock(m_mutex);
    return m_mono;
  }
  bool sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) override {
    std::lock_guard lock(m_mutex);
    m_sleeps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(duration));
    advance_locked(duration);
    return !stop.stop_requested();
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(m_mutex);
    advance_locked(d);
  }
  void set_wall(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(m_mutex);
    m_wall = t;
  }
  [[nodiscard]] std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard lock(m_mutex);
    return m_sleeps;
  }

 private:
  void advance_locked(std::chrono::nanoseconds d) {
    m_wall += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    m_mono += d;
  }
  mutable std::mutex m_mutex;
  std::chrono::system_clock::time_point m_wall{std::chrono::seconds(1'800'000'000)};
  std::chrono::steady_clock::time_point m_mono{std::chrono::seconds(1000)};
  std::vector<std::chrono::milliseconds> m_sleeps;
};

/// Always returns the same number (0.5 = no jitter for symmetric jitter).
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double value) : m_value(value) {}
  double uniform() override { return m_value; }

 private:
  double m_value;
};

}  // namespace gpuorch::kube::testing
