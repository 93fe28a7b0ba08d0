#!/usr/bin/env bash
# The end-to-end demo on the sandbox (README's quick start): start
# `gpuorch sandbox` with a few GPU nodes, install the GPUWorkload CRD, submit
# the examples, run `gpuorch reconcile` passes until every workload is
# Succeeded or Failed, show `gpuorch get` and the metrics, stop the sandbox.
#
#   scripts/demo.sh [path/to/gpuorch]        (default: build/release/cli/gpuorch)
#
# Uses kubectl for the CRD and the namespaces when it is installed, curl
# otherwise; workloads go in with `gpuorch submit` when the binary has it.
# DEMO_TIMEOUT (seconds, default 120) bounds the reconcile loop.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPUORCH=${1:-$ROOT/build/release/cli/gpuorch}
[[ $GPUORCH == */* ]] || GPUORCH=$(command -v "$GPUORCH")
GPUORCH=$(cd "$(dirname "$GPUORCH")" && pwd)/$(basename "$GPUORCH")
TIMEOUT=${DEMO_TIMEOUT:-120}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpuorch-demo-XXXXXX")
SANDBOX_PID=

cleanup() {
  local status=$?
  if [[ -n $SANDBOX_PID ]] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -TERM "$SANDBOX_PID" 2>/dev/null || true
    wait "$SANDBOX_PID" 2>/dev/null || true
  fi
  if [[ $status != 0 && -f $WORK/sandbox.log ]]; then
    echo "--- sandbox log (last lines)" >&2
    tail -20 "$WORK/sandbox.log" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
die() {
  echo "demo: $*" >&2
  exit 1
}

[[ -x $GPUORCH ]] || die "no gpuorch binary at $GPUORCH (build it: cmake --preset release && cmake --build --preset release --target gpuorch_exe)"
export KUBECONFIG=$WORK/kubeconfig
# gpuorch's flags apply to every command; the kubeconfig is the sandbox's.
g() { "$GPUORCH" --kubeconfig "$KUBECONFIG" "$@"; }

step "starting the sandbox: 2 H100 nodes, 2 A100 nodes, 1 tainted L4 spot node; pods run 2 s"
"$GPUORCH" sandbox --port 0 --kubeconfig-out "$KUBECONFIG" --ready-file "$WORK/ready" \
  --node-pool name=h100,count=2,gpus=8,model=H100,cpu=128,memory=2Ti,price=3.9 \
  --node-pool name=a100,count=2,gpus=4,model=A100,cpu=96,memory=1Ti,price=1.9 \
  --node-pool "name=l4,count=1,gpus=4,model=NVIDIA-L4,cpu=32,memory=128Gi,price=0.6,label=topology.kubernetes.io/zone:eu-west-1b,label=node.kubernetes.io/lifecycle:spot,taint=node.kubernetes.io/lifecycle=spot:NoExecute,taint=nvidia.com/gpu=present:NoSchedule" \
  --job-duration 2s >"$WORK/sandbox.out" 2>"$WORK/sandbox.log" &
SANDBOX_PID=$!
for _ in $(seq 300); do
  [[ -f $WORK/ready ]] && break
  kill -0 "$SANDBOX_PID" 2>/dev/null || die "the sandbox exited before it was ready"
  sleep 0.05
done
[[ -f $WORK/ready ]] || die "the sandbox was not ready within 15 s"
echo "sandbox at $(cat "$WORK/ready"), kubeconfig $KUBECONFIG"

# create_yaml PATH: POSTs the YAML on stdin to the sandbox (without kubectl).
server=$(cat "$WORK/ready")
token=$(sed -n 's/^ *token: *//p' "$KUBECONFIG" | head -1)
sed -n 's/^ *certificate-authority-data: *//p' "$KUBECONFIG" | head -1 | base64 -d >"$WORK/ca.pem"
create_yaml() {
  curl -sS --fail-with-body --cacert "$WORK/ca.pem" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/yaml' --data-binary @- "$server$1" >/dev/null
}

step "installing the GPUWorkload CRD, the examples' namespaces and gpuorch-system (the reconcile Lease)"
namespaces=(gpuorch-system ml inference vision search)
if command -v kubectl >/dev/null; then
  kc() { kubectl --cache-dir "$WORK/kubectl-cache" "$@"; }
  g crd | kc apply -f -
  for ns in "${namespaces[@]}"; do kc create namespace "$ns"; done
else
  command -v curl >/dev/null || die "needs kubectl or curl to install the CRD"
  g crd | create_yaml /apis/apiextensions.k8s.io/v1/customresourcedefinitions
  for ns in "${namespaces[@]}"; do
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$ns" | create_yaml /api/v1/namespaces
    echo "namespace/$ns created"
  done
fi
for _ in $(seq 100); do
  g get -A >/dev/null 2>&1 && break
  sleep 0.1
done

# examples/workloads.yaml is the queue for `gpuorch simulate` (it holds a
# workload too big for any node, on purpose); every other file is submitted.
manifests=()
for f in "$ROOT"/examples/*.yaml "$ROOT"/examples/*.json; do
  [[ $(basename "$f") == workloads.yaml ]] || manifests+=("$f")
done
step "submitting ${#manifests[@]} example manifests"
if "$GPUORCH" --help | grep -qE '^ +submit +'; then
  for f in "${manifests[@]}"; do g submit -f "$f"; done
elif command -v kubectl >/dev/null; then
  for f in "${manifests[@]}"; do kc apply -f "$f"; done
else
  die "needs \`gpuorch submit\` or kubectl to submit the examples"
fi
g get -A

metrics_args=()
if g reconcile --help 2>/dev/null | grep -q -- '--metrics-file'; then
  metrics_args=(--metrics-file "$WORK/gpuorch.prom")
fi
step "reconciling (one pass every second) until every workload is Succeeded or Failed"
deadline=$((SECONDS + TIMEOUT))
pass=0
while :; do
  pass=$((pass + 1))
  g reconcile -A --default-image busybox:1.36 "${metrics_args[@]}" >"$WORK/reconcile.out" 2>"$WORK/reconcile.err" ||
    {
      cat "$WORK/reconcile.err" >&2
      die "reconcile pass $pass failed"
    }
  phases=$(g get -A -o json | jq -r '[.items[] | .status.phase // "New"] | group_by(.) | map("\(.[0])=\(length)") | join(" ")')
  echo "pass $pass: $(tail -1 "$WORK/reconcile.err")"
  if ((${#metrics_args[@]})); then cp "$WORK/gpuorch.prom" "$WORK/pass-$pass.prom"; fi
  echo "        phases: $phases"
  remaining=$(g get -A -o json | jq '[.items[] | select(.status.phase != "Succeeded" and .status.phase != "Failed")] | length')
  [[ $remaining == 0 ]] && break
  ((SECONDS < deadline)) || die "workloads still not terminal after ${TIMEOUT}s"
  sleep 1
done

step "gpuorch get -A -o wide"
g get -A -o wide
if ((${#metrics_args[@]})); then
  step "metrics: the gauges of the last pass (its textfile)"
  grep -E '^gpuorch_(workloads|reconcile_last_success_timestamp_seconds|reconcile_duration_seconds_count)[ {]' \
    "$WORK/gpuorch.prom" || cat "$WORK/gpuorch.prom"
  # Each pass's counters count that pass only (its file replaces the last);
  # summed over the passes they tell the whole run.
  step "metrics: the counters summed over the $pass passes"
  cat "$WORK"/pass-*.prom |
    awk '/^gpuorch_[a-z_]+_total[ {]/ { sum[$1] += $2 } END { for (k in sum) printf "%s %g\n", k, sum[k] }' | sort
fi
step "stopping the sandbox"
kill -TERM "$SANDBOX_PID"
wait "$SANDBOX_PID"
SANDBOX_PID=
echo "done: $pass passes"
