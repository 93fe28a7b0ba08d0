#include <gpuorch/sandbox/openapi.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <set>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

const std::string k_meta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const std::string k_core = "io.k8s.api.core.v1.";
const std::string k_quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const std::string k_int_or_string = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

// ---- a small vocabulary for writing schemas ----------------------------------

json str(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

json enumerated(const std::string& description, std::vector<std::string> values) {
  return {{"type", "string"}, {"description", description}, {"enum", values}};
}

json integer(const std::string& description, const char* format = "int32") {
  return {{"type", "integer"}, {"format", format}, {"description", description}};
}

json boolean(const std::string& description) {
  return {{"type", "boolean"}, {"description", description}};
}

json date_time(const std::string& description) {
  return {{"allOf", {{{"$ref", "#/components/schemas/" + k_meta + "Time"}}}}, {"description", description}};
}

json ref(const std::string& name, const std::string& description) {
  return {{"allOf", {{{"$ref", "#/components/schemas/" + name}}}}, {"description", description}};
}

json strings(const std::string& description) {
  return {{"type", "array"}, {"items", {{"type", "string"}, {"default", ""}}}, {"description", description}};
}

json string_map(const std::string& description) {
  return {{"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}},
          {"description", description}};
}

json quantity_map(const std::string& description) {
  return {{"type", "object"},
          {"additionalProperties", {{"$ref", "#/components/schemas/" + k_quantity}}},
          {"description", description}};
}

// A list of `item` schemas; `atomic` lists are replaced as a whole.
json list(const std::string& item, const std::string& description) {
  return {{"type", "array"},
          {"items", {{"$ref", "#/components/schemas/" + item}, {"default", json::object()}}},
          {"description", description},
          {"x-kubernetes-list-type", "atomic"}};
}

// An associative list: elements are merged and owned by their key fields.
json keyed_list(const std::string& item, const std::string& description, std::vector<std::string> keys) {
  json l = list(item, description);
  l["x-kubernetes-list-type"] = "map";
  l["x-kubernetes-list-map-keys"] = keys;
  l["x-kubernetes-patch-merge-key"] = keys.front();
  l["x-kubernetes-patch-strategy"] = "merge";
  return l;
}

json object(const std::string& description, json properties, std::vector<std::string> required = {}) {
  json o = {{"type", "object"}, {"description", description}, {"properties", std::move(properties)}};
  if (!required.empty()) {
    o["required"] = required;
  }
  return o;
}

// A kind: apiVersion, kind and metadata first, tagged with its group/version/kind.
json kind(const std::string& description, const std::string& group, const std::string& version, const std::string& name,
          json properties, std::vector<std::string> required = {}) {
  properties["apiVersion"] =
      str("APIVersion defines the versioned schema of this representation of an object. Servers convert recognized "
          "schemas to the latest internal value.");
  properties["kind"] = str("Kind is a string value representing the REST resource this object represents.");
  properties["metadata"] = ref(k_meta + "ObjectMeta", "Standard object's metadata.");
  json o = object(description, std::move(properties), std::move(required));
  o["x-kubernetes-group-version-kind"] = json::array({{{"group", group}, {"version", version}, {"kind", name}}});
  return o;
}

// ---- the built-in schemas -------------------------------------------------------

void add_meta(json& s) {
  s[k_meta + "Time"] = {
      {"type", "string"}, {"format", "date-time"}, {"description", "A timestamp in RFC 3339 form, to the second."}};
  s[k_meta + "MicroTime"] = {{"type", "string"},
                             {"format", "date-time"},
                             {"description", "A timestamp in RFC 3339 form, to the microsecond."}};
  s[k_quantity] = {{"type", "string"},
                   {"description",
                    "A fixed-point amount with an optional SI or binary suffix: \"500m\", \"8\", "
                    "\"64Gi\"."}};
  s[k_int_or_string] = {{"type", "string"},
                        {"format", "int-or-string"},
                        {"description", "Either an integer or a string (a port number or name, a percentage)."}};
  s[k_meta + "ObjectMeta"] = object(
      "Metadata every persisted object has: identity, labels and annotations, ownership and lifecycle.",
      {{"name", str("Name of the object, unique within its namespace (or the cluster) for its resource. Cannot be "
                    "updated.")},
       {"generateName", str("Prefix of a server-generated name, used when name is empty.")},
       {"namespace", str("Namespace of the object; empty for cluster-scoped resources.")},
       {"uid", str("Unique identifier generated by the server at creation; never reused.")},
       {"resourceVersion",
        str("Opaque version of the object, changed by every write; used for optimistic concurrency and watches.")},
       {"generation", integer("Sequence number of the desired state, incremented when the spec changes.", "int64")},
       {"creationTimestamp", date_time("When the server created the object.")},
       {"deletionTimestamp", date_time("When deletion was requested; set by the server, never by clients.")},
       {"deletionGracePeriodSeconds", integer("Seconds the object has to terminate gracefully.", "int64")},
       {"labels", string_map("Key/value pairs for organising and selecting objects.")},
       {"annotations", string_map("Unstructured key/value data for tools and people; not used for selection.")},
       {"ownerReferences",
        keyed_list(k_meta + "OwnerReference",
                   "Objects this one depends on; it is garbage-collected when they are all gone.", {"uid"})},
       {"finalizers",
        {{"type", "array"},
         {"items", {{"type", "string"}, {"default", ""}}},
         {"description", "Conditions that must be cleared before the object is removed after deletion starts."},
         {"x-kubernetes-list-type", "set"},
         {"x-kubernetes-patch-strategy", "merge"}}},
       {"managedFields", list(k_meta + "ManagedFieldsEntry", "Which manager owns which fields (server-side apply).")}});
  s[k_meta + "OwnerReference"] =
      object("Identifies an owning object in the same namespace.",
             {{"apiVersion", str("API version of the owner.")},
              {"kind", str("Kind of the owner.")},
              {"name", str("Name of the owner.")},
              {"uid", str("UID of the owner.")},
              {"controller", boolean("Whether the owner is the managing controller.")},
              {"blockOwnerDeletion", boolean("Whether foreground deletion of the owner waits for this object.")}},
             {"apiVersion", "kind", "name", "uid"});
  s[k_meta + "ManagedFieldsEntry"] =
      object("The fields one manager owns, for one operation.",
             {{"manager", str("Name of the manager (the fieldManager of its requests).")},
              {"operation", enumerated("Apply or Update.", {"Apply", "Update"})},
              {"apiVersion", str("API version the fields are expressed in.")},
              {"time", date_time("When the manager last changed the entry.")},
              {"fieldsType", str("Format of fieldsV1: always FieldsV1.")},
              {"fieldsV1", {{"type", "object"}, {"description", "The owned fields, as a FieldsV1 trie."}}},
              {"subresource", str("Subresource the writes went through (\"status\"), or empty.")}});
  s[k_meta + "LabelSelector"] = object(
      "A label query: every matchLabels pair and every matchExpressions requirement must hold.",
      {{"matchLabels", string_map("Labels that must have exactly these values.")},
       {"matchExpressions",
        list(k_meta + "LabelSelectorRequirement", "Requirements on label values (In, NotIn, Exists, DoesNotExist).")}});
  s[k_meta + "LabelSelectorRequirement"] =
      object("One requirement of a label selector.",
             {{"key", str("The label key.")},
              {"operator", enumerated("How the key relates to values.", {"In", "NotIn", "Exists", "DoesNotExist"})},
              {"values", strings("Values for In and NotIn; empty for Exists and DoesNotExist.")}},
             {"key", "operator"});
  s[k_meta + "Condition"] =
      object("One aspect of an object's current state.",
             {{"type", str("Type of the condition, in CamelCase.")},
              {"status", enumerated("Status of the condition.", {"True", "False", "Unknown"})},
              {"reason", str("Machine-readable reason for the last transition.")},
              {"message", str("Human-readable detail about the last transition.")},
              {"lastTransitionTime", date_time("When the status last changed.")},
              {"observedGeneration", integer("The metadata.generation the condition was computed from.", "int64")}},
             {"type", "status"});
}

void add_core(json& s) {
  s[k_core + "Pod"] = kind("A Pod is one or more containers scheduled together onto a node.", "", "v1", "Pod",
                           {{"spec", ref(k_core + "PodSpec", "Desired behaviour of the pod.")},
                            {"status", ref(k_core + "PodStatus", "Most recently observed status of the pod.")}});
  s[k_core + "PodTemplateSpec"] =
      object("The pods a controller creates: their metadata and spec.",
             {{"metadata", ref(k_meta + "ObjectMeta", "Metadata of the pods created from this template.")},
              {"spec", ref(k_core + "PodSpec", "Desired behaviour of the pods.")}});
  s[k_core + "PodSpec"] = object(
      "What a pod runs and where it may run.",
      {{"containers", keyed_list(k_core + "Container", "Containers of the pod; at least one.", {"name"})},
       {"initContainers",
        keyed_list(k_core + "Container", "Containers run to completion, in order, before the others start.", {"name"})},
       {"restartPolicy", enumerated("Restart policy of the containers: Always (the default), OnFailure or Never.",
                                    {"Always", "OnFailure", "Never"})},
       {"nodeName", str("The node the pod is bound to; set by the scheduler, or by the client to skip it.")},
       {"nodeSelector", string_map("Labels the node must carry for the pod to fit.")},
       {"affinity", ref(k_core + "Affinity", "Scheduling constraints beyond nodeSelector.")},
       {"tolerations", list(k_core + "Toleration", "Taints the pod tolerates.")},
       {"schedulerName", str("The scheduler that places the pod; default-scheduler when empty.")},
       {"serviceAccountName", str("The service account the pod runs as.")},
       {"priorityClassName", str("Name of the pod's priority class.")},
       {"priority", integer("Priority of the pod, resolved from priorityClassName.")},
       {"terminationGracePeriodSeconds", integer("Seconds the pod gets to stop gracefully.", "int64")},
       {"activeDeadlineSeconds", integer("Seconds the pod may run before it is failed.", "int64")},
       {"dnsPolicy",
        enumerated("How the pod's DNS is set up.", {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"})},
       {"hostNetwork", boolean("Whether the pod uses the node's network namespace.")},
       {"volumes", keyed_list(k_core + "Volume", "Volumes the containers can mount.", {"name"})},
       {"imagePullSecrets", keyed_list(k_core + "LocalObjectReference", "Secrets for pulling the images.", {"name"})}},
      {"containers"});
  s[k_core + "Container"] = object(
      "One container of a pod.",
      {{"name", str("Name of the container, a DNS label unique within the pod.")},
       {"image", str("Container image to run.")},
       {"imagePullPolicy", enumerated("When the image is pulled.", {"Always", "IfNotPresent", "Never"})},
       {"command", strings("Entrypoint, replacing the image's ENTRYPOINT.")},
       {"args", strings("Arguments to the entrypoint, replacing the image's CMD.")},
       {"workingDir", str("Working directory of the entrypoint.")},
       {"env", keyed_list(k_core + "EnvVar", "Environment variables of the container.", {"name"})},
       {"ports", keyed_list(k_core + "ContainerPort", "Ports the container exposes.", {"containerPort", "protocol"})},
       {"resources", ref(k_core + "ResourceRequirements", "Compute resources the container needs and may use.")},
       {"volumeMounts", keyed_list(k_core + "VolumeMount", "Volumes mounted into the container.", {"mountPath"})},
       {"terminationMessagePath", str("Where the container writes its termination message.")},
       {"terminationMessagePolicy",
        enumerated("How the termination message is found.", {"File", "FallbackToLogsOnError"})}},
      {"name"});
  s[k_core + "EnvVar"] = object("An environment variable.",
                                {{"name", str("Name of the variable.")},
                                 {"value", str("Value of the variable; may reference others as $(NAME).")}},
                                {"name"});
  s[k_core + "ContainerPort"] = object("A network port of a container.",
                                       {{"containerPort", integer("Port number on the pod's IP address (1-65535).")},
                                        {"name", str("Name of the port, referable by services.")},
                                        {"protocol",
                                         {{"type", "string"},
                                          {"default", "TCP"},
                                          {"enum", {"TCP", "UDP", "SCTP"}},
                                          {"description", "Protocol of the port; TCP by default."}}},
                                        {"hostPort", integer("Port number on the node, if exposed there.")}},
                                       {"containerPort"});
  s[k_core + "ResourceRequirements"] =
      object("Compute resources of a container.",
             {{"requests", quantity_map("Minimum resources the container needs; the scheduler places the pod by "
                                        "them (cpu, memory, nvidia.com/gpu, ...).")},
              {"limits", quantity_map("Maximum resources the container may use; requests default to them.")}});
  s[k_core + "VolumeMount"] = object("A volume mounted into a container.",
                                     {{"name", str("Name of the pod volume.")},
                                      {"mountPath", str("Path in the container.")},
                                      {"readOnly", boolean("Whether the mount is read-only.")},
                                      {"subPath", str("Path within the volume to mount instead of its root.")}},
                                     {"name", "mountPath"});
  s[k_core + "Volume"] = object(
      "A named volume of a pod; exactly one source is set.",
      {{"name", str("Name of the volume, unique within the pod.")},
       {"emptyDir", {{"type", "object"}, {"description", "A directory that lives as long as the pod."}}},
       {"configMap", {{"type", "object"}, {"description", "The keys of a ConfigMap as files."}}},
       {"secret", {{"type", "object"}, {"description", "The keys of a Secret as files."}}},
       {"persistentVolumeClaim", {{"type", "object"}, {"description", "A PersistentVolumeClaim in the namespace."}}},
       {"hostPath", {{"type", "object"}, {"description", "A file or directory of the node."}}}},
      {"name"});
  s[k_core + "LocalObjectReference"] =
      object("Names an object in the same namespace.", {{"name", str("Name of the referent.")}});
  s[k_core + "Toleration"] = object(
      "Lets a pod run on nodes with a matching taint.",
      {{"key", str("Taint key to match; empty with operator Exists matches every key.")},
       {"operator", enumerated("Equal (the default) or Exists.", {"Equal", "Exists"})},
       {"value", str("Taint value to match with operator Equal.")},
       {"effect",
        enumerated("Taint effect to match; empty matches all.", {"NoSchedule", "PreferNoSchedule", "NoExecute"})},
       {"tolerationSeconds", integer("With NoExecute: how long the pod stays after the taint appears.", "int64")}});
  s[k_core + "Affinity"] =
      object("Scheduling constraints of a pod.",
             {{"nodeAffinity",
               {{"type", "object"},
                {"description",
                 "Node constraints: requiredDuringSchedulingIgnoredDuringExecution "
                 "(nodeSelectorTerms) and preferred terms."}}},
              {"podAffinity", {{"type", "object"}, {"description", "Run near pods matching a selector."}}},
              {"podAntiAffinity", {{"type", "object"}, {"description", "Run away from pods matching a selector."}}}});
  s[k_core + "PodStatus"] = object(
      "What was last observed of a pod.",
      {{"phase", enumerated("Lifecycle phase of the pod.", {"Pending", "Running", "Succeeded", "Failed", "Unknown"})},
       {"conditions", keyed_list(k_core + "PodCondition", "Current service state of the pod.", {"type"})},
       {"hostIP", str("IP address of the node the pod runs on.")},
       {"podIP", str("IP address of the pod.")},
       {"startTime", date_time("When the kubelet acknowledged the pod.")},
       {"qosClass", enumerated("Quality of service class.", {"Guaranteed", "Burstable", "BestEffort"})},
       {"reason", str("Brief reason for the pod's current state.")},
       {"message", str("Human-readable detail about the pod's current state.")},
       {"containerStatuses",
        {{"type", "array"},
         {"items", {{"type", "object"}}},
         {"description", "One status per container: state, readiness, restarts."}}}});
  s[k_core + "PodCondition"] = object("One condition of a pod (PodScheduled, Initialized, ContainersReady, Ready).",
                                      {{"type", str("Type of the condition.")},
                                       {"status", enumerated("Status of the condition.", {"True", "False", "Unknown"})},
                                       {"reason", str("Machine-readable reason for the last transition.")},
                                       {"message", str("Human-readable detail.")},
                                       {"lastTransitionTime", date_time("When the status last changed.")}},
                                      {"type", "status"});

  s[k_core + "Node"] =
      kind("A Node is a machine pods run on; in the sandbox, a simulated GPU server.", "", "v1", "Node",
           {{"spec", ref(k_core + "NodeSpec", "How the node is configured.")},
            {"status", ref(k_core + "NodeStatus", "Most recently observed status of the node.")}});
  s[k_core + "NodeSpec"] = object("How a node is configured.",
                                  {{"unschedulable", boolean("Whether new pods are kept off the node (cordoned).")},
                                   {"taints", list(k_core + "Taint", "Taints that repel pods not tolerating them.")},
                                   {"providerID", str("ID of the node at its cloud provider.")},
                                   {"podCIDR", str("IP range of the node's pods.")}});
  s[k_core + "Taint"] = object("Repels pods that do not tolerate it.",
                               {{"key", str("Taint key.")},
                                {"value", str("Taint value.")},
                                {"effect", enumerated("What happens to pods that do not tolerate the taint.",
                                                      {"NoSchedule", "PreferNoSchedule", "NoExecute"})},
                                {"timeAdded", date_time("When a NoExecute taint was added.")}},
                               {"key", "effect"});
  s[k_core + "NodeStatus"] = object(
      "What was last observed of a node.",
      {{"capacity", quantity_map("Total resources of the node (cpu, memory, nvidia.com/gpu, pods).")},
       {"allocatable", quantity_map("Resources available to pods; what the scheduler fits requests into.")},
       {"conditions",
        keyed_list(k_core + "NodeCondition", "Current conditions (Ready, MemoryPressure, ...).", {"type"})},
       {"addresses", keyed_list(k_core + "NodeAddress", "Addresses of the node.", {"type"})},
       {"nodeInfo", {{"type", "object"}, {"description", "Versions and identifiers reported by the kubelet."}}}});
  s[k_core + "NodeCondition"] =
      object("One condition of a node.",
             {{"type", str("Type of the condition.")},
              {"status", enumerated("Status of the condition.", {"True", "False", "Unknown"})},
              {"reason", str("Machine-readable reason.")},
              {"message", str("Human-readable detail.")},
              {"lastHeartbeatTime", date_time("When the condition was last reported.")},
              {"lastTransitionTime", date_time("When the status last changed.")}},
             {"type", "status"});
  s[k_core + "NodeAddress"] = object(
      "An address of a node.",
      {{"type", str("InternalIP, ExternalIP, Hostname, ...")}, {"address", str("The address.")}}, {"type", "address"});

  s[k_core + "Namespace"] = kind(
      "A Namespace scopes names and policies of the objects in it.", "", "v1", "Namespace",
      {{"spec", object("Namespace spec.", {{"finalizers", strings("Finalizers run before the namespace goes.")}})},
       {"status",
        object("Namespace status.", {{"phase", enumerated("Active or Terminating.", {"Active", "Terminating"})}})}});
  s[k_core + "ObjectReference"] =
      object("Refers to an object.", {{"apiVersion", str("API version of the referent.")},
                                      {"kind", str("Kind of the referent.")},
                                      {"namespace", str("Namespace of the referent.")},
                                      {"name", str("Name of the referent.")},
                                      {"uid", str("UID of the referent.")},
                                      {"resourceVersion", str("Version of the referent the reference was made to.")},
                                      {"fieldPath", str("A field within the referent, e.g. a container.")}});
  s[k_core + "EventSource"] =
      object("The component that reported an event.",
             {{"component", str("Reporting component.")}, {"host", str("Node the component runs on.")}});
  s[k_core + "Event"] =
      kind("An Event reports something that happened to an object: a scheduling decision, a failure, a completion.", "",
           "v1", "Event",
           {{"involvedObject", ref(k_core + "ObjectReference", "The object the event is about.")},
            {"reason", str("Short, machine-readable reason (CamelCase).")},
            {"message", str("Human-readable description.")},
            {"type", enumerated("Normal or Warning.", {"Normal", "Warning"})},
            {"source", ref(k_core + "EventSource", "The component that reported it.")},
            {"firstTimestamp", date_time("When the event was first recorded.")},
            {"lastTimestamp", date_time("When the event most recently occurred.")},
            {"count", integer("How many times it occurred.")},
            {"eventTime", ref(k_meta + "MicroTime", "When the event first occurred (events.k8s.io clients).")},
            {"action", str("What was done, or failed.")},
            {"reportingComponent", str("Controller that emitted the event.")},
            {"reportingInstance", str("Instance of the controller.")}},
           {"involvedObject"});
  s[k_core + "Service"] = kind(
      "A Service is a stable network address for the pods its selector matches. The sandbox stores services and "
      "assigns cluster IPs; it routes no traffic.",
      "", "v1", "Service",
      {{"spec", ref(k_core + "ServiceSpec", "Behaviour of the service.")},
       {"status", object("Service status.",
                         {{"loadBalancer", {{"type", "object"}, {"description", "The load balancer, if any."}}}})}});
  s[k_core + "ServiceSpec"] = object(
      "Behaviour of a service.",
      {{"type", enumerated("How the service is exposed.", {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})},
       {"selector", string_map("Pods with these labels back the service.")},
       {"ports", keyed_list(k_core + "ServicePort", "Ports the service exposes.", {"port", "protocol"})},
       {"clusterIP", str("Virtual IP of the service; assigned when empty, None for a headless service.")},
       {"clusterIPs", strings("Virtual IPs of the service, one per IP family.")},
       {"externalName", str("DNS name an ExternalName service aliases.")},
       {"sessionAffinity", enumerated("ClientIP or None.", {"ClientIP", "None"})},
       {"ipFamilies", strings("IP families of the service.")},
       {"ipFamilyPolicy", str("SingleStack, PreferDualStack or RequireDualStack.")},
       {"internalTrafficPolicy", enumerated("Cluster or Local.", {"Cluster", "Local"})}});
  s[k_core + "ServicePort"] =
      object("A port of a service.",
             {{"name", str("Name of the port; required when there are several.")},
              {"protocol",
               {{"type", "string"},
                {"default", "TCP"},
                {"enum", {"TCP", "UDP", "SCTP"}},
                {"description", "Protocol of the port; TCP by default."}}},
              {"port", integer("Port the service exposes.")},
              {"targetPort", ref(k_int_or_string, "Port (number or name) on the pods; the port by default.")},
              {"nodePort", integer("Port on every node, for NodePort and LoadBalancer services.")}},
             {"port"});
  s[k_core + "ServiceAccount"] = kind(
      "A ServiceAccount is an identity for the processes of pods.", "", "v1", "ServiceAccount",
      {{"secrets", list(k_core + "ObjectReference", "Secrets the service account may use.")},
       {"imagePullSecrets", list(k_core + "LocalObjectReference", "Secrets for pulling images, added to its pods.")},
       {"automountServiceAccountToken", boolean("Whether pods mount a token of the account by default.")}});
  s[k_core + "ConfigMap"] = kind("A ConfigMap holds configuration data for pods.", "", "v1", "ConfigMap",
                                 {{"data", string_map("UTF-8 configuration data.")},
                                  {"binaryData", string_map("Binary configuration data, base64-encoded.")},
                                  {"immutable", boolean("Whether the data can no longer change.")}});
  s[k_core + "Secret"] =
      kind("A Secret holds sensitive data such as tokens and keys.", "", "v1", "Secret",
           {{"type", str("Type of the secret, for programmatic handling; Opaque by default.")},
            {"data", string_map("The secret data, base64-encoded.")},
            {"stringData", string_map("Write-only convenience: plain-text values merged into data on write.")},
            {"immutable", boolean("Whether the data can no longer change.")}});
}

void add_groups(json& s) {
  const std::string batch = "io.k8s.api.batch.v1.";
  s[batch + "Job"] = kind("A Job runs pods until a number of them complete successfully.", "batch", "v1", "Job",
                          {{"spec", ref(batch + "JobSpec", "What the job runs and how.")},
                           {"status", ref(batch + "JobStatus", "Most recently observed status of the job.")}});
  s[batch + "JobSpec"] = object(
      "What a job runs and how.",
      {{"template", ref(k_core + "PodTemplateSpec", "The pods the job creates; restartPolicy Never or OnFailure.")},
       {"parallelism", integer("Pods running at once, at most.")},
       {"completions", integer("Successful pods needed to complete the job.")},
       {"backoffLimit", integer("Failed pods tolerated before the job fails; 6 by default.")},
       {"activeDeadlineSeconds", integer("Seconds the job may run before it is failed.", "int64")},
       {"ttlSecondsAfterFinished", integer("Seconds after finishing before the job is deleted.")},
       {"completionMode", enumerated("NonIndexed or Indexed.", {"NonIndexed", "Indexed"})},
       {"suspend", boolean("Whether the job's pods are kept from being created.")},
       {"selector", ref(k_meta + "LabelSelector", "Selects the job's pods; generated by default.")},
       {"manualSelector", boolean("Whether the selector was set by the client.")}},
      {"template"});
  s[batch + "JobStatus"] =
      object("What was last observed of a job.",
             {{"active", integer("Pods running.")},
              {"ready", integer("Pods ready.")},
              {"succeeded", integer("Pods that succeeded.")},
              {"failed", integer("Pods that failed.")},
              {"startTime", date_time("When the job started.")},
              {"completionTime", date_time("When the job completed.")},
              {"conditions", list(batch + "JobCondition", "Current state: Complete, Failed, Suspended, ...")}});
  s[batch + "JobCondition"] = object("One condition of a job.",
                                     {{"type", str("Type of the condition.")},
                                      {"status", enumerated("Status of the condition.", {"True", "False", "Unknown"})},
                                      {"reason", str("Machine-readable reason.")},
                                      {"message", str("Human-readable detail.")},
                                      {"lastProbeTime", date_time("When the condition was last checked.")},
                                      {"lastTransitionTime", date_time("When the status last changed.")}},
                                     {"type", "status"});
  s[batch + "CronJob"] = kind(
      "A CronJob creates Jobs on a schedule. The sandbox stores cron jobs; it does not run them.", "batch", "v1",
      "CronJob",
      {{"spec", ref(batch + "CronJobSpec", "The schedule and the jobs it creates.")},
       {"status",
        object("Cron job status.", {{"active", list(k_core + "ObjectReference", "Jobs running.")},
                                    {"lastScheduleTime", date_time("When a job was last scheduled.")},
                                    {"lastSuccessfulTime", date_time("When a job last completed successfully.")}})}});
  s[batch + "CronJobSpec"] = object(
      "The schedule of a cron job and the jobs it creates.",
      {{"schedule", str("Cron schedule: five fields (minute hour day-of-month month day-of-week) or a descriptor "
                        "such as @hourly.")},
       {"timeZone", str("Time zone of the schedule; the controller's when empty.")},
       {"startingDeadlineSeconds", integer("Seconds after a missed time a job may still start.", "int64")},
       {"concurrencyPolicy",
        enumerated("What to do when the previous job still runs.", {"Allow", "Forbid", "Replace"})},
       {"suspend", boolean("Whether new jobs are kept from being created.")},
       {"jobTemplate", ref(batch + "JobTemplateSpec", "The jobs the cron job creates.")},
       {"successfulJobsHistoryLimit", integer("Finished jobs kept; 3 by default.")},
       {"failedJobsHistoryLimit", integer("Failed jobs kept; 1 by default.")}},
      {"schedule", "jobTemplate"});
  s[batch + "JobTemplateSpec"] =
      object("The jobs a cron job creates.", {{"metadata", ref(k_meta + "ObjectMeta", "Metadata of the jobs.")},
                                              {"spec", ref(batch + "JobSpec", "Spec of the jobs.")}});

  const std::string apps = "io.k8s.api.apps.v1.";
  s[apps + "Deployment"] = kind(
      "A Deployment keeps a number of identical pods running and rolls out changes. The sandbox stores deployments; "
      "it creates no pods for them.",
      "apps", "v1", "Deployment",
      {{"spec", ref(apps + "DeploymentSpec", "Desired state of the deployment.")},
       {"status", ref(apps + "DeploymentStatus", "Most recently observed status of the deployment.")}});
  s[apps + "DeploymentSpec"] = object(
      "Desired state of a deployment.",
      {{"replicas", integer("Desired number of pods; 1 by default.")},
       {"selector", ref(k_meta + "LabelSelector", "Selects the deployment's pods; must match the template labels.")},
       {"template", ref(k_core + "PodTemplateSpec", "The pods the deployment runs.")},
       {"strategy",
        object(
            "How pods are replaced.",
            {{"type", enumerated("Recreate or RollingUpdate (the default).", {"Recreate", "RollingUpdate"})},
             {"rollingUpdate",
              object("Rolling update bounds.",
                     {{"maxSurge", ref(k_int_or_string, "Pods above replicas during an update.")},
                      {"maxUnavailable", ref(k_int_or_string, "Pods that may be unavailable during an update.")}})}})},
       {"minReadySeconds", integer("Seconds a new pod must be ready to count as available.")},
       {"revisionHistoryLimit", integer("Old replica sets kept for rollback; 10 by default.")},
       {"paused", boolean("Whether rollouts are paused.")},
       {"progressDeadlineSeconds", integer("Seconds a rollout may take before it is reported as stalled.")}},
      {"selector", "template"});
  s[apps + "DeploymentStatus"] =
      object("What was last observed of a deployment.",
             {{"replicas", integer("Pods targeted.")},
              {"readyReplicas", integer("Pods ready.")},
              {"updatedReplicas", integer("Pods with the current template.")},
              {"availableReplicas", integer("Pods available.")},
              {"observedGeneration", integer("The generation observed by the controller.", "int64")},
              {"conditions", list(k_meta + "Condition", "Current state: Available, Progressing.")}});

  const std::string rbac = "io.k8s.api.rbac.v1.";
  const json rules = list(rbac + "PolicyRule", "What the role allows.");
  s[rbac + "Role"] = kind("A Role grants permissions within its namespace.", "rbac.authorization.k8s.io", "v1", "Role",
                          {{"rules", rules}});
  s[rbac + "ClusterRole"] =
      kind("A ClusterRole grants permissions cluster-wide, or in a namespace through a RoleBinding.",
           "rbac.authorization.k8s.io", "v1", "ClusterRole",
           {{"rules", rules},
            {"aggregationRule",
             {{"type", "object"}, {"description", "Selects other cluster roles whose rules this one aggregates."}}}});
  s[rbac + "PolicyRule"] =
      object("One permission: verbs on resources of API groups, or on non-resource URLs.",
             {{"apiGroups", strings("API groups of the resources; \"\" is the core group.")},
              {"resources", strings("Resources (and subresources such as pods/status); \"*\" for all.")},
              {"resourceNames", strings("Names of the objects, when not all.")},
              {"verbs", strings("Verbs allowed: get, list, watch, create, update, patch, delete, ...")},
              {"nonResourceURLs", strings("URL paths such as /healthz, for cluster roles.")}},
             {"verbs"});
  const json role_ref = ref(rbac + "RoleRef", "The role granted; cannot be changed.");
  const json subjects = list(rbac + "Subject", "Who is granted the role.");
  s[rbac + "RoleBinding"] =
      kind("A RoleBinding grants a Role or ClusterRole within its namespace.", "rbac.authorization.k8s.io", "v1",
           "RoleBinding", {{"roleRef", role_ref}, {"subjects", subjects}}, {"roleRef"});
  s[rbac + "ClusterRoleBinding"] =
      kind("A ClusterRoleBinding grants a ClusterRole cluster-wide.", "rbac.authorization.k8s.io", "v1",
           "ClusterRoleBinding", {{"roleRef", role_ref}, {"subjects", subjects}}, {"roleRef"});
  s[rbac + "RoleRef"] = object("Refers to a role.",
                               {{"apiGroup", str("rbac.authorization.k8s.io.")},
                                {"kind", enumerated("Role or ClusterRole.", {"Role", "ClusterRole"})},
                                {"name", str("Name of the role.")}},
                               {"apiGroup", "kind", "name"});
  s[rbac + "Subject"] =
      object("A user, group or service account.",
             {{"kind", enumerated("Kind of the subject.", {"User", "Group", "ServiceAccount"})},
              {"apiGroup", str("rbac.authorization.k8s.io for users and groups, empty for service accounts.")},
              {"name", str("Name of the subject.")},
              {"namespace", str("Namespace of a service account.")}},
             {"kind", "name"});

  const std::string coordination = "io.k8s.api.coordination.v1.";
  s[coordination + "Lease"] =
      kind("A Lease is a lock with a holder and an expiry, used for leader election.", "coordination.k8s.io", "v1",
           "Lease", {{"spec", ref(coordination + "LeaseSpec", "The holder and timing of the lease.")}});
  s[coordination + "LeaseSpec"] =
      object("The holder and timing of a lease.",
             {{"holderIdentity", str("Identity of the current holder.")},
              {"leaseDurationSeconds", integer("Seconds the holder keeps the lease without renewing it.")},
              {"acquireTime", ref(k_meta + "MicroTime", "When the current holder acquired the lease.")},
              {"renewTime", ref(k_meta + "MicroTime", "When the current holder last renewed the lease.")},
              {"leaseTransitions", integer("How many times the lease changed holders.")}});

  const std::string events = "io.k8s.api.events.v1.";
  s[events + "Event"] = kind(
      "An Event reports something that happened to an object (the events.k8s.io view of core/v1 Events).",
      "events.k8s.io", "v1", "Event",
      {{"eventTime", ref(k_meta + "MicroTime", "When the event first occurred.")},
       {"reportingController", str("Controller that emitted the event, e.g. gpuorch.io/reconciler.")},
       {"reportingInstance", str("Instance of the controller.")},
       {"action", str("What was done, or failed.")},
       {"reason", str("Why the action was taken (CamelCase).")},
       {"regarding", ref(k_core + "ObjectReference", "The object the event is about.")},
       {"related", ref(k_core + "ObjectReference", "A second object involved, if any.")},
       {"note", str("Human-readable description, at most 1 kB.")},
       {"type", enumerated("Normal or Warning.", {"Normal", "Warning"})},
       {"series",
        object("Repeats of the event.", {{"count", integer("Occurrences so far.")},
                                         {"lastObservedTime", ref(k_meta + "MicroTime", "When it last occurred.")}})},
       {"deprecatedSource", ref(k_core + "EventSource", "core/v1 source.")},
       {"deprecatedFirstTimestamp", date_time("core/v1 firstTimestamp.")},
       {"deprecatedLastTimestamp", date_time("core/v1 lastTimestamp.")},
       {"deprecatedCount", integer("core/v1 count.")}},
      {"eventTime"});

  const std::string ext = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";
  s[ext + "CustomResourceDefinition"] = kind(
      "A CustomResourceDefinition adds a resource to the API, served once it is established.", "apiextensions.k8s.io",
      "v1", "CustomResourceDefinition",
      {{"spec",
        object("The resource the definition adds.",
               {{"group", str("API group of the resource.")},
                {"names",
                 {{"type", "object"}, {"description", "plural, singular, kind, listKind, shortNames, categories."}}},
                {"scope", enumerated("Namespaced or Cluster.", {"Namespaced", "Cluster"})},
                {"versions",
                 {{"type", "array"},
                  {"items", {{"type", "object"}}},
                  {"description",
                   "Versions served: name, served, storage, schema, "
                   "subresources, additionalPrinterColumns."}}}},
               {"group", "names", "scope", "versions"})},
       {"status",
        object(
            "Status of the definition.",
            {{"conditions",
              {{"type", "array"}, {"items", {{"type", "object"}}}, {"description", "Established and NamesAccepted."}}},
             {"acceptedNames", {{"type", "object"}, {"description", "Names actually served."}}},
             {"storedVersions", strings("Versions objects were ever stored in.")}})}},
      {"spec"});
}

const json& builtin_schemas() {
  static const json schemas = [] {
    json s = json::object();
    add_meta(s);
    add_core(s);
    add_groups(s);
    return s;
  }();
  return schemas;
}

// Every "#/components/schemas/<name>" a schema refers to.
void collect_refs(const json& schema, std::set<std::string>& out) {
  if (schema.is_object()) {
    for (const auto& [k, v] : schema.items()) {
      if (k == "$ref" && v.is_string()) {
        const std::string ref_text = v.get<std::string>();
        const std::string prefix = "#/components/schemas/";
        if (ref_text.starts_with(prefix)) {
          out.insert(ref_text.substr(prefix.size()));
        }
      } else {
        collect_refs(v, out);
      }
    }
  } else if (schema.is_array()) {
    for (const json& v : schema) {
      collect_refs(v, out);
    }
  }
}

std::string reversed_domain(const std::string& group) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= group.size()) {
    const auto dot = group.find('.', start);
    parts.push_back(group.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += (out.empty() ? "" : ".") + *it;
  }
  return out;
}

// ---- OpenAPI v2 ------------------------------------------------------------------

// v3 component schemas as Swagger 2.0 definitions: refs move to
// #/definitions/, a description next to a single allOf ref becomes a sibling
// of the $ref (as the API server writes v2), anyOf and nullable go.
json to_v2(const json& schema) {
  if (schema.is_array()) {
    json out = json::array();
    for (const json& s : schema) {
      out.push_back(to_v2(s));
    }
    return out;
  }
  if (!schema.is_object()) {
    return schema;
  }
  if (schema.contains("allOf") && schema["allOf"].is_array() && schema["allOf"].size() == 1 &&
      schema["allOf"][0].contains("$ref")) {
    json out = to_v2(schema["allOf"][0]);
    if (schema.contains("description")) {
      out["description"] = schema["description"];
    }
    return out;
  }
  json out = json::object();
  for (const auto& [k, v] : schema.items()) {
    if (k == "$ref" && v.is_string()) {
      std::string r = v.get<std::string>();
      const std::string prefix = "#/components/schemas/";
      out[k] = r.starts_with(prefix) ? "#/definitions/" + r.substr(prefix.size()) : r;
    } else if (k == "anyOf" || k == "oneOf" || k == "not" || k == "nullable") {
      continue;
    } else if (k == "properties" && v.is_object()) {
      json props = json::object();
      for (const auto& [name, s] : v.items()) {
        props[name] = to_v2(s);
      }
      out[k] = props;
    } else {
      out[k] = to_v2(v);
    }
  }
  return out;
}

// ---- protobuf writing (gnostic's openapi_v2 messages) ------------------------------

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, int field, int wire) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire));
}

void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_string_field(std::string& out, int field, const json& schema, const char* key) {
  if (schema.contains(key) && schema[key].is_string()) {
    put_bytes(out, field, schema[key].get<std::string>());
  }
}

void put_double(std::string& out, int field, double v) {
  put_tag(out, field, 1);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
}

// openapi_v2.Any: the value as YAML text (JSON is YAML).
std::string any_message(const json& value) {
  std::string out;
  put_bytes(out, 2, value.dump());
  return out;
}

std::string named_any(const std::string& name, const json& value) {
  std::string out;
  put_bytes(out, 1, name);
  put_bytes(out, 2, any_message(value));
  return out;
}

std::string schema_message(const json& schema);

std::string named_schema(const std::string& name, const json& schema) {
  std::string out;
  put_bytes(out, 1, name);
  put_bytes(out, 2, schema_message(schema));
  return out;
}

// openapi_v2.Schema, field by field.
std::string schema_message(const json& schema) {
  std::string out;
  if (!schema.is_object()) {
    return out;
  }
  put_string_field(out, 1, schema, "$ref");
  put_string_field(out, 2, schema, "format");
  put_string_field(out, 3, schema, "title");
  put_string_field(out, 4, schema, "description");
  if (schema.contains("default")) {
    put_bytes(out, 5, any_message(schema["default"]));
  }
  if (schema.contains("maximum") && schema["maximum"].is_number()) {
    put_double(out, 7, schema["maximum"].get<double>());
  }
  if (schema.contains("minimum") && schema["minimum"].is_number()) {
    put_double(out, 9, schema["minimum"].get<double>());
  }
  const std::pair<const char*, int> counts[] = {{"maxLength", 11}, {"minLength", 12},     {"maxItems", 14},
                                                {"minItems", 15},  {"maxProperties", 17}, {"minProperties", 18}};
  for (const auto& [key, field] : counts) {
    if (schema.contains(key) && schema[key].is_number_integer()) {
      put_tag(out, field, 0);
      put_varint(out, static_cast<std::uint64_t>(schema[key].get<std::int64_t>()));
    }
  }
  put_string_field(out, 13, schema, "pattern");
  for (const json& r : schema.value("required", json::array())) {
    if (r.is_string()) {
      put_bytes(out, 19, r.get<std::string>());
    }
  }
  for (const json& e : schema.value("enum", json::array())) {
    put_bytes(out, 20, any_message(e));
  }
  if (schema.contains("additionalProperties")) {
    const json& ap = schema["additionalProperties"];
    std::string item;
    if (ap.is_boolean()) {
      put_tag(item, 2, 0);
      put_varint(item, ap.get<bool>() ? 1 : 0);
    } else {
      put_bytes(item, 1, schema_message(ap));
    }
    put_bytes(out, 21, item);
  }
  if (schema.contains("type")) {
    std::string type_item;
    const json& t = schema["type"];
    for (const json& v : t.is_array() ? t : json::array({t})) {
      if (v.is_string()) {
        put_bytes(type_item, 1, v.get<std::string>());
      }
    }
    put_bytes(out, 22, type_item);
  }
  if (schema.contains("items")) {
    std::string items;
    const json& i = schema["items"];
    for (const json& s : i.is_array() ? i : json::array({i})) {
      put_bytes(items, 1, schema_message(s));
    }
    put_bytes(out, 23, items);
  }
  for (const json& s : schema.value("allOf", json::array())) {
    put_bytes(out, 24, schema_message(s));
  }
  if (schema.contains("properties") && schema["properties"].is_object()) {
    std::string props;
    for (const auto& [name, s] : schema["properties"].items()) {
      put_bytes(props, 1, named_schema(name, s));
    }
    put_bytes(out, 25, props);
  }
  for (const auto& [k, v] : schema.items()) {
    if (k.starts_with("x-")) {
      put_bytes(out, 31, named_any(k, v));
    }
  }
  return out;
}

}  // namespace

std::string openapi_schema_name(const ResourceType& type) {
  if (type.custom) {
    return reversed_domain(type.group) + "." + type.version + "." + type.kind;
  }
  if (type.group == "apiextensions.k8s.io") {
    return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions." + type.version + "." + type.kind;
  }
  std::string group = type.group.empty() ? "core" : type.group;
  if (const auto dot = group.find('.'); dot != std::string::npos) {
    group = group.substr(0, dot);  // rbac.authorization.k8s.io -> rbac
  }
  return "io.k8s.api." + group + "." + type.version + "." + type.kind;
}

json openapi_schemas(const std::vector<ResourceType>& types) {
  const json& builtin = builtin_schemas();
  json out = json::object();
  std::set<std::string> wanted;
  for (const ResourceType& t : types) {
    const std::string name = openapi_schema_name(t);
    if (!t.custom) {
      if (builtin.contains(name)) {
        wanted.insert(name);
      }
      continue;
    }
    if (t.openapi_schema == nullptr || !t.openapi_schema->is_object()) {
      continue;
    }
    json schema = *t.openapi_schema;
    if (!schema.contains("properties") || !schema["properties"].is_object()) {
      schema["properties"] = json::object();
    }
    json& props = schema["properties"];
    props["metadata"] = ref(k_meta + "ObjectMeta", "Standard object's metadata.");
    if (!props.contains("apiVersion")) {
      props["apiVersion"] = str("APIVersion defines the versioned schema of this representation of an object.");
    }
    if (!props.contains("kind")) {
      props["kind"] = str("Kind is a string value representing the REST resource this object represents.");
    }
    schema["x-kubernetes-group-version-kind"] =
        json::array({{{"group", t.group}, {"version", t.version}, {"kind", t.kind}}});
    out[name] = std::move(schema);
    wanted.insert(k_meta + "ObjectMeta");
  }
  // The referenced schemas, transitively.
  std::set<std::string> done;
  while (!wanted.empty()) {
    const std::string name = *wanted.begin();
    wanted.erase(wanted.begin());
    if (!done.insert(name).second || !builtin.contains(name)) {
      continue;
    }
    out[name] = builtin[name];
    std::set<std::string> refs;
    collect_refs(builtin[name], refs);
    for (const std::string& r : refs) {
      if (!done.contains(r)) {
        wanted.insert(r);
      }
    }
  }
  return out;
}

json openapi_v2_document(const std::vector<ResourceType>& types, const std::string& server_version) {
  json definitions = json::object();
  const json schemas = openapi_schemas(types);
  for (const auto& [name, schema] : schemas.items()) {
    definitions[name] = to_v2(schema);
  }
  return {{"swagger", "2.0"},
          {"info", {{"title", "Kubernetes"}, {"version", server_version}}},
          {"paths", json::object()},
          {"definitions", definitions}};
}

std::string openapi_v2_protobuf(const json& document) {
  std::string out;
  put_string_field(out, 1, document, "swagger");
  std::string info;
  const json doc_info = document.value("info", json::object());
  put_string_field(info, 1, doc_info, "title");
  put_string_field(info, 2, doc_info, "version");
  put_bytes(out, 2, info);
  put_bytes(out, 8, std::string());  // paths: none listed
  std::string definitions;
  const json all = document.value("definitions", json::object());
  for (const auto& [name, schema] : all.items()) {
    put_bytes(definitions, 1, named_schema(name, schema));
  }
  put_bytes(out, 9, definitions);
  return out;
}

}  // namespace gpuorch::sandbox
