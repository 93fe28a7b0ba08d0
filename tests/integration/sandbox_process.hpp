#pragma once
// Starts `gpuorch sandbox` on 127.0.0.1 with a free port for integration
// tests and stops it with the object. GPUORCH_BINARY is the built executable.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>

extern char** environ;  // NOLINT

namespace gpuorch::testing {

class SandboxProcess {
 public:
  explicit SandboxProcess(const std::vector<std::string>& extra_args = {"--nodes", "2"}) {
    char dir_template[] = "/tmp/gpuorch-sandbox-test-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    m_dir = dir_template;
    const auto ready = (m_dir / "ready").string();
    m_kubeconfig = (m_dir / "kubeconfig").string();
    std::vector<std::string> args = {GPUORCH_BINARY, "sandbox", "--port",           "0",
                                     "--ready-file", ready,     "--kubeconfig-out", m_kubeconfig};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&m_pid, GPUORCH_BINARY, nullptr, nullptr, argv.data(), environ) == 0);
    for (int i = 0; i < 3000 && !std::filesystem::exists(ready); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE_MESSAGE(std::filesystem::exists(ready), "the sandbox did not become ready");
  }
  ~SandboxProcess() {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
  }
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  [[nodiscard]] const std::string& kubeconfig() const { return m_kubeconfig; }
  [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }

  [[nodiscard]] kube::RestConfig config() const {
    kube::ConfigOverrides overrides;
    overrides.kubeconfig = m_kubeconfig;
    return kube::load_rest_config(overrides, kube::Environment({}), kube::RealFileSystem()).value_or_throw();
  }
  /// A new client (its own connections) for the sandbox.
  [[nodiscard]] std::shared_ptr<kube::Client> client(kube::ClientOptions options = {}) const {
    return kube::Client::create(config(), options, kube::Environment({})).value_or_throw();
  }

 private:
  std::filesystem::path m_dir;
  std::string m_kubeconfig;
  pid_t m_pid = 0;
};

}  // namespace gpuorch::testing
