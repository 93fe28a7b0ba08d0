#!/usr/bin/env bash
# gpuorch reconcile --watch as a process against the sandbox: workloads
# submitted over time (some fail and retry, one cannot fit until capacity
# frees) all end Succeeded or Failed with the retries their policy allows,
# one Job per attempt; SIGTERM (and SIGINT) stop the loop with exit 0 within seconds;
# /healthz fails after --healthz-stall-timeout of stuck workers.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 2 --gpus-per-node 8 --job-duration 700ms --failure-rate 0.3 --seed 7
kc create namespace gpuorch-system >/dev/null

# Job control, so that the background loop does not start with SIGINT
# ignored (as non-interactive shells do for asynchronous commands).
set -m
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" reconcile --watch --workers 3 --default-image busybox \
  --kube-api-qps 200 --kube-api-burst 200 --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 \
  >"$WORK/loop.out" 2>"$WORK/loop.err" &
loop=$!
set +m
eventually "the loop holds the Lease" 15 grep -q "acquired lease gpuorch-system/gpuorch-reconciler" "$WORK/loop.err"

# Two waves, the second while the first runs; w-big needs all of one node.
for i in $(seq 0 11); do
  g submit --name "w-$i" --model m --gpus $((i % 4 + 1)) --retries 2 --backoff 1 --max-backoff 2 >/dev/null
done
g submit --name w-big --model m --gpus 8 --retries 2 --backoff 1 --max-backoff 2 >/dev/null
sleep 1
for i in $(seq 12 23); do
  g submit --name "w-$i" --model m --gpus $((i % 3 + 1)) --retries 2 --backoff 1 --max-backoff 2 >/dev/null
  sleep 0.1
done

all_terminal() {
  local phases
  phases=$(kc get gpuworkloads -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')
  [[ $(grep -cE '^(Succeeded|Failed)$' <<<"$phases") == 25 ]]
}
eventually "every workload is Succeeded or Failed" 120 all_terminal

# Retries as the policy says, and exactly one Job per attempt.
kc get gpuworkloads -o json >"$WORK/workloads.json"
kc get jobs -l gpuorch.io/workload -o json >"$WORK/jobs.json"
problems=$(jq -r --slurpfile jobs "$WORK/jobs.json" '
  .items[] | . as $w
  | ([$jobs[0].items[] | select(.metadata.labels["gpuorch.io/workload"] == $w.metadata.name)] | length) as $n
  | select(($w.status.phase == "Failed" and $w.status.retryCount != 2)
           or ($w.status.retryCount > 2)
           or ($n != $w.status.retryCount + 1))
  | "\($w.metadata.name): \($w.status.phase) retryCount \($w.status.retryCount) with \($n) Jobs"' "$WORK/workloads.json")
expect_eq "$problems" "" "retries and Jobs per workload"
retried=$(jq '[.items[] | select(.status.retryCount > 0)] | length' "$WORK/workloads.json")
((retried > 0)) || fail "no workload was retried: the test did not test retries (failure rate 0.3)"
stats=$(sandbox_stats)
expect_eq "$(jq .cluster.violations <<<"$stats")" 0 "no over-committed node"
expect_eq "$(jq .cluster.unschedulable <<<"$stats")" 0 "no pod the scheduler could not place"

# A workload deleted while the loop runs is cleaned up (finalizer after Jobs).
g submit --name late --model m --gpus 1 >/dev/null
eventually "late has a Job" 20 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache' get jobs -l gpuorch.io/workload=late -o name | grep -q ."
kc delete gpuworkload late --wait=false >/dev/null
gone() { ! kc get gpuworkload late >/dev/null 2>&1; }
eventually "late is deleted" 20 gone
no_jobs() { [[ -z $(kc get jobs -l gpuorch.io/workload=late -o name) ]]; }
eventually "late's Jobs are gone" 20 no_jobs

started=$SECONDS
kill -TERM "$loop"
rc=0
wait "$loop" || rc=$?
expect_eq "$rc" 0 "reconcile --watch exits 0 on SIGTERM: $(tail -5 "$WORK/loop.err")"
((SECONDS - started <= 10)) || fail "SIGTERM took $((SECONDS - started)) s"
expect_contains "$(cat "$WORK/loop.err")" "watch loop stopped:" "the summary"
# The Lease is released: a one-shot pass takes it at once.
run_g reconcile --default-image busybox
expect_eq "$RC" 0 "a pass after the loop: $ERR"
expect_not_contains "$ERR" "is held by" "the loop released the Lease"

# SIGINT (Ctrl-C on a workstation) drains the same way: exit 0, Lease released.
set -m
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" reconcile --watch --default-image busybox \
  --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 >"$WORK/loop2.out" 2>"$WORK/loop2.err" &
loop=$!
set +m
eventually "the second loop holds the Lease" 15 grep -q "acquired lease gpuorch-system/gpuorch-reconciler" "$WORK/loop2.err"
# The probes the Deployment uses, on the process itself: alive, and ready once its caches are synced.
health=$(sed -n 's/.*--health-addr: serving on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$WORK/loop2.err")
[[ -n $health ]] || fail "no --health-addr line: $(cat "$WORK/loop2.err")"
expect_eq "$(curl -s -w ' %{http_code}' "http://$health/healthz")" "ok 200" "/healthz"
eventually "/readyz answers 200" 15 curl -sf "http://$health/readyz"
expect_contains "$(curl -s "http://$health/readyz?verbose")" "[+]informers ok" "/readyz checks the informers"
started=$SECONDS
kill -INT "$loop"
rc=0
wait "$loop" || rc=$?
expect_eq "$rc" 0 "reconcile --watch exits 0 on SIGINT: $(tail -5 "$WORK/loop2.err")"
((SECONDS - started <= 10)) || fail "SIGINT took $((SECONDS - started)) s"
expect_contains "$(cat "$WORK/loop2.err")" "released lease gpuorch-system/gpuorch-reconciler" "SIGINT releases the Lease"
expect_eq "$(kc -n gpuorch-system get lease gpuorch-reconciler -o jsonpath='{.spec.holderIdentity}')" "" "no holder after SIGINT"

# --healthz-stall-timeout: with every API request held up 5 s, the one worker
# sits in a request while workloads wait ready, and /healthz fails after the
# 2 s limit (the default of 2 minutes would keep it passing); it passes again
# once the requests are quick. No Lease: a 5 s renewal would risk losing it.
set -m
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" reconcile --watch --default-image busybox --workers 1 \
  --leader-elect=false --healthz-stall-timeout 2s \
  --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 >"$WORK/loop3.out" 2>"$WORK/loop3.err" &
loop=$!
set +m
eventually "the third loop serves /health" 15 grep -q -- "--health-addr: serving on" "$WORK/loop3.err"
health=$(sed -n 's/.*--health-addr: serving on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$WORK/loop3.err")
eventually "the third loop is ready" 15 curl -sf "http://$health/readyz"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$health/healthz")" 200 "/healthz before the stall"
printf '{"latencyMilliseconds":5000}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
submitters=()
for i in 1 2 3; do
  g submit --name "stall-$i" --model m --gpus 1 >/dev/null &
  submitters+=($!)
done
unhealthy() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$health/healthz") == 500 ]]; }
eventually "/healthz fails while the worker is stuck" 40 unhealthy
expect_contains "$(curl -s "http://$health/healthz?verbose")" "[-]watch-loop failed" "the watch-loop check names the stall"
printf '{}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
wait "${submitters[@]}" || fail "a submit during the latency failed"
eventually "/healthz passes again once requests are quick" 60 curl -sf "http://$health/healthz"
kill -TERM "$loop"
rc=0
wait "$loop" || rc=$?
expect_eq "$rc" 0 "the third loop exits 0 on SIGTERM: $(tail -5 "$WORK/loop3.err")"

stop_sandbox
echo "PASS $TEST_NAME"
