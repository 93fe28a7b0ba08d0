#!/usr/bin/env bash
# `gpuorch simulate --from-cluster` against the sandbox: the live nodes, the
# GPUs running pods hold, and the pending GPUWorkloads, placed by the
# simulator; --save-snapshot files that plain --nodes/--workloads read back to
# the very same result.
source "$(dirname "$0")/lib.sh"
start_sandbox --nodes 2 --gpus-per-node 4 --gpu-model H100 --job-duration 1h
"$GPUORCH" crd | kc apply -f - >/dev/null
kc wait --for condition=established crd/gpuworkloads.gpuorch.io --timeout=20s >/dev/null

sim() {
  "$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" simulate "$@"
}

# Someone else's job holds 3 of gpu-node-00's 4 GPUs.
cat >"$WORK/busy.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: busy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {kubernetes.io/hostname: gpu-node-00}
      containers:
      - name: main
        image: busybox:1.36
        resources:
          limits: {nvidia.com/gpu: 3}
YAML
kc create -f "$WORK/busy.yaml" >/dev/null
eventually "the busy pod runs" 15 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get pods -l job-name=busy --no-headers | grep -q Running"

# The queue: w-a first by priority, then w-b and w-c by creation time; finished is
# already Succeeded (not pending), other-ns is in another namespace.
kc create namespace research >/dev/null
workload() { # NAME GPUS PRIORITY [NAMESPACE]
  printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: %s, namespace: %s}\nspec: {modelName: m, gpuCount: %s, priority: %s}\n' \
    "$1" "${4:-default}" "$2" "$3" | kc create -f - >/dev/null
}
workload w-a 2 10
sleep 1.1 # creation timestamps have whole seconds: keep the queue order unambiguous
workload w-b 4 0
sleep 1.1
workload w-c 1 0
workload finished 1 0
kc patch gpuworkload finished --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null
workload other-ns 1 0 research

# BestFit: w-a (2) only fits gpu-node-01; w-b (4) fits nowhere; w-c (1) fills gpu-node-00.
ERR=$(sim --from-cluster --strategy BestFit -o json 2>&1 >"$WORK/live.json") || fail "simulate failed: $ERR"
expect_eq "$ERR" "Snapshot of the cluster: 2 nodes, 8 GPUs (3 in use), 3 pending GPUWorkloads in namespace default" \
  "snapshot summary"
expect_eq "$(jq -c '.cluster' "$WORK/live.json")" '{"nodes":2,"gpus":8}' "cluster size"
expect_eq "$(jq -r '.strategies[0].decisions | map("\(.name)=\(.status)@\(.node // "-")") | join(" ")' "$WORK/live.json")" \
  "default/w-a=Placed@gpu-node-01 default/w-b=Unschedulable@- default/w-c=Placed@gpu-node-00" "BestFit decisions"
expect_eq "$(jq -r '.strategies[0].decisions[1].message' "$WORK/live.json")" "0/2 nodes fit: 2 lack 4 free GPUs" \
  "why w-b does not fit"
expect_eq "$(jq -r '.strategies[0].allocatedPercent' "$WORK/live.json")" "75" "in-use GPUs count in the total"

# LeastLoaded spreads: w-c goes where most is free (gpu-node-01 after w-a).
out=$(sim --from-cluster --strategy LeastLoaded -o json 2>/dev/null)
expect_eq "$(jq -r '.strategies[0].decisions[2].node' <<<"$out")" "gpu-node-01" "LeastLoaded decision"
expect_eq "$(sim --from-cluster --compare -o json 2>/dev/null | jq '.strategies | length')" "5" "--compare"
expect_eq "$(sim --from-cluster -A -o json 2>/dev/null | jq '.workloads')" "4" "-A takes every namespace"
rc=0
sim --from-cluster --fail-on-unschedulable >/dev/null 2>&1 || rc=$?
expect_eq "$rc" "3" "--fail-on-unschedulable"
out=$(sim --from-cluster --mode packing --seeds 1-2 -o json 2>/dev/null) || fail "packing on the snapshot failed"
expect_eq "$(jq -c '.cluster' <<<"$out")" '{"nodes":2,"gpus":5}' "packing starts from the free GPUs"

# --save-snapshot: plain --nodes/--workloads reproduce the run exactly.
sim --from-cluster --strategy BestFit -o json --save-snapshot "$WORK/snap" >/dev/null 2>"$WORK/save.err" ||
  fail "saving the snapshot failed: $(cat "$WORK/save.err")"
expect_contains "$(cat "$WORK/save.err")" "Snapshot saved: $WORK/snap/nodes.yaml, $WORK/snap/workloads.yaml" "saved message"
grep -q 'used:' "$WORK/snap/nodes.yaml" || fail "nodes.yaml has no used: entry:
$(cat "$WORK/snap/nodes.yaml")"
sim --nodes "$WORK/snap/nodes.yaml" --workloads "$WORK/snap/workloads.yaml" --strategy BestFit -o json \
  >"$WORK/offline.json" || fail "the saved snapshot does not read back"
jq -e --slurpfile live "$WORK/live.json" '. == $live[0]' "$WORK/offline.json" >/dev/null ||
  fail "offline run differs from the live one:
$(diff <(jq . "$WORK/live.json") <(jq . "$WORK/offline.json"))"

# Extra workloads join the live queue; bad combinations are usage errors.
printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: extra}\nspec: {modelName: m, gpuCount: 1}\n' \
  >"$WORK/extra.yaml"
expect_eq "$(sim --from-cluster --workloads "$WORK/extra.yaml" -o json 2>/dev/null | jq '.workloads')" "4" \
  "--workloads adds to the queue"
rc=0
ERR=$(sim --from-cluster --cluster 2x8 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "2" "--from-cluster with --cluster"
expect_eq "$ERR" "error: --from-cluster takes the nodes from the cluster: drop --nodes and --cluster" "message"
rc=0
ERR=$(sim --cluster 2x8 --workloads "$WORK/extra.yaml" --save-snapshot "$WORK/x" 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "2" "--save-snapshot without --from-cluster"

# An empty queue is not an error.
ERR=$(sim --from-cluster -n research --mode queue 2>&1 >/dev/null) || fail "one pending in research"
kc delete gpuworkload -n research other-ns >/dev/null
rc=0
ERR=$(sim --from-cluster -n research 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "0" "nothing pending exits 0"
expect_contains "$ERR" "No pending GPUWorkloads to place." "nothing pending message"

# Without the CRD the error says what is missing.
kc delete crd gpuworkloads.gpuorch.io >/dev/null
eventually "the CRD is gone" 10 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' get crd gpuworkloads.gpuorch.io"
rc=0
ERR=$(sim --from-cluster 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "1" "no CRD exit status"
expect_contains "$ERR" "is the GPUWorkload CRD installed?" "no CRD message"
echo "ok: simulate --from-cluster"
