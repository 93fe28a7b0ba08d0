#!/usr/bin/env bash
# The Kubernetes manifests in packaging/kubernetes apply to the sandbox with
# kubectl, file by file and through the kustomizations (base/ with cronjob/ or
# deployment/ on top, client-side and server-side), and read back with exactly
# the settings docs/operations.md promises. Every flag the CronJob and the
# Deployment pass to gpuorch is one `gpuorch reconcile` has.
source "$(dirname "$0")/lib.sh"
PKG=$(cd "$(dirname "$0")/../../packaging/kubernetes" && pwd)
start_sandbox --nodes 1

# Namespace first, then the rest, like a user would with plain files.
out=$(kc apply -f "$PKG/base/crd.yaml" -f "$PKG/base/namespace.yaml")
expect_contains "$out" "customresourcedefinition.apiextensions.k8s.io/gpuworkloads.gpuorch.io created" "CRD"
expect_contains "$out" "namespace/gpuorch-system created" "namespace"
out=$(kc apply -f "$PKG/base/rbac.yaml" -f "$PKG/cronjob/cronjob.yaml")
for created in "serviceaccount/gpuorch-reconciler created" \
  "clusterrole.rbac.authorization.k8s.io/gpuorch-reconciler created" \
  "clusterrolebinding.rbac.authorization.k8s.io/gpuorch-reconciler created" \
  "role.rbac.authorization.k8s.io/gpuorch-reconciler-lease created" \
  "rolebinding.rbac.authorization.k8s.io/gpuorch-reconciler-lease created" \
  "cronjob.batch/gpuorch-reconcile created"; do
  expect_contains "$out" "$created" "apply"
done

# The CronJob composition is the same objects: applying it changes nothing.
out=$(kc apply -k "$PKG/cronjob")
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

# check_flags WHAT ARGS...: every --flag in ARGS is one `gpuorch reconcile` has.
check_flags() {
  local what=$1 help arg flag
  shift
  help=$("$GPUORCH" reconcile --help)
  for arg in "$@"; do
    [[ $arg == --* ]] || continue
    flag=${arg%%=*}
    grep -Eq -- "(^|[ ,])$flag( |$)" <<<"$help" || fail "$what passes $flag, which gpuorch reconcile does not have"
  done
}
mapfile -t cronjob_args < <(q "$c.args[]")
expect_eq "${cronjob_args[0]}" "reconcile" "the CronJob runs gpuorch reconcile"
check_flags "the CronJob" "${cronjob_args[@]}"
# The same for every CronJob args line docs/operations.md quotes (the textfile
# variant), and the real parser accepts both with their values: `--dry-run`
# reads the cluster and writes, pushes and creates nothing.
doc_args=$(sed -n 's/^ *args: \[\(reconcile,.*\)\]$/\1/p' "$PKG/../../docs/operations.md" | tr -d ',')
[[ -n $doc_args ]] || fail "docs/operations.md quotes no CronJob args"
while read -r line; do
  read -ra words <<<"$line"
  check_flags "docs/operations.md's CronJob" "${words[@]}"
  out=$("$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" "${words[@]}" --dry-run 2>&1) || fail "gpuorch $line: $out"
done <<<"$doc_args"
out=$("$GPUORCH" --kubeconfig "$KUBECONFIG_FILE" "${cronjob_args[@]}" --dry-run 2>&1) ||
  fail "gpuorch ${cronjob_args[*]}: $out"

# The Deployment composition: the base is unchanged, the Deployment and its
# Service are added beside the CronJob's objects.
out=$(kc apply -k "$PKG/deployment")
expect_contains "$out" "deployment.apps/gpuorch-controller created" "Deployment"
expect_contains "$out" "service/gpuorch-controller-metrics created" "metrics Service"
expect_eq "$(grep -c unchanged <<<"$out")" "7" "the base's objects are unchanged"

# check_deployment: the Deployment and the Service as docs/operations.md describes them.
check_deployment() {
  local d
  d=$(kc -n gpuorch-system get deployment gpuorch-controller -o json)
  q() { jq -r "$1" <<<"$d"; }
  expect_eq "$(q .spec.replicas)" "2" "replicas"
  expect_eq "$(q .spec.strategy.rollingUpdate.maxUnavailable)" "0" "a standby stays during a rollout"
  local pod='.spec.template.spec' c='.spec.template.spec.containers[0]'
  expect_eq "$(q "$pod.serviceAccountName")" "gpuorch-reconciler" "Deployment serviceAccountName"
  expect_eq "$(q "$pod.terminationGracePeriodSeconds")" "30" "terminationGracePeriodSeconds"
  expect_eq "$(q "$pod.securityContext.runAsNonRoot")/$(q "$pod.securityContext.runAsUser")" "true/65532" \
    "Deployment pod securityContext"
  expect_eq "$(q "$pod.securityContext.seccompProfile.type")" "RuntimeDefault" "seccomp profile"
  expect_eq "$(q "$c.securityContext.readOnlyRootFilesystem")" "true" "Deployment readOnlyRootFilesystem"
  expect_eq "$(q "$c.securityContext.allowPrivilegeEscalation")" "false" "Deployment allowPrivilegeEscalation"
  expect_eq "$(q "$c.securityContext.capabilities.drop | join(\",\")")" "ALL" "Deployment capabilities drop"
  expect_eq "$(q "$c.resources.requests.cpu")/$(q "$c.resources.requests.memory")" "100m/128Mi" "Deployment requests"
  expect_eq "$(q "$c.resources.limits.cpu")/$(q "$c.resources.limits.memory")" "1/512Mi" "Deployment limits"
  expect_eq "$(q "$c.image")" "ghcr.io/OWNER/gpuorch:VERSION" "Deployment image placeholder"
  expect_eq "$(q "$c.env[] | select(.name == \"POD_NAME\") | .valueFrom.fieldRef.fieldPath")" "metadata.name" \
    "POD_NAME from the downward API"
  expect_eq "$(q "[$c.ports[] | \"\(.name)=\(.containerPort)\"] | join(\" \")")" "metrics=8080 health=8081" "ports"
  expect_eq "$(q "$c.livenessProbe.httpGet.path") $(q "$c.livenessProbe.httpGet.port")" "/healthz health" "liveness probe"
  expect_eq "$(q "$c.readinessProbe.httpGet.path") $(q "$c.readinessProbe.httpGet.port")" "/readyz health" "readiness probe"
  local args
  args=$(q "$c.args | join(\" \")")
  expect_contains "$args" "reconcile --watch --all-namespaces --leader-elect" "Deployment args"
  expect_contains "$args" "--metrics-addr=:8080 --health-addr=:8081" "Deployment endpoint addresses"
  # The selector matches the pod template, and the Service finds those pods by
  # the same labels and the metrics port by name.
  expect_eq "$(q '.spec.selector.matchLabels as $s | .spec.template.metadata.labels as $l |
    [$s | to_entries[] | $l[.key] == .value] | all')" "true" "the Deployment's selector matches its pods"
  local selector
  selector=$(jq -cS .spec.selector.matchLabels <<<"$d")
  local svc
  svc=$(kc -n gpuorch-system get service gpuorch-controller-metrics -o json)
  expect_eq "$(jq -cS .spec.selector <<<"$svc")" "$selector" "the Service selects the Deployment's pods"
  expect_eq "$(jq -r '.spec.ports[0] | "\(.name) \(.port) \(.targetPort)"' <<<"$svc")" "metrics 8080 metrics" "Service port"
  expect_eq "$(jq -r '.metadata.annotations["prometheus.io/scrape"]' <<<"$svc")" "true" "scrape annotation"
}
check_deployment
mapfile -t deployment_args < <(kc -n gpuorch-system get deployment gpuorch-controller -o json |
  jq -r '.spec.template.spec.containers[0].args[]')
expect_eq "${deployment_args[0]}" "reconcile" "the Deployment runs gpuorch reconcile"
check_flags "the Deployment" "${deployment_args[@]}"

# Deleting through the CronJob composition removes everything it created.
kc delete -k "$PKG/cronjob" --ignore-not-found --wait=false >/dev/null
eventually "the CronJob is gone" 10 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache' -n gpuorch-system get cronjob gpuorch-reconcile"
expect_fail "the ClusterRole is gone" kc get clusterrole gpuorch-reconciler
eventually "the namespace is gone" 20 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache' get namespace gpuorch-system"

# The Deployment composition from scratch, server-side.
out=$(kc apply -k "$PKG/deployment" --server-side)
expect_eq "$(grep -c serverside-applied <<<"$out")" "9" "every object of the Deployment composition is applied server-side"
check_deployment
out=$(kc apply -k "$PKG/deployment" --server-side)
expect_eq "$(grep -c serverside-applied <<<"$out")" "9" "a second server-side apply"
expect_eq "$(kc -n gpuorch-system get deployment gpuorch-controller -o json --show-managed-fields |
  jq -r '.metadata.managedFields[0].manager + ":" + .metadata.managedFields[0].operation')" "kubectl:Apply" \
  "the server-side apply is recorded"
kc delete -k "$PKG/deployment" --ignore-not-found --wait=false >/dev/null
eventually "the Deployment is gone" 20 bash -c "! kubectl --kubeconfig '$KUBECONFIG_FILE' --cache-dir '$WORK/cache' -n gpuorch-system get deployment gpuorch-controller"
stop_sandbox
echo "PASS ($TEST_NAME)"
