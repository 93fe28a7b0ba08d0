#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// Answer `code` to a fraction `rate` of the requests of one verb on one
/// resource ("*" matches any). 429 and 503 carry Retry-After.
struct ErrorRule {
  std::string verb = "*";      ///< get, list, watch, create, update, patch, delete, deletecollection
  std::string resource = "*";  ///< plural ("pods", "gpuworkloads"), optionally "/status"
  int code = 500;              ///< 409, 429, 500 or 503
  double rate = 0;             ///< 0..1
  int retry_after_seconds = 1;

  /// Parses "VERB:RESOURCE:CODE:RATE", e.g. "create:pods:500:0.1".
  static Result<ErrorRule> parse(std::string_view text);
};

/// What goes wrong, on purpose, in the sandbox's API. Deterministic for a
/// seed and a sequence of requests.
struct FaultConfig {
  std::uint64_t seed = 1;
  std::vector<ErrorRule> errors;
  std::chrono::milliseconds latency{0};          ///< added before every API request is served
  double drop_rate = 0;                          ///< connections closed without an answer
  int watch_cut_after_events = 0;                ///< watch streams end after this many events (0: never)
  std::chrono::milliseconds watch_cut_after{0};  ///< ... or after this long (0: never)
  double watch_gone_rate = 0;                    ///< watches answered with 410 Expired

  [[nodiscard]] nlohmann::json to_json() const;
  static Result<FaultConfig> from_json(const nlohmann::json& j);
};

/// The seeded decisions of the fault injection, settable at run time.
class FaultInjector {
 public:
  explicit FaultInjector(FaultConfig config = {});

  struct Decision {
    int code = 0;  ///< 0: serve normally
    int retry_after_seconds = 0;
    bool drop = false;
    std::chrono::milliseconds delay{0};
  };

  /// Decides the fate of one request.
  Decision decide(std::string_view verb, std::string_view resource);
  /// Whether a new watch is answered with 410 Expired.
  bool watch_gone();
  void set(FaultConfig config);
  [[nodiscard]] FaultConfig config() const;
  /// Injected faults so far, by kind ("500", "429", "drop", "watch-gone", "watch-cut").
  [[nodiscard]] std::map<std::string, std::uint64_t> counters() const;
  void count(const std::string& kind);
  /// API requests seen by decide() (faulted or not), by "VERB RESOURCE"
  /// ("create jobs", "patch gpuworkloads/status", "list pods").
  [[nodiscard]] std::map<std::string, std::uint64_t> requests() const;

 private:
  mutable std::mutex m_mutex;
  FaultConfig m_config;
  std::mt19937_64 m_rng;
  std::map<std::string, std::uint64_t> m_counters;
  std::map<std::string, std::uint64_t> m_requests;
};

}  // namespace gpuorch::sandbox
