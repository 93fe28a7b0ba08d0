// HTTP/2 is negotiated by ALPN when the server offers it: checked against
// nghttpd (Debian package nghttp2-server) with the test PKI.
#include <gpuorch/kube/client.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "unit/kube/fakes.hpp"
#include "unit/kube/test_pki.hpp"

using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;

extern char** environ;  // NOLINT

namespace {

constexpr const char* k_nghttpd = "/usr/sbin/nghttpd";

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("HTTP/2 is used when the server offers it over TLS") {
  // scripts/install-deps.sh installs nghttp2-server: a missing server fails instead of passing unchecked.
  REQUIRE_MESSAGE(std::filesystem::exists(k_nghttpd), k_nghttpd << " not found (Debian package nghttp2-server)");
  TestPki pki;
  char dir_template[] = "/tmp/gpuorch-h2-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  std::filesystem::create_directory(dir / "htdocs");
  std::ofstream(dir / "htdocs" / "version") << R"({"major":"1","minor":"32"})";
  std::ofstream(dir / "server.key") << pki.server.key_pem();
  std::ofstream(dir / "server.crt") << pki.server.cert_pem();

  const int port = free_port();
  std::vector<std::string> args = {k_nghttpd,
                                   "--address=127.0.0.1",
                                   "-d",
                                   (dir / "htdocs").string(),
                                   std::to_string(port),
                                   (dir / "server.key").string(),
                                   (dir / "server.crt").string()};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  REQUIRE(::posix_spawn(&pid, k_nghttpd, &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
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
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);

  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message()));
  CHECK(first->http_version == "2");
  CHECK(nlohmann::json::parse(first->body)["minor"] == "32");
  REQUIRE(second.ok());
  CHECK(second->http_version == "2");
}
