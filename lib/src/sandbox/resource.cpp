#include <gpuorch/sandbox/resource.hpp>

#include <algorithm>
#include <cctype>
#include <memory>

#include <gpuorch/model/schema.hpp>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

FieldCause required(std::string field) {
  return FieldCause{std::move(field), "Required value", {}, "FieldValueRequired"};
}

FieldCause invalid(std::string field, std::string message) {
  return FieldCause{std::move(field), std::move(message), {}, "FieldValueInvalid"};
}

FieldCause unsupported(std::string field, std::string message) {
  return FieldCause{std::move(field), std::move(message), {}, "FieldValueNotSupported"};
}

bool is_dns_label(const std::string& s) {
  if (s.empty() || s.size() > 63) {
    return false;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < s.size())) {
      return false;
    }
  }
  return true;
}

bool is_dns_subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t dot = s.find('.', start);
    const std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!is_dns_label(part)) {
      return false;
    }
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

// Checks the containers of a pod spec; `path` is where the pod spec sits.
void validate_pod_spec(const json& spec, const std::string& path, std::vector<FieldCause>& causes) {
  if (!spec.is_object()) {
    causes.push_back(required(path));
    return;
  }
  const auto containers = spec.find("containers");
  if (containers == spec.end() || !containers->is_array() || containers->empty()) {
    causes.push_back(required(path + ".containers"));
    return;
  }
  for (std::size_t i = 0; i < containers->size(); ++i) {
    const json& c = (*containers)[i];
    const std::string at = path + ".containers[" + std::to_string(i) + "]";
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty()) {
      causes.push_back(required(at + ".name"));
    } else if (!is_dns_label(c["name"].get<std::string>())) {
      causes.push_back(invalid(at + ".name", "Invalid value: \"" + c["name"].get<std::string>() +
                                                 "\": a lowercase RFC 1123 label must consist of lower case "
                                                 "alphanumeric characters or '-'"));
    }
    if (!c.is_object() || !c.contains("image") || !c["image"].is_string() || c["image"].get<std::string>().empty()) {
      causes.push_back(required(at + ".image"));
    }
  }
}

void default_pod_spec(json& spec) {
  if (!spec.is_object()) {
    return;
  }
  if (!spec.contains("restartPolicy")) {
    spec["restartPolicy"] = "Always";
  }
  if (!spec.contains("schedulerName")) {
    spec["schedulerName"] = "default-scheduler";
  }
  if (!spec.contains("dnsPolicy")) {
    spec["dnsPolicy"] = "ClusterFirst";
  }
  if (!spec.contains("terminationGracePeriodSeconds")) {
    spec["terminationGracePeriodSeconds"] = 30;
  }
  if (spec.contains("containers") && spec["containers"].is_array()) {
    for (auto& c : spec["containers"]) {
      if (!c.is_object()) {
        continue;
      }
      if (!c.contains("imagePullPolicy") && c.contains("image") && c["image"].is_string()) {
        const std::string image = c["image"].get<std::string>();
        const auto slash = image.rfind('/');
        const auto colon = image.rfind(':');
        const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
        const bool latest = !tagged || image.ends_with(":latest");
        c["imagePullPolicy"] = latest && image.find('@') == std::string::npos ? "Always" : "IfNotPresent";
      }
      if (!c.contains("terminationMessagePath")) {
        c["terminationMessagePath"] = "/dev/termination-log";
      }
      if (!c.contains("terminationMessagePolicy")) {
        c["terminationMessagePolicy"] = "File";
      }
    }
  }
}

std::vector<FieldCause> admit_pod(json& pod) {
  std::vector<FieldCause> causes;
  if (!pod.contains("spec")) {
    causes.push_back(required("spec"));
    return causes;
  }
  validate_pod_spec(pod["spec"], "spec", causes);
  if (causes.empty()) {
    default_pod_spec(pod["spec"]);
    const std::string policy = pod["spec"].value("restartPolicy", "Always");
    if (policy != "Always" && policy != "OnFailure" && policy != "Never") {
      causes.push_back(unsupported("spec.restartPolicy", "Unsupported value: \"" + policy +
                                                             "\": supported values: \"Always\", \"OnFailure\", "
                                                             "\"Never\""));
    }
  }
  return causes;
}

std::vector<FieldCause> admit_job(json& job) {
  std::vector<FieldCause> causes;
  json& spec = job["spec"];
  if (!spec.is_object()) {
    causes.push_back(required("spec"));
    return causes;
  }
  json& tmpl = spec["template"];
  if (!tmpl.is_object() || !tmpl.contains("spec")) {
    causes.push_back(required("spec.template"));
    return causes;
  }
  validate_pod_spec(tmpl["spec"], "spec.template.spec", causes);
  const std::string policy = tmpl["spec"].value("restartPolicy", "");
  if (policy != "OnFailure" && policy != "Never") {
    causes.push_back(unsupported(
        "spec.template.spec.restartPolicy",
        policy.empty() ? "Required value: valid values: \"OnFailure\", \"Never\""
                       : "Unsupported value: \"" + policy + "\": supported values: \"OnFailure\", \"Never\""));
  }
  for (const char* field : {"completions", "parallelism", "backoffLimit"}) {
    if (spec.contains(field) && (!spec[field].is_number_integer() || spec[field].get<long long>() < 0)) {
      causes.push_back(invalid(std::string("spec.") + field, "must be greater than or equal to 0"));
    }
  }
  if (!causes.empty()) {
    return causes;
  }
  default_pod_spec(tmpl["spec"]);
  if (!spec.contains("completions")) {
    spec["completions"] = 1;
  }
  if (!spec.contains("parallelism")) {
    spec["parallelism"] = 1;
  }
  if (!spec.contains("backoffLimit")) {
    spec["backoffLimit"] = 6;
  }
  if (!spec.contains("completionMode")) {
    spec["completionMode"] = "NonIndexed";
  }
  if (!spec.contains("suspend")) {
    spec["suspend"] = false;
  }
  // The controller-uid selector, as the real Job strategy generates it.
  const std::string uid = job["metadata"].value("uid", "");
  const std::string name = job["metadata"].value("name", "");
  if (!spec.contains("selector") && !uid.empty()) {
    spec["selector"] = {{"matchLabels", {{"batch.kubernetes.io/controller-uid", uid}}}};
    json& labels = tmpl["metadata"]["labels"];
    labels["batch.kubernetes.io/controller-uid"] = uid;
    labels["batch.kubernetes.io/job-name"] = name;
    labels["controller-uid"] = uid;
    labels["job-name"] = name;
  }
  return causes;
}

std::vector<FieldCause> admit_namespace(json& ns) {
  if (!ns.contains("spec") || !ns["spec"].is_object()) {
    ns["spec"] = json::object();
  }
  if (!ns["spec"].contains("finalizers")) {
    ns["spec"]["finalizers"] = json::array({"kubernetes"});
  }
  if (!ns.contains("status") || !ns["status"].is_object() || !ns["status"].contains("phase")) {
    ns["status"]["phase"] = "Active";
  }
  ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = ns["metadata"].value("name", "");
  return {};
}

std::vector<FieldCause> admit_event(json& event) {
  std::vector<FieldCause> causes;
  if (!event.contains("involvedObject") || !event["involvedObject"].is_object()) {
    causes.push_back(required("involvedObject"));
  }
  return causes;
}

std::vector<FieldCause> admit_crd(json& crd) {
  std::vector<FieldCause> causes;
  auto types = types_from_crd(crd);
  if (!types.ok()) {
    causes = types.error().causes();
    if (causes.empty()) {
      causes.push_back(invalid("spec", types.error().message()));
    }
    return causes;
  }
  // Defaults the real apiextensions server fills in.
  json& spec = crd["spec"];
  if (!spec["names"].contains("singular")) {
    std::string kind = spec["names"].value("kind", "");
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
    spec["names"]["singular"] = kind;
  }
  if (!spec["names"].contains("listKind")) {
    spec["names"]["listKind"] = spec["names"].value("kind", "") + "List";
  }
  if (!spec.contains("conversion")) {
    spec["conversion"] = {{"strategy", "None"}};
  }
  return causes;
}

ResourceType make(std::string group, std::string version, std::string kind, std::string plural, bool namespaced,
                  std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.group = std::move(group);
  t.version = std::move(version);
  t.kind = std::move(kind);
  t.plural = std::move(plural);
  t.singular = t.kind;
  std::transform(t.singular.begin(), t.singular.end(), t.singular.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.storage_group = t.group;
  return t;
}

// Custom resources: prune unknown fields, default, then validate against the
// version's structural schema, as the apiextensions server does. apiVersion,
// kind and metadata are never pruned.
Admitter schema_admitter(std::shared_ptr<const model::Schema> schema) {
  return [schema](json& object) {
    json keep = json::object();
    for (const char* field : {"apiVersion", "kind", "metadata"}) {
      if (object.contains(field)) {
        keep[field] = object[field];
      }
    }
    schema->prune(object);
    schema->apply_defaults(object);
    for (const auto& [k, v] : keep.items()) {
      object[k] = v;
    }
    model::ValidateOptions options;
    options.reject_unknown_fields = false;
    std::vector<FieldCause> causes;
    for (FieldCause& c : schema->validate(object, options)) {
      if (c.field == "metadata" || c.field.starts_with("metadata.") || c.field == "apiVersion" || c.field == "kind") {
        continue;
      }
      if (c.reason.empty()) {
        c.reason = c.message.find("required") != std::string::npos ? "FieldValueRequired" : "FieldValueInvalid";
      }
      causes.push_back(std::move(c));
    }
    return causes;
  };
}

// The undeclared fields of an object or of a patch document: the "unknown
// field" causes of a strict validation, as full paths.
std::function<std::vector<std::string>(const json&)> unknown_field_finder(std::shared_ptr<const model::Schema> schema) {
  return [schema](const json& object) {
    model::ValidateOptions options;
    options.reject_unknown_fields = true;
    std::vector<std::string> out;
    for (const FieldCause& c : schema->validate(object, options)) {
      if (c.reason != "FieldValueUnknown" || c.field == "metadata" || c.field.starts_with("metadata.")) {
        continue;
      }
      // The message is `unknown field "name"`; the cause's field is the parent.
      const auto open = c.message.find('"');
      const auto close = c.message.rfind('"');
      if (open == std::string::npos || close <= open) {
        continue;
      }
      const std::string name = c.message.substr(open + 1, close - open - 1);
      if (c.field.empty() && (name == "apiVersion" || name == "kind" || name == "metadata")) {
        continue;
      }
      out.push_back(c.field.empty() ? name : c.field + "." + name);
    }
    return out;
  };
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::vector<ResourceType> builtin_types() {
  std::vector<ResourceType> types;

  auto ns = make("", "v1", "Namespace", "namespaces", false, {"ns"});
  ns.status_subresource = true;
  ns.admit = admit_namespace;
  ns.selectable_fields = {"status.phase"};
  types.push_back(ns);

  auto node = make("", "v1", "Node", "nodes", false, {"no"});
  node.status_subresource = true;
  node.selectable_fields = {"spec.unschedulable"};
  types.push_back(node);

  auto pod = make("", "v1", "Pod", "pods", true, {"po"});
  pod.status_subresource = true;
  pod.reset_status_on_create = true;
  pod.categories = {"all"};
  pod.admit = admit_pod;
  pod.selectable_fields = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",      "spec.serviceAccountName",
                           "status.phase",  "status.podIP",       "status.nominatedNodeName"};
  types.push_back(pod);

  auto event = make("", "v1", "Event", "events", true, {"ev"});
  event.admit = admit_event;
  event.selectable_fields = {"involvedObject.kind",       "involvedObject.namespace",
                             "involvedObject.name",       "involvedObject.uid",
                             "involvedObject.apiVersion", "involvedObject.resourceVersion",
                             "involvedObject.fieldPath",  "reason",
                             "reportingComponent",        "type"};
  types.push_back(event);

  auto job = make("batch", "v1", "Job", "jobs", true);
  job.status_subresource = true;
  job.reset_status_on_create = true;
  job.categories = {"all"};
  job.admit = admit_job;
  job.selectable_fields = {"status.successful"};
  types.push_back(job);

  auto lease = make("coordination.k8s.io", "v1", "Lease", "leases", true);
  types.push_back(lease);

  auto crd = make("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false,
                  {"crd", "crds"});
  crd.status_subresource = true;
  crd.categories = {"api-extensions"};
  crd.admit = admit_crd;
  types.push_back(crd);
  return types;
}

Result<std::vector<ResourceType>> types_from_crd(const json& crd) {
  std::vector<FieldCause> causes;
  const json spec = crd.value("spec", json::object());
  const std::string group = spec.value("group", "");
  const json names = spec.value("names", json::object());
  const std::string plural = names.value("plural", "");
  const std::string kind = names.value("kind", "");
  const std::string scope = spec.value("scope", "");
  if (group.empty()) {
    causes.push_back(required("spec.group"));
  } else if (!is_dns_subdomain(group) || group.find('.') == std::string::npos) {
    causes.push_back(
        invalid("spec.group", "Invalid value: \"" + group + "\": should be a domain with at least one dot"));
  }
  if (plural.empty()) {
    causes.push_back(required("spec.names.plural"));
  } else if (!is_dns_label(plural)) {
    causes.push_back(invalid("spec.names.plural", "Invalid value: \"" + plural + "\": must be a DNS label"));
  }
  if (kind.empty()) {
    causes.push_back(required("spec.names.kind"));
  }
  if (scope != "Namespaced" && scope != "Cluster") {
    causes.push_back(unsupported(
        "spec.scope", "Unsupported value: \"" + scope + "\": supported values: \"Cluster\", \"Namespaced\""));
  }
  const std::string name = crd.value("metadata", json::object()).value("name", "");
  if (!plural.empty() && !group.empty() && name != plural + "." + group) {
    causes.push_back(
        invalid("metadata.name", "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group"));
  }
  const json versions = spec.value("versions", json::array());
  if (!versions.is_array() || versions.empty()) {
    causes.push_back(required("spec.versions"));
  }
  int storage = 0;
  std::vector<ResourceType> types;
  for (std::size_t i = 0; versions.is_array() && i < versions.size(); ++i) {
    const json& v = versions[i];
    const std::string at = "spec.versions[" + std::to_string(i) + "]";
    const std::string vname = v.value("name", "");
    if (vname.empty()) {
      causes.push_back(required(at + ".name"));
      continue;
    }
    if (v.value("storage", false)) {
      ++storage;
    }
    if (!v.value("served", false)) {
      continue;
    }
    ResourceType t;
    t.group = group;
    t.version = vname;
    t.kind = kind;
    t.plural = plural;
    t.singular = names.value("singular", lower(kind));
    t.namespaced = scope != "Cluster";
    t.short_names = names.value("shortNames", std::vector<std::string>{});
    t.categories = names.value("categories", std::vector<std::string>{});
    t.custom = true;
    t.crd_name = name;
    t.storage_group = group;
    t.allow_unconditional_update = false;
    const json schema_json = v.value("schema", json::object()).value("openAPIV3Schema", json());
    if (schema_json.is_null()) {
      causes.push_back(required(at + ".schema.openAPIV3Schema"));
      continue;
    }
    auto schema = model::Schema::from_openapi(schema_json);
    if (!schema.ok()) {
      for (FieldCause c : schema.error().causes()) {
        c.field = at + ".schema.openAPIV3Schema" + (c.field.empty() ? "" : "." + c.field);
        causes.push_back(std::move(c));
      }
      if (schema.error().causes().empty()) {
        causes.push_back(invalid(at + ".schema.openAPIV3Schema", schema.error().message()));
      }
      continue;
    }
    auto shared = std::make_shared<const model::Schema>(std::move(*schema));
    t.admit = schema_admitter(shared);
    t.unknown_fields = unknown_field_finder(shared);
    const json sub = v.value("subresources", json::object());
    t.status_subresource = sub.contains("status");
    t.reset_status_on_create = t.status_subresource;
    for (const json& f : v.value("selectableFields", json::array())) {
      std::string path = f.value("jsonPath", "");
      if (path.starts_with(".")) {
        path.erase(0, 1);
      }
      t.selectable_fields.push_back(path);
    }
    for (const json& c : v.value("additionalPrinterColumns", json::array())) {
      PrinterColumn col;
      col.name = c.value("name", "");
      col.type = c.value("type", "string");
      col.json_path = c.value("jsonPath", "");
      col.description = c.value("description", "");
      col.format = c.value("format", "");
      col.priority = c.value("priority", 0);
      t.columns.push_back(col);
    }
    types.push_back(std::move(t));
  }
  if (versions.is_array() && !versions.empty() && storage != 1) {
    causes.push_back(
        invalid("spec.versions", "Invalid value: must have exactly one version marked as storage version"));
  }
  if (!causes.empty()) {
    return Error(ErrorCode::invalid, "CustomResourceDefinition.apiextensions.k8s.io \"" + name + "\" is invalid")
        .with_causes(std::move(causes));
  }
  return types;
}

std::vector<std::string> ResourceType::field_labels() const {
  std::vector<std::string> out = {"metadata.name"};
  if (namespaced) {
    out.emplace_back("metadata.namespace");
  }
  out.insert(out.end(), selectable_fields.begin(), selectable_fields.end());
  return out;
}

std::vector<FieldCause> validate_object_name(const ResourceType& type, const std::string& name) {
  if (name.empty()) {
    return {FieldCause{"metadata.name", "Required value: name or generateName is required", {}, "FieldValueRequired"}};
  }
  const bool label_only = type.plural == "namespaces";
  const bool ok = label_only ? is_dns_label(name) : is_dns_subdomain(name);
  if (!ok) {
    return {invalid("metadata.name", "Invalid value: \"" + name + "\": a lowercase RFC 1123 " +
                                         (label_only ? std::string("label") : std::string("subdomain")) +
                                         " must consist of lower case alphanumeric characters, '-' or '.', and "
                                         "must start and end with an alphanumeric character")};
  }
  return {};
}

}  // namespace gpuorch::sandbox
