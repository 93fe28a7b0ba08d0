// parse_kubeconfig reads with libyaml first and falls back to yaml-cpp
// (parse_kubeconfig_with_yaml_cpp); both must give the same result, or the same error, for
// every text: checked on the constructs where the two parsers differ and on random edits.
#include <gpuorch/kube/kubeconfig.hpp>

#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace gpuorch::kube;

namespace {

const std::string k_file = "/k/config";

/// The outcome of one reader as text: the kubeconfig's view JSON, or the error.
std::string outcome(const gpuorch::Result<KubeConfig>& result) {
  if (!result.ok()) {
    return "error: " + result.error().message();
  }
  // The edits may leave invalid UTF-8 in a string: escape it rather than throw.
  return to_view_json(result.value()).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

/// The text with its control and non-ASCII bytes escaped, for a failure message.
std::string escaped(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

void check_same(const std::string& text) {
  const auto fast = outcome(parse_kubeconfig(text, k_file));
  const auto reference = outcome(parse_kubeconfig_with_yaml_cpp(text, k_file));
  INFO("text: ", escaped(text));
  CHECK(fast == reference);
}

// Kubeconfigs in the styles people and tools write: kubectl's block style, flow style, JSON,
// comments, quoting, CRLF line ends.
const std::vector<std::string> k_corpus = {
    R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: Zm9vYmFy
    insecure-skip-tls-verify: false
users:
- name: alice
  user:
    token: "123"
    as-groups: [ops, dev]
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/cred   # a comment
      args:
      - get-token
      env: [{name: REGION, value: 'eu'}]
contexts:
- name: dev
  context: {cluster: prod, user: alice, namespace: ml}
current-context: dev
preferences: {}
)",
    R"({"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"https://x","proxy-url":"http://p:3128"}}],"users":[{"name":"u","user":{"username":"a","password":"b"}}],"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"})",
    "apiVersion: v1\r\nkind: Config\r\nclusters:\r\n- name: a\r\n  cluster:\r\n    server: https://a\r\n"
    "current-context: ''\r\n",
    R"(clusters: [{name: c1, cluster: {server: https://b, tls-server-name: "sni", extensions: [{name: e, extension: {k: [1, 2.5, true, ~, "s"]}}]}}]
users: [{name: u1, user: {as-user-extra: {scopes: [view, edit]}, auth-provider: {name: oidc, config: {client-id: x}}}}]
contexts: [{name: b, context: {cluster: c1, user: u1}}]
)",
};

}  // namespace

TEST_CASE("parse_kubeconfig agrees with yaml-cpp where libyaml and yaml-cpp differ") {
  for (const auto& text : std::vector<std::string>{
           "",
           "# only a comment\n",
           "users: [{name: u, user: {token: !!str 123}}]\n",                   // tags: left to yaml-cpp
           "x: &a {server: https://a}\nclusters: [{name: c, cluster: *a}]\n",  // anchors and aliases
           "? current-context\n: dev\n",                                       // explicit key
           "clusters: [{name: c, cluster: {server: \"https://a?x=1\"}}]\n",
           "current-context: a\r",  // a CR alone ends a line in YAML 1.1 only
           "\xef\xbb\xbf"
           "current-context: bom\n",
           "current-context: a\n\xef\xbb\xbf\n",
           "users:\n- name: u\n  user:\n    exec:\n      command: c\n      installHint: |\n        line one\n"
           "        line two\n\n\n",
           "current-context: a\n---\ncurrent-context: b\n",  // several documents
           "current-context: a\n---\n: [\n",
           "clusters: [{name: c, cluster: {server: https://a, \"bogus\"\n}}]\n",
           "clusters: [{name: c, cluster: {server\n https://a}}]\n",
           "current-context: \"unterminated\n",  // yaml-cpp accepts it, libyaml does not
           "current-context: [a, b\n",
           "users: [{name: u, user: {token: 123}}]\n",  // a decoding error: yaml-cpp's positions
           "clusters:\n- name: c\n  cluster: {server: 8080}\n",
           "current-context: null\nkind: ~\napiVersion:\n",
           "current-context: \"esc \\t \\u00e9 \\x41\"\n",
           "current-context: 'it''s'\n",
           "current-context: multi\n  line\n  plain\n",
       }) {
    check_same(text);
  }
}

TEST_CASE("an extension without its value reads as null with either reader") {
  const std::string text = "clusters: [{name: c, cluster: {server: https://a, extensions: [{name: e}]}}]\n";
  for (const auto& result : {parse_kubeconfig(text, k_file), parse_kubeconfig_with_yaml_cpp(text, k_file)}) {
    REQUIRE(result.ok());
    CHECK(result.value().clusters.at("c").extensions.at("e") == nullptr);
  }
}

TEST_CASE("parse_kubeconfig agrees with yaml-cpp on random edits of kubeconfigs") {
  // Deterministic: the same edits on every run. Each text gets 1 to 3 edits (delete, insert or
  // replace a character) from an alphabet of YAML's indicators, line breaks and byte order marks.
  std::mt19937 rng(20261129);
  const std::string alphabet = " \n\t\r:-?[]{},#&*!|>'\"%@`~\\abc01.\xc2\x85\xef\xbb\xbf";
  int fast_and_ok = 0;
  for (int i = 0; i < 6000; ++i) {
    std::string text = k_corpus[rng() % k_corpus.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.erase(at, 1);
          break;
        case 1:
          text.insert(at, 1, c);
          break;
        default:
          text[at] = c;
          break;
      }
    }
    const auto fast = parse_kubeconfig(text, k_file);
    const auto reference = parse_kubeconfig_with_yaml_cpp(text, k_file);
    if (outcome(fast) != outcome(reference)) {
      FAIL_CHECK(fmt::format("readers differ on \"{}\":\n  libyaml first: {}\n  yaml-cpp:      {}", escaped(text),
                             outcome(fast), outcome(reference)));
    }
    fast_and_ok += fast.ok() ? 1 : 0;
  }
  // Most edits still give a valid kubeconfig, so the comparison covers successful reads.
  CHECK(fast_and_ok > 1000);
}
