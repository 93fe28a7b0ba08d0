#!/usr/bin/env bash
# The repository's own manifests through kubectl: packaging/kubernetes/ (the
# CRD and whatever runs gpuorch in a cluster: RBAC, ServiceAccount, CronJob,
# Deployment, Service, ...; one directory per kustomization, base/ and the
# compositions on top of it) and examples/, applied client-side, then
# server-side, then deleted and applied server-side from scratch. A
# kustomization.yaml is no object (kubectl apply -f would reject it on any
# cluster): the other files are applied with -f, and every directory with a
# kustomization with -k as well.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PACKAGING=$ROOT/packaging/kubernetes
EXAMPLES=$ROOT/examples
start_sandbox --nodes 1

# The manifest files of packaging/kubernetes/ and its directories, as -f
# arguments: those defining namespaces first, so that the others find them.
PACKAGING_ARGS=()
LATER=()
for file in "$PACKAGING"/*.yaml "$PACKAGING"/*.yml "$PACKAGING"/*.json \
  "$PACKAGING"/*/*.yaml "$PACKAGING"/*/*.yml "$PACKAGING"/*/*.json; do
  [[ -f $file ]] || continue
  [[ $(basename "$file") == kustomization.* ]] && continue
  if grep -Eq '^kind: *Namespace *$|"kind": *"Namespace"' "$file"; then
    PACKAGING_ARGS+=(-f "$file")
  else
    LATER+=(-f "$file")
  fi
done
PACKAGING_ARGS+=("${LATER[@]}")
((${#PACKAGING_ARGS[@]} > 0)) || fail "no manifests in $PACKAGING"
# The directories kubectl apply -k takes.
KUSTOMIZATIONS=()
for dir in "$PACKAGING" "$PACKAGING"/*/; do
  dir=${dir%/}
  [[ -f $dir/kustomization.yaml || -f $dir/kustomization.yml ]] && KUSTOMIZATIONS+=("$dir")
done
((${#KUSTOMIZATIONS[@]} > 0)) || fail "no kustomization in $PACKAGING"

# Every object the directories define, as kubectl names them ("kind/name" per line).
objects_of() {
  kc apply --dry-run=client -o name "$@" | sort -u
}

# create_namespaces -f FILE...: creates the namespaces the objects live in
# (kubectl apply does not create them), unless the files define them.
create_namespaces() {
  local list
  list=$(kc create --dry-run=client -o json "$@" |
    jq -rs '[.[] | if .kind == "List" then .items[] else . end] |
      ([.[] | select(.kind == "Namespace") | .metadata.name]) as $defined |
      [.[] | select(.kind != "Namespace") | .metadata.namespace // empty] | unique | .[] |
      select(. as $ns | $defined | index($ns) | not)')
  for ns in $list; do
    kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >/dev/null
  done
}

# packaging/kubernetes/ client-side: everything is created, the CRD is established.
create_namespaces "${PACKAGING_ARGS[@]}"
out=$(kc apply "${PACKAGING_ARGS[@]}")
expect_contains "$out" "customresourcedefinition.apiextensions.k8s.io/gpuworkloads.gpuorch.io created" "CRD created"
expect_not_contains "$out" "unchanged" "first client-side apply creates everything"
kc wait --for condition=established --timeout=10s crd/gpuworkloads.gpuorch.io >/dev/null
packaged=$(objects_of "${PACKAGING_ARGS[@]}")
[[ -n $packaged ]] || fail "no objects found in $PACKAGING"
kc get "${PACKAGING_ARGS[@]}" -o name >"$WORK/got" || fail "not every packaged object exists"
expect_eq "$(sort -u "$WORK/got" | wc -l)" "$(wc -l <<<"$packaged")" "every packaged object exists"
out=$(kc apply "${PACKAGING_ARGS[@]}")
expect_not_contains "$out" "configured" "a second client-side apply changes nothing"
expect_not_contains "$out" "created" "a second client-side apply creates nothing"
for dir in "${KUSTOMIZATIONS[@]}"; do
  out=$(kc apply -k "$dir/")
  expect_not_contains "$out" "created" "kubectl apply -k $dir finds everything in place"
  expect_not_contains "$out" "configured" "kubectl apply -k $dir changes nothing"
done

# examples/ client-side: every GPUWorkload created with its defaults.
create_namespaces -f "$EXAMPLES/"
out=$(kc apply -f "$EXAMPLES/")
expect_contains "$out" "gpuworkload.gpuorch.io/llama-finetune created" "examples applied"
example_count=$(objects_of -f "$EXAMPLES/" | wc -l)
expect_eq "$(kc get gw -A --no-headers | wc -l)" "$example_count" "every example is stored"
expect_eq "$(kc get gw -n ml llama-pretrain -o jsonpath='{.spec.schedulingStrategy}')" "LeastLoaded" "schema default"
# (llama-finetune is in two files with different specs, and workloads.yaml
# sets creationTimestamp, which the server keeps: those are "configured"
# again, as on a real cluster.)
out=$(kc apply -f "$EXAMPLES/")
expect_contains "$out" "gpuworkload.gpuorch.io/bert-eval unchanged" "a second client-side apply of examples"
expect_not_contains "$out" "created" "a second client-side apply of examples creates nothing"

# Server-side on top of client-side: kubectl's manager takes the fields over.
out=$(kc apply --server-side "${PACKAGING_ARGS[@]}")
expect_contains "$out" "serverside-applied" "server-side apply of packaging after client-side"
expect_not_contains "$out" "created" "server-side apply of packaging after client-side"
rv_before=$(kc get gw -n ml llama-pretrain -o jsonpath='{.metadata.resourceVersion}')
out=$(kc apply --server-side -f "$EXAMPLES/spot-inference.yaml" -f "$EXAMPLES/minimal.yaml")
expect_contains "$out" "gpuworkload.gpuorch.io/bert-eval serverside-applied" "server-side apply of an example"
managers=$(kc get gw bert-eval -o json --show-managed-fields | jq -r '[.metadata.managedFields[] | .manager + ":" + .operation] | join(" ")')
expect_contains "$managers" "kubectl:Apply" "the server-side apply is recorded"
# A changed value the client-side apply had set: no conflict for kubectl's own
# manager (the last-applied configuration says it set it), as on a real cluster.
sed 's/gpuCount: 1/gpuCount: 2/' "$EXAMPLES/minimal.yaml" >"$WORK/minimal-2.yaml"
kc apply --server-side -f "$WORK/minimal-2.yaml" >/dev/null
expect_eq "$(kc get gw bert-eval -o jsonpath='{.spec.gpuCount}')" "2" "server-side apply took over a client-side field"
# ... while another manager conflicts on it.
sed 's/gpuCount: 1/gpuCount: 3/' "$EXAMPLES/minimal.yaml" >"$WORK/minimal-3.yaml"
expect_fail "another manager conflicts" kc apply --server-side --field-manager=ci -f "$WORK/minimal-3.yaml"
expect_contains "$ERR" 'conflict with "kubectl": .spec.gpuCount' "the conflict names the manager and the field"
expect_eq "$(kc get gw -n ml llama-pretrain -o jsonpath='{.metadata.resourceVersion}')" "$rv_before" "other objects untouched"

# From scratch, server-side only: delete everything, apply again.
kc delete -f "$EXAMPLES/" --ignore-not-found --wait=true >/dev/null
expect_eq "$(kc get gw -A --no-headers 2>/dev/null | wc -l)" "0" "examples deleted"
# (The CRD and namespaces stay: deleting them would take their objects along.)
kc get "${PACKAGING_ARGS[@]}" -o json |
  jq -r '(if .kind == "List" then .items[] else . end) | select(.kind != "CustomResourceDefinition" and .kind != "Namespace") |
    [.metadata.namespace // "", (.kind | ascii_downcase) + "." + ((.apiVersion | split("/")) as $gv | if ($gv | length) == 2 then $gv[0] else "" end), .metadata.name] | join("|")' |
  while IFS='|' read -r ns kind name; do
    kind=${kind%.}
    if [[ -n $ns ]]; then
      kc delete -n "$ns" "$kind" "$name" >/dev/null
    else
      kc delete "$kind" "$name" >/dev/null
    fi
  done
out=$(kc apply --server-side "${PACKAGING_ARGS[@]}")
expect_contains "$out" "serverside-applied" "server-side apply of packaging from scratch"
out=$(kc apply --server-side -f "$EXAMPLES/")
expect_eq "$(kc get gw -A --no-headers | wc -l)" "$example_count" "every example is stored after a server-side apply"
expect_eq "$(kc get gw -n ml llama-pretrain -o json --show-managed-fields | jq -r '.metadata.managedFields[0].manager + ":" + .metadata.managedFields[0].operation')" \
  "kubectl:Apply" "a server-side create is owned by the applier"
kc get "${PACKAGING_ARGS[@]}" -o name >/dev/null || fail "not every packaged object exists after the server-side apply"
for dir in "${KUSTOMIZATIONS[@]}"; do
  out=$(kc apply -k "$dir/" --server-side)
  expect_contains "$out" "serverside-applied" "kubectl apply -k $dir --server-side"
done
stop_sandbox
echo "PASS $TEST_NAME"
