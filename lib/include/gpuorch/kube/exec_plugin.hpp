#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/kubeconfig.hpp>
#include <gpuorch/kube/system.hpp>

namespace gpuorch::kube {

/// A process to start: argv without a shell, an explicit environment.
struct ProcessSpec {
  /// A path (contains '/') or a name looked up on env's PATH.
  std::string command;
  std::vector<std::string> args;
  Environment env;
  /// Give the child our standard input (interactive plugins); otherwise /dev/null.
  bool connect_stdin = false;
};

struct ProcessOutput {
  int exit_code = 0;
  std::string stdout_data;
};

/// Starts processes. The child's standard error is the user's: plugin prompts
/// and diagnostics reach the terminal unchanged.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  /// Runs to completion. A command that cannot be found is ErrorCode::not_found.
  [[nodiscard]] virtual Result<ProcessOutput> run(const ProcessSpec& spec) = 0;
};

/// posix_spawn-based runner.
class PosixProcessRunner final : public ProcessRunner {
 public:
  [[nodiscard]] Result<ProcessOutput> run(const ProcessSpec& spec) override;
};

/// What an exec plugin returned.
struct ExecCredential {
  std::string token;
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiry;
};

/// Parses an RFC 3339 timestamp ("2026-11-29T05:00:00Z", fractions and offsets allowed).
Result<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

/// Runs a client.authentication.k8s.io exec credential plugin (v1 or v1beta1)
/// and caches its credential until expirationTimestamp. Thread-safe.
class ExecCredentialProvider {
 public:
  /// `owner` names the user for messages ("user \"alice\" in context \"dev\"").
  /// `cluster_info` is the ExecCredential spec.cluster JSON, sent when
  /// provideClusterInfo is set.
  ExecCredentialProvider(ExecConfig config, std::string cluster_info, Environment env, ProcessRunner& runner,
                         Clock& clock, bool stdin_is_terminal, std::string owner);

  /// The cached credential, or a fresh one when none is cached or it expired.
  Result<ExecCredential> get();
  /// Forgets the cached credential (after a 401) so the next get() runs the plugin.
  void invalidate();
  /// How many times the plugin ran (tests).
  [[nodiscard]] int runs() const;

 private:
  Result<ExecCredential> run_plugin();

  ExecConfig m_config;
  std::string m_cluster_info;
  Environment m_env;
  ProcessRunner& m_runner;
  Clock& m_clock;
  bool m_stdin_is_terminal;
  std::string m_owner;
  mutable std::mutex m_mutex;
  std::optional<ExecCredential> m_cached;
  int m_runs = 0;
};

}  // namespace gpuorch::kube
