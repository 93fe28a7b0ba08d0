#!/usr/bin/env bash
# `gpuorch simulate` draws a progress bar on stderr only when stderr is a
# terminal. script(1) (bsdutils) runs it on a pseudo-terminal: there the bar
# must appear, be redrawn in place (carriage returns) and be erased at the end
# (ESC[K) so that the table on stdout starts on a clean line. With stderr a
# file or a pipe not one byte of it may appear.
set -euo pipefail
gpuorch=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v script >/dev/null || fail "script(1) is missing (Debian package bsdutils)"

cat >"$work/nodes.csv" <<'CSV'
sn,cpu_milli,memory_mib,gpu,model
n-0,96000,393216,8,G2
n-1,104000,524288,2,T4
n-2,16000,122880,2,P100
CSV
{
  echo "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
  for i in $(seq 0 2999); do
    echo "p-$i,1000,2048,1,$((100 + i % 900)),,LS,Running,$i,$((i + 50)),$i"
  done
} >"$work/pods.csv"
args=(simulate --mode packing --compare --seeds 1-4 --nodes "$work/nodes.csv" --workloads "$work/pods.csv")

# On a terminal: stdout and stderr both go to the pty, script copies them to its log.
printf -v cmd '%q ' "$gpuorch" "${args[@]}"
script -q -e -c "$cmd" "$work/tty.log" >/dev/null </dev/null || fail "simulate failed on a terminal"
grep -q 'simulating \[#*' "$work/tty.log" || fail "no progress bar on a terminal: $(head -c 300 "$work/tty.log")"
grep -q '100% 20/20 runs' "$work/tty.log" || fail "the bar never reached 100% of 20 runs"
grep -q $'\r' "$work/tty.log" || fail "the bar is not redrawn in place"
grep -q $'\033\\[K' "$work/tty.log" || fail "the bar is not erased at the end"
grep -q 'MinFragmentation' "$work/tty.log" || fail "no result table on a terminal"

# stderr to a file, stdout to a pipe: no bar, no control characters anywhere.
"$gpuorch" "${args[@]}" 2>"$work/stderr" | cat >"$work/stdout"
[[ ! -s $work/stderr ]] || fail "stderr is not empty when it is a file: $(head -c 300 "$work/stderr")"
grep -q 'MinFragmentation' "$work/stdout" || fail "no result table"
if grep -q $'\r\|\033' "$work/stdout"; then fail "control characters on stdout"; fi

# stderr to a pipe, stdout to a terminal: still no bar on stderr.
script -q -e -c "$cmd 2>$(printf '%q' "$work/stderr2")" "$work/tty2.log" >/dev/null </dev/null ||
  fail "simulate failed with stdout on a terminal"
[[ ! -s $work/stderr2 ]] || fail "stderr is not empty when it is a file and stdout a terminal"
if grep -q 'simulating \[' "$work/tty2.log"; then fail "progress bar drawn although stderr is a file"; fi
grep -q 'MinFragmentation' "$work/tty2.log" || fail "no result table with stdout on a terminal"
echo "ok"
