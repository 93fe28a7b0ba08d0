#include <gpuorch/kube/client.hpp>

#include <doctest/doctest.h>

#include "unit/kube/fakes.hpp"
#include "unit/kube/test_proxy.hpp"
#include "unit/kube/test_server.hpp"

using gpuorch::Error;
using gpuorch::ErrorCode;
using gpuorch::Result;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;

namespace {

TestPki& pki() {
  static TestPki instance;
  return instance;
}

std::shared_ptr<Client> make_client(const RestConfig& config) {
  ClientDeps deps;
  deps.clock = std::make_shared<FakeClock>();
  deps.random = std::make_shared<FixedRandom>(0.5);
  return Client::create(config, {}, Environment({}), deps).value_or_throw();
}

Result<HttpResponse> get_version(const RestConfig& config) {
  Request request;
  request.path = "/version";
  return make_client(config)->send(request);
}

void serve_version(TestServer& server, std::string* host_seen = nullptr) {
  server.http().Get("/version", [host_seen](const httplib::Request& req, httplib::Response& res) {
    if (host_seen != nullptr) {
      *host_seen = req.get_header_value("Host");
    }
    res.set_content(R"({"major":"1","minor":"32"})", "application/json");
  });
  server.start();
}

}  // namespace

TEST_CASE("TLS: the configured CA is trusted and only that CA") {
  TestServer server(pki().server, nullptr);
  serve_version(server);
  RestConfig config;
  config.server = server.url();
  config.cluster_name = "test";

  config.ca_pem = pki().ca.cert_pem();
  CHECK(get_version(config).ok());

  config.ca_pem = pki().other_ca.cert_pem();
  config.ca_source = "certificate-authority-data of cluster \"test\" in \"/k\"";
  auto wrong = get_version(config);
  REQUIRE(!wrong.ok());
  CHECK(wrong.error().code() == ErrorCode::transport);
  CHECK(wrong.error().reason() == "TLSVerify");
  CHECK(wrong.error().message().rfind("the TLS certificate of " + server.url() +
                                          " is not trusted (verified against certificate-authority-data of cluster "
                                          "\"test\" in \"/k\"): SSL certificate problem: ",
                                      0) == 0);
  CHECK(wrong.error().message().find("pass --certificate-authority") != std::string::npos);

  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  CHECK(get_version(config).ok());

  config.insecure_skip_tls_verify = false;
  config.ca_pem = "not a certificate";
  auto garbage = get_version(config);
  REQUIRE(!garbage.ok());
  CHECK(garbage.error().reason() == "TLS");
}

TEST_CASE("TLS: tls-server-name verifies another name while connecting to the address") {
  TestServer server(pki().named_server, nullptr);
  std::string host_seen;
  serve_version(server, &host_seen);
  RestConfig config;
  config.server = server.url();
  config.ca_pem = pki().ca.cert_pem();
  auto without = get_version(config);
  REQUIRE(!without.ok());
  CHECK(without.error().reason() == "TLSVerify");

  config.tls_server_name = "api.test";
  CHECK(get_version(config).ok());
  CHECK(host_seen == "127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("TLS: client certificates from memory") {
  TestServer server(pki().server, &pki().ca);
  serve_version(server);
  RestConfig config;
  config.server = server.url();
  config.ca_pem = pki().ca.cert_pem();
  auto anonymous = get_version(config);
  REQUIRE(!anonymous.ok());
  CHECK(anonymous.error().code() == ErrorCode::transport);

  config.client_certificate_pem = pki().client.cert_pem();
  config.client_key_pem = pki().client.key_pem();
  CHECK(get_version(config).ok());

  config.client_key_pem = pki().server.key_pem();  // does not match the certificate
  auto mismatch = get_version(config);
  REQUIRE(!mismatch.ok());
  CHECK(mismatch.error().reason() == "TLS");
}

TEST_CASE("TLS: an exec plugin may supply the client certificate") {
  TestServer server(pki().server, &pki().ca);
  serve_version(server);

  class CertPlugin final : public ProcessRunner {
   public:
    Result<ProcessOutput> run(const ProcessSpec&) override {
      nlohmann::json reply = {
          {"apiVersion", "client.authentication.k8s.io/v1"},
          {"kind", "ExecCredential"},
          {"status", {{"clientCertificateData", pki().client.cert_pem()}, {"clientKeyData", pki().client.key_pem()}}}};
      return ProcessOutput{0, reply.dump()};
    }
  };
  RestConfig config;
  config.server = server.url();
  config.ca_pem = pki().ca.cert_pem();
  ExecConfig exec;
  exec.command = "cert-plugin";
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.interactive_mode = "Never";
  config.exec = exec;
  ClientDeps deps;
  deps.clock = std::make_shared<FakeClock>();
  deps.process_runner = std::make_shared<CertPlugin>();
  auto client = Client::create(config, {}, Environment({}), deps).value_or_throw();
  Request request;
  request.path = "/version";
  CHECK(client->send(request).ok());
}

TEST_CASE("TLS: proxy-url tunnels through an HTTP CONNECT proxy - also with tls-server-name") {
  TestServer server(pki().named_server, nullptr);
  std::string host_seen;
  serve_version(server, &host_seen);
  ConnectProxy proxy;
  const auto address = "127.0.0.1:" + std::to_string(server.port());
  RestConfig config;
  config.server = server.url();
  config.ca_pem = pki().ca.cert_pem();
  config.tls_server_name = "api.test";
  config.proxy_url = proxy.url();
  // The tunnel goes to the server's address; TLS inside it verifies the other name.
  CHECK(get_version(config).ok());
  CHECK(proxy.targets() == std::vector<std::string>{address});
  CHECK(host_seen == address);

  // Verification still happens through the tunnel.
  config.tls_server_name.clear();
  auto unverified = get_version(config);
  REQUIRE(!unverified.ok());
  CHECK(unverified.error().reason() == "TLSVerify");
  CHECK(proxy.targets().size() == 2);

  // A proxy that refuses the tunnel is an error naming the server, not a silent direct connection.
  config.server = "https://127.0.0.2:" + std::to_string(server.port());
  config.tls_server_name = "api.test";
  auto refused = get_version(config);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::transport);
  CHECK(refused.error().message().find("https://127.0.0.2:") != std::string::npos);
  CHECK(proxy.targets().back() == "127.0.0.2:" + std::to_string(server.port()));
}

// gpuorch's binaries link libcurl without the libraries behind its other
// protocols and GSS-API (lib/src/kube/curl_unused.cpp stands in for them and
// stops the process if reached): the transport must never let libcurl get there.
TEST_CASE("the transport speaks http and https only - other schemes fail cleanly") {
  CurlTransport transport(TransportConfig{}, Environment({}));
  for (const std::string scheme : {"ldap", "ldaps", "rtmp", "rtmpe", "rtmps", "rtmpt", "rtmpte", "rtmpts", "scp",
                                   "sftp", "ftp", "ftps", "dict", "gopher", "imap", "pop3", "smtp", "telnet", "tftp"}) {
    CAPTURE(scheme);
    HttpRequest request;
    request.url = scheme + "://127.0.0.1:1/x";
    auto result = transport.send(request);
    REQUIRE(!result.ok());
    CHECK(result.error().code() == ErrorCode::transport);
    CAPTURE(result.error().message());
    CHECK(result.error().message().find("\"" + scheme + "\" not supported") != std::string::npos);
  }
}

TEST_CASE("TLS: a SOCKS5 proxy that asks for GSS-API is refused - only no-auth and Basic are offered") {
  ConnectProxy proxy;
  RestConfig config;
  config.server = "https://127.0.0.1:1";
  config.proxy_url = proxy.socks5_url();
  auto result = get_version(config);
  REQUIRE(!result.ok());
  CHECK(result.error().code() == ErrorCode::transport);
  REQUIRE(!proxy.socks5_methods().empty());
  for (const auto& methods : proxy.socks5_methods()) {
    CHECK(methods == std::vector<int>{0});  // no authentication; Basic (2) only with credentials
  }
}
