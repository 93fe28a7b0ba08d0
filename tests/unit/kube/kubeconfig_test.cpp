#include <gpuorch/kube/kubeconfig.hpp>

#include <doctest/doctest.h>

#include "unit/kube/fakes.hpp"

using gpuorch::ErrorCode;
using namespace gpuorch::kube;
using gpuorch::kube::testing::FakeFileSystem;

namespace {

KubeConfig parse_ok(const std::string& text, const std::string& file = "/k/config") {
  auto result = parse_kubeconfig(text, file);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message()));
  return std::move(result).value();
}

std::string parse_error(const std::string& text, const std::string& file = "/k/config") {
  auto result = parse_kubeconfig(text, file);
  REQUIRE(!result.ok());
  CHECK(result.error().code() == ErrorCode::config);
  return result.error().message();
}

}  // namespace

TEST_CASE("parse_kubeconfig reads every field of clusters, users and contexts") {
  const auto config = parse_ok(R"(apiVersion: v1
kind: Config
current-context: dev
preferences: {colors: true}
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: Zm9v
    tls-server-name: api.prod
    proxy-url: socks5://proxy:1080
    disable-compression: true
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: prod}
users:
- name: alice
  user:
    token: "123"
    as: bob
    as-uid: "42"
    as-groups: [ops, dev]
    as-user-extra: {scopes: [view]}
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/cred
      args: [get-token, --cluster=prod]
      env: [{name: REGION, value: "1"}]
      installHint: apt install cred
      provideClusterInfo: true
      interactiveMode: Never
contexts:
- name: dev
  context: {cluster: prod, user: alice, namespace: ml}
)");
  CHECK(config.current_context == "dev");
  CHECK(config.preferences.colors);
  const auto& prod = config.clusters.at("prod");
  CHECK(prod.server == "https://prod.example:6443");
  CHECK(prod.certificate_authority_data == "foo");
  CHECK(prod.tls_server_name == "api.prod");
  CHECK(prod.proxy_url == "socks5://proxy:1080");
  CHECK(prod.disable_compression);
  CHECK(prod.extensions.at("client.authentication.k8s.io/exec") == nlohmann::json{{"audience", "prod"}});
  CHECK(prod.location_of_origin == "/k/config");
  const auto& alice = config.users.at("alice");
  CHECK(alice.token == "123");
  CHECK(alice.impersonate == "bob");
  CHECK(alice.impersonate_uid == "42");
  CHECK(alice.impersonate_groups == std::vector<std::string>{"ops", "dev"});
  CHECK(alice.impersonate_user_extra.at("scopes") == std::vector<std::string>{"view"});
  const auto& exec = config.users.at("plugin").exec.value();
  CHECK(exec.command == "./bin/cred");
  CHECK(exec.args == std::vector<std::string>{"get-token", "--cluster=prod"});
  CHECK(exec.env == std::vector<ExecEnvVar>{{"REGION", "1"}});
  CHECK(exec.install_hint == "apt install cred");
  CHECK(exec.provide_cluster_info);
  CHECK(exec.interactive_mode == "Never");
  const auto& dev = config.contexts.at("dev");
  CHECK(dev.cluster == "prod");
  CHECK(dev.user == "alice");
  CHECK(dev.namespace_name == "ml");
}

TEST_CASE("parse_kubeconfig types plain scalars like YAML 1.1, as kubectl does") {
  CHECK(parse_error("users: [{name: u, user: {token: 123}}]") ==
        "error loading kubeconfig \"/k/config\": users[0].user.token: expected a string, got a number (line 1, "
        "column 33)");
  CHECK(parse_error("users:\n- name: u\n  user: {password: yes}\n") ==
        "error loading kubeconfig \"/k/config\": users[0].user.password: expected a string, got a boolean (line 3, "
        "column 20)");
  CHECK(parse_error("clusters: [{name: c, cluster: {insecure-skip-tls-verify: \"true\"}}]") ==
        "error loading kubeconfig \"/k/config\": clusters[0].cluster.insecure-skip-tls-verify: expected a boolean "
        "(true or false), got a string (line 1, column 58)");
  // Quoted scalars are strings; null leaves the field empty.
  const auto config = parse_ok("users: [{name: u, user: {token: \"123\", password: ~, username: 'yes'}}]");
  CHECK(config.users.at("u").token == "123");
  CHECK(config.users.at("u").password.empty());
  CHECK(config.users.at("u").username == "yes");
}

TEST_CASE("parse_kubeconfig: which plain tokens are YAML 1.1 numbers") {
  // Numbers in go-yaml v2's sense: a string field holding one is a type error.
  for (const char* number : {"1", "-1", "+1_000", "1.5", "1.", "1._5", ".5", "-.5", "1e5", "1.5E-3", "0x1F", "0x_a",
                             "-0b101", ".inf", "-.Inf", "+.INF", ".nan", ".NaN"}) {
    CAPTURE(number);
    CHECK(parse_error(std::string("users: [{name: u, user: {token: ") + number + "}}]")
              .find("expected a string, got a number") != std::string::npos);
  }
  // Strings: everything else, however close.
  for (const char* text :
       {"e5", "1e", "1e+", ".", "_1", "0x", "0xg", "0b2", "1.5.2", "-.nan", "1e5e5", "+", "..5", "16Gi", "1_000x"}) {
    CAPTURE(text);
    CHECK(parse_ok(std::string("users: [{name: u, user: {token: ") + text + "}}]").users.at("u").token == text);
  }
}

TEST_CASE("parse_kubeconfig rejects malformed documents naming file and field") {
  CHECK(parse_error("clusters: {}") ==
        "error loading kubeconfig \"/k/config\": clusters: expected a list of {name, cluster}, got an object (line "
        "1, column 11)");
  CHECK(parse_error("[1, 2]") ==
        "error loading kubeconfig \"/k/config\": expected an object (apiVersion: v1, kind: Config), got a list");
  CHECK(parse_error("contexts: [{name: x, context: {cluster: a}}, {name: x, context: {cluster: b}}]") ==
        "error loading kubeconfig \"/k/config\": contexts[1].name: duplicate name \"x\" in contexts (line 1, column "
        "46)");
  CHECK(parse_error("a: [") ==
        "error loading kubeconfig \"/k/config\": invalid YAML at line 1, column 1: end of sequence flow not found");
  CHECK(parse_error("kind: Foo") ==
        "error loading kubeconfig \"/k/config\": kind: unsupported kind \"Foo\", expected Config (line 1, column 7)");
  CHECK(parse_error("clusters: [{name: c, cluster: {certificate-authority-data: 'not base64!!'}}]") ==
        "error loading kubeconfig \"/k/config\": clusters[0].cluster.certificate-authority-data: illegal base64 data "
        "at input byte 3 (line 1, column 60)");
  CHECK(parse_error("users: [{name: u, user: {as-groups: admin}}]") ==
        "error loading kubeconfig \"/k/config\": users[0].user.as-groups: expected a list of strings, got a string "
        "(line 1, column 37)");
}

TEST_CASE("parse_kubeconfig accepts empty files, JSON, unnamed entries and unknown fields") {
  CHECK(parse_ok("").empty());
  CHECK(parse_ok("# only a comment\n").empty());
  const auto json = parse_ok(R"({"clusters":[{"name":"c","cluster":{"server":"https://x","bogus":1}}]})");
  CHECK(json.clusters.at("c").server == "https://x");
  const auto unnamed = parse_ok("clusters: [{cluster: {server: s}}]");
  CHECK(unnamed.clusters.at("").server == "s");
}

TEST_CASE("merge_kubeconfigs: first file wins whole entries and scalars") {
  const auto a = parse_ok(R"(current-context: a
clusters: [{name: c1, cluster: {server: https://a, tls-server-name: from-a}}]
users: [{name: u1, user: {token: ta}}]
contexts: [{name: a, context: {cluster: c1, user: u1}}]
)",
                          "/a");
  const auto b = parse_ok(R"(current-context: b
preferences: {colors: true}
clusters: [{name: c1, cluster: {server: https://b, proxy-url: http://p}}, {name: c2, cluster: {server: https://c2}}]
users: [{name: u1, user: {username: x, password: pw}}]
contexts: [{name: b, context: {cluster: c2, user: u1}}]
)",
                          "/b");
  const auto merged = merge_kubeconfigs({a, b});
  CHECK(merged.current_context == "a");
  CHECK(merged.preferences.colors);
  CHECK(merged.clusters.at("c1").server == "https://a");
  CHECK(merged.clusters.at("c1").proxy_url.empty());  // not merged field by field
  CHECK(merged.clusters.at("c1").location_of_origin == "/a");
  CHECK(merged.clusters.at("c2").location_of_origin == "/b");
  CHECK(merged.users.at("u1").token == "ta");
  CHECK(merged.users.at("u1").username.empty());
  CHECK(merged.contexts.size() == 2);
}

TEST_CASE("resolve_relative_paths resolves against the defining file") {
  auto config = parse_ok(R"(clusters: [{name: c, cluster: {certificate-authority: ../pki/ca.crt}}]
users:
- name: u
  user:
    client-certificate: certs/u.crt
    client-key: /abs/u.key
    tokenFile: ./tok
    exec: {command: bin/plugin, apiVersion: client.authentication.k8s.io/v1}
- name: p
  user:
    exec: {command: kubelogin, apiVersion: client.authentication.k8s.io/v1}
)",
                         "conf/kc.yaml");
  resolve_relative_paths(config, "/work/dir");
  CHECK(config.clusters.at("c").certificate_authority == "/work/dir/pki/ca.crt");
  CHECK(config.users.at("u").client_certificate == "/work/dir/conf/certs/u.crt");
  CHECK(config.users.at("u").client_key == "/abs/u.key");
  CHECK(config.users.at("u").token_file == "/work/dir/conf/tok");
  CHECK(config.users.at("u").exec->command == "/work/dir/conf/bin/plugin");
  CHECK(config.users.at("p").exec->command == "kubelogin");  // looked up on PATH
}

TEST_CASE("load_kubeconfig follows --kubeconfig, KUBECONFIG, then ~/.kube/config") {
  FakeFileSystem fs;
  fs.add("/a", "current-context: a\nclusters: [{name: c, cluster: {server: https://a}}]\n");
  fs.add("/b", "current-context: b\nclusters: [{name: c, cluster: {server: https://b}}, {name: d, cluster: {}}]\n");
  fs.add("/home/u/.kube/config", "current-context: home\n");

  SUBCASE("--kubeconfig reads only that file") {
    Environment env({{"KUBECONFIG", "/a"}, {"HOME", "/home/u"}});
    auto loaded = load_kubeconfig("/b", env, fs).value_or_throw();
    CHECK(loaded.source == "--kubeconfig");
    CHECK(loaded.files == std::vector<std::string>{"/b"});
    CHECK(loaded.config.current_context == "b");
  }
  SUBCASE("a missing --kubeconfig is an error") {
    auto result = load_kubeconfig("/missing", Environment({}), fs);
    REQUIRE(!result.ok());
    CHECK(result.error().code() == ErrorCode::config);
    CHECK(result.error().message() == "kubeconfig \"/missing\" (from --kubeconfig) does not exist");
  }
  SUBCASE("KUBECONFIG: deduplicated, missing and empty entries skipped, first wins") {
    Environment env({{"KUBECONFIG", "/missing::/b:/a:/b"}, {"HOME", "/home/u"}});
    auto loaded = load_kubeconfig("", env, fs).value_or_throw();
    CHECK(loaded.source == "KUBECONFIG");
    CHECK(loaded.files == std::vector<std::string>{"/b", "/a"});
    CHECK(loaded.config.current_context == "b");
    CHECK(loaded.config.clusters.at("c").server == "https://b");
  }
  SUBCASE("empty KUBECONFIG falls back to HOME") {
    Environment env({{"KUBECONFIG", ""}, {"HOME", "/home/u"}});
    auto loaded = load_kubeconfig("", env, fs).value_or_throw();
    CHECK(loaded.source == "default");
    CHECK(loaded.config.current_context == "home");
  }
  SUBCASE("a broken file in the list is an error, not skipped") {
    fs.add("/bad", "users: [{name: u, user: {token: [1]}}]");
    Environment env({{"KUBECONFIG", "/a:/bad"}});
    auto result = load_kubeconfig("", env, fs);
    REQUIRE(!result.ok());
    CHECK(result.error().message() ==
          "error loading kubeconfig \"/bad\": users[0].user.token: expected a string, got a list (line 1, column 33)");
  }
}

TEST_CASE("base64 follows Go's StdEncoding") {
  CHECK(base64_decode("Zm9vYmFy").value_or_throw() == "foobar");
  CHECK(base64_decode("Zm9vYg==").value_or_throw() == "foob");
  CHECK(base64_decode("Zm9v\nYmE=").value_or_throw() == "fooba");
  CHECK(base64_decode("Zm9vY").error().message() == "illegal base64 data: length 5 is not a multiple of 4");
  CHECK(base64_decode("Zm=v").error().message() == "illegal base64 data at input byte 2");
  for (const std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\x00z"}) {
    CHECK(base64_decode(base64_encode(s)).value_or_throw() == s);
  }
}
