#!/usr/bin/env bash
# The Kubernetes manifests in packaging/kubernetes (CRD, namespace, RBAC,
# CronJob) apply to the sandbox with kubectl, individually and through the
# kustomization, and read back with exactly the settings docs/operations.md
# promises.
source "$(dirname "$0")/lib.sh"
PKG=$(cd "$(dirname "$0")/../../packaging/kubernetes" && pwd)
start_sandbox --nodes 1

# Namespace first, then the rest, like a user would with plain files.
out=$(kc apply -f "$PKG/crd.yaml" -f "$PKG/namespace.yaml")
expect_contains "$out" "customresourcedefinition.apiextensions.k8s.io/gpuworkloads.gpuorch.io created" "CRD"
expect_contains "$out" "namespace/gpuorch-system created" "namespace"
out=$(kc apply -f "$PKG/rbac.yaml" -f "$PKG/cronjob.yaml")
for created in "serviceaccount/gpuorch-reconciler created" \
  "clusterrole.rbac.authorization.k8s.io/gpuorch-reconciler created" \
  "clusterrolebinding.rbac.authorization.k8s.io/gpuorch-reconciler created" \
  "role.rbac.authorization.k8s.io/gpuorch-reconciler-lease created" \
  "rolebinding.rbac.authorization.k8s.io/gpuorch-reconciler-lease created" \
  "cronjob.batch/gpuorch-reconcile created"; do
  expect_contains "$out" "$created" "apply"
done

# The kustomization composes the same objects: applying it changes nothing.
out=$(kc apply -k "$PKG")
expect_not_contains "$out" "created" "kustomization re-apply"
expect_not_contains "$out" "configured" "kustomization re-apply"
expect_eq "$(grep -c unchanged <<<"$out")" "8" "every object of the kustomization is unchanged"

# ClusterRole: exactly these rules (group, resources, verbs), nothing more.
rules=$(kc get clusterrole gpuorch-reconciler -o json |
  jq -r '.rules[] | "\(.apiGroups | join(",")) \(.resources | join(",")) \(.verbs | join(","))"')
expected='gpuorch.io gpuworkloads get,list,watch,update,patch
gpuorch.io gpuworkloads/status update,patch
gpuorch.io gpuworkloads/finalizers update
batch jobs get,list,watch,create,delete
 pods get,list,watch
 nodes get,list,watch
 events create,patch,update,get,list'
expect_eq "$rules" "$expected" "ClusterRole rules"

# The Lease Role lives in gpuorch-system and allows only get/create/update.
rules=$(kc -n gpuorch-system get role gpuorch-reconciler-lease -o json |
  jq -r '.rules[] | "\(.apiGroups | join(",")) \(.resources | join(",")) \(.verbs | join(","))"')
expect_eq "$rules" "coordination.k8s.io leases get,create,update" "Lease Role rules"

# Both bindings name the ServiceAccount and their role.
for binding in "clusterrolebinding gpuorch-reconciler" "-n gpuorch-system rolebinding gpuorch-reconciler-lease"; do
  # shellcheck disable=SC2086
  out=$(kc get $binding -o json | jq -r '"\(.roleRef.kind)/\(.roleRef.name) \(.subjects[0].kind)/\(.subjects[0].namespace)/\(.subjects[0].name)"')
  expect_contains "$out" "ServiceAccount/gpuorch-system/gpuorch-reconciler" "$binding subject"
done
expect_eq "$(kc get clusterrolebinding gpuorch-reconciler -o jsonpath='{.roleRef.kind}/{.roleRef.name}')" \
  "ClusterRole/gpuorch-reconciler" "ClusterRoleBinding roleRef"
expect_eq "$(kc -n gpuorch-system get sa gpuorch-reconciler -o jsonpath='{.metadata.name}')" "gpuorch-reconciler" \
  "ServiceAccount"

# CronJob: schedule policy, deadlines, the pod's security settings, limits, args.
cj=$(kc -n gpuorch-system get cronjob gpuorch-reconcile -o json)
q() { jq -r "$1" <<<"$cj"; }
expect_eq "$(q .spec.concurrencyPolicy)" "Forbid" "concurrencyPolicy"
expect_eq "$(q .spec.startingDeadlineSeconds)" "30" "startingDeadlineSeconds"
expect_eq "$(q .spec.jobTemplate.spec.activeDeadlineSeconds)" "55" "activeDeadlineSeconds"
expect_eq "$(q .spec.jobTemplate.spec.backoffLimit)" "0" "backoffLimit"
pod='.spec.jobTemplate.spec.template.spec'
expect_eq "$(q "$pod.restartPolicy")" "Never" "restartPolicy"
expect_eq "$(q "$pod.serviceAccountName")" "gpuorch-reconciler" "serviceAccountName"
expect_eq "$(q "$pod.securityContext.runAsNonRoot")/$(q "$pod.securityContext.runAsUser")" "true/65532" "pod securityContext"
c="$pod.containers[0]"
expect_eq "$(q "$c.securityContext.readOnlyRootFilesystem")" "true" "readOnlyRootFilesystem"
expect_eq "$(q "$c.securityContext.allowPrivilegeEscalation")" "false" "allowPrivilegeEscalation"
expect_eq "$(q "$c.securityContext.capabilities.drop | join(\",\")")" "ALL" "capabilities drop"
expect_eq "$(q "$c.securityContext.runAsUser")" "65532" "container runAsUser"
expect_eq "$(q "$c.resources.limits.cpu")/$(q "$c.resources.limits.memory")" "1/512Mi" "resource limits"
expect_eq "$(q "$c.image")" "ghcr.io/OWNER/gpuorch:VERSION" "image placeholder"
args=$(q "$c.args | join(\" \")")
expect_contains "$args" "reconcile --all-namespaces" "reconcile -A"
expect_contains "$args" "--pushgateway=" "metrics output"
expect_contains "$args" "--max-duration=45s" "a pass ends before activeDeadlineSeconds"

# activeDeadlineSeconds fits in the schedule's period (every minute).
expect_eq "$(q .spec.schedule)" "* * * * *" "schedule"
(($(q .spec.jobTemplate.spec.activeDeadlineSeconds) < 60)) || fail "activeDeadlineSeconds exceeds the period"

# Deleting through the kustomization removes everything it created.
kc delete -k "$PKG" --ignore-not-found --wait=false >/dev/null
eventually "the CronJob is gone" 10 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache' -n gpuorch-system get cronjob gpuorch-reconcile"
expect_fail "the ClusterRole is gone" kc get clusterrole gpuorch-reconciler
stop_sandbox
echo "PASS ($TEST_NAME)"
