#!/usr/bin/env bash
# gpuorch submit against the sandbox: flags and manifests, client-side
# validation (nothing sent when invalid), dry runs, output formats, and --wait
# following phases and Events written through the API as a reconciler would.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 2

# From flags: the object kubectl reads back has every field, defaults from the CRD.
run_g submit --name llama --model llama-3-8b --gpus 2 --priority 7 --strategy BestFit --image ghcr.io/acme/train:1 \
  --gpu-type H100 --cpu 4 --memory 16Gi --env A=1 --env B=x=y -l team=nlp --node-selector zone=a \
  --retries 2 --backoff 5 --max-backoff 60 -- python train.py --epochs 3
expect_eq "$RC" 0 "submit from flags"
expect_eq "$OUT" "gpuworkload.gpuorch.io/llama created" "submit output"
obj=$(kc get gpuworkload llama -o json)
expect_eq "$(jq -c .spec <<<"$obj")" \
  '{"command":["python","train.py","--epochs","3"],"env":[{"name":"A","value":"1"},{"name":"B","value":"x=y"}],"gpuCount":2,"gpuType":"H100","image":"ghcr.io/acme/train:1","modelName":"llama-3-8b","nodeSelector":{"zone":"a"},"priority":7,"resources":{"cpu":"4","memory":"16Gi"},"retryPolicy":{"backoffSeconds":5,"maxBackoffSeconds":60,"maxRetries":2},"schedulingStrategy":"BestFit"}' \
  "spec written from flags"
expect_eq "$(jq -c .metadata.labels <<<"$obj")" '{"team":"nlp"}' "labels"
expect_eq "$(kc get gpuworkload llama --show-managed-fields -o jsonpath="{.metadata.managedFields[0].manager}")" "gpuorch" "field manager"

# Defaults come from the CRD's schema.
run_g submit --name small --model m --gpus 1 -o json
expect_eq "$RC" 0 "submit -o json"
expect_eq "$(jq -c '[.spec.priority, .spec.schedulingStrategy, .spec.retryPolicy.maxRetries]' <<<"$OUT")" '[0,"LeastLoaded",3]' "server defaults in -o json"

# The same name again: the server's AlreadyExists, exit 1.
run_g submit --name llama --model llama-3-8b --gpus 2
expect_eq "$RC" 1 "duplicate exit"
expect_eq "$ERR" 'Error from server (AlreadyExists): gpuworkloads.gpuorch.io "llama" already exists' "duplicate message"

# Invalid flags: every problem named with its flag, exit 2, nothing sent.
writes_before=$(sandbox_stats | jq '.requests["201"] // 0')
run_g submit --name Bad_Name --model m --gpus 0 --cpu lots
expect_eq "$RC" 2 "invalid flags exit"
expect_contains "$ERR" "(--name)" "invalid name names its flag"
expect_contains "$ERR" "error: spec.gpuCount: " "gpuCount message"
expect_contains "$ERR" "(--gpus)" "gpuCount names its flag"
expect_contains "$ERR" "(--cpu)" "cpu names its flag"
expect_fail "nothing was created" kc get gpuworkload Bad_Name
run_g submit --model m --gpus 1
expect_eq "$RC" 2 "missing name exit"
expect_contains "$ERR" "metadata.name" "missing name message"

# A manifest with one invalid document among valid ones: located messages, nothing created.
cat >"$WORK/two.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: first}
spec: {modelName: a, gpuCount: 1}
---
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: second}
spec:
  modelName: b
  gpuCount: 0
YAML
run_g submit -f "$WORK/two.yaml"
expect_eq "$RC" 2 "invalid manifest exit"
expect_eq "$ERR" "$WORK/two.yaml:11:13: spec.gpuCount: must be >= 1, got 0" "located message"
expect_fail "the valid document was not sent either" kc get gpuworkload first
writes_after=$(sandbox_stats | jq '.requests["201"] // 0')
expect_eq "$writes_after" "$writes_before" "no create reached the server for invalid input"
((writes_after >= 3)) || fail "the 201 counter does not count creates ($writes_after)"

# Several documents from stdin: all created, in order.
sed 's/gpuCount: 0/gpuCount: 3/' "$WORK/two.yaml" | g submit -f - >"$WORK/out"
expect_eq "$(cat "$WORK/out")" $'gpuworkload.gpuorch.io/first created\ngpuworkload.gpuorch.io/second created' "multi-document stdin"
expect_eq "$(kc get gpuworkload second -o jsonpath='{.spec.gpuCount}')" "3" "second document stored"

# -f cannot be mixed with the workload flags.
run_g submit -f "$WORK/two.yaml" --gpus 2
expect_eq "$RC" 2 "-f with flags"
expect_contains "$ERR" "error: --gpus cannot be combined with -f" "-f with flags message"

# Dry runs store nothing.
run_g submit --name dry --model m --gpus 1 --dry-run=server
expect_eq "$OUT" "gpuworkload.gpuorch.io/dry created (server dry run)" "server dry run output"
run_g submit --name dry --model m --gpus 1 --dry-run -o yaml
expect_eq "$RC" 0 "client dry run"
expect_contains "$OUT" "name: dry" "client dry run prints the object"
expect_fail "dry runs stored nothing" kc get gpuworkload dry

# generateName: the server picks the name, -o name prints it.
run_g submit --generate-name sweep- --model m --gpus 1 -o name
expect_eq "$RC" 0 "generateName"
[[ $OUT =~ ^gpuworkload.gpuorch.io/sweep-[a-z0-9]{5}$ ]] || fail "generated name: $OUT"

# The namespace of a manifest must agree with -n.
printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: nsw, namespace: kube-public}\nspec: {modelName: a, gpuCount: 1}\n' >"$WORK/ns.yaml"
run_g -n default submit -f "$WORK/ns.yaml"
expect_eq "$RC" 1 "namespace mismatch"
expect_eq "$ERR" "error: the namespace from the provided object \"kube-public\" does not match the namespace \"default\". You must pass '--namespace=kube-public' to perform this operation." "namespace mismatch message"
run_g submit -f "$WORK/ns.yaml"
expect_eq "$(kc get gpuworkload nsw -n kube-public -o jsonpath='{.metadata.name}')" "nsw" "the manifest's namespace is used"

# --wait=Running: phases and Events written by a stand-in reconciler are streamed.
(
  eventually "w1 exists" 10 kc get gpuworkload w1
  sleep 0.3
  set_status w1 '{"phase":"Pending","message":"0/2 nodes fit: 2 lack free GPUs (need 1)"}'
  add_event w1 Warning FailedScheduling "0/2 nodes fit"
  sleep 0.3
  set_status w1 '{"phase":"Scheduled","assignedNode":"sandbox-gpu-0"}'
  add_event w1 Normal Scheduled "assigned to sandbox-gpu-0"
  sleep 0.3
  set_status w1 '{"phase":"Running","assignedNode":"sandbox-gpu-0"}'
) &
helper=$!
run_g submit --name w1 --model m --gpus 1 --wait=Running --timeout 30s
wait "$helper"
expect_eq "$RC" 0 "--wait=Running exit"
expect_eq "$OUT" "gpuworkload.gpuorch.io/w1 created" "--wait stdout"
expect_contains "$ERR" "w1: phase Pending: 0/2 nodes fit: 2 lack free GPUs (need 1)" "pending phase streamed"
expect_contains "$ERR" "w1: event Warning FailedScheduling: 0/2 nodes fit" "warning event streamed"
expect_contains "$ERR" "w1: event Normal Scheduled: assigned to sandbox-gpu-0" "normal event streamed"
expect_contains "$ERR" "w1: phase Scheduled on sandbox-gpu-0" "scheduled phase streamed"
expect_contains "$ERR" "w1: phase Running on sandbox-gpu-0" "running phase streamed"

# --wait (Succeeded) on a workload that fails: exit 3 with the message.
( eventually "w2 exists" 10 kc get gpuworkload w2; sleep 0.3
  set_status w2 '{"phase":"Failed","message":"retries exhausted (3/3)"}' ) &
helper=$!
run_g submit --name w2 --model m --gpus 1 --wait --timeout 30s
wait "$helper"
expect_eq "$RC" 3 "--wait on a failed workload"
expect_contains "$ERR" "error: gpuworkload.gpuorch.io/w2 failed: retries exhausted (3/3)" "failure message"

# --wait that runs out of time: exit 4, within the timeout.
start=$SECONDS
run_g submit --name w3 --model m --gpus 1 --wait --timeout 2s
expect_eq "$RC" 4 "--wait timeout exit"
expect_eq "$ERR" "error: timed out waiting for gpuworkload.gpuorch.io/w3 to reach Succeeded (phase not set yet)" "timeout message"
((SECONDS - start <= 6)) || fail "--timeout 2s took $((SECONDS - start))s"

# --wait follows the watch across a dropped connection (the sandbox cuts every watch stream).
printf '{"watchCutAfterMilliseconds":300,"watchGoneRate":0.3}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
( eventually "w4 exists" 10 kc get gpuworkload w4; sleep 1.2
  set_status w4 '{"phase":"Succeeded","assignedNode":"sandbox-gpu-1"}' ) &
helper=$!
run_g submit --name w4 --model m --gpus 1 --wait --timeout 30s
wait "$helper"
printf '{}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
expect_eq "$RC" 0 "--wait across dropped watches"
expect_contains "$ERR" "w4: phase Succeeded on sandbox-gpu-1" "phase seen after reconnecting"

# --wait with a dry run makes no sense.
run_g submit --name w5 --model m --gpus 1 --wait --dry-run=server
expect_eq "$RC" 2 "--wait with --dry-run"

stop_sandbox
echo "PASS $TEST_NAME"
