// Checks kubeconfig loading and merging against kubectl itself:
// `kubectl config view --merge --raw -o json` on generated KUBECONFIG lists.
#include <gpuorch/kube/kubeconfig.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace gpuorch::kube;
using nlohmann::json;

namespace {

// Found by CMake (find_program): kubectl is a hard dependency of the tests,
// so a machine without it fails here instead of passing without comparing.
constexpr const char* k_kubectl = GPUORCH_TEST_KUBECTL;

struct Generator {
  std::mt19937 rng;

  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  std::string word(const char* prefix) { return fmt::format("{}{}", prefix, pick(1000)); }

  json extensions() {
    json out = json::array();
    const int n = pick(3);
    for (int i = 0; i < n; ++i) {
      out.push_back(json{{"name", fmt::format("ext{}", pick(3))}, {"extension", json{{"k", word("v")}}}});
    }
    // Extension names must be unique within one list.
    json unique = json::array();
    std::set<std::string> seen;
    for (auto& e : out) {
      if (seen.insert(e["name"].get<std::string>()).second) {
        unique.push_back(e);
      }
    }
    return unique;
  }

  json cluster() {
    json c = json::object();
    if (chance(80)) {
      c["server"] = fmt::format("https://{}.example:{}", word("host"), 6443 + pick(3));
    }
    if (chance(30)) {
      c["certificate-authority"] = word("pki/ca-") + ".crt";
    }
    if (chance(30)) {
      c["certificate-authority-data"] = base64_encode(word("-----BEGIN CERTIFICATE-----\n"));
    }
    if (chance(20)) {
      c["insecure-skip-tls-verify"] = chance(50);
    }
    if (chance(20)) {
      c["tls-server-name"] = word("sni");
    }
    if (chance(20)) {
      c["proxy-url"] = fmt::format("socks5://{}:1080", word("proxy"));
    }
    if (chance(10)) {
      c["disable-compression"] = true;
    }
    if (chance(20)) {
      c["extensions"] = extensions();
    }
    return c;
  }

  json user() {
    json u = json::object();
    if (chance(30)) {
      u["token"] = word("tok");
    }
    if (chance(15)) {
      u["tokenFile"] = word("tokens/t");
    }
    if (chance(20)) {
      u["client-certificate"] = word("certs/c") + ".crt";
      u["client-key"] = word("certs/k") + ".key";
    }
    if (chance(20)) {
      u["client-certificate-data"] = base64_encode(word("cert"));
      u["client-key-data"] = base64_encode(word("key"));
    }
    if (chance(15)) {
      u["username"] = word("name");
      u["password"] = word("pw");
    }
    if (chance(20)) {
      u["as"] = word("imp");
      u["as-groups"] = json::array({word("g"), word("g")});
    }
    if (chance(10)) {
      u["as-uid"] = word("uid");
      u["as-user-extra"] = json{{"scopes", json::array({word("s")})}};
    }
    if (chance(25)) {
      json e = {
          {"command", chance(50) ? word("bin/plugin") : word("plugin")},
          {"apiVersion", chance(50) ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1"}};
      if (chance(50)) {
        e["args"] = json::array({"get-token", word("--id=")});
      }
      if (chance(50)) {
        e["env"] = json::array({json{{"name", "A"}, {"value", word("x")}}});
      }
      if (chance(50)) {
        e["provideClusterInfo"] = chance(50);
      }
      if (chance(50)) {
        e["interactiveMode"] =
            std::array<const char*, 3>{"Never", "IfAvailable", "Always"}[static_cast<std::size_t>(pick(3))];
      }
      if (chance(30)) {
        e["installHint"] = word("install ");
      }
      u["exec"] = e;
    }
    if (chance(10)) {
      u["extensions"] = extensions();
    }
    return u;
  }

  json context() {
    json c = json::object();
    if (chance(90)) {
      c["cluster"] = fmt::format("c{}", pick(4));
    }
    if (chance(90)) {
      c["user"] = fmt::format("u{}", pick(4));
    }
    if (chance(50)) {
      c["namespace"] = word("ns");
    }
    if (chance(10)) {
      c["extensions"] = extensions();
    }
    return c;
  }

  /// A file with entries drawn from a small name space, so files collide.
  json file() {
    json f = json::object();
    if (chance(80)) {
      f["apiVersion"] = "v1";
      f["kind"] = "Config";
    }
    if (chance(60)) {
      f["current-context"] = fmt::format("ctx{}", pick(4));
    }
    if (chance(30)) {
      f["preferences"] = json{{"colors", chance(50)}};
    }
    if (chance(20)) {
      f["extensions"] = extensions();
    }
    const auto named = [&](const char* key, const char* inner, const char* prefix, auto make) {
      if (!chance(80)) {
        return;
      }
      json list = json::array();
      std::set<int> used;
      const int n = 1 + pick(3);
      for (int i = 0; i < n; ++i) {
        const int id = pick(4);
        if (used.insert(id).second) {
          list.push_back(json{{"name", fmt::format("{}{}", prefix, id)}, {inner, make()}});
        }
      }
      f[key] = list;
    };
    named("clusters", "cluster", "c", [&] { return cluster(); });
    named("users", "user", "u", [&] { return user(); });
    named("contexts", "context", "ctx", [&] { return context(); });
    return f;
  }
};

/// Block-style YAML with every string double-quoted (valid YAML and unambiguous).
void emit_yaml(const json& value, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      out += pad + key + ":";
      if ((item.is_object() || item.is_array()) && !item.empty()) {
        out += "\n";
        emit_yaml(item, indent + 2, out);
      } else {
        out += " " + item.dump() + "\n";
      }
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if ((item.is_object() || item.is_array()) && !item.empty()) {
        std::string nested;
        emit_yaml(item, indent + 2, nested);
        nested.replace(static_cast<std::size_t>(indent), 2, "- ");
        out += nested;
      } else {
        out += pad + "- " + item.dump() + "\n";
      }
    }
  }
}

std::string run_kubectl_view(const std::string& kubeconfig_list) {
  const auto command = fmt::format("env -i HOME=/nonexistent KUBECONFIG='{}' {} config view --merge --raw -o json 2>&1",
                                   kubeconfig_list, k_kubectl);
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    output.append(buffer.data(), n);
  }
  REQUIRE(::pclose(pipe) == 0);
  return output;
}

}  // namespace

TEST_CASE("kubeconfig merging matches kubectl config view --merge on generated files") {
  REQUIRE_MESSAGE(std::filesystem::exists(k_kubectl),
                  fmt::format("kubectl not found (\"{}\"): the oracle comparison needs kubectl v1.32 "
                              "(scripts/install-deps.sh; reconfigure after installing it)",
                              k_kubectl));
  char dir_template[] = "/tmp/gpuorch-kubeconfig-oracle-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path dir(dir_template);
  Generator gen{std::mt19937(20261129)};
  RealFileSystem fs;
  constexpr int k_cases = 30;
  for (int round = 0; round < k_cases; ++round) {
    const int files = 1 + gen.pick(4);
    std::vector<std::string> paths;
    for (int i = 0; i < files; ++i) {
      const auto path = (dir / fmt::format("r{}-f{}.{}", round, i, i % 2 == 0 ? "yaml" : "json")).string();
      const json content = gen.file();
      std::string text;
      if (i % 2 == 0) {
        emit_yaml(content, 0, text);
      } else {
        text = content.dump(2);
      }
      std::ofstream(path) << text;
      paths.push_back(path);
    }
    // A missing file and a duplicate are part of the list, as users have them.
    std::string list;
    for (const auto& p : paths) {
      list += p + ":";
    }
    list += (dir / "missing.yaml").string() + ":" + paths.front();

    Environment env({{"KUBECONFIG", list}});
    auto loaded = load_kubeconfig("", env, fs);
    REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message()));
    const json ours = to_view_json(loaded->config);
    const json theirs = json::parse(run_kubectl_view(list));
    INFO("round ", round, " KUBECONFIG=", list);
    CHECK(ours.dump(2) == theirs.dump(2));
  }
  std::filesystem::remove_all(dir);
}
