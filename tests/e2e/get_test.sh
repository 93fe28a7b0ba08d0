#!/usr/bin/env bash
# gpuorch get against the sandbox with kubectl as the oracle: the table, -A,
# -l, -o wide (the CRD's priority-1 printer columns), --no-headers, -o name,
# -o json and -o yaml (managedFields left out unless --show-managed-fields)
# print what `kubectl get gpuworkloads` prints; -v 8 never shows the token.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 1
kc create namespace ml >/dev/null

g submit --name alpha --model llama-3-8b --gpus 2 --priority 5 --gpu-type H100 -l team=nlp >/dev/null
g submit --name beta --model bert --gpus 1 --strategy BestFit -l team=cv >/dev/null
g -n ml submit --name gamma --model mistral --gpus 4 -l team=nlp >/dev/null
set_status alpha '{"phase":"Running","assignedNode":"gpu-node-07","jobName":"alpha-1","retryCount":1}'

# same_as_kubectl DESCRIPTION "GPUORCH ARGS" "KUBECTL ARGS": both print the
# same, stdout and stderr, byte for byte (the blanks kubectl's tabwriter leaves
# after trailing empty cells too). AGE is computed by each client at its own
# instant, so a second boundary between the two runs is retried.
same_as_kubectl() {
  local what=$1 ours theirs
  for _ in 1 2 3; do
    # shellcheck disable=SC2086 # word splitting of the argument lists is wanted
    ours=$(g $2 2>&1) || true
    # shellcheck disable=SC2086
    theirs=$(kc get gpuworkloads $3 2>&1) || true
    [[ $ours == "$theirs" ]] && return 0
    sleep 0.3
  done
  fail "$what: gpuorch $2 printed
$ours
but kubectl get gpuworkloads $3 printed
$theirs"
}

# delta's last wide columns (PRIORITY 0 is shown; GPU-TYPE, JOB) are empty, and
# so is its label tier: rows that end in padding.
g submit --name delta --model m --gpus 1 -l tier= >/dev/null
trailing_blanks=$(g get -o wide | grep -c ' $') || true
((trailing_blanks > 0)) || fail "no row of get -o wide ends in blanks: the trailing-cell cases test nothing"
same_as_kubectl "trailing empty cells, wide" "get delta -o wide" "delta -o wide"
same_as_kubectl "trailing empty cells, wide without headers" "get beta delta -o wide --no-headers" \
  "beta delta -o wide --no-headers"
same_as_kubectl "trailing empty cells, custom-columns" "get -o custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier" \
  "-o custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier"
g delete delta >/dev/null

same_as_kubectl "table" "get" ""
same_as_kubectl "named objects" "get alpha beta" "alpha beta"
same_as_kubectl "all namespaces" "get -A" "-A"
same_as_kubectl "wide" "get -o wide" "-o wide"
same_as_kubectl "all namespaces, wide" "get -A -o wide" "-A -o wide"
same_as_kubectl "no headers" "get -A --no-headers" "-A --no-headers"
same_as_kubectl "wide without headers" "get -o wide --no-headers" "-o wide --no-headers"
same_as_kubectl "label selector" "get -A -l team=nlp" "-A -l team=nlp"
same_as_kubectl "set-based selector" "get -l team!=nlp,team" "-l team!=nlp,team"
same_as_kubectl "selector matching nothing" "get -l team=none" "-l team=none"
same_as_kubectl "nothing, wide" "get -l team=none -o wide" "-l team=none -o wide"
same_as_kubectl "nothing, -o name" "get -l team=none -o name" "-l team=none -o name"
same_as_kubectl "nothing, -o json" "get -l team=none -o json" "-l team=none -o json"
same_as_kubectl "nothing, -o jsonpath" "get -l team=none -o jsonpath={.items[*].metadata.name}" "-l team=none -o jsonpath={.items[*].metadata.name}"
same_as_kubectl "nothing, custom-columns" "get -A -l team=none -o custom-columns=N:.metadata.name" "-A -l team=none -o custom-columns=N:.metadata.name"
same_as_kubectl "empty namespace" "-n kube-public get" "-n kube-public"
same_as_kubectl "-o name" "get -A -o name" "-A -o name"
same_as_kubectl "-o json of a list" "get -A -o json" "-A -o json"
same_as_kubectl "-o json of one object" "get alpha -o json" "alpha -o json"
same_as_kubectl "-o yaml of a list" "get -l team=nlp -A -o yaml" "-l team=nlp -A -o yaml"
same_as_kubectl "-o yaml of one object" "get alpha -o yaml" "alpha -o yaml"
same_as_kubectl "--show-managed-fields" "get alpha -o json --show-managed-fields" "alpha -o json --show-managed-fields"

# Names exclude a selector and -A, as in kubectl (a usage error, exit 2).
run_g get alpha -l team=nlp
expect_eq "$RC:$ERR" "2:error: name cannot be provided when a selector is specified" "name and selector"
expect_eq "$(kc get gpuworkloads alpha -l team=nlp 2>&1)" "error: name cannot be provided when a selector is specified" "kubectl agrees"
run_g get alpha -A
expect_eq "$RC:$ERR" "2:error: a resource cannot be retrieved by name across all namespaces" "name and -A"
expect_eq "$(kc get gpuworkloads alpha -A 2>&1)" "error: a resource cannot be retrieved by name across all namespaces" "kubectl agrees"

# The same for what submit prints: no managedFields unless asked for.
run_g submit --name delta --model m --gpus 1 -o json
expect_eq "$RC" 0 "submit -o json"
expect_eq "$(jq -c '.metadata | has("managedFields")' <<<"$OUT")" "false" "submit -o json leaves managedFields out"
run_g submit --name epsilon --model m --gpus 1 -o yaml --show-managed-fields
expect_contains "$OUT" "manager: gpuorch" "submit --show-managed-fields keeps them"

# -v 8 logs requests with their headers, the bearer token masked.
token=$(kc config view --raw -o jsonpath='{.users[0].user.token}')
[[ -n $token ]] || fail "the sandbox kubeconfig has no token"
run_g -v 8 get alpha
expect_eq "$RC" 0 "get -v 8"
expect_contains "$ERR" "Authorization: Bearer <masked>" "-v 8 shows the header, masked"
expect_not_contains "$ERR" "$token" "-v 8 never shows the token"

stop_sandbox
echo "PASS $TEST_NAME"
