#pragma once

#include <chrono>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>

namespace gpuorch::kube {

/// The process environment as the library sees it. The library never calls
/// getenv: the CLI builds one from `environ`, tests build one from a map.
class Environment {
 public:
  Environment() = default;
  using Map = std::map<std::string, std::string, std::less<>>;
  explicit Environment(Map vars) : m_vars(std::move(vars)) {}
  Environment(std::initializer_list<Map::value_type> vars) : m_vars(vars) {}
  /// Builds from a NULL-terminated `NAME=value` array (main's envp / environ).
  static Environment from_envp(const char* const* envp);

  /// The value of `name`, or nullopt when unset. An empty value is returned as "".
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  /// The value of `name`, or "" when unset.
  [[nodiscard]] std::string value(std::string_view name) const { return get(name).value_or(std::string()); }
  void set(std::string name, std::string value) { m_vars[std::move(name)] = std::move(value); }
  void unset(std::string_view name) {
    if (auto it = m_vars.find(name); it != m_vars.end()) {
      m_vars.erase(it);
    }
  }
  [[nodiscard]] const Map& vars() const noexcept { return m_vars; }

 private:
  std::map<std::string, std::string, std::less<>> m_vars;
};

/// The file system operations the client needs, behind an interface so tests
/// can use an in-memory fake.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  /// The whole file. Errors are ErrorCode::io and name the path.
  [[nodiscard]] virtual Result<std::string> read_file(const std::string& path) const = 0;
  /// True when `path` names a regular file (following symlinks).
  [[nodiscard]] virtual bool is_regular_file(const std::string& path) const = 0;
  /// The current working directory, used to make relative kubeconfig paths absolute.
  [[nodiscard]] virtual std::string current_directory() const = 0;
};

/// The real file system.
class RealFileSystem final : public FileSystem {
 public:
  [[nodiscard]] Result<std::string> read_file(const std::string& path) const override;
  [[nodiscard]] bool is_regular_file(const std::string& path) const override;
  [[nodiscard]] std::string current_directory() const override;
};

/// Time and waiting, injectable so retry, backoff, rate limiting and credential
/// expiry are tested without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall-clock time (credential expiry is given as wall-clock timestamps).
  [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;
  /// Monotonic time for durations and rate limiting.
  [[nodiscard]] virtual std::chrono::steady_clock::time_point monotonic() const = 0;
  /// Waits `duration`; returns false early when `stop` is requested.
  virtual bool sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) = 0;
};

/// The real clock.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  bool sleep_for(std::chrono::nanoseconds duration, std::stop_token stop) override;
};

/// A source of uniform numbers in [0, 1) for jitter, injectable for tests.
class Random {
 public:
  virtual ~Random() = default;
  virtual double uniform() = 0;
};

/// std::mt19937_64 seeded by the caller.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : m_engine(seed) {}
  double uniform() override { return std::uniform_real_distribution<double>(0.0, 1.0)(m_engine); }

 private:
  std::mt19937_64 m_engine;
};

/// Path helpers with Go's filepath semantics (used for kubeconfig paths).
[[nodiscard]] bool is_absolute_path(std::string_view path);
/// Joins and lexically cleans ("a/b/../c" -> "a/c"), like Go's filepath.Join.
[[nodiscard]] std::string join_path(std::string_view dir, std::string_view path);
/// The directory part of `path` ("." when it has none), like filepath.Dir.
[[nodiscard]] std::string dir_name(std::string_view path);
/// Lexically cleaned path, like Go's filepath.Clean.
[[nodiscard]] std::string clean_path(std::string_view path);

}  // namespace gpuorch::kube
