#include <gpuorch/sandbox/patch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

Error bad_request(std::string message) {
  return Error(ErrorCode::invalid, std::move(message)).with_http(400, "BadRequest");
}

Error unprocessable(std::string message) {
  return Error(ErrorCode::invalid, std::move(message)).with_http(422, "Invalid");
}

// ---- YAML to JSON -----------------------------------------------------------

json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") {  // quoted: always a string
    return text;
  }
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  const bool numeric_start = (text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '+' || text[0] == '.';
  if (numeric_start) {
    try {
      std::size_t used = 0;
      const long long v = std::stoll(text, &used, 10);
      if (used == text.size()) {
        return v;
      }
    } catch (const std::exception&) {
    }
    try {
      std::size_t used = 0;
      const double d = std::stod(text, &used);
      if (used == text.size() && text.find_first_of("xXpP") == std::string::npos) {
        return d;
      }
    } catch (const std::exception&) {
    }
  }
  return text;
}

json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) {
        out.push_back(yaml_to_json(item));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      }
      return out;
    }
  }
  return nullptr;
}

// ---- strategic merge patch ---------------------------------------------------

// Merge keys of the built-in types' associative lists, by field name. The
// real server reads them from Go struct tags; the names are unambiguous
// across the types the sandbox serves.
const std::map<std::string, std::string>& merge_keys() {
  static const std::map<std::string, std::string> keys = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"imagePullSecrets", "name"},
      {"env", "name"},
      {"ports", "containerPort"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"hostAliases", "ip"},
      {"topologySpreadConstraints", "topologyKey"},
      {"addresses", "type"},
      {"resourceClaims", "name"},
      {"schedulingGates", "name"},
  };
  return keys;
}

bool is_primitive_merge_list(const std::string& field) {
  return field == "finalizers";
}

Result<json> strategic_merge(const json& original, const json& patch);

Result<json> merge_list(const std::string& field, const json& original, const json& patch) {
  const auto key_it = merge_keys().find(field);
  const bool objects = std::all_of(patch.begin(), patch.end(), [](const json& e) { return e.is_object(); });
  if (is_primitive_merge_list(field)) {
    json out = original.is_array() ? original : json::array();
    for (const json& v : patch) {
      if (std::find(out.begin(), out.end(), v) == out.end()) {
        out.push_back(v);
      }
    }
    return out;
  }
  if (key_it == merge_keys().end() || !objects || !original.is_array()) {
    // Atomic list; strip element directives a client may have sent.
    json out = json::array();
    for (const json& e : patch) {
      if (e.is_object() && e.contains("$patch")) {
        if (e["$patch"] == "delete") {
          continue;
        }
        json copy = e;
        copy.erase("$patch");
        out.push_back(copy);
      } else {
        out.push_back(e);
      }
    }
    return out;
  }
  const std::string& key = key_it->second;
  json out = original;
  for (const json& element : patch) {
    if (element.is_object() && element.value("$patch", "") == "replace") {
      // `[{"$patch": "replace"}, ...]`: the list is replaced by the others.
      json replaced = json::array();
      for (const json& e : patch) {
        if (!(e.is_object() && e.contains("$patch"))) {
          replaced.push_back(e);
        }
      }
      return replaced;
    }
  }
  for (const json& element : patch) {
    const auto id = element.find(key);
    auto match = out.end();
    if (id != element.end()) {
      match = std::find_if(out.begin(), out.end(),
                           [&](const json& e) { return e.is_object() && e.contains(key) && e[key] == *id; });
    }
    if (element.value("$patch", "") == "delete") {
      if (match != out.end()) {
        out.erase(match);
      }
      continue;
    }
    if (match != out.end()) {
      GPUORCH_ASSIGN_OR_RETURN(*match, strategic_merge(*match, element));
    } else {
      GPUORCH_ASSIGN_OR_RETURN(json added, strategic_merge(json::object(), element));
      out.push_back(std::move(added));
    }
  }
  return out;
}

Result<json> strategic_merge(const json& original, const json& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  const std::string directive = patch.value("$patch", "");
  if (directive == "replace") {
    json out = patch;
    out.erase("$patch");
    return out;
  }
  if (directive == "delete") {
    return json(nullptr);
  }
  if (!directive.empty()) {
    return bad_request("unknown patch type: \"" + directive + "\"");
  }
  json out = original.is_object() ? original : json::object();
  for (const auto& [key, value] : patch.items()) {
    if (key.starts_with("$setElementOrder/") || key == "$retainKeys" || key == "$patch") {
      continue;
    }
    if (key.starts_with("$deleteFromPrimitiveList/")) {
      const std::string field = key.substr(std::string("$deleteFromPrimitiveList/").size());
      if (out.contains(field) && out[field].is_array() && value.is_array()) {
        json kept = json::array();
        for (const json& e : out[field]) {
          if (std::find(value.begin(), value.end(), e) == value.end()) {
            kept.push_back(e);
          }
        }
        out[field] = kept;
      }
      continue;
    }
    if (value.is_null()) {
      out.erase(key);
    } else if (value.is_object()) {
      GPUORCH_ASSIGN_OR_RETURN(json merged, strategic_merge(out.contains(key) ? out[key] : json::object(), value));
      if (merged.is_null()) {
        out.erase(key);
      } else {
        out[key] = std::move(merged);
      }
    } else if (value.is_array()) {
      GPUORCH_ASSIGN_OR_RETURN(out[key], merge_list(key, out.contains(key) ? out[key] : json(nullptr), value));
    } else {
      out[key] = value;
    }
  }
  if (patch.contains("$retainKeys") && patch["$retainKeys"].is_array()) {
    const json& keep = patch["$retainKeys"];
    for (auto it = out.begin(); it != out.end();) {
      if (std::find(keep.begin(), keep.end(), it.key()) == keep.end()) {
        it = out.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

// ---- managed fields ----------------------------------------------------------
// A field path is a list of FieldsV1 keys: "f:<field>" for a map field,
// "k:<key JSON>" for the element of an associative list, "v:<value JSON>"
// for the element of a set, and "." for an element itself.

using Path = std::vector<std::string>;

// The key fields of the built-in types' associative lists (their
// x-kubernetes-list-map-keys), by field name; `element` picks between
// lists that share a name (container ports and service ports).
std::vector<std::string> list_map_keys(const std::string& field, const json& element) {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"containers", {"name"}},          {"initContainers", {"name"}},
      {"ephemeralContainers", {"name"}}, {"volumes", {"name"}},
      {"imagePullSecrets", {"name"}},    {"env", {"name"}},
      {"volumeMounts", {"mountPath"}},   {"volumeDevices", {"devicePath"}},
      {"conditions", {"type"}},          {"ownerReferences", {"uid"}},
      {"hostAliases", {"ip"}},           {"topologySpreadConstraints", {"topologyKey", "whenUnsatisfiable"}},
      {"resourceClaims", {"name"}},      {"schedulingGates", {"name"}},
  };
  if (field == "ports" && element.is_object()) {
    if (element.contains("containerPort")) {
      return {"containerPort", "protocol"};
    }
    if (element.contains("port")) {
      return {"port", "protocol"};
    }
    return {};
  }
  const auto it = keys.find(field);
  return it == keys.end() ? std::vector<std::string>{} : it->second;
}

// The "k:" identity of a list element, or empty when it has no usable key.
std::string element_key(const std::vector<std::string>& key_fields, const json& element) {
  if (key_fields.empty() || !element.is_object()) {
    return {};
  }
  json key = json::object();
  for (const std::string& k : key_fields) {
    if (element.contains(k)) {
      key[k] = element[k];
    } else if (k == "protocol") {
      key[k] = "TCP";  // the schema default of port protocols
    } else if (k != "whenUnsatisfiable") {
      return {};
    }
  }
  return "k:" + key.dump();
}

enum class ListKind { atomic, map, set };

// How apply treats the list in `field` (built-in types only; custom
// resources' lists are atomic, as without x-kubernetes-list-type).
ListKind list_kind(const std::string& field, const json& list, bool builtin, std::vector<std::string>& key_fields) {
  if (!builtin || !list.is_array()) {
    return ListKind::atomic;
  }
  if (field == "finalizers") {
    return ListKind::set;
  }
  if (list.empty()) {
    return ListKind::atomic;
  }
  key_fields = list_map_keys(field, list[0]);
  if (key_fields.empty()) {
    return ListKind::atomic;
  }
  for (const json& e : list) {
    if (element_key(key_fields, e).empty()) {
      return ListKind::atomic;
    }
  }
  return ListKind::map;
}

bool ignored(const Path& prefix, const std::string& key) {
  if (prefix.empty()) {
    return key == "apiVersion" || key == "kind";
  }
  if (prefix.size() == 1 && prefix[0] == "f:metadata") {
    return key != "labels" && key != "annotations" && key != "finalizers" && key != "ownerReferences";
  }
  return false;
}

// The owned paths of a value: scalars, atomic lists, empty maps, and every
// element (".") and field of associative lists and sets.
void leaves(const json& value, const std::string& field, bool builtin, Path& prefix, std::vector<Path>& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [k, v] : value.items()) {
      if (ignored(prefix, k)) {
        continue;
      }
      prefix.push_back("f:" + k);
      leaves(v, k, builtin, prefix, out);
      prefix.pop_back();
    }
    return;
  }
  std::vector<std::string> key_fields;
  const ListKind kind = value.is_array() ? list_kind(field, value, builtin, key_fields) : ListKind::atomic;
  if (kind == ListKind::set) {
    for (const json& e : value) {
      prefix.push_back("v:" + e.dump());
      out.push_back(prefix);
      prefix.pop_back();
    }
    return;
  }
  if (kind == ListKind::map) {
    for (const json& e : value) {
      prefix.push_back(element_key(key_fields, e));
      prefix.push_back(".");
      out.push_back(prefix);
      prefix.pop_back();
      for (const auto& [k, v] : e.items()) {
        prefix.push_back("f:" + k);
        leaves(v, k, builtin, prefix, out);
        prefix.pop_back();
      }
      prefix.pop_back();
    }
    return;
  }
  if (!prefix.empty()) {
    out.push_back(prefix);
  }
}

std::vector<Path> leaves_of(const json& object, bool builtin) {
  std::vector<Path> out;
  Path prefix;
  leaves(object, "", builtin, prefix, out);
  return out;
}

void fieldset_leaves(const json& set, Path& prefix, std::vector<Path>& out) {
  if (!set.is_object() || set.empty()) {
    if (!prefix.empty()) {
      out.push_back(prefix);
    }
    return;
  }
  for (const auto& [k, v] : set.items()) {
    if (!(k.starts_with("f:") || k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:") || k == ".")) {
      continue;
    }
    prefix.push_back(k);
    fieldset_leaves(v, prefix, out);
    prefix.pop_back();
  }
}

std::vector<Path> fieldset_to_paths(const json& set) {
  std::vector<Path> out;
  Path prefix;
  fieldset_leaves(set, prefix, out);
  return out;
}

json paths_to_fieldset(const std::vector<Path>& paths) {
  json set = json::object();
  for (const Path& p : paths) {
    json* cur = &set;
    for (const std::string& k : p) {
      cur = &(*cur)[k];
      if (cur->is_null()) {
        *cur = json::object();
      }
    }
  }
  return set;
}

// The list element a "k:", "v:" or "i:" segment names, or end().
json::iterator find_element(json& list, const std::string& segment) {
  if (!list.is_array()) {
    return list.end();
  }
  if (segment.starts_with("v:")) {
    const json value = json::parse(segment.substr(2), nullptr, false);
    return std::find(list.begin(), list.end(), value);
  }
  if (segment.starts_with("i:")) {
    const std::size_t i = static_cast<std::size_t>(std::atoll(segment.c_str() + 2));
    return i < list.size() ? list.begin() + static_cast<std::ptrdiff_t>(i) : list.end();
  }
  const json key = json::parse(segment.substr(2), nullptr, false);
  if (!key.is_object()) {
    return list.end();
  }
  return std::find_if(list.begin(), list.end(), [&](const json& e) {
    if (!e.is_object()) {
      return false;
    }
    for (const auto& [k, v] : key.items()) {
      const auto it = e.find(k);
      const bool defaulted_protocol = k == "protocol" && it == e.end() && v == "TCP";
      if (!defaulted_protocol && (it == e.end() || *it != v)) {
        return false;
      }
    }
    return true;
  });
}

// The value at a path (the element itself for a trailing "." or "v:").
const json* lookup(const json& object, const Path& path) {
  const json* cur = &object;
  for (const std::string& k : path) {
    if (k == ".") {
      continue;
    }
    if (k.starts_with("f:")) {
      if (!cur->is_object()) {
        return nullptr;
      }
      const auto it = cur->find(k.substr(2));
      if (it == cur->end()) {
        return nullptr;
      }
      cur = &*it;
      continue;
    }
    json& list = const_cast<json&>(*cur);
    const auto it = find_element(list, k);
    if (it == list.end()) {
      return nullptr;
    }
    cur = &*it;
  }
  return cur;
}

const json* lookup_plain(const json& object, const std::vector<std::string>& keys) {
  Path p;
  for (const auto& k : keys) {
    p.push_back("f:" + k);
  }
  return lookup(object, p);
}

void erase_path(json& object, const Path& path) {
  if (path.empty()) {
    return;
  }
  // The container of the last segment (a list for ".", "v:"; a map for "f:").
  const bool element = path.back() == "." || path.back().starts_with("v:");
  const std::size_t container_depth = path.back() == "." ? path.size() - 2 : path.size() - 1;
  std::vector<json*> chain = {&object};
  json* cur = &object;
  for (std::size_t i = 0; i < container_depth; ++i) {
    const std::string& k = path[i];
    if (k == ".") {
      continue;
    }
    if (k.starts_with("f:")) {
      if (!cur->is_object() || !cur->contains(k.substr(2))) {
        return;
      }
      cur = &(*cur)[k.substr(2)];
    } else {
      const auto it = find_element(*cur, k);
      if (it == cur->end()) {
        return;
      }
      cur = &*it;
    }
    chain.push_back(cur);
  }
  if (element) {
    const auto it = find_element(*cur, path.back() == "." ? path[path.size() - 2] : path.back());
    if (it != cur->end()) {
      cur->erase(it);
    }
    return;
  }
  if (path.back().starts_with("f:") && cur->is_object()) {
    cur->erase(path.back().substr(2));
  }
  // Drop maps the removal emptied, up to (not including) the top-level sections.
  for (std::size_t i = chain.size() - 1; i >= 2; --i) {
    json& parent = *chain[i - 1];
    const std::string& k = path[i - 1];
    if (!k.starts_with("f:") || !parent.is_object()) {
      break;
    }
    const std::string name = k.substr(2);
    if (parent.contains(name) && parent[name].is_object() && parent[name].empty()) {
      parent.erase(name);
    } else {
      break;
    }
  }
}

bool overlaps(const Path& a, const Path& b) {
  const std::size_t n = std::min(a.size(), b.size());
  return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
}

// ".spec.containers[name=\"main\"].image", as the API server words conflicts.
std::string dotted(const Path& p) {
  std::string out;
  for (const auto& k : p) {
    if (k == ".") {
      continue;
    }
    if (k.starts_with("f:")) {
      out += "." + k.substr(2);
    } else if (k.starts_with("k:")) {
      const json key = json::parse(k.substr(2), nullptr, false);
      std::string inner;
      if (key.is_object()) {
        for (const auto& [kk, v] : key.items()) {
          inner += (inner.empty() ? "" : ",") + kk + "=" + v.dump();
        }
      }
      out += "[" + inner + "]";
    } else {
      out += "[" + k.substr(2) + "]";
    }
  }
  return out;
}

// The live object with the applied configuration merged in: maps field by
// field, associative lists element by element (by key), sets as a union,
// everything else replaced.
json merge_applied(const json& live, const json& config, const std::string& field, bool builtin) {
  if (config.is_object() && live.is_object()) {
    json out = live;
    for (const auto& [k, v] : config.items()) {
      out[k] = out.contains(k) ? merge_applied(out[k], v, k, builtin) : v;
    }
    return out;
  }
  if (config.is_array() && live.is_array()) {
    std::vector<std::string> key_fields;
    const ListKind kind = list_kind(field, config, builtin, key_fields);
    if (kind == ListKind::set) {
      json out = live;
      for (const json& v : config) {
        if (std::find(out.begin(), out.end(), v) == out.end()) {
          out.push_back(v);
        }
      }
      return out;
    }
    if (kind == ListKind::map) {
      json out = live;
      for (const json& e : config) {
        const auto it = find_element(out, element_key(key_fields, e));
        if (it != out.end()) {
          *it = merge_applied(*it, e, "", builtin);
        } else {
          out.push_back(e);
        }
      }
      return out;
    }
  }
  return config;
}

struct Entry {
  std::string manager;
  std::string operation;
  std::string subresource;
  json entry;
  std::vector<Path> paths;
};

std::vector<Entry> read_entries(const json& object) {
  std::vector<Entry> out;
  const json* mf = lookup_plain(object, {"metadata", "managedFields"});
  if (mf == nullptr || !mf->is_array()) {
    return out;
  }
  for (const json& e : *mf) {
    Entry entry;
    entry.manager = e.value("manager", "");
    entry.operation = e.value("operation", "");
    entry.subresource = e.value("subresource", "");
    entry.entry = e;
    entry.paths = fieldset_to_paths(e.value("fieldsV1", json::object()));
    out.push_back(std::move(entry));
  }
  return out;
}

void write_entries(json& object, std::vector<Entry>& entries) {
  json mf = json::array();
  for (Entry& e : entries) {
    if (e.paths.empty()) {
      continue;
    }
    e.entry["fieldsType"] = "FieldsV1";
    e.entry["fieldsV1"] = paths_to_fieldset(e.paths);
    mf.push_back(e.entry);
  }
  if (mf.empty()) {
    if (object.contains("metadata")) {
      object["metadata"].erase("managedFields");
    }
  } else {
    object["metadata"]["managedFields"] = mf;
  }
}

Entry& entry_for(std::vector<Entry>& entries, const managed_fields::Writer& w, const std::string& operation) {
  for (Entry& e : entries) {
    if (e.manager == w.manager && e.operation == operation && e.subresource == w.subresource) {
      return e;
    }
  }
  Entry e;
  e.manager = w.manager;
  e.operation = operation;
  e.subresource = w.subresource;
  entries.push_back(std::move(e));
  return entries.back();
}

void stamp(Entry& e, const managed_fields::Writer& w) {
  e.entry["manager"] = w.manager;
  e.entry["operation"] = e.operation;
  e.entry["apiVersion"] = w.api_version;
  e.entry["time"] = w.time;
  if (!w.subresource.empty()) {
    e.entry["subresource"] = w.subresource;
  }
}

// Keeps only the paths relevant to the writer's subresource: status writes
// own status fields, main-resource writes own the rest.
std::vector<Path> scoped(const std::vector<Path>& paths, const std::string& subresource) {
  std::vector<Path> out;
  for (const Path& p : paths) {
    const bool status = !p.empty() && p[0] == "f:status";
    if (status == (subresource == "status")) {
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace

Result<PatchType> patch_type_from_content_type(std::string_view content_type) {
  std::string_view base = content_type.substr(0, content_type.find(';'));
  while (!base.empty() && base.back() == ' ') {
    base.remove_suffix(1);
  }
  if (base == "application/json-patch+json") {
    return PatchType::json_patch;
  }
  if (base == "application/merge-patch+json") {
    return PatchType::merge_patch;
  }
  if (base == "application/strategic-merge-patch+json") {
    return PatchType::strategic_merge_patch;
  }
  if (base == "application/apply-patch+yaml" || base == "application/apply-patch+cbor") {
    return PatchType::apply;
  }
  return Error(ErrorCode::invalid, "the server does not support the content type \"" + std::string(base) +
                                       "\" for PATCH; accepted media types include: application/json-patch+json, "
                                       "application/merge-patch+json, application/apply-patch+yaml")
      .with_http(415, "UnsupportedMediaType");
}

Result<json> parse_body(std::string_view body, bool yaml) {
  if (!yaml) {
    try {
      return json::parse(body);
    } catch (const json::exception& e) {
      return bad_request(std::string("the request body is not valid JSON: ") + e.what());
    }
  }
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(body));
    if (docs.size() != 1) {
      return bad_request("the request body must hold exactly one YAML document, found " + std::to_string(docs.size()));
    }
    return yaml_to_json(docs.front());
  } catch (const YAML::Exception& e) {
    return bad_request(std::string("the request body is not valid YAML: ") + e.what());
  }
}

Result<json> apply_merge_patch(const json& original, const json& patch) {
  if (!patch.is_object()) {
    return bad_request("a merge patch must be a JSON object");
  }
  json out = original;
  out.merge_patch(patch);
  return out;
}

Result<json> apply_json_patch(const json& original, const json& patch) {
  if (!patch.is_array()) {
    return bad_request("a JSON patch must be a JSON array of operations");
  }
  for (const json& op : patch) {
    if (!op.is_object() || !op.contains("op") || !op.contains("path") || !op["op"].is_string() ||
        !op["path"].is_string()) {
      return bad_request("a JSON patch operation must be an object with string \"op\" and \"path\"");
    }
  }
  try {
    return original.patch(patch);
  } catch (const json::out_of_range& e) {
    return unprocessable(std::string("the JSON patch could not be applied: ") + e.what());
  } catch (const json::other_error& e) {
    return unprocessable(std::string("the JSON patch could not be applied: ") + e.what());
  } catch (const json::exception& e) {
    return bad_request(std::string("the JSON patch is malformed: ") + e.what());
  }
}

Result<json> apply_strategic_merge_patch(const json& original, const json& patch) {
  if (!patch.is_object()) {
    return bad_request("a strategic merge patch must be a JSON object");
  }
  GPUORCH_ASSIGN_OR_RETURN(json out, strategic_merge(original, patch));
  if (out.is_null()) {
    return bad_request("a strategic merge patch may not delete the whole object");
  }
  return out;
}

namespace {

Result<json> apply_once(const json* live, const json& config, const managed_fields::Writer& writer, bool force) {
  std::vector<Path> applied = scoped(leaves_of(config, writer.builtin), writer.subresource);
  if (live == nullptr) {
    json created = config;
    std::vector<Entry> entries;
    Entry& mine = entry_for(entries, writer, "Apply");
    mine.paths = applied;
    stamp(mine, writer);
    write_entries(created, entries);
    return created;
  }
  std::vector<Entry> entries = read_entries(*live);

  // Conflicts: another manager owns a field this apply sets to a different
  // value. Elements of associative lists and sets are identified by their
  // key, so applying one never conflicts; their fields can.
  std::vector<FieldCause> conflicts;
  std::string conflict_text;
  for (const Path& p : applied) {
    if (p.back() == "." || p.back().starts_with("v:")) {
      continue;
    }
    const json* current = lookup(*live, p);
    const json* wanted = lookup(config, p);
    // An empty map merges into whatever is there: it never conflicts.
    if (current == nullptr || wanted == nullptr || *current == *wanted || (wanted->is_object() && wanted->empty())) {
      continue;
    }
    for (Entry& e : entries) {
      if (e.manager == writer.manager && e.subresource == writer.subresource) {
        continue;
      }
      const auto owned = [&](const Path& q) { return q.back() != "." && overlaps(p, q); };
      if (!std::any_of(e.paths.begin(), e.paths.end(), owned)) {
        continue;
      }
      if (force) {
        std::erase_if(e.paths, owned);
      } else {
        conflicts.push_back(FieldCause{dotted(p), "conflict with \"" + e.manager + "\"", {}, "FieldManagerConflict"});
        conflict_text += "\n- conflict with \"" + e.manager + "\"" +
                         (e.operation == "Update" ? " using " + e.entry.value("apiVersion", "") : std::string()) +
                         ": " + dotted(p);
      }
    }
  }
  if (!conflicts.empty()) {
    return Error(ErrorCode::conflict, "Apply failed with " + std::to_string(conflicts.size()) + " conflict" +
                                          (conflicts.size() == 1 ? "" : "s") + ":" + conflict_text)
        .with_http(409, "Conflict")
        .with_causes(std::move(conflicts));
  }

  json result = merge_applied(*live, config, "", writer.builtin);
  Entry& mine = entry_for(entries, writer, "Apply");
  // Fields this manager applied before and dropped now go away, unless
  // another manager owns them too. Elements go with their "." path.
  for (const Path& old : mine.paths) {
    const bool still = std::any_of(applied.begin(), applied.end(), [&](const Path& q) { return old == q; });
    if (still) {
      continue;
    }
    // An element stays while another manager owns it or any field of it.
    const Path owner_prefix = old.back() == "." ? Path(old.begin(), old.end() - 1) : old;
    bool shared = false;
    for (const Entry& e : entries) {
      if (&e == &mine) {
        continue;
      }
      if (std::any_of(e.paths.begin(), e.paths.end(), [&](const Path& q) { return overlaps(owner_prefix, q); })) {
        shared = true;
      }
    }
    if (!shared) {
      erase_path(result, old);
    }
  }
  mine.paths = applied;
  stamp(mine, writer);
  write_entries(result, entries);
  return result;
}

}  // namespace

namespace managed_fields {

Result<json> apply(const json* live, const json& config, const Writer& writer, bool force) {
  auto result = apply_once(live, config, writer, force);
  // Moving from client-side to server-side apply: kubectl's manager may take
  // over the fields its client-side applies set (those in the
  // last-applied-configuration annotation), as the API server allows.
  if (result.ok() || live == nullptr || writer.manager != "kubectl" || result.error().http_status() != 409) {
    return result;
  }
  const json* annotation =
      lookup(*live, {"f:metadata", "f:annotations", "f:kubectl.kubernetes.io/last-applied-configuration"});
  if (annotation == nullptr || !annotation->is_string()) {
    return result;
  }
  const json last = json::parse(annotation->get<std::string>(), nullptr, false);
  if (!last.is_object()) {
    return result;
  }
  std::set<std::string> last_fields;
  for (const Path& p : scoped(leaves_of(last, writer.builtin), writer.subresource)) {
    last_fields.insert(dotted(p));
  }
  for (const FieldCause& c : result.error().causes()) {
    if (!last_fields.contains(c.field)) {
      return result;
    }
  }
  GPUORCH_ASSIGN_OR_RETURN(json upgraded, apply_once(live, last, writer, true));
  return apply_once(&upgraded, config, writer, force);
}

void record_update(const json* old, json& updated, const Writer& writer) {
  std::vector<Entry> entries = old != nullptr ? read_entries(*old) : std::vector<Entry>{};
  std::vector<Path> changed;
  for (const Path& p : scoped(leaves_of(updated, writer.builtin), writer.subresource)) {
    const json* before = old != nullptr ? lookup(*old, p) : nullptr;
    const json* after = lookup(updated, p);
    // An element is the updater's when it adds it; its fields when it changes them.
    const bool element = p.back() == "." || p.back().starts_with("v:");
    if (before == nullptr || after == nullptr || (!element && *before != *after)) {
      changed.push_back(p);
    }
  }
  // Fields that disappeared are no longer owned by anyone.
  std::vector<Path> removed;
  if (old != nullptr) {
    for (const Path& p : scoped(leaves_of(*old, writer.builtin), writer.subresource)) {
      if (lookup(updated, p) == nullptr) {
        removed.push_back(p);
      }
    }
  }
  if (changed.empty() && removed.empty() && old != nullptr) {
    write_entries(updated, entries);
    return;
  }
  for (Entry& e : entries) {
    std::erase_if(e.paths, [&](const Path& q) {
      if (lookup(updated, q) == nullptr) {
        return true;
      }
      return std::any_of(changed.begin(), changed.end(),
                         [&](const Path& p) { return p.back() != "." && q.back() != "." && overlaps(p, q); });
    });
  }
  if (!changed.empty()) {
    Entry& mine = entry_for(entries, writer, "Update");
    for (const Path& p : changed) {
      if (std::find(mine.paths.begin(), mine.paths.end(), p) == mine.paths.end()) {
        mine.paths.push_back(p);
      }
    }
    stamp(mine, writer);
  }
  write_entries(updated, entries);
}

}  // namespace managed_fields

}  // namespace gpuorch::sandbox
