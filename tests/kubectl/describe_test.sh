#!/usr/bin/env bash
# `gpuorch describe` against the sandbox: a pending workload explained by the
# scheduling core (nodes filtered by reason), a running one with its Job, pod
# and top candidates, Events aggregated like kubectl's, and the bad inputs.
# kubectl creates the objects the way the reconciler would.
source "$(dirname "$0")/lib.sh"
start_sandbox --nodes 3 --gpus-per-node 4 --gpu-model H100 --job-duration 1h
"$GPUORCH" crd | kc apply -f - >/dev/null
kc wait --for condition=established crd/gpuworkloads.gpuorch.io --timeout=20s >/dev/null
kc cordon gpu-node-02 >/dev/null

describe() {
  "$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" describe "$@"
}

cat >"$WORK/workloads.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: big
  labels: {team: nlp}
spec:
  modelName: llama-3-70b
  gpuCount: 8
  priority: 5
  schedulingStrategy: BestFit
---
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: small
  labels: {team: vision}
spec:
  modelName: resnet
  gpuCount: 2
  image: ghcr.io/acme/train:1.4
  command: [python, train.py, --epochs, "3"]
  env: [{name: MODE, value: fast}]
  resources: {cpu: "2", memory: 8Gi}
YAML
kc create -f "$WORK/workloads.yaml" >/dev/null
small_uid=$(kc get gpuworkload small -o jsonpath='{.metadata.uid}')
big_uid=$(kc get gpuworkload big -o jsonpath='{.metadata.uid}')

# small: placed on gpu-node-01 by "the reconciler": its Job pinned there, its status.
cat >"$WORK/job.yaml" <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: small-0
  labels: {gpuorch.io/workload: small}
  ownerReferences:
  - {apiVersion: gpuorch.io/v1alpha1, kind: GPUWorkload, name: small, uid: $small_uid, controller: true}
spec:
  backoffLimit: 0
  template:
    metadata:
      labels: {gpuorch.io/workload: small}
    spec:
      restartPolicy: Never
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchFields: [{key: metadata.name, operator: In, values: [gpu-node-01]}]
      containers:
      - name: workload
        image: ghcr.io/acme/train:1.4
        resources:
          requests: {cpu: "2", memory: 8Gi}
          limits: {nvidia.com/gpu: 2}
YAML
kc create -f "$WORK/job.yaml" >/dev/null
eventually "small's pod runs" 15 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get pods -l job-name=small-0 --no-headers | grep -q Running"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kc patch gpuworkload small --subresource=status --type=merge -p "{\"status\":{\"phase\":\"Running\",
  \"assignedNode\":\"gpu-node-01\",\"jobName\":\"small-0\",\"lastScheduleTime\":\"$now\",\"observedGeneration\":1,
  \"conditions\":[{\"type\":\"Scheduled\",\"status\":\"True\",\"reason\":\"JobCreated\",\"message\":\"placed on gpu-node-01\",
  \"lastTransitionTime\":\"$now\",\"observedGeneration\":1}]}}" >/dev/null
kc patch gpuworkload big --subresource=status --type=merge -p \
  '{"status":{"phase":"Pending","message":"0/3 nodes fit: 2 have fewer than 8 GPUs, 1 cordoned"}}' >/dev/null

# An aggregated Warning for big, seen 3 times over the last 10 minutes.
first=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%SZ)
last=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
cat >"$WORK/event.yaml" <<YAML
apiVersion: v1
kind: Event
metadata: {name: big.17a2b3c4d5e6f708}
involvedObject: {apiVersion: gpuorch.io/v1alpha1, kind: GPUWorkload, name: big, namespace: default, uid: $big_uid}
reason: FailedScheduling
message: "0/3 nodes fit: 2 have fewer than 8 GPUs, 1 cordoned"
type: Warning
count: 3
firstTimestamp: "$first"
lastTimestamp: "$last"
source: {component: gpuorch.io/reconciler}
reportingComponent: gpuorch.io/reconciler
YAML
kc create -f "$WORK/event.yaml" >/dev/null

# --- the pending workload: why it does not fit, node by node.
out=$(describe big)
expect_contains "$out" "Name:               big" "name line, aligned like kubectl"
expect_contains "$out" "Labels:             team=nlp" "labels"
expect_contains "$out" "  Model Name:           llama-3-70b" "spec"
expect_contains "$out" "  Scheduling Strategy:  BestFit" "strategy"
expect_contains "$out" "  Phase:                Pending" "phase"
grep -qE '^Jobs: +<none>$' <<<"$out" || fail "no Jobs yet: $out"
expect_contains "$out" "  Strategy:      BestFit" "placement strategy"
expect_contains "$out" "  Evaluated On:  the cluster now (3 nodes), without this workload's own Jobs and pods" "evaluated on"
expect_contains "$out" "  Decision:      does not fit on any node now" "decision"
expect_contains "$out" "  Nodes:         0/3 nodes fit: 2 have fewer than 8 GPUs, 1 cordoned" "summary from the core"
expect_contains "$out" "    have fewer than 8 GPUs  2      gpu-node-00, gpu-node-01" "filtered: too few GPUs"
expect_contains "$out" "    cordoned                1      gpu-node-02" "filtered: cordoned"
expect_not_contains "$out" "Top Candidates" "no candidates when nothing fits"
event_line=$(grep -E '^  Warning +FailedScheduling' <<<"$out") || fail "no FailedScheduling event line in:
$out"
[[ $event_line =~ ^\ \ Warning\ \ FailedScheduling\ \ (60|[0-9]+)s\ \(x3\ over\ (9m[0-9]+s|10m)\)\ \ gpuorch\.io/reconciler\ \ 0/3\ nodes\ fit ]] ||
  fail "event line not like kubectl's: '$event_line'"

# --- the running workload: its Job, its pod, where it went and why.
out=$(describe small)
expect_contains "$out" "  Image:                ghcr.io/acme/train:1.4" "image"
expect_contains "$out" "  Command:              python train.py --epochs 3" "command"
expect_contains "$out" "  Environment:          MODE=fast" "env"
expect_contains "$out" "  Requests:             cpu: 2" "requests"
expect_contains "$out" "  Assigned Node:        gpu-node-01" "assigned node"
expect_contains "$out" "  Scheduled  True    JobCreated" "condition row"
job_line=$(grep -E '^  small-0 ' <<<"$out") || fail "no Job row in:
$out"
[[ $job_line =~ ^\ \ small-0\ +Running\ +1\ +0\ +0\ + ]] || fail "job row: '$job_line'"
pod_line=$(grep -E '^  small-0-' <<<"$out") || fail "no pod row in:
$out"
[[ $pod_line =~ ^\ \ small-0-[a-z0-9]{5}\ +Running\ +gpu-node-01\ +small-0\ + ]] || fail "pod row: '$pod_line'"
# Without its own pod, gpu-node-00 and gpu-node-01 both have 4 free GPUs.
expect_contains "$out" "  Nodes:         2/3 nodes fit: 1 cordoned" "summary without its own pod"
expect_contains "$out" "  Decision:      assigned to gpu-node-01, " "where it went"
expect_contains "$out" "Top Candidates:" "candidates listed"
expect_contains "$out" "<- assigned" "assigned node marked"
[[ $(grep -cE '^    gpu-node-0[01] +[0-9.-]+ +4/4 +H100' <<<"$out") == 2 ]] || fail "candidate rows:
$out"
expect_contains "$out" $'\nEvents:  <none>' "no events"

# --- several names, a selector, and the errors.
out=$(describe big small)
expect_eq "$(grep -c '^Name:' <<<"$out")" "2" "two workloads described"
expect_contains "$out" $'\n\n\nName:               small' "two blank lines between workloads"
expect_eq "$(describe -l team=vision | grep '^Name:')" "Name:               small" "selector"
out=$(describe 2>/dev/null)
expect_eq "$(grep -c '^Name:' <<<"$out")" "2" "no name: every workload of the namespace"
expect_fail "missing name" describe nope
expect_eq "$ERR" 'Error from server (NotFound): gpuworkloads.gpuorch.io "nope" not found' "NotFound"
rc=0
out=$(describe nope small 2>/dev/null) || rc=$?
expect_eq "$rc" "1" "exit status with one missing name"
expect_contains "$out" "Name:               small" "the other name is still described"
rc=0
ERR=$(describe -l team=none 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "0" "empty selection exits 0"
expect_eq "$ERR" "No resources found in default namespace." "empty selection message"
rc=0
ERR=$(describe small -l team=nlp 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "2" "name with selector is a usage error"
expect_eq "$ERR" "error: name cannot be provided when a selector is specified" "name with selector"

# A finished workload gets no placement section.
kc patch gpuworkload big --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}' >/dev/null
expect_not_contains "$(describe big)" "Placement:" "no placement for finished workloads"
echo "ok: describe"
