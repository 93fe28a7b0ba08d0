#!/usr/bin/env bash
# gpuorch as a kubectl plugin, for real: a `kubectl-gpuorch` link on PATH is
# found by kubectl, which runs it with the words after `gpuorch`. Usage text
# and error hints must then say `kubectl gpuorch ...`, and the plugin talks to
# the cluster of the KUBECONFIG that kubectl was given through the environment.
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/bin"
ln -s "$(realpath "$GPUORCH")" "$WORK/bin/kubectl-gpuorch"
export PATH="$WORK/bin:$PATH"

# kubectl discovers the plugin on PATH.
out=$(kubectl plugin list 2>&1 || true)
expect_contains "$out" "$WORK/bin/kubectl-gpuorch" "kubectl plugin list"

# version runs through kubectl and prints the same as the binary itself.
expect_eq "$(kubectl gpuorch version)" "$("$GPUORCH" version)" "kubectl gpuorch version"
expect_eq "$(kubectl gpuorch version -o json | jq -r .version)" "$("$GPUORCH" version -o json | jq -r .version)" \
  "kubectl gpuorch version -o json"

# --help names the command as typed.
out=$(kubectl gpuorch --help)
expect_contains "$out" "Usage: kubectl gpuorch [OPTIONS] COMMAND" "root usage line"
expect_not_contains "$out" "Usage: gpuorch" "root usage line of the plain binary"
out=$(kubectl gpuorch get --help)
expect_contains "$out" "Usage: kubectl gpuorch get [OPTIONS]" "get usage line"

# Errors: the hint and the exit status (2) come through kubectl unchanged.
rc=0
ERR=$(kubectl gpuorch version --bogus 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "2" "exit status of a usage error"
expect_contains "$ERR" "error: unknown flag: --bogus" "usage error"
expect_contains "$ERR" "Run 'kubectl gpuorch version --help' for usage." "usage hint"
rc=0
ERR=$(kubectl gpuorch frobnicate 2>&1 >/dev/null) || rc=$?
expect_eq "$rc" "2" "exit status of an unknown command"
expect_contains "$ERR" "unknown command \"frobnicate\" for \"kubectl gpuorch\"" "unknown command"

# kubectl's own completion (kubectl __complete, what its shell scripts call)
# asks kubectl_complete-gpuorch for the words after `kubectl gpuorch`.
ln -s "$(realpath "$GPUORCH")" "$WORK/bin/kubectl_complete-gpuorch"
out=$(kubectl __complete gpuorch ver 2>/dev/null)
expect_contains "$out" $'version\tPrint the gpuorch version' "kubectl completes the plugin's commands"
expect_eq "$(tail -1 <<<"$out")" ":4" "cobra directive: no file completion"
out=$(kubectl __complete gpuorch version -o '' 2>/dev/null)
expect_eq "$out" $'json\nyaml\n:4' "kubectl completes the plugin's flag values"
out=$(kubectl __complete gpuorch simulate --nodes '' 2>/dev/null)
expect_eq "$(tail -1 <<<"$out")" ":0" "file arguments: cobra's default (files)"

# Against a cluster: kubectl passes its environment (KUBECONFIG) to the plugin.
start_sandbox --nodes 1
"$GPUORCH" crd | kc apply -f - >/dev/null
kc wait --for condition=established crd/gpuworkloads.gpuorch.io --timeout=20s >/dev/null
cat >"$WORK/w.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  name: plugin-demo
spec:
  modelName: tiny
  gpuCount: 1
YAML
kc create -f "$WORK/w.yaml" >/dev/null
out=$(KUBECONFIG=$KUBECONFIG_FILE kubectl gpuorch get -o name)
expect_eq "$out" "gpuworkload.gpuorch.io/plugin-demo" "kubectl gpuorch get against the sandbox"
out=$(KUBECONFIG=$KUBECONFIG_FILE kubectl __complete gpuorch get plu 2>/dev/null)
expect_eq "$out" $'plugin-demo\n:4' "kubectl completes workload names through the plugin"
echo "ok: kubectl plugin"
