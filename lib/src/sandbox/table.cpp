#include <gpuorch/sandbox/table.hpp>

#include <algorithm>
#include <cctype>

#include <gpuorch/model/time.hpp>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

struct Column {
  PrinterColumn def;
  std::function<json(const json&)> cell;
};

std::string str(const json& object, std::initializer_list<const char*> path) {
  const json* cur = &object;
  for (const char* k : path) {
    if (!cur->is_object()) {
      return {};
    }
    const auto it = cur->find(k);
    if (it == cur->end()) {
      return {};
    }
    cur = &*it;
  }
  if (cur->is_string()) {
    return cur->get<std::string>();
  }
  return cur->is_null() ? std::string() : cur->dump();
}

std::string age_of(const std::string& timestamp, Clock::time_point now) {
  if (timestamp.empty()) {
    return "<unknown>";
  }
  auto t = model::parse_time(timestamp);
  if (!t.ok()) {
    return "<unknown>";
  }
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

PrinterColumn col(std::string name, std::string description, int priority = 0, std::string type = "string",
                  std::string format = "") {
  PrinterColumn c;
  c.name = std::move(name);
  c.description = std::move(description);
  c.priority = priority;
  c.type = std::move(type);
  c.format = std::move(format);
  return c;
}

std::string pod_status(const json& pod) {
  std::string reason = str(pod, {"status", "reason"});
  if (reason.empty()) {
    reason = str(pod, {"status", "phase"});
  }
  const json statuses = pod.value("status", json::object()).value("containerStatuses", json::array());
  for (const json& cs : statuses) {
    const json state = cs.value("state", json::object());
    if (state.contains("waiting") && !str(state, {"waiting", "reason"}).empty()) {
      reason = str(state, {"waiting", "reason"});
    } else if (state.contains("terminated")) {
      const std::string r = str(state, {"terminated", "reason"});
      reason = !r.empty() ? r : "ExitCode:" + str(state, {"terminated", "exitCode"});
    }
  }
  if (!str(pod, {"metadata", "deletionTimestamp"}).empty()) {
    reason = "Terminating";
  }
  return reason;
}

// The wide-only CONTAINERS, IMAGES and SELECTOR columns of controllers,
// reading the pod spec at `spec_path`.
void append_template_columns(std::vector<Column>& cols, std::vector<std::string> spec_path) {
  const auto containers = [spec_path](const json& o) {
    const json* cur = &o;
    for (const std::string& k : spec_path) {
      if (!cur->is_object() || !cur->contains(k)) {
        static const json k_none = json::array();
        return k_none;
      }
      cur = &(*cur)[k];
    }
    return cur->value("containers", json::array());
  };
  const auto joined = [containers](const char* field) {
    return [containers, field](const json& o) {
      std::string out;
      for (const json& c : containers(o)) {
        out += (out.empty() ? "" : ",") + c.value(field, "");
      }
      return json(out);
    };
  };
  cols.push_back({col("Containers", "Names of each container in the template.", 1), joined("name")});
  cols.push_back({col("Images", "Images referenced by each container in the template.", 1), joined("image")});
  cols.push_back(
      {col("Selector", "The label query over the pods.", 1), [](const json& o) {
         std::string sel;
         const json match =
             o.value("spec", json::object()).value("selector", json::object()).value("matchLabels", json::object());
         for (const auto& [k, v] : match.items()) {
           sel += (sel.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
         }
         return json(sel);
       }});
}

std::vector<Column> builtin_columns(const ResourceType& type, Clock::time_point now) {
  const auto age = [now](const json& o) { return json(age_of(str(o, {"metadata", "creationTimestamp"}), now)); };
  const PrinterColumn age_col = col("Age",
                                    "CreationTimestamp is a timestamp representing the server time when this "
                                    "object was created.");
  std::vector<Column> cols;
  if (type.group.empty() && type.plural == "namespaces") {
    cols.push_back({col("Status", "The status of the namespace"), [](const json& o) {
                      return json(str(o, {"status", "phase"}));
                    }});
    cols.push_back({age_col, age});
  } else if (type.group.empty() && type.plural == "nodes") {
    cols.push_back({col("Status", "The status of the node"), [](const json& o) {
                      std::string s = "Unknown";
                      for (const json& c : o.value("status", json::object()).value("conditions", json::array())) {
                        if (c.value("type", "") == "Ready") {
                          s = c.value("status", "") == "True" ? "Ready" : "NotReady";
                        }
                      }
                      if (o.value("spec", json::object()).value("unschedulable", false)) {
                        s += ",SchedulingDisabled";
                      }
                      return json(s);
                    }});
    cols.push_back({col("Roles", "The roles of the node"), [](const json& o) {
                      std::string roles;
                      const json labels = o["metadata"].value("labels", json::object());
                      for (const auto& [k, v] : labels.items()) {
                        if (k.starts_with("node-role.kubernetes.io/")) {
                          roles +=
                              (roles.empty() ? "" : ",") + k.substr(std::string("node-role.kubernetes.io/").size());
                        }
                      }
                      return json(roles.empty() ? "<none>" : roles);
                    }});
    cols.push_back({age_col, age});
    cols.push_back({col("Version", "Kubelet Version reported by the node."), [](const json& o) {
                      return json(str(o, {"status", "nodeInfo", "kubeletVersion"}));
                    }});
    cols.push_back({col("Internal-IP", "List of internal IPs for the node.", 1), [](const json& o) {
                      for (const json& a : o.value("status", json::object()).value("addresses", json::array())) {
                        if (a.value("type", "") == "InternalIP") {
                          return json(a.value("address", ""));
                        }
                      }
                      return json("<none>");
                    }});
    cols.push_back({col("GPU", "GPU model (nvidia.com/gpu.product).", 1), [](const json& o) {
                      const std::string p = str(o, {"metadata", "labels", "nvidia.com/gpu.product"});
                      return json(p.empty() ? "<none>" : p);
                    }});
    cols.push_back({col("GPUs", "Allocatable nvidia.com/gpu.", 1), [](const json& o) {
                      const std::string g = str(o, {"status", "allocatable", "nvidia.com/gpu"});
                      return json(g.empty() ? "0" : g);
                    }});
  } else if (type.group.empty() && type.plural == "pods") {
    cols.push_back(
        {col("Ready", "The aggregate readiness state of this pod for accepting traffic."), [](const json& o) {
           const json containers = o.value("spec", json::object()).value("containers", json::array());
           int ready = 0;
           for (const json& cs : o.value("status", json::object()).value("containerStatuses", json::array())) {
             if (cs.value("ready", false)) {
               ++ready;
             }
           }
           return json(std::to_string(ready) + "/" + std::to_string(containers.size()));
         }});
    cols.push_back({col("Status", "The aggregate status of the containers in this pod."),
                    [](const json& o) { return json(pod_status(o)); }});
    cols.push_back({col("Restarts", "The number of times the containers in this pod have been restarted.", 0, "string"),
                    [](const json& o) {
                      long long restarts = 0;
                      for (const json& cs :
                           o.value("status", json::object()).value("containerStatuses", json::array())) {
                        restarts += cs.value("restartCount", 0LL);
                      }
                      return json(std::to_string(restarts));
                    }});
    cols.push_back({age_col, age});
    cols.push_back({col("IP", "IP address allocated to the pod.", 1), [](const json& o) {
                      const std::string ip = str(o, {"status", "podIP"});
                      return json(ip.empty() ? "<none>" : ip);
                    }});
    cols.push_back({col("Node", "Name of the Node this pod is bound to.", 1), [](const json& o) {
                      const std::string n = str(o, {"spec", "nodeName"});
                      return json(n.empty() ? "<none>" : n);
                    }});
    cols.push_back({col("Nominated Node", "Name of the nominated node.", 1), [](const json& o) {
                      const std::string n = str(o, {"status", "nominatedNodeName"});
                      return json(n.empty() ? "<none>" : n);
                    }});
    cols.push_back(
        {col("Readiness Gates", "Readiness gates of the pod.", 1), [](const json&) { return json("<none>"); }});
  } else if (type.group == "batch" && type.plural == "jobs") {
    cols.push_back({col("Status", "Status of the job."), [](const json& o) {
                      for (const json& c : o.value("status", json::object()).value("conditions", json::array())) {
                        if (c.value("status", "") != "True") {
                          continue;
                        }
                        const std::string t = c.value("type", "");
                        if (t == "Complete" || t == "Failed" || t == "Suspended" || t == "FailureTarget") {
                          return json(t);
                        }
                      }
                      if (!str(o, {"metadata", "deletionTimestamp"}).empty()) {
                        return json("Terminating");
                      }
                      return json("Running");
                    }});
    cols.push_back({col("Completions", "The completion status of the job."), [](const json& o) {
                      const json status = o.value("status", json::object());
                      const std::string completions = str(o, {"spec", "completions"});
                      const long long succeeded = status.value("succeeded", 0LL);
                      return json(std::to_string(succeeded) + "/" + (completions.empty() ? "1" : completions));
                    }});
    cols.push_back({col("Duration", "Time required to complete the job."), [now](const json& o) {
                      const std::string start = str(o, {"status", "startTime"});
                      if (start.empty()) {
                        return json("");
                      }
                      auto s = model::parse_time(start);
                      const std::string end = str(o, {"status", "completionTime"});
                      auto e = end.empty() ? Result<model::Time>(now) : model::parse_time(end);
                      if (!s.ok() || !e.ok()) {
                        return json("");
                      }
                      return json(human_duration(std::chrono::duration_cast<std::chrono::seconds>(*e - *s)));
                    }});
    cols.push_back({age_col, age});
    cols.push_back({col("Containers", "Names of each container in the template.", 1), [](const json& o) {
                      std::string names;
                      for (const json& c : o["spec"]["template"]["spec"].value("containers", json::array())) {
                        names += (names.empty() ? "" : ",") + c.value("name", "");
                      }
                      return json(names);
                    }});
    cols.push_back({col("Images", "Images referenced by each container in the template.", 1), [](const json& o) {
                      std::string images;
                      for (const json& c : o["spec"]["template"]["spec"].value("containers", json::array())) {
                        images += (images.empty() ? "" : ",") + c.value("image", "");
                      }
                      return json(images);
                    }});
    cols.push_back({col("Selector", "Query over pods that should match the completions count.", 1), [](const json& o) {
                      std::string sel;
                      const json match =
                          o["spec"].value("selector", json::object()).value("matchLabels", json::object());
                      for (const auto& [k, v] : match.items()) {
                        sel += (sel.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
                      }
                      return json(sel);
                    }});
  } else if (type.group.empty() && type.plural == "events") {
    // kubectl get events: LAST SEEN first, then the rest; the name is wide-only.
    cols.push_back({col("Last Seen", "Time when last event occurred"), [now](const json& o) {
                      std::string t = str(o, {"lastTimestamp"});
                      if (t.empty()) {
                        t = str(o, {"eventTime"});
                      }
                      if (t.empty()) {
                        t = str(o, {"firstTimestamp"});
                      }
                      return json(age_of(t, now));
                    }});
    cols.push_back({col("Type", "Type of event"), [](const json& o) { return json(str(o, {"type"})); }});
    cols.push_back({col("Reason", "Reason of event"), [](const json& o) { return json(str(o, {"reason"})); }});
    cols.push_back({col("Object", "Object this event is about"), [](const json& o) {
                      std::string kind = str(o, {"involvedObject", "kind"});
                      std::transform(kind.begin(), kind.end(), kind.begin(),
                                     [](unsigned char c) { return std::tolower(c); });
                      return json(kind + "/" + str(o, {"involvedObject", "name"}));
                    }});
    cols.push_back({col("Message", "Message of event"), [](const json& o) { return json(str(o, {"message"})); }});
    cols.push_back({col("Source", "Component that reported the event", 1), [](const json& o) {
                      std::string s = str(o, {"source", "component"});
                      if (s.empty()) {
                        s = str(o, {"reportingComponent"});
                      }
                      return json(s);
                    }});
    cols.push_back({col("Count", "Number of occurrences", 1), [](const json& o) {
                      const std::string c = str(o, {"count"});
                      return json(c.empty() ? "1" : c);
                    }});
  } else if (type.group == "coordination.k8s.io" && type.plural == "leases") {
    cols.push_back({col("Holder", "The holder of the lease"), [](const json& o) {
                      return json(str(o, {"spec", "holderIdentity"}));
                    }});
    cols.push_back({age_col, age});
  } else if (type.group == "apps" && type.plural == "deployments") {
    const auto count = [](const json& o, const char* field) {
      return o.value("status", json::object()).value(field, 0LL);
    };
    cols.push_back({col("Ready", "Number of the pod with ready state"), [count](const json& o) {
                      return json(std::to_string(count(o, "readyReplicas")) + "/" +
                                  std::to_string(o.value("spec", json::object()).value("replicas", 1LL)));
                    }});
    cols.push_back({col("Up-to-date",
                        "Total number of non-terminated pods targeted by this deployment that have the "
                        "desired template spec.",
                        0, "integer"),
                    [count](const json& o) { return json(count(o, "updatedReplicas")); }});
    cols.push_back(
        {col("Available", "Total number of available pods (ready for at least minReadySeconds).", 0, "integer"),
         [count](const json& o) { return json(count(o, "availableReplicas")); }});
    cols.push_back({age_col, age});
    append_template_columns(cols, {"spec", "template", "spec"});
  } else if (type.group.empty() && type.plural == "services") {
    cols.push_back({col("Type", "The type of the service."), [](const json& o) {
                      return json(str(o, {"spec", "type"}));
                    }});
    cols.push_back({col("Cluster-IP", "The cluster IP of the service."), [](const json& o) {
                      const std::string ip = str(o, {"spec", "clusterIP"});
                      return json(ip.empty() ? "<none>" : ip);
                    }});
    cols.push_back({col("External-IP", "The external IPs of the service."), [](const json& o) {
                      std::string ips;
                      for (const json& i : o.value("status", json::object())
                                               .value("loadBalancer", json::object())
                                               .value("ingress", json::array())) {
                        ips += (ips.empty() ? "" : ",") + i.value("ip", i.value("hostname", ""));
                      }
                      for (const json& i : o.value("spec", json::object()).value("externalIPs", json::array())) {
                        ips += (ips.empty() ? "" : ",") + (i.is_string() ? i.get<std::string>() : i.dump());
                      }
                      if (ips.empty()) {
                        ips = str(o, {"spec", "type"}) == "LoadBalancer" ? "<pending>" : "<none>";
                      }
                      return json(ips);
                    }});
    cols.push_back({col("Port(s)", "The ports of the service."), [](const json& o) {
                      std::string ports;
                      for (const json& p : o.value("spec", json::object()).value("ports", json::array())) {
                        std::string one = std::to_string(p.value("port", 0LL));
                        if (p.contains("nodePort")) {
                          one += ":" + std::to_string(p.value("nodePort", 0LL));
                        }
                        ports += (ports.empty() ? "" : ",") + one + "/" + p.value("protocol", "TCP");
                      }
                      return json(ports.empty() ? "<none>" : ports);
                    }});
    cols.push_back({age_col, age});
    cols.push_back({col("Selector", "The selector of the service.", 1), [](const json& o) {
                      std::string sel;
                      const json selector = o.value("spec", json::object()).value("selector", json::object());
                      for (const auto& [k, v] : selector.items()) {
                        sel += (sel.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
                      }
                      return json(sel.empty() ? "<none>" : sel);
                    }});
  } else if (type.group == "batch" && type.plural == "cronjobs") {
    cols.push_back({col("Schedule", "The schedule of the cron job."), [](const json& o) {
                      return json(str(o, {"spec", "schedule"}));
                    }});
    cols.push_back({col("Timezone", "The time zone of the schedule."), [](const json& o) {
                      const std::string tz = str(o, {"spec", "timeZone"});
                      return json(tz.empty() ? "<none>" : tz);
                    }});
    cols.push_back({col("Suspend", "Whether the cron job is suspended.", 0, "boolean"),
                    [](const json& o) { return json(o.value("spec", json::object()).value("suspend", false)); }});
    cols.push_back({col("Active", "The number of running jobs.", 0, "integer"), [](const json& o) {
                      return json(o.value("status", json::object()).value("active", json::array()).size());
                    }});
    cols.push_back({col("Last Schedule", "When a job was last scheduled."), [now](const json& o) {
                      const std::string t = str(o, {"status", "lastScheduleTime"});
                      return json(t.empty() ? "<none>" : age_of(t, now));
                    }});
    cols.push_back({age_col, age});
    append_template_columns(cols, {"spec", "jobTemplate", "spec", "template", "spec"});
  } else if (type.group.empty() && (type.plural == "configmaps" || type.plural == "secrets")) {
    if (type.plural == "secrets") {
      cols.push_back({col("Type", "The type of the secret."), [](const json& o) { return json(str(o, {"type"})); }});
    }
    cols.push_back({col("Data", "The number of data entries.", 0, "integer"), [](const json& o) {
                      return json(o.value("data", json::object()).size() +
                                  o.value("binaryData", json::object()).size());
                    }});
    cols.push_back({age_col, age});
  } else if (type.group.empty() && type.plural == "serviceaccounts") {
    cols.push_back({col("Secrets", "The number of secrets of the service account.", 0, "integer"),
                    [](const json& o) { return json(o.value("secrets", json::array()).size()); }});
    cols.push_back({age_col, age});
  } else if (type.group == "rbac.authorization.k8s.io" && (type.plural == "roles" || type.plural == "clusterroles")) {
    cols.push_back({col("Created At", "The time the role was created.", 0, "date"), [](const json& o) {
                      return json(str(o, {"metadata", "creationTimestamp"}));
                    }});
  } else if (type.group == "rbac.authorization.k8s.io" &&
             (type.plural == "rolebindings" || type.plural == "clusterrolebindings")) {
    cols.push_back({col("Role", "The role the binding grants."), [](const json& o) {
                      return json(str(o, {"roleRef", "kind"}) + "/" + str(o, {"roleRef", "name"}));
                    }});
    cols.push_back({age_col, age});
    const auto subjects = [](const char* kind) {
      return [kind](const json& o) {
        std::string out;
        for (const json& s : o.value("subjects", json::array())) {
          if (s.value("kind", "") != kind) {
            continue;
          }
          const std::string ns = s.value("namespace", "");
          out += (out.empty() ? "" : ", ") + (ns.empty() ? "" : ns + "/") + s.value("name", "");
        }
        return json(out);
      };
    };
    cols.push_back({col("Users", "The users bound.", 1), subjects("User")});
    cols.push_back({col("Groups", "The groups bound.", 1), subjects("Group")});
    cols.push_back({col("ServiceAccounts", "The service accounts bound.", 1), subjects("ServiceAccount")});
  } else if (type.group == "apiextensions.k8s.io" && type.plural == "customresourcedefinitions") {
    cols.push_back({col("Created At", "The time the CRD was created", 0, "date"), [](const json& o) {
                      return json(str(o, {"metadata", "creationTimestamp"}));
                    }});
  } else {
    cols.push_back({age_col, age});
  }
  return cols;
}

std::vector<Column> custom_columns(const ResourceType& type, Clock::time_point now) {
  std::vector<Column> cols;
  if (type.columns.empty()) {
    PrinterColumn c = col("Age",
                          "CreationTimestamp is a timestamp representing the server time when this object was "
                          "created.",
                          0, "date");
    cols.push_back({c, [now](const json& o) { return json(age_of(str(o, {"metadata", "creationTimestamp"}), now)); }});
    return cols;
  }
  for (const PrinterColumn& pc : type.columns) {
    // Date columns become ages on the server, as the apiextensions server does.
    cols.push_back({pc, [path = pc.json_path, t = pc.type, now](const json& o) {
                      json v = eval_json_path(o, path);
                      if (v.is_null()) {
                        return v;
                      }
                      if (t == "date" && v.is_string()) {
                        return json(age_of(v.get<std::string>(), now));
                      }
                      if ((t == "string" || t == "date") && !v.is_string()) {
                        return json(v.dump());
                      }
                      return v;
                    }});
  }
  return cols;
}

// One step of a JSONPath: a field, an index, a wildcard or a filter.
struct Step {
  enum class Kind { field, index, all, filter } kind = Kind::field;
  std::string name;
  long long index = 0;
  std::string filter_path;
  std::string filter_value;
  bool filter_negate = false;
};

std::vector<Step> parse_path(std::string_view path) {
  std::vector<Step> steps;
  if (path.starts_with("{") && path.ends_with("}")) {
    path = path.substr(1, path.size() - 2);
  }
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string_view::npos) {
        break;
      }
      std::string_view inner = path.substr(i + 1, close - i - 1);
      Step s;
      if (inner == "*") {
        s.kind = Step::Kind::all;
      } else if (inner.starts_with("?(@.")) {
        s.kind = Step::Kind::filter;
        std::string_view expr = inner.substr(4, inner.size() - 5);
        auto op = expr.find("==");
        std::size_t op_len = 2;
        if (auto ne = expr.find("!="); ne != std::string_view::npos) {
          op = ne;
          s.filter_negate = true;
        }
        if (op == std::string_view::npos) {
          break;
        }
        s.filter_path = std::string(expr.substr(0, op));
        std::string_view v = expr.substr(op + op_len);
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) {
          v = v.substr(1, v.size() - 2);
        }
        s.filter_value = std::string(v);
      } else if (inner.starts_with("'") || inner.starts_with("\"")) {
        s.name = std::string(inner.substr(1, inner.size() - 2));
      } else {
        s.kind = Step::Kind::index;
        s.index = std::atoll(std::string(inner).c_str());
      }
      steps.push_back(s);
      i = close + 1;
      continue;
    }
    const auto end = path.find_first_of(".[", i);
    Step s;
    s.name = std::string(path.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    steps.push_back(s);
    i = end == std::string_view::npos ? path.size() : end;
  }
  return steps;
}

}  // namespace

IncludeObject parse_include_object(std::string_view text) {
  if (text == "None") {
    return IncludeObject::none;
  }
  if (text == "Object") {
    return IncludeObject::object;
  }
  return IncludeObject::metadata;
}

std::string human_duration(std::chrono::seconds d) {
  const long long seconds = d.count();
  if (seconds < -1) {
    return "<invalid>";
  }
  if (seconds < 0) {
    return "0s";
  }
  if (seconds < 120) {
    return std::to_string(seconds) + "s";
  }
  const long long minutes = seconds / 60;
  if (minutes < 10) {
    const long long s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m" : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 180) {
    return std::to_string(minutes) + "m";
  }
  const long long hours = seconds / 3600;
  if (hours < 8) {
    const long long m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h" : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) {
    return std::to_string(hours) + "h";
  }
  if (hours < 24 * 8) {
    const long long h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d" : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) {
    return std::to_string(hours / 24) + "d";
  }
  if (hours < 24 * 365 * 8) {
    const long long dy = (hours / 24) % 365;
    return dy == 0 ? std::to_string(hours / 24 / 365) + "y"
                   : std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

json eval_json_path(const json& object, std::string_view path) {
  std::vector<const json*> current = {&object};
  for (const Step& step : parse_path(path)) {
    std::vector<const json*> next;
    for (const json* node : current) {
      switch (step.kind) {
        case Step::Kind::field:
          if (node->is_object() && node->contains(step.name)) {
            next.push_back(&(*node)[step.name]);
          }
          break;
        case Step::Kind::index:
          if (node->is_array()) {
            const long long n = static_cast<long long>(node->size());
            const long long idx = step.index < 0 ? n + step.index : step.index;
            if (idx >= 0 && idx < n) {
              next.push_back(&(*node)[static_cast<std::size_t>(idx)]);
            }
          }
          break;
        case Step::Kind::all:
          if (node->is_array() || node->is_object()) {
            for (const json& child : *node) {
              next.push_back(&child);
            }
          }
          break;
        case Step::Kind::filter:
          if (node->is_array()) {
            for (const json& child : *node) {
              const json v = eval_json_path(child, "." + step.filter_path);
              const std::string text = v.is_string() ? v.get<std::string>() : (v.is_null() ? "" : v.dump());
              if ((text == step.filter_value) != step.filter_negate && !v.is_null()) {
                next.push_back(&child);
              }
            }
          }
          break;
      }
    }
    current = std::move(next);
  }
  if (current.empty()) {
    return nullptr;
  }
  if (current.size() == 1) {
    return *current.front();
  }
  std::string joined;
  for (const json* v : current) {
    joined += (joined.empty() ? "" : ",") + (v->is_string() ? v->get<std::string>() : v->dump());
  }
  return joined;
}

json to_table(const ResourceType& type, const std::vector<const json*>& objects, IncludeObject include,
              Clock::time_point now, bool with_columns) {
  std::vector<Column> cols = type.custom ? custom_columns(type, now) : builtin_columns(type, now);
  Column name_col{col("Name", "Name must be unique within a namespace.", 0, "string", "name"), [](const json& o) {
                    return json(str(o, {"metadata", "name"}));
                  }};
  if ((type.group.empty() || type.group == "events.k8s.io") && type.plural == "events") {
    // Events show the name only in wide output.
    name_col.def.priority = 1;
    cols.push_back(name_col);
  } else {
    cols.insert(cols.begin(), name_col);
  }
  json defs = json::array();
  for (const Column& c : cols) {
    defs.push_back({{"name", c.def.name},
                    {"type", c.def.type},
                    {"format", c.def.format},
                    {"description", c.def.description},
                    {"priority", c.def.priority}});
  }
  json rows = json::array();
  for (const json* o : objects) {
    json cells = json::array();
    for (const Column& c : cols) {
      cells.push_back(c.cell(*o));
    }
    json row = {{"cells", std::move(cells)}};
    if (include == IncludeObject::object) {
      row["object"] = *o;
    } else if (include == IncludeObject::metadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", o->value("metadata", json::object())}};
    }
    rows.push_back(std::move(row));
  }
  json table = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", json::object()}};
  table["columnDefinitions"] = with_columns ? defs : json::array();
  table["rows"] = std::move(rows);
  return table;
}

}  // namespace gpuorch::sandbox
