#include <gpuorch/sandbox/protobuf.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuorch/model/time.hpp>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

// How a field's bytes become JSON.
enum class Kind {
  string,
  int32,
  int64,
  boolean,
  message,     // a nested message, by name
  time,        // meta/v1 Time {seconds, nanos} -> RFC 3339
  micro_time,  // meta/v1 MicroTime -> RFC 3339 with microseconds
  string_map,  // map<string, string>
  quantity_map,
};

struct Field {
  int number;
  const char* name;
  Kind kind;
  bool repeated = false;
  const char* message = nullptr;
  /// A non-pointer Go field: gogo-protobuf writes its zero value, which
  /// JSON (omitempty) would not carry, so a zero means "unset".
  bool omit_zero = false;
};

using Message = std::vector<Field>;

// Field numbers of the k8s.io/api and apimachinery messages the sandbox
// decodes (from their generated.proto; numbers never change once released).
const std::map<std::string, Message>& messages() {
  static const std::map<std::string, Message> table = {
      {"ObjectMeta",
       {{1, "name", Kind::string},
        {2, "generateName", Kind::string},
        {3, "namespace", Kind::string},
        {5, "uid", Kind::string},
        {6, "resourceVersion", Kind::string},
        {7, "generation", Kind::int64, false, nullptr, true},
        {8, "creationTimestamp", Kind::time},
        {9, "deletionTimestamp", Kind::time},
        {10, "deletionGracePeriodSeconds", Kind::int64},
        {11, "labels", Kind::string_map},
        {12, "annotations", Kind::string_map},
        {13, "ownerReferences", Kind::message, true, "OwnerReference"},
        {14, "finalizers", Kind::string, true}}},
      {"OwnerReference",
       {{1, "kind", Kind::string},
        {3, "name", Kind::string},
        {4, "uid", Kind::string},
        {5, "apiVersion", Kind::string},
        {6, "controller", Kind::boolean},
        {7, "blockOwnerDeletion", Kind::boolean}}},
      {"LabelSelector",
       {{1, "matchLabels", Kind::string_map},
        {2, "matchExpressions", Kind::message, true, "LabelSelectorRequirement"}}},
      {"LabelSelectorRequirement",
       {{1, "key", Kind::string}, {2, "operator", Kind::string}, {3, "values", Kind::string, true}}},
      {"Job", {{1, "metadata", Kind::message, false, "ObjectMeta"}, {2, "spec", Kind::message, false, "JobSpec"}}},
      {"JobSpec",
       {{1, "parallelism", Kind::int32},
        {2, "completions", Kind::int32},
        {3, "activeDeadlineSeconds", Kind::int64},
        {4, "selector", Kind::message, false, "LabelSelector"},
        {5, "manualSelector", Kind::boolean},
        {6, "template", Kind::message, false, "PodTemplateSpec"},
        {7, "backoffLimit", Kind::int32},
        {8, "ttlSecondsAfterFinished", Kind::int32},
        {9, "completionMode", Kind::string},
        {10, "suspend", Kind::boolean},
        {12, "backoffLimitPerIndex", Kind::int32},
        {13, "maxFailedIndexes", Kind::int32},
        {14, "podReplacementPolicy", Kind::string},
        {15, "managedBy", Kind::string}}},
      {"PodTemplateSpec",
       {{1, "metadata", Kind::message, false, "ObjectMeta"}, {2, "spec", Kind::message, false, "PodSpec"}}},
      {"Pod", {{1, "metadata", Kind::message, false, "ObjectMeta"}, {2, "spec", Kind::message, false, "PodSpec"}}},
      {"Namespace",
       {{1, "metadata", Kind::message, false, "ObjectMeta"}, {2, "spec", Kind::message, false, "NamespaceSpec"}}},
      {"NamespaceSpec", {{1, "finalizers", Kind::string, true}}},
      {"Lease", {{1, "metadata", Kind::message, false, "ObjectMeta"}, {2, "spec", Kind::message, false, "LeaseSpec"}}},
      {"LeaseSpec",
       {{1, "holderIdentity", Kind::string},
        {2, "leaseDurationSeconds", Kind::int32},
        {3, "acquireTime", Kind::micro_time},
        {4, "renewTime", Kind::micro_time},
        {5, "leaseTransitions", Kind::int32}}},
      {"PodSpec",
       {{2, "containers", Kind::message, true, "Container"},
        {3, "restartPolicy", Kind::string},
        {4, "terminationGracePeriodSeconds", Kind::int64},
        {5, "activeDeadlineSeconds", Kind::int64},
        {6, "dnsPolicy", Kind::string},
        {7, "nodeSelector", Kind::string_map},
        {8, "serviceAccountName", Kind::string},
        {9, "serviceAccount", Kind::string},
        {10, "nodeName", Kind::string},
        {11, "hostNetwork", Kind::boolean},
        {12, "hostPID", Kind::boolean},
        {13, "hostIPC", Kind::boolean},
        {15, "imagePullSecrets", Kind::message, true, "LocalObjectReference"},
        {16, "hostname", Kind::string},
        {17, "subdomain", Kind::string},
        {18, "affinity", Kind::message, false, "Affinity"},
        {19, "schedulerName", Kind::string},
        {20, "initContainers", Kind::message, true, "Container"},
        {21, "automountServiceAccountToken", Kind::boolean},
        {22, "tolerations", Kind::message, true, "Toleration"},
        {24, "priorityClassName", Kind::string},
        {25, "priority", Kind::int32},
        {29, "runtimeClassName", Kind::string},
        {30, "enableServiceLinks", Kind::boolean},
        {31, "preemptionPolicy", Kind::string}}},
      {"Container",
       {{1, "name", Kind::string},
        {2, "image", Kind::string},
        {3, "command", Kind::string, true},
        {4, "args", Kind::string, true},
        {5, "workingDir", Kind::string},
        {6, "ports", Kind::message, true, "ContainerPort"},
        {7, "env", Kind::message, true, "EnvVar"},
        {8, "resources", Kind::message, false, "ResourceRequirements"},
        {13, "terminationMessagePath", Kind::string},
        {14, "imagePullPolicy", Kind::string},
        {16, "stdin", Kind::boolean},
        {17, "stdinOnce", Kind::boolean},
        {18, "tty", Kind::boolean},
        {20, "terminationMessagePolicy", Kind::string},
        {24, "restartPolicy", Kind::string}}},
      {"ContainerPort",
       {{1, "name", Kind::string},
        {2, "hostPort", Kind::int32, false, nullptr, true},
        {3, "containerPort", Kind::int32},
        {4, "protocol", Kind::string},
        {5, "hostIP", Kind::string}}},
      {"EnvVar", {{1, "name", Kind::string}, {2, "value", Kind::string}}},
      {"ResourceRequirements", {{1, "limits", Kind::quantity_map}, {2, "requests", Kind::quantity_map}}},
      {"LocalObjectReference", {{1, "name", Kind::string}}},
      {"Toleration",
       {{1, "key", Kind::string},
        {2, "operator", Kind::string},
        {3, "value", Kind::string},
        {4, "effect", Kind::string},
        {5, "tolerationSeconds", Kind::int64}}},
      {"Affinity", {{1, "nodeAffinity", Kind::message, false, "NodeAffinity"}}},
      {"NodeAffinity", {{1, "requiredDuringSchedulingIgnoredDuringExecution", Kind::message, false, "NodeSelector"}}},
      {"NodeSelector", {{1, "nodeSelectorTerms", Kind::message, true, "NodeSelectorTerm"}}},
      {"NodeSelectorTerm",
       {{1, "matchExpressions", Kind::message, true, "NodeSelectorRequirement"},
        {2, "matchFields", Kind::message, true, "NodeSelectorRequirement"}}},
      {"NodeSelectorRequirement",
       {{1, "key", Kind::string}, {2, "operator", Kind::string}, {3, "values", Kind::string, true}}},
  };
  return table;
}

Error malformed(const std::string& why) {
  return Error(ErrorCode::invalid, "the protobuf request body is malformed: " + why).with_http(400, "BadRequest");
}

class Reader {
 public:
  explicit Reader(std::string_view data) : m_data(data) {}
  [[nodiscard]] bool done() const { return m_pos >= m_data.size(); }

  std::optional<std::uint64_t> varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (m_pos >= m_data.size()) {
        return std::nullopt;
      }
      const auto byte = static_cast<unsigned char>(m_data[m_pos++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        return v;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string_view> bytes() {
    const auto len = varint();
    if (!len || *len > m_data.size() - m_pos) {
      return std::nullopt;
    }
    std::string_view out = m_data.substr(m_pos, static_cast<std::size_t>(*len));
    m_pos += static_cast<std::size_t>(*len);
    return out;
  }

  bool skip(int wire_type) {
    switch (wire_type) {
      case 0:
        return varint().has_value();
      case 1:
        if (m_data.size() - m_pos < 8) {
          return false;
        }
        m_pos += 8;
        return true;
      case 2:
        return bytes().has_value();
      case 5:
        if (m_data.size() - m_pos < 4) {
          return false;
        }
        m_pos += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  std::string_view m_data;
  std::size_t m_pos = 0;
};

Result<json> decode_message(std::string_view data, const std::string& name, int depth);

// nullopt for the zero time (seconds <= 0), which means "unset".
Result<std::optional<std::string>> decode_time(std::string_view data, bool micro) {
  Reader r(data);
  std::int64_t seconds = 0;
  std::int64_t nanos = 0;
  while (!r.done()) {
    const auto tag = r.varint();
    if (!tag) {
      return malformed("truncated time");
    }
    const int field = static_cast<int>(*tag >> 3);
    const int wire = static_cast<int>(*tag & 7);
    if (wire == 0 && (field == 1 || field == 2)) {
      const auto v = r.varint();
      if (!v) {
        return malformed("truncated time");
      }
      (field == 1 ? seconds : nanos) = static_cast<std::int64_t>(*v);
    } else if (!r.skip(wire)) {
      return malformed("bad time field");
    }
  }
  if (seconds <= 0) {
    return std::optional<std::string>();
  }
  const model::Time t = model::Time(std::chrono::seconds(seconds)) +
                        std::chrono::duration_cast<model::Time::duration>(std::chrono::nanoseconds(nanos));
  return std::optional<std::string>(
      model::format_time(t, micro ? model::TimePrecision::microseconds : model::TimePrecision::seconds));
}

// A map entry: key = 1 (string), value = 2 (string, or a Quantity message
// whose field 1 is its string form).
Result<std::pair<std::string, std::string>> decode_entry(std::string_view data, bool quantity) {
  Reader r(data);
  std::pair<std::string, std::string> out;
  while (!r.done()) {
    const auto tag = r.varint();
    if (!tag) {
      return malformed("truncated map entry");
    }
    const int field = static_cast<int>(*tag >> 3);
    const int wire = static_cast<int>(*tag & 7);
    if (wire != 2 || (field != 1 && field != 2)) {
      if (!r.skip(wire)) {
        return malformed("bad map entry");
      }
      continue;
    }
    const auto bytes = r.bytes();
    if (!bytes) {
      return malformed("truncated map entry");
    }
    if (field == 1) {
      out.first = std::string(*bytes);
    } else if (!quantity) {
      out.second = std::string(*bytes);
    } else {
      Reader q(*bytes);
      while (!q.done()) {
        const auto qtag = q.varint();
        if (!qtag) {
          return malformed("truncated quantity");
        }
        if ((*qtag >> 3) == 1 && (*qtag & 7) == 2) {
          const auto s = q.bytes();
          if (!s) {
            return malformed("truncated quantity");
          }
          out.second = std::string(*s);
        } else if (!q.skip(static_cast<int>(*qtag & 7))) {
          return malformed("bad quantity");
        }
      }
    }
  }
  return out;
}

Result<json> decode_message(std::string_view data, const std::string& name, int depth) {
  if (depth > 32) {
    return malformed("nesting too deep");
  }
  const auto& table = messages();
  const auto it = table.find(name);
  if (it == table.end()) {
    return json::object();
  }
  const Message& fields = it->second;
  json out = json::object();
  Reader r(data);
  while (!r.done()) {
    const auto tag = r.varint();
    if (!tag) {
      return malformed("truncated tag in " + name);
    }
    const int number = static_cast<int>(*tag >> 3);
    const int wire = static_cast<int>(*tag & 7);
    const Field* field = nullptr;
    for (const Field& f : fields) {
      if (f.number == number) {
        field = &f;
      }
    }
    if (field == nullptr) {
      if (!r.skip(wire)) {
        return malformed("bad field " + std::to_string(number) + " in " + name);
      }
      continue;
    }
    json value;
    switch (field->kind) {
      case Kind::int32:
      case Kind::int64:
      case Kind::boolean: {
        if (wire != 0) {
          return malformed(std::string("field ") + field->name + " of " + name + " is not a varint");
        }
        const auto v = r.varint();
        if (!v) {
          return malformed("truncated varint");
        }
        if (field->kind == Kind::boolean) {
          value = *v != 0;
        } else if (field->kind == Kind::int32) {
          value = static_cast<std::int32_t>(static_cast<std::uint32_t>(*v));
        } else {
          value = static_cast<std::int64_t>(*v);
        }
        break;
      }
      default: {
        if (wire != 2) {
          return malformed(std::string("field ") + field->name + " of " + name + " is not length-delimited");
        }
        const auto bytes = r.bytes();
        if (!bytes) {
          return malformed(std::string("truncated field ") + field->name + " of " + name);
        }
        if (field->kind == Kind::string) {
          value = std::string(*bytes);
        } else if (field->kind == Kind::message) {
          GPUORCH_ASSIGN_OR_RETURN(value, decode_message(*bytes, field->message, depth + 1));
        } else if (field->kind == Kind::time || field->kind == Kind::micro_time) {
          GPUORCH_ASSIGN_OR_RETURN(std::optional<std::string> t, decode_time(*bytes, field->kind == Kind::micro_time));
          value = t ? json(*t) : json(nullptr);
        } else {
          GPUORCH_ASSIGN_OR_RETURN(auto entry, decode_entry(*bytes, field->kind == Kind::quantity_map));
          if (!out.contains(field->name)) {
            out[field->name] = json::object();
          }
          out[field->name][entry.first] = entry.second;
          continue;
        }
        break;
      }
    }
    // Go's JSON omits empty strings, false and unset times; gogo-protobuf
    // writes them. Drop them so defaulting sees what JSON would carry.
    const bool empty = (value.is_string() && value.get<std::string>().empty()) ||
                       (value.is_boolean() && !value.get<bool>()) ||
                       (field->omit_zero && value.is_number() && value == 0) ||
                       ((field->kind == Kind::time || field->kind == Kind::micro_time) && value.is_null());
    if (empty && !field->repeated) {
      continue;
    }
    if (field->repeated) {
      out[field->name].push_back(std::move(value));
    } else {
      out[field->name] = std::move(value);
    }
  }
  return out;
}

}  // namespace

Result<json> decode_kubernetes_protobuf(std::string_view body) {
  static constexpr std::string_view k_magic("k8s\0", 4);
  if (!body.starts_with(k_magic)) {
    return malformed("missing the k8s protobuf prefix");
  }
  Reader r(body.substr(k_magic.size()));
  std::string api_version;
  std::string kind;
  std::string_view raw;
  while (!r.done()) {
    const auto tag = r.varint();
    if (!tag) {
      return malformed("truncated envelope");
    }
    const int field = static_cast<int>(*tag >> 3);
    const int wire = static_cast<int>(*tag & 7);
    if (wire != 2) {
      if (!r.skip(wire)) {
        return malformed("bad envelope field");
      }
      continue;
    }
    const auto bytes = r.bytes();
    if (!bytes) {
      return malformed("truncated envelope");
    }
    if (field == 1) {  // TypeMeta {apiVersion = 1, kind = 2}
      Reader t(*bytes);
      while (!t.done()) {
        const auto ttag = t.varint();
        if (!ttag || (*ttag & 7) != 2) {
          return malformed("bad type meta");
        }
        const auto s = t.bytes();
        if (!s) {
          return malformed("truncated type meta");
        }
        ((*ttag >> 3) == 1 ? api_version : kind) = std::string(*s);
      }
    } else if (field == 2) {
      raw = *bytes;
    }
  }
  if (messages().find(kind) == messages().end() || kind == "ObjectMeta") {
    return Error(ErrorCode::invalid,
                 "the sandbox cannot decode protobuf for kind \"" + kind + "\"; send application/json")
        .with_http(415, "UnsupportedMediaType");
  }
  GPUORCH_ASSIGN_OR_RETURN(json object, decode_message(raw, kind, 0));
  object["apiVersion"] = api_version;
  object["kind"] = kind;
  return object;
}

}  // namespace gpuorch::sandbox
