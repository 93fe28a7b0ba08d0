# shellcheck shell=bash
# Shared by the e2e tests: the sandbox and kubectl helpers of tests/kubectl,
# plus gpuorch pointed at the same sandbox and the GPUWorkload CRD installed.
# shellcheck source=../kubectl/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../kubectl/lib.sh"

# g ARGS...: gpuorch against the sandbox.
g() {
  "$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" "$@"
}

# start_with_crd [sandbox flags...]: a sandbox with the GPUWorkload CRD served.
start_with_crd() {
  start_sandbox "$@"
  "$GPUORCH" crd >"$WORK/crd.yaml"
  kc apply -f "$WORK/crd.yaml" >/dev/null
  eventually "the GPUWorkload resource is served" 10 kc get gpuworkloads
}

# run_g ARGS...: runs gpuorch, keeping stdout in $OUT, stderr in $ERR and the
# exit status in $RC (never fails itself).
run_g() {
  RC=0
  g "$@" >"$WORK/out" 2>"$WORK/err" || RC=$?
  OUT=$(cat "$WORK/out")
  ERR=$(cat "$WORK/err")
}

# set_status NAME JSON: writes the status subresource as a reconciler would.
set_status() {
  kc patch gpuworkload "$1" --subresource=status --type=merge -p "{\"status\":$2}" >/dev/null
}

# add_event NAME TYPE REASON MESSAGE: an Event about the workload, as the reconciler emits them.
add_event() {
  local uid
  uid=$(kc get gpuworkload "$1" -o jsonpath='{.metadata.uid}')
  cat >"$WORK/event.json" <<JSON
{"apiVersion": "v1", "kind": "Event",
 "metadata": {"name": "$1.$RANDOM$RANDOM", "namespace": "default"},
 "involvedObject": {"apiVersion": "gpuorch.io/v1alpha1", "kind": "GPUWorkload", "name": "$1",
                    "namespace": "default", "uid": "$uid"},
 "reason": "$3", "message": "$4", "type": "$2", "count": 1,
 "reportingComponent": "gpuorch.io/reconciler", "source": {"component": "gpuorch.io/reconciler"}}
JSON
  kc create -f "$WORK/event.json" >/dev/null
}
