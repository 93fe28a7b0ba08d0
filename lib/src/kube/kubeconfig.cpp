#include <gpuorch/kube/kubeconfig.hpp>

#include <array>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "yaml_tree.hpp"

namespace gpuorch::kube {
namespace {

using nlohmann::json;

constexpr std::string_view k_yaml_tag_prefix = "tag:yaml.org,2002:";

/// How a YAML 1.1 plain scalar resolves (go-yaml v2, which client-go uses).
enum class ScalarKind { null, boolean, number, string };

bool is_yaml11_true(std::string_view s) {
  static constexpr std::array<std::string_view, 11> k_true = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                                              "True", "TRUE", "on",  "On",  "ON"};
  for (auto t : k_true) {
    if (s == t) {
      return true;
    }
  }
  return false;
}

bool is_yaml11_false(std::string_view s) {
  static constexpr std::array<std::string_view, 11> k_false = {"n",     "N",     "no",  "No",  "NO", "false",
                                                               "False", "FALSE", "off", "Off", "OFF"};
  for (auto f : k_false) {
    if (s == f) {
      return true;
    }
  }
  return false;
}

bool in_class(std::string_view s, std::string_view chars) {
  return !s.empty() && s.find_first_not_of(chars) == std::string_view::npos;
}

// go-yaml v2's number forms, hand-written (a std::regex took longer to compile than the
// whole kubeconfig to parse):
//   [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?   [-+]?0x[0-9a-fA-F_]+
//   [-+]?0b[01_]+   [-+]?\.(inf|Inf|INF)   \.(nan|NaN|NAN)
bool is_yaml11_number(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return true;
  }
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    s.remove_prefix(1);
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF") {
    return true;
  }
  if (s.substr(0, 2) == "0x") {
    return in_class(s.substr(2), "0123456789abcdefABCDEF_");
  }
  if (s.substr(0, 2) == "0b") {
    return in_class(s.substr(2), "01_");
  }
  constexpr std::string_view k_digits = "0123456789";
  const auto exponent = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, exponent);
  if (exponent != std::string_view::npos) {
    std::string_view e = s.substr(exponent + 1);
    if (!e.empty() && (e.front() == '-' || e.front() == '+')) {
      e.remove_prefix(1);
    }
    if (!in_class(e, k_digits)) {
      return false;
    }
  }
  if (!mantissa.empty() && mantissa.front() == '.') {
    return in_class(mantissa.substr(1), k_digits);
  }
  if (mantissa.empty() || k_digits.find(mantissa.front()) == std::string_view::npos) {
    return false;
  }
  const auto dot = mantissa.find('.');
  if (!in_class(mantissa.substr(0, dot), "0123456789_")) {
    return false;
  }
  return dot == std::string_view::npos || mantissa.size() == dot + 1 ||
         in_class(mantissa.substr(dot + 1), "0123456789_");
}

template <typename Node>
ScalarKind resolve_scalar(const Node& node) {
  if (node.IsNull()) {
    return ScalarKind::null;
  }
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == std::string(k_yaml_tag_prefix) + "str" || tag == "!!str") {
    return ScalarKind::string;
  }
  if (tag != "?" && tag.rfind(k_yaml_tag_prefix, 0) == 0) {
    const auto kind = std::string_view(tag).substr(k_yaml_tag_prefix.size());
    if (kind == "bool") {
      return ScalarKind::boolean;
    }
    if (kind == "int" || kind == "float") {
      return ScalarKind::number;
    }
    if (kind == "null") {
      return ScalarKind::null;
    }
    return ScalarKind::string;
  }
  const std::string& s = node.Scalar();
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return ScalarKind::null;
  }
  if (is_yaml11_true(s) || is_yaml11_false(s)) {
    return ScalarKind::boolean;
  }
  if (is_yaml11_number(s)) {
    return ScalarKind::number;
  }
  return ScalarKind::string;
}

template <typename Node>
std::string_view kind_name(const Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "an object";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    case YAML::NodeType::Scalar:
      switch (resolve_scalar(node)) {
        case ScalarKind::null:
          return "null";
        case ScalarKind::boolean:
          return "a boolean";
        case ScalarKind::number:
          return "a number";
        case ScalarKind::string:
          return "a string";
      }
  }
  return "a value";
}

/// Decodes YAML into typed fields, naming the file and the field path in errors.
template <typename Node>
class Decoder {
 public:
  explicit Decoder(const std::string& filename) : m_filename(filename) {}

  Error error(const Node& node, const std::string& path, const std::string& what) const {
    std::string where;
    const auto mark = node.Mark();
    if (!mark.is_null()) {
      where = fmt::format(" (line {}, column {})", mark.line + 1, mark.column + 1);
    }
    return Error(ErrorCode::config,
                 fmt::format("error loading kubeconfig \"{}\": {}: {}{}", m_filename, path, what, where));
  }

  Error type_error(const Node& node, const std::string& path, std::string_view expected) const {
    return error(node, path, fmt::format("expected {}, got {}", expected, kind_name(node)));
  }

  static bool absent(const Node& node) {
    return !node.IsDefined() || node.IsNull() || (node.IsScalar() && resolve_scalar(node) == ScalarKind::null);
  }

  Status string_field(const Node& node, const std::string& path, std::string& out) const {
    if (absent(node)) {
      return {};
    }
    if (!node.IsScalar() || resolve_scalar(node) != ScalarKind::string) {
      return type_error(node, path, "a string");
    }
    out = node.Scalar();
    return {};
  }

  Status bool_field(const Node& node, const std::string& path, bool& out) const {
    if (absent(node)) {
      return {};
    }
    if (!node.IsScalar() || resolve_scalar(node) != ScalarKind::boolean) {
      return type_error(node, path, "a boolean (true or false)");
    }
    out = is_yaml11_true(node.Scalar()) || node.Scalar() == "true";
    return {};
  }

  Status base64_field(const Node& node, const std::string& path, std::string& out) const {
    std::string text;
    GPUORCH_TRY(string_field(node, path, text));
    if (text.empty()) {
      return {};
    }
    auto decoded = base64_decode(text);
    if (!decoded) {
      return error(node, path, decoded.error().message());
    }
    out = std::move(decoded).value();
    return {};
  }

  Status string_list(const Node& node, const std::string& path, std::vector<std::string>& out) const {
    if (absent(node)) {
      return {};
    }
    if (!node.IsSequence()) {
      return type_error(node, path, "a list of strings");
    }
    out.clear();
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string item;
      GPUORCH_TRY(string_field(node[i], fmt::format("{}[{}]", path, i), item));
      out.push_back(std::move(item));
    }
    return {};
  }

  Status object(const Node& node, const std::string& path) const {
    if (!node.IsMap()) {
      return type_error(node, path, "an object");
    }
    return {};
  }

  Result<json> to_json(const Node& node, const std::string& path) const {
    // A missing key (`extensions: [{name: x}]`): yaml-cpp's Type() throws for it.
    if (!node.IsDefined()) {
      return json(nullptr);
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (std::size_t i = 0; i < node.size(); ++i) {
          GPUORCH_ASSIGN_OR_RETURN(auto item, to_json(node[i], fmt::format("{}[{}]", path, i)));
          out.push_back(std::move(item));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& kv : node) {
          const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
          GPUORCH_ASSIGN_OR_RETURN(auto value, to_json(kv.second, path + "." + key));
          out[key] = std::move(value);
        }
        return out;
      }
      case YAML::NodeType::Scalar:
        switch (resolve_scalar(node)) {
          case ScalarKind::null:
            return json(nullptr);
          case ScalarKind::boolean:
            return json(is_yaml11_true(node.Scalar()));
          case ScalarKind::number: {
            const std::string& s = node.Scalar();
            try {
              std::string digits;
              for (char c : s) {
                if (c != '_') {
                  digits += c;
                }
              }
              std::size_t used = 0;
              const long long as_int = std::stoll(digits, &used, 0);
              if (used == digits.size()) {
                return json(as_int);
              }
              return json(std::stod(digits));
            } catch (const std::exception&) {
              return json(s);
            }
          }
          case ScalarKind::string:
            return json(node.Scalar());
        }
    }
    return json(nullptr);
  }

  Status extensions(const Node& node, const std::string& path, Extensions& out) const {
    if (absent(node)) {
      return {};
    }
    if (!node.IsSequence()) {
      return type_error(node, path, "a list of named extensions");
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      const auto item_path = fmt::format("{}[{}]", path, i);
      const Node item = node[i];
      if (absent(item)) {
        continue;
      }
      GPUORCH_TRY(object(item, item_path));
      std::string name;
      GPUORCH_TRY(string_field(item["name"], item_path + ".name", name));
      GPUORCH_ASSIGN_OR_RETURN(auto value, to_json(item["extension"], item_path + ".extension"));
      if (out.count(name) != 0) {
        return error(item, item_path + ".name", fmt::format("duplicate name \"{}\" in {}", name, path));
      }
      out[name] = std::move(value);
    }
    return {};
  }

  Status cluster(const Node& node, const std::string& path, ClusterEntry& out) const {
    if (absent(node)) {
      return {};
    }
    GPUORCH_TRY(object(node, path));
    GPUORCH_TRY(string_field(node["server"], path + ".server", out.server));
    GPUORCH_TRY(string_field(node["tls-server-name"], path + ".tls-server-name", out.tls_server_name));
    GPUORCH_TRY(
        bool_field(node["insecure-skip-tls-verify"], path + ".insecure-skip-tls-verify", out.insecure_skip_tls_verify));
    GPUORCH_TRY(
        string_field(node["certificate-authority"], path + ".certificate-authority", out.certificate_authority));
    GPUORCH_TRY(base64_field(node["certificate-authority-data"], path + ".certificate-authority-data",
                             out.certificate_authority_data));
    GPUORCH_TRY(string_field(node["proxy-url"], path + ".proxy-url", out.proxy_url));
    GPUORCH_TRY(bool_field(node["disable-compression"], path + ".disable-compression", out.disable_compression));
    GPUORCH_TRY(extensions(node["extensions"], path + ".extensions", out.extensions));
    return {};
  }

  Status exec(const Node& node, const std::string& path, ExecConfig& out) const {
    GPUORCH_TRY(object(node, path));
    GPUORCH_TRY(string_field(node["command"], path + ".command", out.command));
    GPUORCH_TRY(string_list(node["args"], path + ".args", out.args));
    const Node env = node["env"];
    if (!absent(env)) {
      if (!env.IsSequence()) {
        return type_error(env, path + ".env", "a list of {name, value}");
      }
      for (std::size_t i = 0; i < env.size(); ++i) {
        const auto item_path = fmt::format("{}.env[{}]", path, i);
        ExecEnvVar var;
        if (!absent(env[i])) {
          GPUORCH_TRY(object(env[i], item_path));
          GPUORCH_TRY(string_field(env[i]["name"], item_path + ".name", var.name));
          GPUORCH_TRY(string_field(env[i]["value"], item_path + ".value", var.value));
        }
        out.env.push_back(std::move(var));
      }
    }
    GPUORCH_TRY(string_field(node["apiVersion"], path + ".apiVersion", out.api_version));
    GPUORCH_TRY(string_field(node["installHint"], path + ".installHint", out.install_hint));
    GPUORCH_TRY(bool_field(node["provideClusterInfo"], path + ".provideClusterInfo", out.provide_cluster_info));
    GPUORCH_TRY(string_field(node["interactiveMode"], path + ".interactiveMode", out.interactive_mode));
    // client-go's defaulting: older plugin versions may use the terminal when there is one.
    if (out.interactive_mode.empty() && (out.api_version == "client.authentication.k8s.io/v1beta1" ||
                                         out.api_version == "client.authentication.k8s.io/v1alpha1")) {
      out.interactive_mode = "IfAvailable";
    }
    return {};
  }

  Status user(const Node& node, const std::string& path, AuthInfoEntry& out) const {
    if (absent(node)) {
      return {};
    }
    GPUORCH_TRY(object(node, path));
    GPUORCH_TRY(string_field(node["client-certificate"], path + ".client-certificate", out.client_certificate));
    GPUORCH_TRY(
        base64_field(node["client-certificate-data"], path + ".client-certificate-data", out.client_certificate_data));
    GPUORCH_TRY(string_field(node["client-key"], path + ".client-key", out.client_key));
    GPUORCH_TRY(base64_field(node["client-key-data"], path + ".client-key-data", out.client_key_data));
    GPUORCH_TRY(string_field(node["token"], path + ".token", out.token));
    GPUORCH_TRY(string_field(node["tokenFile"], path + ".tokenFile", out.token_file));
    GPUORCH_TRY(string_field(node["as"], path + ".as", out.impersonate));
    GPUORCH_TRY(string_field(node["as-uid"], path + ".as-uid", out.impersonate_uid));
    GPUORCH_TRY(string_list(node["as-groups"], path + ".as-groups", out.impersonate_groups));
    const Node extra = node["as-user-extra"];
    if (!absent(extra)) {
      if (!extra.IsMap()) {
        return type_error(extra, path + ".as-user-extra", "an object of string lists");
      }
      for (const auto& kv : extra) {
        const std::string key = kv.first.Scalar();
        GPUORCH_TRY(string_list(kv.second, path + ".as-user-extra." + key, out.impersonate_user_extra[key]));
      }
    }
    GPUORCH_TRY(string_field(node["username"], path + ".username", out.username));
    GPUORCH_TRY(string_field(node["password"], path + ".password", out.password));
    const Node provider = node["auth-provider"];
    if (!absent(provider)) {
      GPUORCH_TRY(object(provider, path + ".auth-provider"));
      AuthProviderConfig config;
      GPUORCH_TRY(string_field(provider["name"], path + ".auth-provider.name", config.name));
      const Node values = provider["config"];
      if (!absent(values)) {
        GPUORCH_TRY(object(values, path + ".auth-provider.config"));
        for (const auto& kv : values) {
          const std::string key = kv.first.Scalar();
          GPUORCH_TRY(string_field(kv.second, path + ".auth-provider.config." + key, config.config[key]));
        }
      }
      out.auth_provider = std::move(config);
    }
    const Node exec_node = node["exec"];
    if (!absent(exec_node)) {
      ExecConfig config;
      GPUORCH_TRY(exec(exec_node, path + ".exec", config));
      out.exec = std::move(config);
    }
    GPUORCH_TRY(extensions(node["extensions"], path + ".extensions", out.extensions));
    return {};
  }

  Status context(const Node& node, const std::string& path, ContextEntry& out) const {
    if (absent(node)) {
      return {};
    }
    GPUORCH_TRY(object(node, path));
    GPUORCH_TRY(string_field(node["cluster"], path + ".cluster", out.cluster));
    GPUORCH_TRY(string_field(node["user"], path + ".user", out.user));
    GPUORCH_TRY(string_field(node["namespace"], path + ".namespace", out.namespace_name));
    GPUORCH_TRY(extensions(node["extensions"], path + ".extensions", out.extensions));
    return {};
  }

  template <typename Entry, typename Fn>
  Status named_list(const Node& node, const std::string& key, const std::string& inner,
                    std::map<std::string, Entry>& out, Fn&& decode_entry) const {
    if (absent(node)) {
      return {};
    }
    if (!node.IsSequence()) {
      return type_error(node, key, fmt::format("a list of {{name, {}}}", inner));
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      const auto item_path = fmt::format("{}[{}]", key, i);
      const Node item = node[i];
      std::string name;
      Entry entry;
      if (!absent(item)) {
        GPUORCH_TRY(object(item, item_path));
        GPUORCH_TRY(string_field(item["name"], item_path + ".name", name));
        GPUORCH_TRY(decode_entry(item[inner], item_path + "." + inner, entry));
      }
      entry.location_of_origin = m_filename;
      if (out.count(name) != 0) {
        return error(item, item_path + ".name", fmt::format("duplicate name \"{}\" in {}", name, key));
      }
      out.emplace(std::move(name), std::move(entry));
    }
    return {};
  }

 private:
  const std::string& m_filename;
};

template <typename Map>
void merge_first_wins(Map& into, const Map& from) {
  for (const auto& [key, value] : from) {
    into.emplace(key, value);  // emplace keeps an existing entry
  }
}

json extensions_json(const Extensions& extensions) {
  json out = json::array();
  for (const auto& [name, value] : extensions) {
    out.push_back(json{{"name", name}, {"extension", value}});
  }
  return out;
}

void put_string(json& out, const char* key, const std::string& value) {
  if (!value.empty()) {
    out[key] = value;
  }
}

void put_base64(json& out, const char* key, const std::string& bytes) {
  if (!bytes.empty()) {
    out[key] = base64_encode(bytes);
  }
}

std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (path.empty() || is_absolute_path(path)) {
    return path;
  }
  return join_path(base_dir, path);
}

std::string origin_dir(const std::string& origin, std::string_view cwd) {
  if (origin.empty()) {
    return std::string(cwd);
  }
  std::string absolute = is_absolute_path(origin) ? origin : join_path(cwd, origin);
  return dir_name(absolute);
}

}  // namespace

bool KubeConfig::empty() const {
  return clusters.empty() && users.empty() && contexts.empty() && current_context.empty() && !preferences.colors &&
         preferences.extensions.empty() && extensions.empty();
}

namespace {

/// Decodes a document read by yaml-cpp (YAML::Node) or by libyaml (yaml_tree::Node).
template <typename Node>
Result<KubeConfig> decode_kubeconfig(const Node& root, const std::string& filename) {
  KubeConfig config;
  Decoder<Node> decoder(filename);
  if (Decoder<Node>::absent(root)) {
    return config;
  }
  if (!root.IsMap()) {
    return Error(ErrorCode::config,
                 fmt::format("error loading kubeconfig \"{}\": expected an object (apiVersion: v1, kind: Config), "
                             "got {}",
                             filename, kind_name(root)));
  }
  std::string api_version;
  std::string kind;
  GPUORCH_TRY(decoder.string_field(root["apiVersion"], "apiVersion", api_version));
  GPUORCH_TRY(decoder.string_field(root["kind"], "kind", kind));
  if (!api_version.empty() && api_version != "v1") {
    return decoder.error(root["apiVersion"], "apiVersion",
                         fmt::format("unsupported version \"{}\", expected v1", api_version));
  }
  if (!kind.empty() && kind != "Config") {
    return decoder.error(root["kind"], "kind", fmt::format("unsupported kind \"{}\", expected Config", kind));
  }
  const Node prefs = root["preferences"];
  if (!Decoder<Node>::absent(prefs)) {
    GPUORCH_TRY(decoder.object(prefs, "preferences"));
    GPUORCH_TRY(decoder.bool_field(prefs["colors"], "preferences.colors", config.preferences.colors));
    GPUORCH_TRY(decoder.extensions(prefs["extensions"], "preferences.extensions", config.preferences.extensions));
  }
  GPUORCH_TRY(decoder.named_list(
      root["clusters"], "clusters", "cluster", config.clusters,
      [&](const Node& n, const std::string& p, ClusterEntry& e) { return decoder.cluster(n, p, e); }));
  GPUORCH_TRY(
      decoder.named_list(root["users"], "users", "user", config.users,
                         [&](const Node& n, const std::string& p, AuthInfoEntry& e) { return decoder.user(n, p, e); }));
  GPUORCH_TRY(decoder.named_list(
      root["contexts"], "contexts", "context", config.contexts,
      [&](const Node& n, const std::string& p, ContextEntry& e) { return decoder.context(n, p, e); }));
  GPUORCH_TRY(decoder.string_field(root["current-context"], "current-context", config.current_context));
  GPUORCH_TRY(decoder.extensions(root["extensions"], "extensions", config.extensions));
  return config;
}

}  // namespace

Result<KubeConfig> parse_kubeconfig(std::string_view text, const std::string& filename) {
  // libyaml first: yaml-cpp's scanner took ~2 M instructions (5 % of a `gpuorch submit`) for the
  // 1.2 KB kubeconfig of a sandbox (docs/benchmarks.md). yaml_tree gives the nodes yaml-cpp would give; a
  // text libyaml rejects, and any decoding error, goes through yaml-cpp again so that errors keep
  // yaml-cpp's messages and positions exactly.
  if (auto tree = yaml_tree::read(text)) {
    auto config = decode_kubeconfig(tree->root(), filename);
    if (config.ok()) {
      return config;
    }
  }
  return parse_kubeconfig_with_yaml_cpp(text, filename);
}

Result<KubeConfig> parse_kubeconfig_with_yaml_cpp(std::string_view text, const std::string& filename) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Error(ErrorCode::config,
                 fmt::format("error loading kubeconfig \"{}\": invalid YAML at line {}, column {}: {}", filename,
                             e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return decode_kubeconfig(root, filename);
}

KubeConfig merge_kubeconfigs(const std::vector<KubeConfig>& configs) {
  KubeConfig merged;
  for (const auto& config : configs) {
    merge_first_wins(merged.clusters, config.clusters);
    merge_first_wins(merged.users, config.users);
    merge_first_wins(merged.contexts, config.contexts);
    merge_first_wins(merged.extensions, config.extensions);
    merge_first_wins(merged.preferences.extensions, config.preferences.extensions);
    if (merged.current_context.empty()) {
      merged.current_context = config.current_context;
    }
    // A bool is "set" only when true: a later file's true wins over an earlier false.
    merged.preferences.colors = merged.preferences.colors || config.preferences.colors;
  }
  return merged;
}

void resolve_relative_paths(KubeConfig& config, std::string_view cwd) {
  for (auto& [name, cluster] : config.clusters) {
    const auto dir = origin_dir(cluster.location_of_origin, cwd);
    cluster.certificate_authority = resolve_path(cluster.certificate_authority, dir);
  }
  for (auto& [name, user] : config.users) {
    const auto dir = origin_dir(user.location_of_origin, cwd);
    user.client_certificate = resolve_path(user.client_certificate, dir);
    user.client_key = resolve_path(user.client_key, dir);
    user.token_file = resolve_path(user.token_file, dir);
    if (user.exec && user.exec->command.find('/') != std::string::npos) {
      user.exec->command = resolve_path(user.exec->command, dir);
    }
  }
}

json to_view_json(const KubeConfig& config) {
  json out = json::object();
  out["kind"] = "Config";
  out["apiVersion"] = "v1";
  json prefs = json::object();
  if (config.preferences.colors) {
    prefs["colors"] = true;
  }
  if (!config.preferences.extensions.empty()) {
    prefs["extensions"] = extensions_json(config.preferences.extensions);
  }
  out["preferences"] = prefs;

  json clusters = nullptr;
  for (const auto& [name, c] : config.clusters) {
    json cluster = json::object();
    cluster["server"] = c.server;
    put_string(cluster, "tls-server-name", c.tls_server_name);
    if (c.insecure_skip_tls_verify) {
      cluster["insecure-skip-tls-verify"] = true;
    }
    put_string(cluster, "certificate-authority", c.certificate_authority);
    put_base64(cluster, "certificate-authority-data", c.certificate_authority_data);
    put_string(cluster, "proxy-url", c.proxy_url);
    if (c.disable_compression) {
      cluster["disable-compression"] = true;
    }
    if (!c.extensions.empty()) {
      cluster["extensions"] = extensions_json(c.extensions);
    }
    clusters.push_back(json{{"name", name}, {"cluster", cluster}});
  }
  out["clusters"] = clusters;

  json users = nullptr;
  for (const auto& [name, u] : config.users) {
    json user = json::object();
    put_string(user, "client-certificate", u.client_certificate);
    put_base64(user, "client-certificate-data", u.client_certificate_data);
    put_string(user, "client-key", u.client_key);
    put_base64(user, "client-key-data", u.client_key_data);
    put_string(user, "token", u.token);
    put_string(user, "tokenFile", u.token_file);
    put_string(user, "as", u.impersonate);
    put_string(user, "as-uid", u.impersonate_uid);
    if (!u.impersonate_groups.empty()) {
      user["as-groups"] = u.impersonate_groups;
    }
    if (!u.impersonate_user_extra.empty()) {
      user["as-user-extra"] = u.impersonate_user_extra;
    }
    put_string(user, "username", u.username);
    put_string(user, "password", u.password);
    if (u.auth_provider) {
      json provider = json{{"name", u.auth_provider->name}};
      if (!u.auth_provider->config.empty()) {
        provider["config"] = u.auth_provider->config;
      }
      user["auth-provider"] = provider;
    }
    if (u.exec) {
      const auto& e = *u.exec;
      json exec = json::object();
      exec["command"] = e.command;
      exec["args"] = e.args.empty() ? json(nullptr) : json(e.args);
      json env = nullptr;
      for (const auto& var : e.env) {
        env.push_back(json{{"name", var.name}, {"value", var.value}});
      }
      exec["env"] = env;
      put_string(exec, "apiVersion", e.api_version);
      put_string(exec, "installHint", e.install_hint);
      exec["provideClusterInfo"] = e.provide_cluster_info;
      put_string(exec, "interactiveMode", e.interactive_mode);
      user["exec"] = exec;
    }
    if (!u.extensions.empty()) {
      user["extensions"] = extensions_json(u.extensions);
    }
    users.push_back(json{{"name", name}, {"user", user}});
  }
  out["users"] = users;

  json contexts = nullptr;
  for (const auto& [name, c] : config.contexts) {
    json context = json::object();
    context["cluster"] = c.cluster;
    context["user"] = c.user;
    put_string(context, "namespace", c.namespace_name);
    if (!c.extensions.empty()) {
      context["extensions"] = extensions_json(c.extensions);
    }
    contexts.push_back(json{{"name", name}, {"context", context}});
  }
  out["contexts"] = contexts;
  out["current-context"] = config.current_context;
  if (!config.extensions.empty()) {
    out["extensions"] = extensions_json(config.extensions);
  }
  return out;
}

Result<LoadedKubeConfig> load_kubeconfig(const std::string& explicit_path, const Environment& env,
                                         const FileSystem& fs) {
  LoadedKubeConfig loaded;
  std::vector<std::string> candidates;
  bool must_exist = false;
  if (!explicit_path.empty()) {
    candidates.push_back(explicit_path);
    must_exist = true;
    loaded.source = "--kubeconfig";
  } else if (auto list = env.get("KUBECONFIG"); list && !list->empty()) {
    loaded.source = "KUBECONFIG";
    std::set<std::string> seen;
    std::size_t pos = 0;
    while (pos <= list->size()) {
      auto next = list->find(':', pos);
      if (next == std::string::npos) {
        next = list->size();
      }
      std::string entry = list->substr(pos, next - pos);
      if (!entry.empty() && seen.insert(entry).second) {
        candidates.push_back(std::move(entry));
      }
      pos = next + 1;
    }
  } else if (auto home = env.get("HOME"); home && !home->empty()) {
    loaded.source = "default";
    candidates.push_back(join_path(*home, ".kube/config"));
  } else {
    loaded.source = "none";
  }

  std::vector<KubeConfig> configs;
  for (const auto& path : candidates) {
    if (!fs.is_regular_file(path)) {
      if (must_exist) {
        return Error(ErrorCode::config, fmt::format("kubeconfig \"{}\" (from --kubeconfig) does not exist", path));
      }
      continue;
    }
    auto text = fs.read_file(path);
    if (!text) {
      return Error(ErrorCode::config, fmt::format("error loading kubeconfig \"{}\": {}", path, text.error().message()));
    }
    GPUORCH_ASSIGN_OR_RETURN(auto config, parse_kubeconfig(*text, path));
    configs.push_back(std::move(config));
    loaded.files.push_back(path);
  }
  loaded.config = merge_kubeconfigs(configs);
  return loaded;
}

Result<std::string> base64_decode(std::string_view text) {
  static constexpr std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') {
      clean += c;
    }
  }
  if (clean.size() % 4 != 0) {
    return Error(ErrorCode::invalid,
                 fmt::format("illegal base64 data: length {} is not a multiple of 4", clean.size()));
  }
  std::string out;
  out.reserve(clean.size() / 4 * 3);
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = clean[i + j];
      std::uint32_t value = 0;
      if (c == '=') {
        if (i + 4 != clean.size() || j < 2 || (j == 2 && clean[i + 3] != '=')) {
          return Error(ErrorCode::invalid, fmt::format("illegal base64 data at input byte {}", i + j));
        }
        ++padding;
      } else {
        const auto pos = k_alphabet.find(c);
        if (pos == std::string_view::npos || padding > 0) {
          return Error(ErrorCode::invalid, fmt::format("illegal base64 data at input byte {}", i + j));
        }
        value = static_cast<std::uint32_t>(pos);
      }
      group = (group << 6) | value;
    }
    out += static_cast<char>((group >> 16) & 0xff);
    if (padding < 2) {
      out += static_cast<char>((group >> 8) & 0xff);
    }
    if (padding < 1) {
      out += static_cast<char>(group & 0xff);
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr std::string_view k_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t group = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                                (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                                static_cast<std::uint8_t>(bytes[i + 2]);
    out += k_alphabet[(group >> 18) & 63];
    out += k_alphabet[(group >> 12) & 63];
    out += k_alphabet[(group >> 6) & 63];
    out += k_alphabet[group & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t group = static_cast<std::uint8_t>(bytes[i]) << 16;
    out += k_alphabet[(group >> 18) & 63];
    out += k_alphabet[(group >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const std::uint32_t group =
        (static_cast<std::uint8_t>(bytes[i]) << 16) | (static_cast<std::uint8_t>(bytes[i + 1]) << 8);
    out += k_alphabet[(group >> 18) & 63];
    out += k_alphabet[(group >> 12) & 63];
    out += k_alphabet[(group >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace gpuorch::kube
