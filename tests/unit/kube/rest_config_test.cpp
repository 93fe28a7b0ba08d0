#include <gpuorch/kube/rest_config.hpp>

#include <doctest/doctest.h>

#include "unit/kube/fakes.hpp"

using gpuorch::ErrorCode;
using namespace gpuorch::kube;
using gpuorch::kube::testing::FakeFileSystem;

namespace {

constexpr const char* k_config = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority: pki/ca.crt
    tls-server-name: api.dev
- name: prod-cluster
  cluster:
    server: https://prod.example
    certificate-authority-data: UFJPRC1DQQ==
    proxy-url: http://proxy:3128
contexts:
- name: dev
  context: {cluster: dev-cluster, user: alice, namespace: ml}
- name: prod
  context: {cluster: prod-cluster, user: robot}
users:
- name: alice
  user:
    tokenFile: tokens/alice
    as: bob
    as-groups: [ops]
- name: robot
  user:
    client-certificate: certs/robot.crt
    client-key-data: Uk9CT1QtS0VZ
- name: legacy
  user:
    auth-provider: {name: gcp}
- name: both
  user: {token: t, username: u, password: p}
- name: exec-v1
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./cred}
)";

struct Fixture {
  FakeFileSystem fs{"/work"};
  Environment env{{{"KUBECONFIG", "/etc/kube/config"}}};
  Fixture() {
    fs.add("/etc/kube/config", k_config);
    fs.add("/etc/kube/pki/ca.crt", "DEV-CA");
    fs.add("/etc/kube/tokens/alice", "alice-token\n");
    fs.add("/etc/kube/certs/robot.crt", "ROBOT-CERT");
  }
  RestConfig load(const ConfigOverrides& overrides = {}) {
    auto result = load_rest_config(overrides, env, fs);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message()));
    return std::move(result).value();
  }
  std::string error(const ConfigOverrides& overrides) {
    auto result = load_rest_config(overrides, env, fs);
    REQUIRE(!result.ok());
    CHECK(result.error().code() == ErrorCode::config);
    return result.error().message();
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "load_rest_config uses the current context with paths relative to its file") {
  const auto rc = load();
  CHECK(rc.server == "https://dev.example:6443");
  CHECK(rc.context_name == "dev");
  CHECK(rc.cluster_name == "dev-cluster");
  CHECK(rc.user_name == "alice");
  CHECK(rc.namespace_name == "ml");
  CHECK(rc.ca_pem == "DEV-CA");
  CHECK(rc.ca_source == "/etc/kube/pki/ca.crt");
  CHECK(rc.tls_server_name == "api.dev");
  CHECK(rc.bearer_token == "alice-token");
  CHECK(rc.bearer_token_file == "/etc/kube/tokens/alice");
  CHECK(rc.impersonate_user == "bob");
  CHECK(rc.impersonate_groups == std::vector<std::string>{"ops"});
  CHECK(rc.identity_description() == "user \"alice\" in context \"dev\"");
}

TEST_CASE_FIXTURE(Fixture, "load_rest_config applies --context, -n and client certificates from file and data") {
  ConfigOverrides overrides;
  overrides.context = "prod";
  overrides.namespace_name = "batch";
  const auto rc = load(overrides);
  CHECK(rc.server == "https://prod.example");
  CHECK(rc.ca_pem == "PROD-CA");
  CHECK(rc.proxy_url == "http://proxy:3128");
  CHECK(rc.client_certificate_pem == "ROBOT-CERT");
  CHECK(rc.client_key_pem == "ROBOT-KEY");
  CHECK(rc.namespace_name == "batch");
  CHECK(rc.namespace_from_flag);
  CHECK(rc.bearer_token.empty());
}

TEST_CASE_FIXTURE(Fixture, "overrides follow client-go: --server clears tls-server-name, --token replaces tokenFile") {
  ConfigOverrides overrides;
  overrides.server = "https://127.0.0.1:9443";
  overrides.token = "flag-token";
  const auto rc = load(overrides);
  CHECK(rc.server == "https://127.0.0.1:9443");
  CHECK(rc.tls_server_name.empty());
  CHECK(rc.bearer_token == "flag-token");
  CHECK(rc.bearer_token_file.empty());
  CHECK(rc.ca_pem == "DEV-CA");

  ConfigOverrides insecure;
  insecure.insecure_skip_tls_verify = true;
  const auto rc2 = load(insecure);
  CHECK(rc2.insecure_skip_tls_verify);
  CHECK(rc2.ca_pem.empty());

  ConfigOverrides ca;
  ca.context = "prod";
  ca.certificate_authority = "/tmp/other-ca.crt";
  fs.add("/tmp/other-ca.crt", "OTHER");
  CHECK(load(ca).ca_pem == "OTHER");

  ConfigOverrides cluster_user;
  cluster_user.cluster = "prod-cluster";
  cluster_user.user = "robot";
  const auto rc3 = load(cluster_user);
  CHECK(rc3.server == "https://prod.example");
  CHECK(rc3.context_name == "dev");
  CHECK(rc3.namespace_name == "ml");
  CHECK(rc3.client_key_pem == "ROBOT-KEY");
}

TEST_CASE_FIXTURE(Fixture, "configuration errors name the file and the field") {
  ConfigOverrides missing_context;
  missing_context.context = "nope";
  CHECK(error(missing_context) == "context \"nope\" not found in kubeconfig \"/etc/kube/config\"");

  ConfigOverrides missing_user;
  missing_user.user = "nobody";
  CHECK(error(missing_user) == "user \"nobody\" of context \"dev\" not found in kubeconfig \"/etc/kube/config\"");

  ConfigOverrides legacy;
  legacy.user = "legacy";
  CHECK(error(legacy) ==
        "users[legacy].user.auth-provider: user \"legacy\" in \"/etc/kube/config\" uses the legacy auth-provider "
        "\"gcp\", which kubectl removed in 1.26 and gpuorch does not support; configure an exec credential plugin "
        "instead (e.g. gke-gcloud-auth-plugin, kubelogin)");

  ConfigOverrides both;
  both.user = "both";
  CHECK(error(both) ==
        "users[both].user: more than one authentication method found for user \"both\" in \"/etc/kube/config\": "
        "token, basicAuth; only one is allowed");

  ConfigOverrides exec;
  exec.user = "exec-v1";
  CHECK(error(exec) ==
        "users[exec-v1].user.exec.interactiveMode: must be set for user \"exec-v1\" in \"/etc/kube/config\" with "
        "client.authentication.k8s.io/v1 (Never, IfAvailable or Always)");

  fs.remove("/etc/kube/pki/ca.crt");
  CHECK(error({}) ==
        "unable to read certificate-authority \"/etc/kube/pki/ca.crt\" for cluster \"dev-cluster\" in "
        "\"/etc/kube/config\": open /etc/kube/pki/ca.crt: No such file or directory");
}

TEST_CASE("credentials are not sent to plain-http servers, like client-go") {
  FakeFileSystem fs;
  fs.add("/c",
         "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]\n"
         "users: [{name: u, user: {token: secret}}]\n"
         "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n");
  auto rc = load_rest_config({}, Environment({{"KUBECONFIG", "/c"}}), fs).value_or_throw();
  CHECK(rc.server == "http://127.0.0.1:8080");
  CHECK(rc.bearer_token.empty());
}

TEST_CASE("in-cluster configuration") {
  FakeFileSystem fs;
  fs.add(k_service_account_token, "sa-token\n");
  fs.add(k_service_account_ca, "SA-CA");
  fs.add(k_service_account_namespace, "team-a\n");
  Environment env({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}, {"HOME", "/home/none"}});

  SUBCASE("used when no kubeconfig exists; IPv6 hosts get brackets") {
    auto rc = load_rest_config({}, env, fs).value_or_throw();
    CHECK(rc.in_cluster);
    CHECK(rc.server == "https://[fd00::1]:443");
    CHECK(rc.bearer_token == "sa-token");
    CHECK(rc.bearer_token_file == k_service_account_token);
    CHECK(rc.ca_pem == "SA-CA");
    CHECK(rc.namespace_name == "team-a");
    CHECK(rc.identity_description() == "the in-cluster service account");
  }
  SUBCASE("POD_NAMESPACE wins over the namespace file; -n over both") {
    env.set("POD_NAMESPACE", "from-env");
    CHECK(load_rest_config({}, env, fs).value_or_throw().namespace_name == "from-env");
    ConfigOverrides ns;
    ns.namespace_name = "flag";
    CHECK(load_rest_config(ns, env, fs).value_or_throw().namespace_name == "flag");
  }
  SUBCASE("--in-cluster forces it even when a kubeconfig exists") {
    fs.add("/home/none/.kube/config",
           "clusters: [{name: c, cluster: {server: https://x}}]\ncurrent-context: c\n"
           "contexts: [{name: c, context: {cluster: c}}]\n");
    CHECK(!load_rest_config({}, env, fs).value_or_throw().in_cluster);
    ConfigOverrides force;
    force.in_cluster = true;
    CHECK(load_rest_config(force, env, fs).value_or_throw().in_cluster);
  }
  SUBCASE("missing service variables") {
    ConfigOverrides force;
    force.in_cluster = true;
    auto result = load_rest_config(force, Environment({}), fs);
    REQUIRE(!result.ok());
    CHECK(result.error().message() ==
          "unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
          "defined");
  }
  SUBCASE("no kubeconfig and not in a pod") {
    fs.remove(k_service_account_token);
    auto result = load_rest_config({}, env, fs);
    REQUIRE(!result.ok());
    CHECK(result.error().code() == ErrorCode::config);
    CHECK(result.error().message() ==
          "no configuration has been provided (no kubeconfig file found): set KUBECONFIG, pass --kubeconfig or "
          "--server, or run in a pod");
  }
}

TEST_CASE("--server alone is enough, and gets a scheme") {
  FakeFileSystem fs;
  ConfigOverrides overrides;
  overrides.server = "127.0.0.1:8080";
  auto rc = load_rest_config(overrides, Environment({}), fs).value_or_throw();
  CHECK(rc.server == "http://127.0.0.1:8080");
  CHECK(rc.namespace_name == "default");
}

TEST_CASE("parse_request_timeout accepts kubectl's forms") {
  using std::chrono::milliseconds;
  CHECK(parse_request_timeout("0").value_or_throw() == milliseconds(0));
  CHECK(parse_request_timeout("").value_or_throw() == milliseconds(0));
  CHECK(parse_request_timeout("30").value_or_throw() == milliseconds(30000));
  CHECK(parse_request_timeout("5s").value_or_throw() == milliseconds(5000));
  CHECK(parse_request_timeout("1m30s").value_or_throw() == milliseconds(90000));
  CHECK(parse_request_timeout("250ms").value_or_throw() == milliseconds(250));
  CHECK(parse_request_timeout("1.5h").value_or_throw() == milliseconds(5400000));
  const auto bad = parse_request_timeout("5 minutes");
  REQUIRE(!bad.ok());
  CHECK(bad.error().code() == ErrorCode::usage);
  CHECK(bad.error().message() ==
        "invalid --request-timeout \"5 minutes\": must be a whole number of seconds or a number with a unit (e.g. "
        "30s, 2m, 1h)");
}
