#!/usr/bin/env bash
# gpuorch install / uninstall against the sandbox: the embedded manifests agree
# with kubectl kustomize of packaging/kubernetes, server-side apply with the
# field manager gpuorch, --schedule and --image, idempotence, dry runs, the
# refusal to delete the CRD under existing GPUWorkloads, --keep-crd, --force
# (Jobs, then the finalizer), the deletion order, and a mode switch pruning the
# other mode's reconciler.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
start_sandbox --nodes 1

# kubectl's canonical JSON of a manifest stream, objects sorted by kind and name.
canonical() {
  kc create --dry-run=client -o json -f "$1" | jq -S -s '[.[] | if .kind == "List" then .items[] else . end] | sort_by(.kind, .metadata.name)'
}

# --print is what kubectl kustomize builds from the same files.
for mode in cronjob deployment; do
  run_g install --print --mode "$mode"
  expect_eq "$RC" 0 "install --print --mode $mode: $ERR"
  printf '%s\n' "$OUT" >"$WORK/print-$mode.yaml"
  kubectl kustomize "$SRC/packaging/kubernetes/$mode" >"$WORK/kustomize-$mode.yaml" || fail "kubectl kustomize for $mode"
  canonical "$WORK/print-$mode.yaml" >"$WORK/a.json"
  canonical "$WORK/kustomize-$mode.yaml" >"$WORK/b.json"
  diff -u "$WORK/b.json" "$WORK/a.json" >"$WORK/diff" || fail "install --print --mode $mode differs from kubectl kustomize:
$(head -40 "$WORK/diff")"
done

# Bad input: exit 2, nothing sent.
run_g install --mode sidecar --image x
expect_eq "$RC" 2 "unknown mode"
run_g install --schedule '*/5 * * *' --image x
expect_eq "$RC:$ERR" '2:error: --schedule "*/5 * * *": expected exactly 5 fields, found 4: */5 * * *' "bad schedule"
run_g install
expect_eq "$RC" 2 "no --image"
expect_contains "$ERR" "--image is required" "no --image"
expect_fail "nothing was applied by the failures" kc get namespace gpuorch-system

# The real install.
run_g install --image registry.example/gpuorch:test --schedule '*/5 * * * *'
expect_eq "$RC" 0 "install: $ERR"
expect_eq "$(head -1 <<<"$OUT")" "namespace/gpuorch-system serverside-applied" "the namespace goes first"
expect_contains "$OUT" "customresourcedefinition.apiextensions.k8s.io/gpuworkloads.gpuorch.io serverside-applied" "CRD line"
expect_eq "$(tail -1 <<<"$OUT")" "cronjob.batch/gpuorch-reconcile serverside-applied" "the CronJob goes last"
expect_eq "$(kc get crd gpuworkloads.gpuorch.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" True "CRD Established"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.spec.schedule}')" '*/5 * * * *' "schedule"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.spec.jobTemplate.spec.template.spec.containers[*].image}')" \
  registry.example/gpuorch:test "image"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.metadata.managedFields[*].manager}')" gpuorch "field manager"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.metadata.managedFields[*].operation}')" Apply "apply operation"
kc -n gpuorch-system get serviceaccount gpuorch-reconciler >/dev/null || fail "no ServiceAccount"
kc get clusterrolebinding gpuorch-reconciler >/dev/null || fail "no ClusterRoleBinding"
# Again: the same objects, nothing changes.
rv=$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.metadata.resourceVersion}')
run_g install --image registry.example/gpuorch:test --schedule '*/5 * * * *'
expect_eq "$RC" 0 "second install: $ERR"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.metadata.resourceVersion}')" "$rv" "an unchanged apply writes nothing"

# A server dry run of a change stores nothing.
run_g install --image registry.example/gpuorch:other --schedule '@hourly' --dry-run=server
expect_eq "$RC" 0 "install --dry-run=server: $ERR"
expect_contains "$OUT" "cronjob.batch/gpuorch-reconcile serverside-applied (server dry run)" "server dry run output"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.spec.schedule}')" '*/5 * * * *' \
  "the server dry run changed nothing"

# A workload with the finalizer and a Job of its own keeps the CRD in place.
g submit --name w1 --model m --gpus 1 >/dev/null || fail "submit w1"
kc patch gpuworkload w1 --type=merge -p '{"metadata":{"finalizers":["gpuorch.io/cleanup"]}}' >/dev/null
kc create job w1-0 --image=busybox -- true >/dev/null
kc label job w1-0 gpuorch.io/workload=w1 >/dev/null
run_g uninstall
expect_eq "$RC" 1 "uninstall with a workload"
expect_contains "$ERR" "1 GPUWorkload still exists (default/w1)" "the refusal names the workload"
expect_contains "$ERR" "Nothing was removed." "the refusal removes nothing"
kc -n gpuorch-system get cronjob gpuorch-reconcile >/dev/null || fail "the refusal removed the CronJob"

# Client dry run: the list, nothing deleted.
run_g uninstall --force --dry-run
expect_eq "$RC" 0 "uninstall --force --dry-run: $ERR"
expect_contains "$OUT" 'gpuworkload.gpuorch.io "w1" deleted (dry run)' "dry run names the workload"
expect_contains "$OUT" 'job.batch "w1-0" deleted (dry run)' "dry run names its Job"
kc get gpuworkload w1 >/dev/null || fail "the dry run deleted the workload"

# --keep-crd: the reconciler and RBAC go, the CRD and the workload stay.
run_g uninstall --keep-crd
expect_eq "$RC" 0 "uninstall --keep-crd: $ERR"
expect_not_contains "$OUT" customresourcedefinition "--keep-crd keeps the CRD"
expect_eq "$(tail -1 <<<"$OUT")" 'namespace "gpuorch-system" deleted' "the namespace goes last"
expect_fail "the CronJob is gone" kc -n gpuorch-system get cronjob gpuorch-reconcile
expect_fail "the namespace is gone" kc get namespace gpuorch-system
kc get gpuworkload w1 >/dev/null || fail "--keep-crd deleted the workload"

# --force: the workload's Job, then its finalizer, then the CRD.
run_g install --image registry.example/gpuorch:test
expect_eq "$RC" 0 "reinstall: $ERR"
run_g uninstall --force
expect_eq "$RC" 0 "uninstall --force: $ERR"
expect_eq "$(head -1 <<<"$OUT")" 'cronjob.batch "gpuorch-reconcile" deleted' "the reconciler goes first"
expect_contains "$OUT" 'gpuworkload.gpuorch.io "w1" deleted
job.batch "w1-0" deleted
customresourcedefinition.apiextensions.k8s.io "gpuworkloads.gpuorch.io" deleted' "workload, Job, then the CRD"
expect_eq "$(tail -1 <<<"$OUT")" 'namespace "gpuorch-system" deleted' "the namespace goes last"
expect_fail "the CRD is gone" kc get crd gpuworkloads.gpuorch.io
expect_fail "the Job is gone" kc get job w1-0
expect_fail "the ClusterRole is gone" kc get clusterrole gpuorch-reconciler

# The Deployment mode: the watch loop and its Service instead of the CronJob.
run_g install --mode deployment --image registry.example/gpuorch:test
expect_eq "$RC" 0 "install --mode deployment: $ERR"
expect_eq "$(tail -1 <<<"$OUT")" "deployment.apps/gpuorch-controller serverside-applied" "the Deployment goes last"
expect_eq "$(kc -n gpuorch-system get deployment gpuorch-controller -o jsonpath='{.spec.template.spec.containers[*].image}')" \
  registry.example/gpuorch:test "Deployment image"
expect_fail "no CronJob in deployment mode" kc -n gpuorch-system get cronjob gpuorch-reconcile
run_g uninstall
expect_eq "$RC" 0 "uninstall of the deployment mode: $ERR"
expect_eq "$(head -1 <<<"$OUT")" 'deployment.apps "gpuorch-controller" deleted' "the Deployment goes first"
expect_fail "the Deployment is gone" kc -n gpuorch-system get deployment gpuorch-controller
expect_fail "the CRD is gone" kc get crd gpuworkloads.gpuorch.io

# Objects applied before with kubectl apply -k belong to kubectl's field
# manager: a different image is a conflict, named, with the way out; nothing
# after that object is applied. --force-conflicts takes the fields over.
kc apply -k "$SRC/packaging/kubernetes/cronjob" >/dev/null || fail "kubectl apply -k cronjob"
run_g install --image registry.example/gpuorch:test
expect_eq "$RC" 1 "install over kubectl's fields"
expect_contains "$ERR" 'error: applying cronjob.batch/gpuorch-reconcile:' "the conflicting object is named"
expect_contains "$ERR" 'conflict with "kubectl-client-side-apply"' "the other manager is named"
expect_contains "$ERR" "Re-run with --force-conflicts to take them over." "the way out"
run_g install --image registry.example/gpuorch:test --force-conflicts
expect_eq "$RC" 0 "install --force-conflicts: $ERR"
expect_eq "$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o jsonpath='{.spec.jobTemplate.spec.template.spec.containers[*].image}')" \
  registry.example/gpuorch:test "the image taken over"
run_g uninstall
expect_eq "$RC" 0 "uninstall after the takeover: $ERR"

# A mode switch prunes the other mode's reconciler (only gpuorch's, labelled
# app.kubernetes.io/part-of=gpuorch), after applying the new one; dry runs show it.
run_g install --image registry.example/gpuorch:test
expect_eq "$RC" 0 "install before the switch: $ERR"
run_g install --mode deployment --image registry.example/gpuorch:test --dry-run
expect_eq "$RC" 0 "client dry run of the switch: $ERR"
expect_contains "$ERR" "note: the install also prunes cronjob.batch/gpuorch-reconcile where it exists" "client dry run names the prune"
run_g install --mode deployment --image registry.example/gpuorch:test --dry-run=server
expect_eq "$RC" 0 "server dry run of the switch: $ERR"
expect_eq "$(tail -1 <<<"$OUT")" "cronjob.batch/gpuorch-reconcile pruned (server dry run)" "server dry run of the prune"
kc -n gpuorch-system get cronjob gpuorch-reconcile >/dev/null || fail "the server dry run pruned the CronJob"
expect_fail "the server dry run stored no Deployment" kc -n gpuorch-system get deployment gpuorch-controller
run_g install --mode deployment --image registry.example/gpuorch:test
expect_eq "$RC" 0 "switch to the deployment mode: $ERR"
expect_eq "$(tail -2 <<<"$OUT")" "deployment.apps/gpuorch-controller serverside-applied
cronjob.batch/gpuorch-reconcile pruned" "the Deployment is applied, then the CronJob pruned"
expect_fail "the CronJob is gone after the switch" kc -n gpuorch-system get cronjob gpuorch-reconcile
kc -n gpuorch-system get deployment gpuorch-controller >/dev/null || fail "no Deployment after the switch"
run_g install --mode deployment --image registry.example/gpuorch:test
expect_not_contains "$OUT" pruned "nothing to prune the second time"
run_g install --print --mode cronjob -o name
expect_contains "$ERR" "gpuorch install --mode cronjob also prunes deployment.apps/gpuorch-controller, service/gpuorch-controller-metrics" "--print names the prune"
run_g install --image registry.example/gpuorch:test
expect_eq "$RC" 0 "switch back to the cronjob mode: $ERR"
expect_eq "$(tail -2 <<<"$OUT")" "deployment.apps/gpuorch-controller pruned
service/gpuorch-controller-metrics pruned" "the Deployment, then its Service pruned"
expect_fail "the Deployment is gone after the switch back" kc -n gpuorch-system get deployment gpuorch-controller
expect_fail "the Service is gone after the switch back" kc -n gpuorch-system get service gpuorch-controller-metrics
kc -n gpuorch-system get cronjob gpuorch-reconcile >/dev/null || fail "no CronJob after the switch back"
# A Deployment of that name that is not gpuorch's stays, with a warning.
cat >"$WORK/foreign.json" <<'JSON'
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "gpuorch-controller", "namespace": "gpuorch-system", "labels": {"app": "other"}},
 "spec": {"selector": {"matchLabels": {"app": "other"}},
          "template": {"metadata": {"labels": {"app": "other"}},
                       "spec": {"containers": [{"name": "c", "image": "registry.example/other:1"}]}}}}
JSON
kc create -f "$WORK/foreign.json" >/dev/null || fail "kubectl create of a foreign Deployment"
run_g install --image registry.example/gpuorch:test
expect_eq "$RC" 0 "install beside a foreign Deployment: $ERR"
expect_contains "$ERR" "warning: deployment.apps/gpuorch-controller exists without the label app.kubernetes.io/part-of=gpuorch: not gpuorch's, left in place" "the foreign Deployment is named"
kc -n gpuorch-system get deployment gpuorch-controller >/dev/null || fail "the foreign Deployment was deleted"
kc -n gpuorch-system delete deployment gpuorch-controller >/dev/null
run_g uninstall
expect_eq "$RC" 0 "uninstall after the switches: $ERR"

# Nothing left: says so, exit 0.
run_g uninstall
expect_eq "$RC:$OUT" "0:" "uninstall of nothing"
expect_contains "$ERR" "gpuorch is not installed" "uninstall of nothing"
echo "ok"
