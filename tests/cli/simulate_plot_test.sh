#!/usr/bin/env bash
# `gpuorch simulate --plot`: the SVG is well-formed, has a line per strategy,
# and renders with rsvg-convert (librsvg2-bin) in both packing and replay mode.
set -euo pipefail
gpuorch=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$work/nodes.csv" <<'CSV'
sn,cpu_milli,memory_mib,gpu,model
n-0,96000,393216,8,G2
n-1,104000,524288,2,T4
n-2,16000,122880,2,P100
CSV
cat >"$work/pods.csv" <<'CSV'
name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p-0,3152,12288,1,810,,LS,Running,0,100,0
p-1,11300,24576,1,1000,,LS,Running,10,200,10
p-2,8000,16384,1,470,,LS,Running,20,300,20
p-3,32000,65536,2,1000,,LS,Running,30,900,30
CSV

check_svg() {
  local svg=$1 lines=$2
  [[ -s $svg ]] || fail "$svg is empty"
  head -c 100 "$svg" | grep -q '^<?xml version="1.0"' || fail "$svg: no XML declaration"
  grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$svg" || fail "$svg: no svg root"
  [[ $(tail -n 1 "$svg") == "</svg>" ]] || fail "$svg: not closed"
  local got
  got=$(grep -c '<polyline' "$svg")
  [[ $got == "$lines" ]] || fail "$svg: expected $lines lines, got $got"
  # rsvg-convert refuses malformed XML; the PNG must have the SVG's size.
  rsvg-convert -o "$svg.png" "$svg" || fail "$svg: rsvg-convert failed"
  [[ $(head -c 8 "$svg.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$svg: not a PNG"
  [[ $(stat -c %s "$svg.png") -gt 10000 ]] || fail "$svg: PNG suspiciously small"
}

"$gpuorch" simulate --mode packing --compare --seeds 1-2 --nodes "$work/nodes.csv" --workloads "$work/pods.csv" \
  --plot "$work/packing.svg" >/dev/null
check_svg "$work/packing.svg" 10   # 5 strategies x (unallocated, fragmentation)

"$gpuorch" simulate --mode replay --strategy BestFit --strategy Random --nodes "$work/nodes.csv" \
  --workloads "$work/pods.csv" --plot "$work/replay.svg" >/dev/null
check_svg "$work/replay.svg" 4     # 2 strategies x (utilisation, queue)

# A plot that cannot be written is an error (exit 1), not a silent success.
if "$gpuorch" simulate --mode packing --nodes "$work/nodes.csv" --workloads "$work/pods.csv" \
  --plot "$work/missing-dir/p.svg" >/dev/null 2>"$work/err"; then
  fail "writing into a missing directory succeeded"
fi
grep -q "cannot write" "$work/err" || fail "unexpected error: $(cat "$work/err")"
echo "ok"
