#include <gpuorch/sandbox/resource.hpp>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include <gpuorch/model/cron.hpp>
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

// What events.k8s.io/v1 requires of a new Event (in its own field names).
std::vector<FieldCause> admit_events_v1(json& event) {
  std::vector<FieldCause> causes;
  for (const char* field : {"eventTime", "reportingController", "reportingInstance", "action", "reason"}) {
    if (!event.contains(field) || !event[field].is_string() || event[field].get<std::string>().empty()) {
      causes.push_back(required(field));
    }
  }
  const std::string type = event.value("type", "");
  if (type != "Normal" && type != "Warning") {
    causes.push_back(
        unsupported("type", "Unsupported value: \"" + type + "\": supported values: \"Normal\", \"Warning\""));
  }
  if (event.contains("note") && event["note"].is_string() && event["note"].get<std::string>().size() > 1024) {
    causes.push_back(invalid("note", "Too long: may not be longer than 1024"));
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

std::string lower(std::string s);

// ---- workloads, services, configuration and RBAC (stored, no controllers) ----

// The labels of a pod template must satisfy the selector of its controller.
bool labels_match(const json& selector, const json& labels) {
  if (!selector.is_object()) {
    return false;
  }
  const json match = selector.value("matchLabels", json::object());
  for (const auto& [k, v] : match.items()) {
    if (!labels.is_object() || !labels.contains(k) || labels[k] != v) {
      return false;
    }
  }
  for (const json& e : selector.value("matchExpressions", json::array())) {
    const std::string key = e.value("key", "");
    const std::string op = e.value("operator", "");
    const json values = e.value("values", json::array());
    const bool has = labels.is_object() && labels.contains(key);
    const bool in = has && std::find(values.begin(), values.end(), labels[key]) != values.end();
    if ((op == "In" && !in) || (op == "NotIn" && in) || (op == "Exists" && !has) || (op == "DoesNotExist" && has)) {
      return false;
    }
  }
  return true;
}

std::vector<FieldCause> admit_deployment(json& d) {
  std::vector<FieldCause> causes;
  json& spec = d["spec"];
  if (!spec.is_object()) {
    causes.push_back(required("spec"));
    return causes;
  }
  const bool has_selector = spec.contains("selector") && spec["selector"].is_object() &&
                            (!spec["selector"].value("matchLabels", json::object()).empty() ||
                             !spec["selector"].value("matchExpressions", json::array()).empty());
  if (!has_selector) {
    causes.push_back(required("spec.selector"));
  }
  json& tmpl = spec["template"];
  if (!tmpl.is_object() || !tmpl.contains("spec")) {
    causes.push_back(required("spec.template"));
    return causes;
  }
  validate_pod_spec(tmpl["spec"], "spec.template.spec", causes);
  const json labels = tmpl.value("metadata", json::object()).value("labels", json::object());
  if (has_selector && !labels_match(spec["selector"], labels)) {
    causes.push_back(invalid("spec.template.metadata.labels",
                             "Invalid value: " + labels.dump() + ": `selector` does not match template `labels`"));
  }
  const std::string policy = tmpl["spec"].value("restartPolicy", "Always");
  if (policy != "Always") {
    causes.push_back(unsupported("spec.template.spec.restartPolicy",
                                 "Unsupported value: \"" + policy + "\": supported values: \"Always\""));
  }
  if (spec.contains("replicas") && (!spec["replicas"].is_number_integer() || spec["replicas"].get<long long>() < 0)) {
    causes.push_back(invalid("spec.replicas", "must be greater than or equal to 0"));
  }
  if (!causes.empty()) {
    return causes;
  }
  default_pod_spec(tmpl["spec"]);
  if (!spec.contains("replicas")) {
    spec["replicas"] = 1;
  }
  if (!spec.contains("strategy")) {
    spec["strategy"] = {{"type", "RollingUpdate"}};
  }
  if (spec["strategy"].value("type", "RollingUpdate") == "RollingUpdate" &&
      !spec["strategy"].contains("rollingUpdate")) {
    spec["strategy"]["rollingUpdate"] = {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}};
  }
  if (!spec.contains("revisionHistoryLimit")) {
    spec["revisionHistoryLimit"] = 10;
  }
  if (!spec.contains("progressDeadlineSeconds")) {
    spec["progressDeadlineSeconds"] = 600;
  }
  return causes;
}

std::vector<FieldCause> admit_cronjob(json& cj) {
  std::vector<FieldCause> causes;
  json& spec = cj["spec"];
  if (!spec.is_object()) {
    causes.push_back(required("spec"));
    return causes;
  }
  const std::string schedule = spec.value("schedule", "");
  if (schedule.empty()) {
    causes.push_back(required("spec.schedule"));
  } else if (const std::string why = model::cron_schedule_error(schedule); !why.empty()) {
    causes.push_back(invalid("spec.schedule", "Invalid value: \"" + schedule + "\": " + why));
  }
  const std::string concurrency = spec.value("concurrencyPolicy", "Allow");
  if (concurrency != "Allow" && concurrency != "Forbid" && concurrency != "Replace") {
    causes.push_back(unsupported("spec.concurrencyPolicy", "Unsupported value: \"" + concurrency +
                                                               "\": supported values: \"Allow\", \"Forbid\", "
                                                               "\"Replace\""));
  }
  json& tmpl = spec["jobTemplate"]["spec"]["template"];
  if (!tmpl.is_object() || !tmpl.contains("spec")) {
    causes.push_back(required("spec.jobTemplate.spec.template"));
    return causes;
  }
  validate_pod_spec(tmpl["spec"], "spec.jobTemplate.spec.template.spec", causes);
  const std::string policy = tmpl["spec"].value("restartPolicy", "");
  if (policy != "OnFailure" && policy != "Never") {
    causes.push_back(unsupported(
        "spec.jobTemplate.spec.template.spec.restartPolicy",
        policy.empty() ? "Required value: valid values: \"OnFailure\", \"Never\""
                       : "Unsupported value: \"" + policy + "\": supported values: \"OnFailure\", \"Never\""));
  }
  if (!causes.empty()) {
    return causes;
  }
  default_pod_spec(tmpl["spec"]);
  if (!spec.contains("concurrencyPolicy")) {
    spec["concurrencyPolicy"] = "Allow";
  }
  if (!spec.contains("suspend")) {
    spec["suspend"] = false;
  }
  if (!spec.contains("successfulJobsHistoryLimit")) {
    spec["successfulJobsHistoryLimit"] = 3;
  }
  if (!spec.contains("failedJobsHistoryLimit")) {
    spec["failedJobsHistoryLimit"] = 1;
  }
  return causes;
}

std::vector<FieldCause> admit_service(json& svc) {
  std::vector<FieldCause> causes;
  json& spec = svc["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  const std::string type = spec.value("type", "ClusterIP");
  if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" && type != "ExternalName") {
    causes.push_back(unsupported("spec.type", "Unsupported value: \"" + type +
                                                  "\": supported values: \"ClusterIP\", \"ExternalName\", "
                                                  "\"LoadBalancer\", \"NodePort\""));
    return causes;
  }
  const bool headless = spec.value("clusterIP", "") == "None";
  json& ports = spec["ports"];
  if (!ports.is_array()) {
    ports = json::array();
  }
  if (ports.empty() && type != "ExternalName" && !headless) {
    causes.push_back(required("spec.ports"));
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    json& p = ports[i];
    const std::string at = "spec.ports[" + std::to_string(i) + "]";
    if (!p.is_object()) {
      causes.push_back(invalid(at, "must be an object"));
      continue;
    }
    if (!p.contains("port")) {
      causes.push_back(required(at + ".port"));
    } else if (!p["port"].is_number_integer() || p["port"].get<long long>() < 1 || p["port"].get<long long>() > 65535) {
      causes.push_back(
          invalid(at + ".port", "Invalid value: " + p["port"].dump() + ": must be between 1 and 65535, inclusive"));
    }
    const std::string name = p.value("name", "");
    if (ports.size() > 1 && name.empty()) {
      causes.push_back(required(at + ".name"));
    } else if (!name.empty() && !names.insert(name).second) {
      causes.push_back(FieldCause{at + ".name", "Duplicate value: \"" + name + "\"", {}, "FieldValueDuplicate"});
    }
    const std::string protocol = p.value("protocol", "TCP");
    if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
      causes.push_back(unsupported(
          at + ".protocol", "Unsupported value: \"" + protocol + "\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
    }
  }
  if (!causes.empty()) {
    return causes;
  }
  for (json& p : ports) {
    if (!p.contains("protocol")) {
      p["protocol"] = "TCP";
    }
    if (!p.contains("targetPort")) {
      p["targetPort"] = p["port"];
    }
  }
  if (ports.empty()) {
    spec.erase("ports");
  }
  spec["type"] = type;
  if (!spec.contains("sessionAffinity")) {
    spec["sessionAffinity"] = "None";
  }
  if (type != "ExternalName") {
    if (!spec.contains("clusterIP") || spec["clusterIP"] == "") {
      // A stable address from the uid, in the default service range 10.96.0.0/12.
      const std::size_t h = std::hash<std::string>{}(svc["metadata"].value("uid", svc["metadata"].value("name", "")));
      const unsigned host = 10U + static_cast<unsigned>(h % ((1U << 20) - 20U));
      spec["clusterIP"] = "10." + std::to_string(96U + (host >> 16)) + "." + std::to_string((host >> 8) & 0xFFU) + "." +
                          std::to_string(host & 0xFFU);
    }
    if (!spec.contains("clusterIPs")) {
      spec["clusterIPs"] = json::array({spec["clusterIP"]});
    }
    if (!spec.contains("ipFamilies")) {
      spec["ipFamilies"] = json::array({"IPv4"});
    }
    if (!spec.contains("ipFamilyPolicy")) {
      spec["ipFamilyPolicy"] = "SingleStack";
    }
    if (!spec.contains("internalTrafficPolicy")) {
      spec["internalTrafficPolicy"] = "Cluster";
    }
  }
  if (!svc.contains("status")) {
    svc["status"] = {{"loadBalancer", json::object()}};
  }
  return causes;
}

std::vector<FieldCause> admit_secret(json& secret) {
  std::vector<FieldCause> causes;
  if (!secret.contains("type")) {
    secret["type"] = "Opaque";
  }
  // stringData is write-only: folded into data (base64), never stored.
  if (secret.contains("stringData") && secret["stringData"].is_object()) {
    static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (const auto& [k, v] : secret["stringData"].items()) {
      const std::string in = v.is_string() ? v.get<std::string>() : v.dump();
      std::string out;
      for (std::size_t i = 0; i < in.size(); i += 3) {
        const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                           (i + 1 < in.size() ? static_cast<unsigned char>(in[i + 1]) << 8 : 0U) |
                           (i + 2 < in.size() ? static_cast<unsigned char>(in[i + 2]) : 0U);
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += i + 1 < in.size() ? k_alphabet[(n >> 6) & 63] : '=';
        out += i + 2 < in.size() ? k_alphabet[n & 63] : '=';
      }
      secret["data"][k] = out;
    }
  }
  secret.erase("stringData");
  if (secret.contains("data") && secret["data"].is_object()) {
    for (const auto& [k, v] : secret["data"].items()) {
      const std::string text = v.is_string() ? v.get<std::string>() : std::string("!");
      const bool base64 = text.size() % 4 == 0 && std::all_of(text.begin(), text.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
                          });
      if (!base64) {
        causes.push_back(invalid("data[" + k + "]", "Invalid value: the value must be base64-encoded"));
      }
    }
  }
  return causes;
}

// Policy rules of a Role or ClusterRole.
std::vector<FieldCause> admit_role(json& role) {
  std::vector<FieldCause> causes;
  const json rules = role.value("rules", json::array());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (!rules[i].is_object() || rules[i].value("verbs", json::array()).empty()) {
      causes.push_back(required(at + ".verbs"));
      continue;
    }
    const bool resources = !rules[i].value("resources", json::array()).empty();
    const bool urls = !rules[i].value("nonResourceURLs", json::array()).empty();
    if (!resources && !urls) {
      causes.push_back(required(at + ".resources"));
    }
    if (resources && !rules[i].contains("apiGroups")) {
      causes.push_back(required(at + ".apiGroups"));
    }
  }
  return causes;
}

// roleRef and subjects of a RoleBinding (`cluster` false) or ClusterRoleBinding.
std::vector<FieldCause> admit_binding(json& binding, bool cluster) {
  std::vector<FieldCause> causes;
  const json ref = binding.value("roleRef", json::object());
  const std::string kind = ref.value("kind", "");
  if (ref.value("apiGroup", "") != "rbac.authorization.k8s.io") {
    causes.push_back(unsupported("roleRef.apiGroup", "Unsupported value: \"" + ref.value("apiGroup", "") +
                                                         "\": supported values: \"rbac.authorization.k8s.io\""));
  }
  if (kind != "ClusterRole" && (cluster || kind != "Role")) {
    causes.push_back(unsupported("roleRef.kind", "Unsupported value: \"" + kind + "\": supported values: " +
                                                     (cluster ? "\"ClusterRole\"" : "\"ClusterRole\", \"Role\"")));
  }
  if (ref.value("name", "").empty()) {
    causes.push_back(required("roleRef.name"));
  }
  if (binding.contains("subjects") && binding["subjects"].is_array()) {
    for (std::size_t i = 0; i < binding["subjects"].size(); ++i) {
      json& s = binding["subjects"][i];
      const std::string at = "subjects[" + std::to_string(i) + "]";
      const std::string skind = s.value("kind", "");
      if (s.value("name", "").empty()) {
        causes.push_back(required(at + ".name"));
      }
      if (skind == "ServiceAccount") {
        if (cluster && s.value("namespace", "").empty()) {
          causes.push_back(required(at + ".namespace"));
        }
      } else if (skind == "User" || skind == "Group") {
        if (!s.contains("apiGroup")) {
          s["apiGroup"] = "rbac.authorization.k8s.io";
        }
      } else {
        causes.push_back(unsupported(at + ".kind", "Unsupported value: \"" + skind +
                                                       "\": supported values: \"Group\", \"ServiceAccount\", "
                                                       "\"User\""));
      }
    }
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

  // events.k8s.io/v1 is another view of the core/v1 events: same objects,
  // some top-level fields renamed.
  auto events_v1 = make("events.k8s.io", "v1", "Event", "events", true, {"ev"});
  events_v1.storage_group = "";
  events_v1.field_renames = {{"regarding", "involvedObject"},
                             {"note", "message"},
                             {"reportingController", "reportingComponent"},
                             {"deprecatedSource", "source"},
                             {"deprecatedFirstTimestamp", "firstTimestamp"},
                             {"deprecatedLastTimestamp", "lastTimestamp"},
                             {"deprecatedCount", "count"}};
  events_v1.selectable_fields = event.selectable_fields;
  events_v1.admit = admit_events_v1;
  types.push_back(events_v1);

  auto sa = make("", "v1", "ServiceAccount", "serviceaccounts", true, {"sa"});
  types.push_back(sa);

  auto cm = make("", "v1", "ConfigMap", "configmaps", true, {"cm"});
  types.push_back(cm);

  auto secret = make("", "v1", "Secret", "secrets", true);
  secret.admit = admit_secret;
  secret.selectable_fields = {"type"};
  types.push_back(secret);

  auto svc = make("", "v1", "Service", "services", true, {"svc"});
  svc.status_subresource = true;
  svc.reset_status_on_create = true;
  svc.categories = {"all"};
  svc.admit = admit_service;
  types.push_back(svc);

  auto deploy = make("apps", "v1", "Deployment", "deployments", true, {"deploy"});
  deploy.status_subresource = true;
  deploy.reset_status_on_create = true;
  deploy.categories = {"all"};
  deploy.admit = admit_deployment;
  types.push_back(deploy);

  auto cronjob = make("batch", "v1", "CronJob", "cronjobs", true, {"cj"});
  cronjob.status_subresource = true;
  cronjob.reset_status_on_create = true;
  cronjob.categories = {"all"};
  cronjob.admit = admit_cronjob;
  types.push_back(cronjob);

  const std::string rbac = "rbac.authorization.k8s.io";
  auto role = make(rbac, "v1", "Role", "roles", true);
  role.admit = admit_role;
  types.push_back(role);
  auto cluster_role = make(rbac, "v1", "ClusterRole", "clusterroles", false);
  cluster_role.admit = admit_role;
  types.push_back(cluster_role);
  auto role_binding = make(rbac, "v1", "RoleBinding", "rolebindings", true);
  role_binding.admit = [](json& b) { return admit_binding(b, false); };
  types.push_back(role_binding);
  auto cluster_role_binding = make(rbac, "v1", "ClusterRoleBinding", "clusterrolebindings", false);
  cluster_role_binding.admit = [](json& b) { return admit_binding(b, true); };
  types.push_back(cluster_role_binding);

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
    t.openapi_schema = std::make_shared<const json>(schema_json);
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

namespace {

// Renames the top-level fields of `object` and the matching top-level
// entries of its managedFields ("f:<field>") from one naming to the other.
json rename_fields(json object, const std::vector<std::pair<std::string, std::string>>& renames, bool to_stored) {
  if (!object.is_object() || renames.empty()) {
    return object;
  }
  for (const auto& [external, stored] : renames) {
    const std::string& from = to_stored ? external : stored;
    const std::string& to = to_stored ? stored : external;
    if (object.contains(from)) {
      object[to] = std::move(object[from]);
      object.erase(from);
    }
  }
  if (object.contains("metadata") && object["metadata"].is_object() && object["metadata"].contains("managedFields") &&
      object["metadata"]["managedFields"].is_array()) {
    for (json& entry : object["metadata"]["managedFields"]) {
      if (!entry.is_object() || !entry.contains("fieldsV1") || !entry["fieldsV1"].is_object()) {
        continue;
      }
      json& fields = entry["fieldsV1"];
      for (const auto& [external, stored] : renames) {
        const std::string from = "f:" + (to_stored ? external : stored);
        const std::string to = "f:" + (to_stored ? stored : external);
        if (fields.contains(from)) {
          fields[to] = std::move(fields[from]);
          fields.erase(from);
        }
      }
    }
  }
  return object;
}

}  // namespace

json ResourceType::to_external(json stored) const {
  return rename_fields(std::move(stored), field_renames, false);
}

json ResourceType::to_stored(json external) const {
  return rename_fields(std::move(external), field_renames, true);
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
