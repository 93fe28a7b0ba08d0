#!/usr/bin/env bash
# gpuorch get --watch / --watch-only against the sandbox: the list, then one
# line per change, across cut watch streams and 410 Gone, until Ctrl-C (130).
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 1

g submit --name first --model m --gpus 2 >/dev/null

# waits_for FILE TEXT: until the watching process has printed TEXT.
waits_for() {
  eventually "output '$2'" 15 grep -qF -- "$2" "$1"
}

# Job control, so that the background watcher does not start with SIGINT
# ignored (as non-interactive shells do for asynchronous commands).
set -m
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" get --watch >"$WORK/watch.out" 2>"$WORK/watch.err" &
watcher=$!
set +m
waits_for "$WORK/watch.out" "first"
g submit --name second --model m --gpus 1 >/dev/null
waits_for "$WORK/watch.out" "second"
set_status first '{"phase":"Running","assignedNode":"gpu-9"}'
waits_for "$WORK/watch.out" "gpu-9"
kill -INT "$watcher"
rc=0
wait "$watcher" || rc=$?
expect_eq "$rc" 130 "get --watch ends with 130 on SIGINT"
mapfile -t lines <"$WORK/watch.out"
expect_eq "${#lines[@]}" 4 "header, the listed row, two changes: $(cat "$WORK/watch.out")"
[[ ${lines[0]} =~ ^NAME\ +PHASE\ +GPUS\ +NODE\ +STRATEGY\ +RETRIES\ +AGE$ ]] || fail "header: ${lines[0]}"
[[ ${lines[1]} =~ ^first\ +2\ +LeastLoaded\ +[0-9]+s$ ]] || fail "listed row: ${lines[1]}"
[[ ${lines[2]} =~ ^second\ +1\ +LeastLoaded\ +[0-9]+s$ ]] || fail "added row: ${lines[2]}"
[[ ${lines[3]} =~ ^first\ +Running\ +2\ +gpu-9\ +LeastLoaded\ +[0-9]+s$ ]] || fail "modified row: ${lines[3]}"
expect_eq "$(cat "$WORK/watch.err")" "" "nothing on stderr"

# --watch-only with -o name, one name, across cut streams and 410 Gone.
printf '{"watchCutAfterMilliseconds":300,"watchGoneRate":0.3}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" get second --watch-only -o jsonpath='{.metadata.name}={.status.phase}{"\n"}' >"$WORK/only.out" 2>"$WORK/only.err" &
watcher=$!
sleep 1
set_status second '{"phase":"Scheduled"}'
waits_for "$WORK/only.out" "second=Scheduled"
set_status first '{"phase":"Succeeded"}'
sleep 1.5
set_status second '{"phase":"Running"}'
waits_for "$WORK/only.out" "second=Running"
kill -TERM "$watcher"
rc=0
wait "$watcher" || rc=$?
printf '{}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
expect_eq "$rc" 143 "get --watch-only ends with 143 on SIGTERM"
expect_eq "$(head -1 "$WORK/only.out")" "second=Scheduled" "no list first with --watch-only"
expect_not_contains "$(cat "$WORK/only.out")" "first" "only the named workload"

stop_sandbox
echo "PASS $TEST_NAME"
