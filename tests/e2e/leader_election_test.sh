#!/usr/bin/env bash
# Leader election with real processes against the sandbox: two replicas of
# `gpuorch reconcile --watch --leader-elect` with client-go's default timing
# (15 s lease, 10 s renew deadline, 2 s retry). One leads and reconciles, the
# other stands by (ready, not leading). The leader is killed with SIGKILL: the
# standby takes over once the lease has run out, not before. The new leader
# gets SIGTERM: it releases the Lease and exits 0, and a third replica takes
# over at once. Takeover times are printed (docs/reliability.md quotes them),
# and the time from a takeover to the new leader's first Job (its standby
# caches are warm: docs/benchmarks.md). Last, another process takes the Lease
# from a leader: it exits 1 and leaves the Lease alone.
source "$(dirname "$0")/lib.sh"
# GPUORCH_E2E_LE_NODES: more nodes make the takeover-to-first-Job time show
# what a cold start would list (docs/benchmarks.md); 2 by default.
start_with_crd --nodes "${GPUORCH_E2E_LE_NODES:-2}" --gpus-per-node 8 --job-duration 1h
kc create namespace gpuorch-system >/dev/null

declare -A PID METRICS HEALTH

# start_replica NAME: a replica with POD_NAME=NAME (its identity) and both
# endpoints on free loopback ports, read back from its log.
start_replica() {
  local name=$1
  set -m  # job control: the replica must not start with SIGINT/SIGTERM ignored
  POD_NAME=$name "$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" reconcile --watch -A --leader-elect \
    --default-image busybox --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID[$name]=$!
  set +m
  eventually "$name serves its endpoints" 15 grep -q -- "--health-addr: serving on" "$WORK/$name.err"
  METRICS[$name]=$(sed -n 's/.*--metrics-addr: serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/$name.err" | head -1)
  HEALTH[$name]=$(sed -n 's/.*--health-addr: serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/$name.err" | head -1)
  [[ -n ${METRICS[$name]} && -n ${HEALTH[$name]} ]] || fail "$name: no ports in its log: $(cat "$WORK/$name.err")"
}

holder() {
  kc -n gpuorch-system get lease gpuorch-reconciler -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
holder_is() { [[ $(holder) == "$1" ]]; }
# http PORT PATH: the status code and body of a GET.
http() { curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$1$2" || true; }
leader_gauge() {
  curl -s "http://127.0.0.1:${METRICS[$1]}/metrics" |
    sed -n 's/^gpuorch_leader_election_master_status{name="gpuorch-reconciler"} //p'
}
has_job() { [[ -n $(kc get jobs -l "gpuorch.io/workload=$1" -o name 2>/dev/null) ]]; }
ready() { [[ $(http "${HEALTH[$1]}" /readyz) == 200 ]]; }
now_ms() { date +%s%3N; }

start_replica a
eventually "a leads" 15 holder_is a
start_replica b
eventually "b is ready (a standby is ready)" 15 ready b
eventually "a is ready (caches synced)" 15 ready a
expect_eq "$(leader_gauge a)" "1" "a's leader gauge"
expect_eq "$(leader_gauge b)" "0" "b's leader gauge"
expect_eq "$(http "${HEALTH[b]}" /healthz)" "200" "b is alive"
expect_eq "$(http "${HEALTH[a]}" '/readyz?verbose')" "200" "a's verbose readyz"
expect_contains "$(cat "$WORK/body")" "[+]informers ok" "a's readiness checks"

# The leader reconciles, the standby does not.
g submit --name first --model m --gpus 2 >/dev/null
eventually "first has a Job" 15 has_job first
scheduled_by() {
  curl -s "http://127.0.0.1:${METRICS[$1]}/metrics" | sed -n 's/^gpuorch_workloads_scheduled_total //p'
}
expect_eq "$(scheduled_by a)" "1" "a scheduled first"
expect_eq "$(scheduled_by b)" "0" "b, standing by, has scheduled nothing"
# A warm standby: its caches follow the cluster, its queue holds the key.
synced_on() {
  curl -s "http://127.0.0.1:${METRICS[$1]}/metrics" | grep -c '^gpuorch_informer_synced{resource="[a-z]*"} 1$'
}
all_synced() { [[ $(synced_on "$1") == 4 ]]; }
eventually "b's four informers are synced while it stands by" 15 all_synced b
expect_eq "$(http "${HEALTH[b]}" '/healthz?verbose')" "200" "b's liveness"
expect_contains "$(cat "$WORK/body")" "[+]watch-loop ok" "b's liveness checks"

# SIGKILL the leader: b takes over after the lease duration, not before.
kill -KILL "${PID[a]}"
killed=$(now_ms)
wait "${PID[a]}" 2>/dev/null || true
# Submitted while nobody leads: the new leader's first Job (from warm caches).
g submit --name second --model m --gpus 2 >/dev/null
until holder_is b; do
  (($(now_ms) - killed < 30000)) || fail "b did not take over within 30 s: $(tail -5 "$WORK/b.err")"
  sleep 0.1
done
takeover=$(($(now_ms) - killed))
echo "takeover after SIGKILL of the leader: ${takeover} ms (lease duration 15 s, retry period 2 s)"
((takeover >= 12000)) || fail "b took over ${takeover} ms after the kill: before the lease could have expired"
((takeover <= 20500)) || fail "b took over ${takeover} ms after the kill: later than lease duration + 2 retry periods"
took=$(now_ms)
until has_job second; do
  (($(now_ms) - took < 15000)) || fail "second has no Job 15 s after b took over: $(tail -5 "$WORK/b.err")"
  sleep 0.02
done
echo "takeover to the new leader's first Job: $(($(now_ms) - took)) ms"
eventually "b's leader gauge" 5 bash -c "[[ \$(curl -s http://127.0.0.1:${METRICS[b]}/metrics | grep -c '^gpuorch_leader_election_master_status{name=\"gpuorch-reconciler\"} 1') == 1 ]]"
expect_eq "$(kc get jobs -l gpuorch.io/workload=first -o name | wc -l)" "1" "b adopted first's Job instead of creating another"

# SIGTERM the leader with a standby waiting: it releases, c takes over at once.
start_replica c
eventually "c is ready" 15 ready c
kill -TERM "${PID[b]}"
termed=$(now_ms)
rc=0
wait "${PID[b]}" || rc=$?
expect_eq "$rc" "0" "b exits 0 on SIGTERM: $(tail -3 "$WORK/b.err")"
exited=$(($(now_ms) - termed))
until holder_is c; do
  (($(now_ms) - termed < 10000)) || fail "c did not take over within 10 s of b's SIGTERM: $(tail -5 "$WORK/c.err")"
  sleep 0.1
done
takeover=$(($(now_ms) - termed))
echo "takeover after SIGTERM of the leader: ${takeover} ms (b exited after ${exited} ms)"
((takeover <= 5000)) || fail "c took ${takeover} ms after a release: it waited for the lease to expire"
g submit --name third --model m --gpus 2 >/dev/null
eventually "third has a Job (c reconciles)" 15 has_job third

# The last replica's SIGTERM leaves the Lease free.
kill -TERM "${PID[c]}"
rc=0
wait "${PID[c]}" || rc=$?
expect_eq "$rc" "0" "c exits 0 on SIGTERM"
expect_eq "$(holder)" "" "the Lease is released"

# Leadership lost: another process takes the Lease under d. d notices at its
# next renewal, stops its workers, exits 1, and leaves the other's Lease alone.
start_replica d
eventually "d leads" 15 holder_is d
eventually "d is ready" 15 ready d
kc -n gpuorch-system patch lease gpuorch-reconciler --type merge -p \
  "{\"spec\":{\"holderIdentity\":\"intruder\",\"leaseDurationSeconds\":60,\"renewTime\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)\"}}" >/dev/null
taken=$(now_ms)
rc=0
wait "${PID[d]}" || rc=$?
expect_eq "$rc" "1" "d exits 1 once it lost the Lease: $(tail -3 "$WORK/d.err")"
lost_after=$(($(now_ms) - taken))
((lost_after <= 10000)) || fail "d took ${lost_after} ms to notice it lost the Lease (retry period 2 s)"
expect_contains "$(cat "$WORK/d.err")" "lost the lease" "d says why it stopped"
expect_eq "$(holder)" "intruder" "d did not release or overwrite the Lease it lost"
stop_sandbox
echo "PASS $TEST_NAME"
