// HTTP/2 is negotiated by ALPN when the server offers it: checked against
// nghttpd (Debian package nghttp2-server) with the test PKI.
#include <gpuorch/kube/client.hpp>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "support/process.hpp"
#include "unit/kube/fakes.hpp"
#include "unit/kube/test_pki.hpp"

using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using gpuorch::testing::accepts;
using gpuorch::testing::ChildProcess;
using gpuorch::testing::free_port;
using gpuorch::testing::TempDir;

namespace {

constexpr const char* k_nghttpd = "/usr/sbin/nghttpd";

}  // namespace

TEST_CASE("HTTP/2 is used when the server offers it over TLS") {
  // scripts/install-deps.sh installs nghttp2-server: a missing server fails instead of passing unchecked.
  REQUIRE_MESSAGE(std::filesystem::exists(k_nghttpd), k_nghttpd << " not found (Debian package nghttp2-server)");
  TestPki pki;
  const TempDir temp;
  const std::filesystem::path& dir = temp.path();
  REQUIRE_FALSE(dir.empty());
  std::filesystem::create_directory(dir / "htdocs");
  std::ofstream(dir / "htdocs" / "version") << R"({"major":"1","minor":"32"})";
  std::ofstream(dir / "server.key") << pki.server.key_pem();
  std::ofstream(dir / "server.crt") << pki.server.cert_pem();

  const int port = free_port();
  ChildProcess server({k_nghttpd, "--address=127.0.0.1", "-d", (dir / "htdocs").string(), std::to_string(port),
                       (dir / "server.key").string(), (dir / "server.crt").string()},
                      (dir / "nghttpd.log").string());
  REQUIRE(server.started());
  for (int i = 0; i < 500 && !accepts(port); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  RestConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.ca_pem = pki.ca.cert_pem();
  auto client = Client::create(config, {}, Environment({})).value_or_throw();
  Request request;
  request.path = "/version";
  auto first = client->send(request);
  auto second = client->send(request);

  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message()));
  CHECK(first->http_version == "2");
  CHECK(nlohmann::json::parse(first->body)["minor"] == "32");
  REQUIRE(second.ok());
  CHECK(second->http_version == "2");
}
