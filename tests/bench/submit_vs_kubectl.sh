#!/usr/bin/env bash
# `gpuorch submit -f x.yaml` against `kubectl create -f x.yaml`, the same
# manifest against the same `gpuorch sandbox`, in one hyperfine run that
# alternates the two commands in blocks (A B A B ...), so that both see the
# same machine load. Prints hyperfine's table and the ratio of the medians
# over all runs. Not a ctest test: run by hand, record in docs/benchmarks.md.
#
#   tests/bench/submit_vs_kubectl.sh build/release/cli/gpuorch [runs-per-block] [blocks]
set -euo pipefail
GPUORCH=$(realpath "${1:?usage: $0 path/to/gpuorch [runs-per-block] [blocks]}")
RUNS=${2:-20}
BLOCKS=${3:-5}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is not installed" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpuorch-bench-XXXXXX")
SANDBOX_PID=
cleanup() {
  if [[ -n $SANDBOX_PID ]]; then
    kill -TERM "$SANDBOX_PID" 2>/dev/null || true
    wait "$SANDBOX_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$GPUORCH" sandbox --port 0 --nodes 4 --kubeconfig-out "$WORK/kubeconfig" --ready-file "$WORK/ready" \
  >"$WORK/sandbox.out" 2>"$WORK/sandbox.log" &
SANDBOX_PID=$!
for _ in $(seq 200); do
  [[ -f $WORK/ready ]] && break
  sleep 0.05
done
[[ -f $WORK/ready ]] || { echo "the sandbox did not start" >&2; exit 1; }
export KUBECONFIG=$WORK/kubeconfig
kc() { kubectl --cache-dir "$WORK/cache" "$@"; }
"$GPUORCH" crd | kc apply -f - >/dev/null
until kc get gpuworkloads >/dev/null 2>&1; do sleep 0.1; done

# generateName: every run creates a new object, so neither tool hits AlreadyExists.
cat >"$WORK/x.yaml" <<'YAML'
apiVersion: gpuorch.io/v1alpha1
kind: GPUWorkload
metadata:
  generateName: bench-
spec:
  modelName: llama-3-8b
  gpuCount: 2
  priority: 10
  schedulingStrategy: BestFit
  resources: {cpu: "4", memory: 16Gi}
YAML

gpuorch_cmd="$GPUORCH submit -f $WORK/x.yaml"
# kubectl with a warm discovery cache (the warm-up runs fill it), as on a workstation.
kubectl_cmd="kubectl --cache-dir $WORK/cache create -f $WORK/x.yaml"
args=()
for _ in $(seq "$BLOCKS"); do
  args+=("$gpuorch_cmd" "$kubectl_cmd")
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/result.json" "${args[@]}" >&2

# Medians over every run of each command, across all blocks.
jq -r --arg g "$gpuorch_cmd" --arg k "$kubectl_cmd" '
  def median: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  ([.results[] | select(.command == $g) | .times[]] | median) as $gm |
  ([.results[] | select(.command == $k) | .times[]] | median) as $km |
  "gpuorch submit -f: median \($gm * 1000 | . * 100 | round / 100) ms over \([.results[] | select(.command == $g) | .times[]] | length) runs\n" +
  "kubectl create -f: median \($km * 1000 | . * 100 | round / 100) ms over \([.results[] | select(.command == $k) | .times[]] | length) runs\n" +
  "ratio (kubectl / gpuorch): \($km / $gm | . * 10 | round / 10)x"' "$WORK/result.json"
echo "objects created: $(kc get gpuworkloads -o name | wc -l)" >&2
