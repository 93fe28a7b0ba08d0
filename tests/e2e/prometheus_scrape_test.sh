#!/usr/bin/env bash
# A real Prometheus (Debian's prometheus, on 127.0.0.1) scrapes the /metrics
# endpoint of `gpuorch reconcile --watch` running against the sandbox and is
# queried back: the target is up, the workloads the loop scheduled are
# counted, the leader gauge and the work queue's metrics are there.
source "$(dirname "$0")/lib.sh"
PROMETHEUS=$(command -v prometheus) || fail "prometheus (Debian package prometheus) is not installed"
LOOP_PID=
PROM_PID=
stop_extra() {
  for pid in $LOOP_PID $PROM_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
# Stops the loop and Prometheus, then lib.sh's cleanup with the script's status.
on_exit() {
  local status=$?
  stop_extra
  (exit "$status")
  cleanup
}
trap on_exit EXIT

start_with_crd --nodes 2 --gpus-per-node 8 --job-duration 300ms --seed 3
kc create namespace gpuorch-system >/dev/null

set -m
"$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" reconcile --watch --workers 2 --default-image busybox \
  --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 >"$WORK/loop.out" 2>"$WORK/loop.err" &
LOOP_PID=$!
set +m
metrics_line() { grep -m1 -E -- '--metrics-addr: serving on 127\.0\.0\.1:[0-9]+' "$WORK/loop.err"; }
eventually "the loop serves /metrics" 15 metrics_line
metrics_port=$(metrics_line | sed -E 's/.*serving on 127\.0\.0\.1:([0-9]+).*/\1/')

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gpuorch
    static_configs:
      - targets: ['127.0.0.1:$metrics_port']
YAML
# A random loopback port; another try if it was taken.
for _ in 1 2 3 4 5; do
  prom_port=$((20000 + RANDOM % 40000))
  "$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  ready() { curl -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1; }
  for _ in $(seq 100); do
    ready && break
    kill -0 "$PROM_PID" 2>/dev/null || break
    sleep 0.1
  done
  ready && break
  kill -TERM "$PROM_PID" 2>/dev/null || true
  wait "$PROM_PID" 2>/dev/null || true
  PROM_PID=
done
[[ -n $PROM_PID ]] || fail "prometheus did not start: $(tail -5 "$WORK/prometheus.log")"

for i in 1 2 3 4 5; do
  g submit --name "w-$i" --model m --gpus 2 >/dev/null
done
all_succeeded() {
  [[ $(kc get gpuworkloads -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Succeeded$') == 5 ]]
}
eventually "every workload Succeeded" 60 all_succeeded

# query EXPR: the values of the instant vector, one per line.
query() {
  curl -fsS -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    jq -r 'select(.status == "success") | .data.result[].value[1]'
}
expect_value() {
  local expr=$1 want=$2
  for _ in $(seq 150); do
    [[ $(query "$expr" 2>/dev/null) == "$want" ]] && return 0
    sleep 0.2
  done
  fail "Prometheus: $expr gave '$(query "$expr" 2>&1)', want '$want'; $(tail -3 "$WORK/prometheus.log")"
}
expect_value 'up{job="gpuorch"}' 1
expect_value 'gpuorch_workloads_scheduled_total{job="gpuorch"}' 5
expect_value 'gpuorch_workloads{job="gpuorch",phase="Succeeded"}' 5
expect_value 'gpuorch_leader_election_master_status{job="gpuorch"}' 1
expect_value 'count(gpuorch_workqueue_depth{job="gpuorch"}) > 0' 1
expect_value 'gpuorch_reconcile_last_success_timestamp_seconds{job="gpuorch"} > 0' \
  "$(query 'gpuorch_reconcile_last_success_timestamp_seconds{job="gpuorch"}')"

# Once the loop is gone, the scrape fails: up == 0.
kill -TERM "$LOOP_PID"
wait "$LOOP_PID" || fail "reconcile --watch did not exit 0 on SIGTERM: $(tail -5 "$WORK/loop.err")"
LOOP_PID=
expect_value 'up{job="gpuorch"}' 0

stop_sandbox
echo "PASS $TEST_NAME"
