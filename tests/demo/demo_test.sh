#!/usr/bin/env bash
# Runs scripts/demo.sh (README's quick start) with the given gpuorch binary and
# checks it ends as README says: the workloads' table, then the metrics, with
# every workload scheduled at least once and a last-success time.
#
#   tests/demo/demo_test.sh path/to/gpuorch
set -euo pipefail
GPUORCH=${1:?usage: $0 path/to/gpuorch}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

out=$(bash "$ROOT/scripts/demo.sh" "$GPUORCH" 2>&1) || {
  echo "$out"
  echo "FAIL: scripts/demo.sh exited non-zero"
  exit 1
}
echo "$out"
fail() {
  echo "FAIL: $*"
  exit 1
}
grep -Eq '^NAMESPACE +NAME +PHASE +GPUS +NODE' <<<"$out" || fail "no gpuorch get -o wide table"
succeeded=$(grep -Ec '^[a-z-]+ +[a-z0-9-]+ +Succeeded ' <<<"$out" || true)
((succeeded > 0)) || fail "no Succeeded workload in the table"
scheduled=$(sed -n 's/^gpuorch_workloads_scheduled_total \([0-9]*\)$/\1/p' <<<"$out")
[[ -n $scheduled ]] || fail "the metrics do not show gpuorch_workloads_scheduled_total"
((scheduled >= succeeded)) || fail "scheduled_total $scheduled < $succeeded Succeeded workloads"
grep -Eq '^gpuorch_workloads\{phase="Succeeded"\} '"$succeeded"'$' <<<"$out" ||
  fail "gpuorch_workloads{phase=\"Succeeded\"} is not $succeeded"
grep -Eq '^gpuorch_reconcile_last_success_timestamp_seconds [0-9.e+]+$' <<<"$out" ||
  fail "no gpuorch_reconcile_last_success_timestamp_seconds"
echo "PASS: $succeeded workloads Succeeded, scheduled_total $scheduled"
