#!/usr/bin/env bash
# Jobs on the simulated cluster through kubectl: `kubectl create job` (sent
# as protobuf), its pod scheduled, running and completing on a GPU node,
# events, an unschedulable GPU request, and the over-commit counters.
source "$(dirname "$0")/lib.sh"
start_sandbox --nodes 2 --gpus-per-node 8 --gpu-model A100 --price 1.5 --job-duration 1500ms

# Nodes carry the GPU model, price and allocatable GPUs.
expect_eq "$(kc get nodes --no-headers | wc -l)" "2" "two nodes"
expect_eq "$(kc get node gpu-node-00 -o jsonpath='{.metadata.labels.nvidia\.com/gpu\.product}')" "A100" "GPU label"
expect_eq "$(kc get node gpu-node-00 -o jsonpath='{.metadata.labels.gpuorch\.io/cost-per-gpu-hour}')" "1.5" "price label"
expect_eq "$(kc get node gpu-node-00 -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" "8" "allocatable GPUs"

out=$(kc create job hello --image=busybox:1.36 -- echo hi)
expect_eq "$out" "job.batch/hello created" "create job"
eventually "the job's pod runs" 10 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get pods -l job-name=hello --no-headers | grep -q Running"
node=$(kc get pods -l job-name=hello -o jsonpath='{.items[0].spec.nodeName}')
[[ $node == gpu-node-0* ]] || fail "the pod is not on a simulated node: '$node'"
eventually "the job completes" 15 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get job hello -o jsonpath='{.status.conditions[?(@.type==\"Complete\")].status}' | grep -q True"
expect_eq "$(kc get job hello -o jsonpath='{.status.succeeded}')" "1" "job succeeded count"
expect_contains "$(kc get job hello)" "Complete" "job status column"
expect_contains "$(kc get pods -l job-name=hello)" "Completed" "pod status column"
events=$(kc get events)
expect_contains "$events" "SuccessfulCreate" "job controller event"
expect_contains "$events" "Scheduled" "scheduler event"
expect_contains "$events" "Completed" "completion event"
expect_contains "$(kc get events --field-selector involvedObject.name=hello)" "job/hello" "events by field selector"
expect_contains "$(kc describe job hello)" "SuccessfulCreate" "describe shows events"

# A job asking for more GPUs than any node has stays Pending with a reason.
cat >"$WORK/big.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata:
  name: too-big
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        resources:
          limits:
            nvidia.com/gpu: 16
YAML
kc apply -f "$WORK/big.yaml" >/dev/null
eventually "FailedScheduling is reported" 10 bash -c "kubectl --kubeconfig '$KUBECONFIG_FILE' get events --field-selector reason=FailedScheduling | grep -q 'Insufficient nvidia.com/gpu'"
expect_contains "$(kc get pods -l job-name=too-big)" "Pending" "unschedulable pod stays Pending"
expect_eq "$(kc get pods -l job-name=too-big -o jsonpath='{.items[0].status.conditions[0].reason}')" "Unschedulable" "PodScheduled=False"

# Fill the cluster: 4 jobs of 4 GPUs fit on 2x8, the fifth waits.
# The pods run for a minute (annotation) so that they hold their GPUs.
for i in 1 2 3 4 5; do
  sed "s/name: too-big/name: four-$i/; s/nvidia.com\/gpu: 16/nvidia.com\/gpu: 4/;
       s/^    spec:/    metadata:\n      annotations:\n        gpuorch.io\/sandbox-duration: 60s\n    spec:/" \
    "$WORK/big.yaml" >"$WORK/four-$i.yaml"
  kc apply -f "$WORK/four-$i.yaml" >/dev/null
done
eventually "four of five run" 10 bash -c "[ \$(kubectl --kubeconfig '$KUBECONFIG_FILE' get pods -l 'job-name in (four-1,four-2,four-3,four-4,four-5)' --field-selector status.phase=Running --no-headers | wc -l) -eq 4 ]"
sleep 1
running=$(kc get pods -l 'job-name in (four-1,four-2,four-3,four-4,four-5)' --field-selector status.phase=Running --no-headers | wc -l)
expect_eq "$running" "4" "exactly four 4-GPU pods fit on two 8-GPU nodes"
stats=$(sandbox_stats)
expect_eq "$(jq -r .cluster.violations <<<"$stats")" "0" "no over-commit"
checks=$(jq -r .cluster.bindingChecks <<<"$stats")
((checks > 0)) || fail "binding checks were not counted: $stats"
stop_sandbox
echo "PASS $TEST_NAME"
