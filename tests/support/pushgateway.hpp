#pragma once
// Debian's prometheus-pushgateway as a child process for tests, and reading
// samples back from its /metrics.

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <gpuorch/kube/http.hpp>
#include <gpuorch/kube/system.hpp>

#include "support/process.hpp"

namespace gpuorch::testing {

/// Debian's Pushgateway on 127.0.0.1 with a free port and its own persistence file.
class PushgatewayProcess {
 public:
  explicit PushgatewayProcess(const std::string& binary) {
    for (int attempt = 0; attempt < 3 && m_port == 0; ++attempt) {
      const int port = free_port();
      m_child = std::make_unique<ChildProcess>(
          std::vector<std::string>{binary, "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                   "--persistence.file=" + (m_dir.path() / "persistence").string(), "--log.level=warn"},
          (m_dir.path() / "log").string());
      for (int i = 0; i < 500 && m_child->running(); ++i) {
        if (accepts(port)) {
          m_port = port;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (m_port == 0) {
        m_child.reset();  // the port was taken meanwhile, or it did not start: try again
      }
    }
  }
  [[nodiscard]] int port() const { return m_port; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  /// GET of a path from the gateway.
  [[nodiscard]] std::string get(const std::string& path) const {
    kube::CurlTransport transport({}, kube::Environment({}));
    kube::HttpRequest request;
    request.url = url() + path;
    request.timeout = std::chrono::seconds(10);
    auto response = transport.send(request);
    REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message()));
    REQUIRE(response->status == 200);
    return response->body;
  }

 private:
  TempDir m_dir;
  std::unique_ptr<ChildProcess> m_child;
  int m_port = 0;
};

/// The value of the one sample of `name` whose labels include every `label="value"` given.
inline std::optional<std::string> sample(const std::string& exposition, const std::string& name,
                                         const std::vector<std::string>& labels) {
  std::istringstream in(exposition);
  std::string line;
  std::optional<std::string> found;
  while (std::getline(in, line)) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) {
      continue;
    }
    const auto close = line.rfind(' ');
    const std::string series = line.substr(0, close);
    bool all = true;
    for (const auto& l : labels) {
      all = all && series.find(l) != std::string::npos;
    }
    if (all) {
      REQUIRE_MESSAGE(!found, ("more than one series of " + name + " matches"));
      found = line.substr(close + 1);
    }
  }
  return found;
}

}  // namespace gpuorch::testing
