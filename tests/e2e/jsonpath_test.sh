#!/usr/bin/env bash
# gpuorch get -o jsonpath against kubectl get -o jsonpath as the oracle: the
# same objects in the same sandbox, every template of jsonpath_templates.txt,
# on the list and on one object; and custom-columns against kubectl's too.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 1

cat >"$WORK/objects.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: alpha
  labels: {team: nlp, app.kubernetes.io/name: train}
spec:
  modelName: llama-3-8b
  gpuCount: 4
  priority: 100
  command: [python, train.py]
  env: [{name: A, value: "1"}, {name: B, value: "<b&>"}]
  resources: {cpu: "8", memory: 64Gi}
---
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: beta, labels: {team: vision}}
spec: {modelName: vit, gpuCount: 1, priority: 5}
---
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata: {name: gamma}
spec: {modelName: mistral, gpuCount: 8, priority: 100, retryPolicy: {maxRetries: 1}}
YAML
g submit -f "$WORK/objects.yaml" >/dev/null
set_status alpha '{"phase":"Running","assignedNode":"gpu-1"}'
set_status beta '{"phase":"Pending","message":"waiting"}'
set_status gamma '{"phase":"Running","assignedNode":"gpu-2"}'

compared=0
while IFS= read -r template; do
  [[ -z $template ]] && continue
  for target in "" alpha; do
    # shellcheck disable=SC2086
    want_rc=0; want=$(kc get gpuworkloads $target -o "jsonpath=$template" 2>&1) || want_rc=$?
    # shellcheck disable=SC2086
    got_rc=0; got=$(g get $target -o "jsonpath=$template" 2>&1) || got_rc=$?
    if ((want_rc == 0)); then
      expect_eq "$got_rc" 0 "exit status for '$template' on '${target:-the list}' (output: $got)"
      expect_eq "$got" "$want" "jsonpath '$template' on '${target:-the list}'"
    else
      ((got_rc != 0)) || fail "kubectl fails on '$template' for '${target:-the list}' ($want) but gpuorch printed: $got"
    fi
    compared=$((compared + 1))
  done
done <"$(dirname "$0")/jsonpath_templates.txt"
((compared >= 70)) || fail "only $compared comparisons"

# custom-columns, relaxed expressions included.
spec='NAME:.metadata.name,GPUS:{.spec.gpuCount},ENV:.spec.env[*].name,NODE:status.assignedNode'
expect_eq "$(g get -o "custom-columns=$spec")" "$(kc get gpuworkloads -o "custom-columns=$spec")" "custom-columns"
expect_eq "$(g get alpha --no-headers -o "custom-columns=$spec")" "$(kc get gpuworkloads alpha --no-headers -o "custom-columns=$spec")" "custom-columns --no-headers"

# A template error is a usage error; an index out of range fails like kubectl.
run_g get -o 'jsonpath={.items[0]'
expect_eq "$RC" 2 "unclosed template"
expect_eq "$ERR" 'error: jsonpath template "{.items[0]": unclosed action' "unclosed template message"
run_g get -o 'jsonpath={.items[7].metadata.name}'
expect_eq "$RC" 1 "index out of range"
expect_eq "$ERR" 'error: error executing jsonpath "{.items[7].metadata.name}": array index out of bounds: index 7, length 3' "index message"

stop_sandbox
echo "PASS $TEST_NAME ($compared comparisons)"
