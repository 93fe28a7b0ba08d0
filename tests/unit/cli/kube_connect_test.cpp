#include "kube_connect.hpp"

#include <chrono>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

using namespace gpuorch::cli;

TEST_CASE("config_overrides carries every connection flag") {
  GlobalOptions global;
  global.kubeconfig = "/k";
  global.context = "ctx";
  global.cluster = "cl";
  global.user = "u";
  global.namespace_name = "ns";
  global.server = "https://s";
  global.token = "t";
  global.certificate_authority = "/ca";
  global.client_certificate = "/crt";
  global.client_key = "/key";
  global.tls_server_name = "api.internal";
  global.request_timeout = "5s";
  global.in_cluster = true;
  auto overrides = config_overrides(global);
  CHECK(overrides.kubeconfig == "/k");
  CHECK(overrides.context == "ctx");
  CHECK(overrides.cluster == "cl");
  CHECK(overrides.user == "u");
  CHECK(overrides.namespace_name == "ns");
  CHECK(overrides.server == "https://s");
  CHECK(overrides.token == "t");
  CHECK(overrides.certificate_authority == "/ca");
  CHECK(overrides.client_certificate == "/crt");
  CHECK(overrides.client_key == "/key");
  CHECK(overrides.tls_server_name == "api.internal");
  CHECK(overrides.request_timeout == "5s");
  CHECK(overrides.in_cluster);
  // An absent --insecure-skip-tls-verify must not override the kubeconfig.
  CHECK(!overrides.insecure_skip_tls_verify.has_value());
  global.insecure_skip_tls_verify = true;
  CHECK(config_overrides(global).insecure_skip_tls_verify == true);
}

TEST_CASE("StopBridge turns a cancelled CancelToken into a stop request") {
  gpuorch::CancelToken cancel;
  StopBridge bridge(cancel);
  auto token = bridge.token();
  CHECK(!token.stop_requested());
  cancel.cancel();
  for (int i = 0; i < 200 && !token.stop_requested(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(token.stop_requested());
}

TEST_CASE("connect reports configuration errors as config errors") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx(Io{in, out, err});
  ctx.global.kubeconfig = "/nonexistent/gpuorch-test-kubeconfig";
  auto client = connect(ctx);
  REQUIRE(!client.ok());
  CHECK(client.error().code() == gpuorch::ErrorCode::config);
  CHECK(client.error().message() ==
        "kubeconfig \"/nonexistent/gpuorch-test-kubeconfig\" (from --kubeconfig) does not exist");
}
