#!/usr/bin/env bash
# gpuorch delete against the sandbox: kubectl's messages, NotFound, the
# finalizer holding the object until a reconciler removes it, --wait with a
# watch, --timeout, --all, -l, -f and --dry-run.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 1

workload() {  # workload NAME [finalizer] [label]
  local finalizers='[]'
  [[ -n ${2:-} ]] && finalizers="[\"$2\"]"
  printf '{"apiVersion":"gpuorch.io/v1alpha1","kind":"GPUWorkload","metadata":{"name":"%s","finalizers":%s,"labels":{"team":"%s"}},"spec":{"modelName":"m","gpuCount":1}}' \
    "$1" "$finalizers" "${3:-none}" | kc create -f - >/dev/null
}

# A plain delete prints kubectl's line.
workload plain
run_g delete plain
expect_eq "$RC" 0 "delete exit"
expect_eq "$OUT" 'gpuworkload.gpuorch.io "plain" deleted' "delete output"
expect_fail "plain is gone" kc get gpuworkload plain

# NotFound, exactly as kubectl says it; the other names are still deleted.
workload other
run_g delete nope other
expect_eq "$RC" 1 "NotFound exit"
expect_eq "$ERR" 'Error from server (NotFound): gpuworkloads.gpuorch.io "nope" not found' "NotFound message"
expect_eq "$OUT" 'gpuworkload.gpuorch.io "other" deleted' "the existing name is deleted"
run_g delete nope --ignore-not-found
expect_eq "$RC:$OUT:$ERR" "0::" "--ignore-not-found"

# The finalizer holds the object: it stays, marked for deletion.
workload held gpuorch.io/cleanup
run_g delete held
expect_eq "$OUT" 'gpuworkload.gpuorch.io "held" deleted' "delete of a held object"
expect_eq "$(kc get gpuworkload held -o jsonpath='{.metadata.finalizers[0]}')" "gpuorch.io/cleanup" "finalizer kept"
[[ -n $(kc get gpuworkload held -o jsonpath='{.metadata.deletionTimestamp}') ]] || fail "deletionTimestamp not set"

# --wait runs out of time while the finalizer is there, and says why.
start=$SECONDS
run_g delete held --wait --timeout 1s
expect_eq "$RC" 4 "--wait timeout exit"
expect_eq "$ERR" 'error: timed out waiting for the deletion of gpuworkload.gpuorch.io/held (finalizers: gpuorch.io/cleanup; they are removed by gpuorch reconcile)' "--wait timeout message"
((SECONDS - start <= 5)) || fail "--timeout 1s took $((SECONDS - start))s"

# --wait returns once the finalizer is removed (as gpuorch reconcile does).
( sleep 0.8; kc patch gpuworkload held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null ) &
helper=$!
start=$SECONDS
run_g delete held --wait --timeout 30s
wait "$helper"
expect_eq "$RC" 0 "--wait exit"
((SECONDS - start <= 10)) || fail "--wait took $((SECONDS - start))s after the finalizer went"
expect_fail "held is gone" kc get gpuworkload held

# -l and --all.
workload a1 "" a
workload a2 "" a
workload b1 "" b
run_g delete -l team=a -o name
expect_eq "$OUT" $'gpuworkload.gpuorch.io/a1\ngpuworkload.gpuorch.io/a2' "delete -l"
expect_eq "$(kc get gpuworkloads -o jsonpath='{.items[*].metadata.name}')" "b1" "only b1 left"
run_g delete --all
expect_eq "$OUT" 'gpuworkload.gpuorch.io "b1" deleted' "delete --all"
run_g delete --all
expect_eq "$RC:$ERR" "0:No resources found" "delete --all of nothing"

# -f: the names of the manifest's objects.
printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: f1}\nspec: {modelName: m, gpuCount: 1}\n' >"$WORK/f1.yaml"
g submit -f "$WORK/f1.yaml" >/dev/null
run_g delete -f "$WORK/f1.yaml"
expect_eq "$OUT" 'gpuworkload.gpuorch.io "f1" deleted' "delete -f"

# --dry-run: nothing is deleted. client sends nothing (a missing name is printed too);
# server has the API server check each deletion (NotFound included).
workload dry "" d
run_g delete dry nope --dry-run
expect_eq "$RC:$OUT" $'0:gpuworkload.gpuorch.io "dry" deleted (dry run)\ngpuworkload.gpuorch.io "nope" deleted (dry run)' "--dry-run=client"
run_g delete dry --dry-run=server
expect_eq "$RC:$OUT" '0:gpuworkload.gpuorch.io "dry" deleted (server dry run)' "--dry-run=server"
run_g delete nope --dry-run=server
expect_eq "$RC:$ERR" '1:Error from server (NotFound): gpuworkloads.gpuorch.io "nope" not found' "--dry-run=server of a missing name"
run_g delete -l team=d --dry-run=server -o name
expect_eq "$RC:$OUT" "0:gpuworkload.gpuorch.io/dry" "--dry-run=server -l"
expect_eq "$(kc get gpuworkload dry -o jsonpath='{.metadata.name}:{.metadata.deletionTimestamp}')" "dry:" "dry is still there, not marked for deletion"
run_g delete dry
expect_eq "$RC" 0 "delete after the dry runs"

# Nothing named: a usage error.
run_g delete
expect_eq "$RC" 2 "delete without names"
expect_contains "$ERR" "error: resource(s) were provided, but no name, label selector, or --all flag specified" "usage message"

stop_sandbox
echo "PASS $TEST_NAME"
