#!/usr/bin/env bash
# Built-in resources through kubectl: output formats, label and field
# selectors, watches, describe of a node and a GPUWorkload, events through
# core/v1 and events.k8s.io/v1, aggregated discovery, the stored workload,
# service and RBAC types, 409 and 422 on built-ins.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
start_sandbox --nodes 2 --gpu-model H100 --job-duration 60s \
  --node-pool name=a100,count=1,gpus=4,model=A100,cpu=32,memory=256Gi,price=1.2,label=zone:b

# Aggregated discovery: kubectl 1.32 asks for it and gets it.
out=$(kc api-resources -v=8 2>&1)
expect_contains "$out" "Content-Type: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" \
  "kubectl receives aggregated discovery"
resources=$(kc api-resources --no-headers)
for r in "deployments .*apps/v1 .*true .*Deployment" "cronjobs .*cj .*batch/v1 .*true .*CronJob" \
  "services .*svc .*v1 .*true .*Service" "serviceaccounts .*sa .*v1 .*true .*ServiceAccount" \
  "clusterroles .*rbac.authorization.k8s.io/v1 .*false .*ClusterRole" \
  "rolebindings .*rbac.authorization.k8s.io/v1 .*true .*RoleBinding" \
  "events .*ev .*events.k8s.io/v1 .*true .*Event" "configmaps .*cm .*v1 .*true .*ConfigMap"; do
  grep -Eq "^$r" <<<"$resources" || fail "api-resources has no row matching '$r':
$resources"
done
expect_eq "$(kc api-resources --api-group=batch -o name | sort | tr '\n' ' ')" "cronjobs.batch jobs.batch " "api-resources by group"

# kubectl explain on built-ins, from the schemas in /openapi/v3.
out=$(kc explain pods.spec.containers)
expect_contains "$out" "FIELD: containers <[]Container>" "explain pods.spec.containers"
expect_contains "$out" "name	<string> -required-" "explain lists the container fields"
expect_contains "$out" "resources	<ResourceRequirements>" "explain names referenced types"
expect_contains "$(kc explain jobs.spec.backoffLimit)" "FIELD: backoffLimit <integer>" "explain a job field"
expect_contains "$(kc explain deployments.spec.template.spec.tolerations)" "FIELD: tolerations <[]Toleration>" \
  "explain through a pod template"
expect_contains "$(kc explain events.regarding --api-version=events.k8s.io/v1)" "FIELD: regarding <ObjectReference>" \
  "explain an events.k8s.io field"
# ... and from /openapi/v2, which kubectl fetches as protobuf.
out=$(kc explain pods.spec.containers --output=plaintext-openapiv2)
expect_contains "$out" "RESOURCE: containers <[]Object>" "explain from /openapi/v2"
expect_contains "$out" "Container image to run." "explain from /openapi/v2 shows the descriptions"
expect_eq "$(kc get --raw /openapi/v2 | jq -r '.definitions["io.k8s.api.batch.v1.Job"]["x-kubernetes-group-version-kind"][0].kind')" \
  "Job" "/openapi/v2 as JSON"
expect_fail "explain of a field that does not exist" kc explain pods.spec.nope
expect_contains "$ERR" 'field "nope" does not exist' "explain names the missing field"

# Nodes: -o wide, json, yaml.
out=$(kc get nodes -o wide)
expect_contains "$(head -1 <<<"$out")" "INTERNAL-IP" "nodes -o wide header"
expect_contains "$out" "A100" "nodes -o wide GPU column"
expect_eq "$(kc get nodes -o json | jq -r '.items | length')" "3" "nodes -o json"
expect_contains "$(kc get node a100-node-00 -o yaml)" "nvidia.com/gpu: \"4\"" "node -o yaml"

# Label selectors on nodes: =, !=, in, notin, exists, !exists.
count() { kc get "$@" --no-headers 2>/dev/null | wc -l; }
expect_eq "$(count nodes -l nvidia.com/gpu.product=H100)" "2" "label ="
expect_eq "$(count nodes -l 'nvidia.com/gpu.product!=H100')" "1" "label !="
expect_eq "$(count nodes -l 'nvidia.com/gpu.product in (A100,L4)')" "1" "label in"
expect_eq "$(count nodes -l 'nvidia.com/gpu.product notin (A100)')" "2" "label notin"
expect_eq "$(count nodes -l zone)" "1" "label exists"
expect_eq "$(count nodes -l '!zone')" "2" "label does not exist"
expect_eq "$(count nodes -l 'zone=b,nvidia.com/gpu.product=A100')" "1" "two requirements"
expect_eq "$(count nodes --field-selector metadata.name=gpu-node-01)" "1" "node field selector"
expect_eq "$(count nodes --field-selector spec.unschedulable=false)" "3" "node field selector on spec"

# A job: its pod runs on a node; pods and jobs in every format.
kc get pods -w -o name >"$WORK/pods.watch" 2>&1 &
pods_watch=$!
kc create job train --image=busybox:1.36 -- sleep 1 >/dev/null
eventually "the job's pod runs" 10 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get pods -l job-name=train --field-selector status.phase=Running --no-headers | grep -q train"
pod=$(kc get pods -l job-name=train -o jsonpath='{.items[0].metadata.name}')
node=$(kc get pod "$pod" -o jsonpath='{.spec.nodeName}')
eventually "get -w saw the new pod" 10 grep -qx "pod/$pod" "$WORK/pods.watch"
kill "$pods_watch" 2>/dev/null || true
wait "$pods_watch" 2>/dev/null || true
out=$(kc get pods -o wide)
expect_contains "$(head -1 <<<"$out")" "NOMINATED NODE" "pods -o wide header"
expect_contains "$out" "$node" "pods -o wide node column"
expect_eq "$(kc get pod "$pod" -o json | jq -r .status.phase)" "Running" "pod -o json"
expect_contains "$(kc get pod "$pod" -o yaml)" "nodeName: $node" "pod -o yaml"
expect_contains "$(kc get jobs -o wide)" "busybox:1.36" "jobs -o wide images"
expect_eq "$(kc get job train -o json | jq -r .spec.template.spec.restartPolicy)" "Never" "job -o json"
expect_contains "$(kc get job train -o yaml)" "backoffLimit: 6" "job -o yaml defaults"
expect_eq "$(count pods --field-selector spec.nodeName="$node")" "1" "pods by spec.nodeName"
expect_eq "$(count pods --field-selector "spec.nodeName!=$node")" "0" "pods by spec.nodeName !="
expect_eq "$(count pods --field-selector status.phase=Running,metadata.namespace=default)" "1" "pods by phase and namespace"
expect_eq "$(count pods --field-selector status.phase=Succeeded)" "0" "pods by another phase"
expect_eq "$(count jobs -l 'job-name in (train)')" "0" "jobs do not carry their pods' labels"
expect_eq "$(count pods -l 'job-name in (train, other)')" "1" "pods by label in"
expect_eq "$(count pods -l 'job-name notin (train)')" "0" "pods by label notin"

# get -w receives changes of an object.
kc get job train -w -o jsonpath='{.metadata.labels.stage}{"\n"}' >"$WORK/job.watch" 2>&1 &
job_watch=$!
sleep 1
kc label job train stage=eval >/dev/null
eventually "the job watch saw the label" 10 grep -qx eval "$WORK/job.watch"
kill "$job_watch" 2>/dev/null || true
wait "$job_watch" 2>/dev/null || true

# describe of a node lists its capacity, its pods and what they request.
out=$(kc describe node "$node")
expect_contains "$out" "Name:               $node" "describe node name"
expect_contains "$out" "nvidia.com/gpu:" "describe node capacity"
expect_contains "$out" "$pod" "describe node lists the pod on it"
expect_contains "$out" "Allocated resources:" "describe node allocation"

# A GPUWorkload with an event about it, posted through events.k8s.io/v1.
kc apply -f "$ROOT/packaging/kubernetes/base/crd.yaml" >/dev/null
kc wait --for condition=established --timeout=10s crd/gpuworkloads.gpuorch.io >/dev/null
kc apply -f "$ROOT/examples/minimal.yaml" -n default >/dev/null
gw=$(kc get gw -o jsonpath='{.items[0].metadata.name}')
gw_uid=$(kc get gw "$gw" -o jsonpath='{.metadata.uid}')
cat >"$WORK/event.yaml" <<YAML
apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: $gw.placed
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: gpuorch.io/reconciler
reportingInstance: reconciler-0
action: Place
reason: Placed
type: Normal
note: placed on $node
regarding:
  apiVersion: gpuorch.io/v1alpha1
  kind: GPUWorkload
  name: $gw
  namespace: default
  uid: $gw_uid
YAML
expect_eq "$(kc create -f "$WORK/event.yaml")" "event.events.k8s.io/$gw.placed created" "events.k8s.io create"
# The same object through core/v1, with the core field names.
expect_eq "$(kc get events.v1. "$gw.placed" -o jsonpath='{.involvedObject.name}/{.message}')" "$gw/placed on $node" \
  "an events.k8s.io Event is a core/v1 Event"
expect_eq "$(kc get events.v1.events.k8s.io "$gw.placed" -o jsonpath='{.regarding.kind}/{.note}')" \
  "GPUWorkload/placed on $node" "events.k8s.io fields"
expect_eq "$(kc get events.v1.events.k8s.io --field-selector regarding.name="$gw" -o name)" \
  "event.events.k8s.io/$gw.placed" "events.k8s.io field selector on regarding"
expect_eq "$(kc get events.v1.events.k8s.io -o json | jq -r '[.items[].apiVersion] | unique | join(",")')" "events.k8s.io/v1" "events.k8s.io list"
kc patch events.v1.events.k8s.io "$gw.placed" --type=merge -p '{"note":"placed again"}' >/dev/null
expect_eq "$(kc get events.v1. "$gw.placed" -o jsonpath='{.message}')" "placed again" "a patch through events.k8s.io"
expect_fail "events.k8s.io validation" kc create -f - <<<'{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"bad"},"type":"Normal"}'
expect_contains "$ERR" "reportingController: Required value" "422 names the events.k8s.io field"
out=$(kc describe gw "$gw")
expect_contains "$out" "Kind:         GPUWorkload" "describe GPUWorkload"
expect_contains "$out" "Model Name:" "describe GPUWorkload spec"
expect_contains "$out" "Placed" "describe GPUWorkload shows its events"
out=$(kc get events)
expect_contains "$out" "gpuworkload/$gw" "get events lists the event"
expect_contains "$out" "SuccessfulCreate" "get events lists the job controller's events"
expect_contains "$(kc events --for "gpuworkload/$gw")" "placed again" "kubectl events --for"
expect_contains "$(kc events --types=Normal)" "Scheduled" "kubectl events"

# The stored workload, service, configuration and RBAC types.
cat >"$WORK/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pushgateway
  labels: {app: pushgateway}
spec:
  selector:
    matchLabels: {app: pushgateway}
  template:
    metadata:
      labels: {app: pushgateway}
    spec:
      containers:
      - name: pushgateway
        image: prom/pushgateway:v1.9.0
        ports:
        - containerPort: 9091
---
apiVersion: v1
kind: Service
metadata:
  name: pushgateway
spec:
  selector: {app: pushgateway}
  ports:
  - port: 9091
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: reconcile
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: gpuorch
            image: ghcr.io/acme/gpuorch:1.0
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gpuorch
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: gpuorch
rules:
- apiGroups: [gpuorch.io]
  resources: [gpuworkloads, gpuworkloads/status]
  verbs: [get, list, watch, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: gpuorch
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: gpuorch
subjects:
- kind: ServiceAccount
  name: gpuorch
  namespace: default
YAML
kc apply -f "$WORK/app.yaml" >/dev/null
expect_contains "$(kc get deploy pushgateway)" "0/1" "deployment READY column"
expect_eq "$(kc get deploy pushgateway -o jsonpath='{.spec.strategy.type}/{.spec.revisionHistoryLimit}')" "RollingUpdate/10" \
  "deployment defaults"
out=$(kc get svc pushgateway --no-headers)
expect_contains "$out" "ClusterIP" "service type column"
expect_contains "$out" "9091/TCP" "service ports column"
[[ $(kc get svc pushgateway -o jsonpath='{.spec.clusterIP}') =~ ^10\.(9[6-9]|10[0-9]|11[01])\. ]] ||
  fail "the service has no cluster IP in 10.96.0.0/12"
expect_contains "$(kc get cj reconcile)" "*/5 * * * *" "cronjob schedule column"
expect_eq "$(kc get cj reconcile -o jsonpath='{.spec.concurrencyPolicy}/{.spec.successfulJobsHistoryLimit}')" "Allow/3" \
  "cronjob defaults"
expect_contains "$(kc get clusterrolebinding gpuorch -o wide)" "default/gpuorch" "binding service accounts column"
expect_contains "$(kc get clusterrolebinding gpuorch)" "ClusterRole/gpuorch" "binding role column"
expect_eq "$(kc get sa gpuorch -o name)" "serviceaccount/gpuorch" "service account"
kc create -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"mode":"fast"}}' >/dev/null
expect_eq "$(kc get cm settings -o jsonpath='{.data.mode}')" "fast" "configmap"
expect_eq "$(kc get all -o name | grep -c -E '^(deployment.apps|service|cronjob.batch)/')" "3" "the all category"

# 422 naming the field, on built-ins; nothing stored.
expect_fail "a deployment whose selector misses its template" kc apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec:
      containers: [{name: c, image: busybox}]
YAML
expect_contains "$ERR" "spec.template.metadata.labels" "422 names the deployment field"
expect_contains "$ERR" "selector\` does not match template \`labels\`" "422 message"
expect_fail "a cronjob with a bad schedule" kc create -f - <<'YAML'
{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"bad"},"spec":{"schedule":"61 * * * *","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}}
YAML
expect_contains "$ERR" "spec.schedule" "422 names the schedule"
expect_fail "a job that restarts Always" kc create -f - <<'YAML'
{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"always"},"spec":{"template":{"spec":{"restartPolicy":"Always","containers":[{"name":"c","image":"busybox"}]}}}}
YAML
expect_contains "$ERR" "spec.template.spec.restartPolicy" "422 names the job field"
expect_fail "nothing stored after 422" kc get deploy mismatch

# 409 on a stale update of a built-in.
kc get deploy pushgateway -o json >"$WORK/stale.json"
kc patch deploy pushgateway --type=merge -p '{"spec":{"replicas":2}}' >/dev/null
jq '.spec.replicas = 5' "$WORK/stale.json" >"$WORK/stale5.json"
expect_fail "stale replace" kc replace -f "$WORK/stale5.json"
expect_contains "$ERR" "the object has been modified" "409 on a stale deployment"
expect_eq "$(kc get deploy pushgateway -o jsonpath='{.spec.replicas}')" "2" "state after 409"
stop_sandbox
echo "PASS $TEST_NAME"
