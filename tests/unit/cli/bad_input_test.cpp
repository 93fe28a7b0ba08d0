// What the CLI prints for the failures of issue 5's list that need a server
// of a particular kind: one that never answers, one that forbids. (Refused
// connections, DNS failures, kubeconfig and exec plugin errors are golden
// cases in tests/cli/cases/errors/; a wrong CA and a wrong token are checked
// against the sandbox in tests/e2e/errors_test.sh.)
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "app.hpp"
#include "unit/kube/test_server.hpp"

using namespace gpuorch::cli;

namespace {

struct Run {
  int code = 0;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

Run run(std::vector<std::string> args) {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  const auto start = std::chrono::steady_clock::now();
  Run r;
  r.code = run_cli(ctx, args);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  r.out = out.str();
  r.err = err.str();
  return r;
}

/// A socket that accepts connections (the kernel completes the handshake)
/// but whose owner never reads or answers.
class SilentListener {
 public:
  SilentListener() {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(m_fd, 16) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(m_fd); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

 private:
  int m_fd = -1;
  int m_port = 0;
};

}  // namespace

TEST_CASE("a server that never answers: exit 1 within --request-timeout, naming the server") {
  SilentListener silent;
  const auto r = run({"--server", silent.url(), "--request-timeout", "1s", "get"});
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: GET " + silent.url() +
                     "/apis/gpuorch.io/v1alpha1/namespaces/default/gpuworkloads?limit=500: no answer within the "
                     "request timeout of 1s (--request-timeout)\n");
  CHECK(r.elapsed < std::chrono::milliseconds(4000));
  // submit and delete go through the same client.
  const auto s = run(
      {"--server", silent.url(), "--request-timeout", "1s", "submit", "--name", "x", "--model", "m", "--gpus", "1"});
  CHECK(s.code == 1);
  CHECK(s.err.find("no answer within the request timeout of 1s (--request-timeout)") != std::string::npos);
  CHECK(s.elapsed < std::chrono::milliseconds(4000));
}

TEST_CASE("403 Forbidden names the user and the context") {
  gpuorch::kube::testing::TestServer server;
  server.http().Delete(R"(/apis/gpuorch.io/v1alpha1/namespaces/ml/gpuworkloads/llama)",
                       [](const httplib::Request&, httplib::Response& res) {
                         res.status = 403;
                         res.set_content(
                             R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,
          "message":"gpuworkloads.gpuorch.io \"llama\" is forbidden: User \"alice\" cannot delete resource \"gpuworkloads\" in API group \"gpuorch.io\" in the namespace \"ml\""})",
                             "application/json");
                       });
  server.start();
  char dir_template[] = "/tmp/gpuorch-bad-input-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir = dir_template;
  const auto kubeconfig = (dir / "config").string();
  std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"
                               "clusters: [{name: c, cluster: {server: '"
                            << server.url()
                            << "'}}]\nusers: [{name: alice, user: {token: secret-token}}]\n"
                               "contexts: [{name: prod, context: {cluster: c, user: alice, namespace: ml}}]\n";
  const auto r = run({"--kubeconfig", kubeconfig, "delete", "llama"});
  std::filesystem::remove_all(dir);
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "Error from server (Forbidden): gpuworkloads.gpuorch.io \"llama\" is forbidden: User \"alice\" cannot delete "
        "resource \"gpuworkloads\" in API group \"gpuorch.io\" in the namespace \"ml\" (authenticated as user "
        "\"alice\" in context \"prod\")\n");
  CHECK(r.err.find("secret-token") == std::string::npos);
}
