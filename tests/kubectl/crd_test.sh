#!/usr/bin/env bash
# The GPUWorkload CRD and its custom resources through kubectl: client-side
# and server-side apply, printer columns, output formats, status subresource,
# describe, watch, validation, selectors and finalizers.
source "$(dirname "$0")/lib.sh"
DATA=$(dirname "$0")/testdata
CRD=$(dirname "$0")/../../packaging/kubernetes/base/crd.yaml
start_sandbox --nodes 2

out=$(kc apply -f "$CRD")
expect_contains "$out" "customresourcedefinition.apiextensions.k8s.io/gpuworkloads.gpuorch.io created" "CRD apply"
kc wait --for condition=established --timeout=10s crd/gpuworkloads.gpuorch.io >/dev/null

# Client-side apply creates, then finds nothing to change.
out=$(kc apply -f "$DATA/llama.yaml")
expect_eq "$out" "gpuworkload.gpuorch.io/llama created" "first apply"
out=$(kc apply -f "$DATA/llama.yaml")
expect_eq "$out" "gpuworkload.gpuorch.io/llama unchanged" "second apply"

# Printer columns and the short name.
out=$(kc get gpuworkloads)
expect_eq "$(head -1 <<<"$out" | tr -s ' ')" "NAME PHASE GPUS NODE STRATEGY RETRIES AGE" "printer columns"
expect_contains "$out" "llama" "printer columns row"
expect_contains "$(kc get gw)" "LeastLoaded" "schema default in a column"

# A column with priority > 0 shows only with -o wide.
cat >"$WORK/widgets.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size, priority: 1}
YAML
kc apply -f "$WORK/widgets.yaml" >/dev/null
kc wait --for condition=established --timeout=10s crd/widgets.example.com >/dev/null
kc apply -f - >/dev/null <<<'{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":7}}'
expect_not_contains "$(kc get widgets)" "SIZE" "priority-1 column outside -o wide"
expect_contains "$(kc get widgets -o wide)" "SIZE" "priority-1 column in -o wide"

# Defaults from the schema, in YAML and JSON output.
expect_eq "$(kc get gw llama -o jsonpath='{.spec.priority}')" "0" "defaulted priority"
expect_contains "$(kc get gw llama -o yaml)" "modelName: llama-3-8b" "-o yaml"
expect_eq "$(kc get gw llama -o json | jq -r .metadata.generation)" "1" "-o json generation"

# Status subresource: a status patch changes status, not generation.
kc patch gw llama --subresource=status --type=merge -p '{"status":{"phase":"Running","assignedNode":"gpu-node-00"}}' >/dev/null
out=$(kc get gw llama --no-headers)
expect_contains "$out" "Running" "status patch shows in the Phase column"
expect_contains "$out" "gpu-node-00" "status patch shows in the Node column"
expect_eq "$(kc get gw llama -o jsonpath='{.metadata.generation}')" "1" "status patch does not bump generation"
# ... while the main resource ignores status and bumps generation on spec changes.
kc patch gw llama --type=merge -p '{"spec":{"gpuCount":2},"status":{"phase":"Failed"}}' >/dev/null
expect_eq "$(kc get gw llama -o jsonpath='{.metadata.generation}/{.status.phase}')" "2/Running" "spec patch"

# kubectl explain reads the CRD's schema from /openapi/v3.
out=$(kc explain gpuworkloads.spec)
expect_contains "$out" "KIND:       GPUWorkload" "explain kind"
expect_contains "$out" "gpuCount	<integer> -required-" "explain a required field"
expect_contains "$out" "Number of GPUs the workload needs on a single node." "explain shows the CRD's description"
expect_contains "$(kc explain gw.spec.retryPolicy.maxRetries)" "FIELD: maxRetries <integer>" "explain a nested field"
expect_contains "$(kc explain gw.metadata.labels)" "FIELD: labels <map[string]string>" "explain follows metadata to ObjectMeta"

# describe shows the object.
out=$(kc describe gw llama)
expect_contains "$out" "Name:" "describe"
expect_contains "$out" "llama-3-8b" "describe spec"

# Server-side apply: create, then a conflict with another manager, then force.
cat >"$WORK/ssa.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: mistral
spec:
  modelName: mistral-7b
  gpuCount: 1
YAML
out=$(kc apply --server-side -f "$WORK/ssa.yaml")
expect_eq "$out" "gpuworkload.gpuorch.io/mistral serverside-applied" "server-side apply create"
sed -i 's/gpuCount: 1/gpuCount: 3/' "$WORK/ssa.yaml"
out=$(kc apply --server-side -f "$WORK/ssa.yaml")
expect_eq "$(kc get gw mistral -o jsonpath='{.spec.gpuCount}')" "3" "server-side apply update"
expect_fail "apply by another manager conflicts" kc apply --server-side --field-manager=other -f "$DATA/llama.yaml"
expect_contains "$ERR" "conflict" "server-side apply conflict"
kc apply --server-side --field-manager=other --force-conflicts -f "$DATA/llama.yaml" >/dev/null
expect_eq "$(kc get gw llama -o jsonpath='{.spec.gpuCount}')" "4" "forced apply"

# Validation: 422 naming the field; nothing created.
expect_fail "invalid GPUWorkload" kc apply -f "$DATA/invalid.yaml"
expect_contains "$ERR" "spec.gpuCount" "422 names the field"
expect_contains "$ERR" "is invalid" "422 message"
expect_fail "invalid object was not created" kc get gw zero-gpus

# Label and field selectors.
expect_eq "$(kc get gw -l team=nlp -o name)" "gpuworkload.gpuorch.io/llama" "label selector ="
expect_eq "$(kc get gw -l 'team!=nlp' -o name)" "gpuworkload.gpuorch.io/mistral" "label selector !="
expect_eq "$(kc get gw -l 'team in (nlp,cv)' -o name)" "gpuworkload.gpuorch.io/llama" "label selector in"
expect_eq "$(kc get gw -l '!team' -o name)" "gpuworkload.gpuorch.io/mistral" "label selector !exists"
expect_eq "$(kc get gw --field-selector metadata.name=mistral -o name)" "gpuworkload.gpuorch.io/mistral" "field selector"

# get -w receives a change made while it watches.
kc get gw llama -w -o jsonpath='{.metadata.labels.stage}{"\n"}' >"$WORK/watch.out" 2>&1 &
watch_pid=$!
sleep 1
kc label gw llama stage=prod >/dev/null
eventually "watch saw the change" 10 grep -qx prod "$WORK/watch.out"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true

# A finalizer keeps a deleted object, with deletionTimestamp, until removed.
kc patch gw mistral --type=merge -p '{"metadata":{"finalizers":["gpuorch.io/cleanup"]}}' >/dev/null
out=$(kc delete gw mistral --wait=false)
expect_contains "$out" "deleted" "delete with a finalizer"
ts=$(kc get gw mistral -o jsonpath='{.metadata.deletionTimestamp}')
[[ -n $ts ]] || fail "deletionTimestamp is not set on an object with a finalizer"
kc patch gw mistral --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
eventually "the object goes once its finalizer is removed" 5 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' get gw mistral"

# Deleting the CRD removes its objects and its resource type.
kc delete crd gpuworkloads.gpuorch.io >/dev/null
eventually "the resource type disappears" 10 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache2' get gw"
stop_sandbox
echo "PASS $TEST_NAME"
