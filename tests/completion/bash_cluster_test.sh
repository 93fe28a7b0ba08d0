#!/usr/bin/env bash
# Dynamic completion in real bash against a real API server (gpuorch
# sandbox): kubeconfig contexts (read offline), namespaces and GPUWorkload
# names (one short request), following --context, -n and --namespace=
# typed earlier on the line. Then the server goes away: completion must offer
# nothing, print nothing, and return at once instead of retrying.
#   bash_cluster_test.sh PATH/TO/gpuorch
set -u
binary=$(realpath "$1")
tmp=$(mktemp -d)
sandbox_pid=
cleanup() {
    if [[ -n $sandbox_pid ]] && kill -0 "$sandbox_pid" 2>/dev/null; then
        kill -TERM "$sandbox_pid"
        wait "$sandbox_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
die() {
    echo "FAIL: $*"
    [[ -f $tmp/sandbox.log ]] && tail -20 "$tmp/sandbox.log"
    exit 1
}
command -v kubectl >/dev/null || die "kubectl is not installed; this test needs the real kubectl"

mkdir -p "$tmp/bin"
ln -s "$binary" "$tmp/bin/gpuorch"
export PATH="$tmp/bin:$PATH"
export KUBECONFIG=$tmp/kubeconfig

"$binary" sandbox --port 0 --nodes 1 --kubeconfig-out "$KUBECONFIG" --ready-file "$tmp/ready" \
    >"$tmp/sandbox.out" 2>"$tmp/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 200); do
    [[ -f $tmp/ready ]] && break
    kill -0 "$sandbox_pid" 2>/dev/null || die "the sandbox exited before it was ready"
    sleep 0.05
done
[[ -f $tmp/ready ]] || die "the sandbox was not ready within 10 s"

kc() { kubectl --cache-dir "$tmp/cache" "$@"; }
sandbox_context=$(kc config current-context)
sandbox_cluster=$(kc config view -o jsonpath='{.contexts[0].context.cluster}')
sandbox_user=$(kc config view -o jsonpath='{.contexts[0].context.user}')
# A second context on the same cluster whose namespace is ml.
kc config set-context team-ml --cluster "$sandbox_cluster" --user "$sandbox_user" --namespace ml >/dev/null
kc create namespace ml >/dev/null
kc create namespace research >/dev/null
"$binary" crd | kc apply -f - >/dev/null
kc wait --for condition=established crd/gpuworkloads.gpuorch.io --timeout=20s >/dev/null ||
    die "the CRD was not established"
workload() {
    printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: %s, namespace: %s}\nspec: {modelName: m, gpuCount: 1}\n' "$1" "$2"
}
{ workload llama-7b default; echo ---; workload llama-70b default; echo ---; workload bert-large ml; } |
    kc create -f - >/dev/null || die "creating the workloads failed"

# shellcheck disable=SC1091
source /usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
source <(gpuorch completion bash)
failures=0
# shellcheck disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/bash_lib.sh"

# Contexts come from the kubeconfig files, offline.
expect "gpuorch --context " "$sandbox_context" team-ml
expect "gpuorch --context t" team-ml
expect "gpuorch --context=t" team-ml
# Namespaces from the cluster.
expect "gpuorch -n " default kube-node-lease kube-public kube-system ml research
expect "gpuorch get -n r" research
expect "gpuorch describe --namespace=m" ml
# Workload names of the namespace the line selects.
expect "gpuorch describe " llama-70b llama-7b
expect "gpuorch describe llama-7" llama-70b llama-7b
expect "gpuorch describe -n ml " bert-large
expect "gpuorch -n research describe "
expect "gpuorch --context team-ml describe " bert-large
expect "gpuorch get llama-7" llama-70b llama-7b
expect "gpuorch delete llama-7" llama-70b llama-7b
expect "gpuorch get -n ml " bert-large
expect "gpuorch -n research get "
expect "gpuorch --context team-ml get " bert-large
expect "gpuorch get --namespace=ml b" bert-large
expect "gpuorch get " llama-70b llama-7b

# Completion writes nothing on stderr (no warnings, no errors), even with -v.
err=$(gpuorch __complete -v 9 describe '' 2>&1 >/dev/null)
[[ -z $err ]] || die "completion wrote on stderr: $err"

# Without a server: nothing offered, at once (no retries with backoff).
kill -TERM "$sandbox_pid"
wait "$sandbox_pid" 2>/dev/null
sandbox_pid=
start=$SECONDS
expect "gpuorch describe "
expect "gpuorch -n "
expect "gpuorch --context " "$sandbox_context" team-ml
((SECONDS - start <= 5)) || die "completion without a server took $((SECONDS - start)) s"

if ((failures > 0)); then
    echo "$failures bash completion check(s) failed"
    exit 1
fi
