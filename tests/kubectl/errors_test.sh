#!/usr/bin/env bash
# API semantics and bad input through kubectl: discovery, 409 on a stale
# update, 400 for malformed bodies, 404 for unknown resources, 413 for
# oversized bodies, 401 without the token. None of the failures changes state.
source "$(dirname "$0")/lib.sh"
start_sandbox --nodes 1

# Discovery: kubectl sees the resources and the server version.
out=$(kc api-resources)
for r in pods nodes namespaces events jobs leases customresourcedefinitions; do
  expect_contains "$out" "$r" "api-resources lists $r"
done
expect_contains "$(kc version -o json | jq -r .serverVersion.gitVersion)" "v1.32" "server version"
expect_contains "$(kc get ns)" "kube-system" "kube-system exists"
expect_contains "$(kc get ns)" "default" "default exists"
expect_contains "$(kc get --raw /apis)" "coordination.k8s.io" "/apis"

# A lease, created and updated like leader election does.
cat >"$WORK/lease.yaml" <<'YAML'
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: gpuorch-reconciler
spec:
  holderIdentity: host-a
  leaseDurationSeconds: 15
YAML
kc create -f "$WORK/lease.yaml" >/dev/null
expect_contains "$(kc get lease gpuorch-reconciler)" "host-a" "lease holder column"

# 409: replacing with a stale resourceVersion fails and changes nothing.
kc get lease gpuorch-reconciler -o json >"$WORK/stale.json"
kc patch lease gpuorch-reconciler --type=merge -p '{"spec":{"holderIdentity":"host-b"}}' >/dev/null
jq '.spec.holderIdentity = "host-c"' "$WORK/stale.json" >"$WORK/stale-c.json"
expect_fail "stale update" kc replace -f "$WORK/stale-c.json"
expect_contains "$ERR" "Conflict" "409 reason"
expect_contains "$ERR" "the object has been modified" "409 message"
expect_eq "$(kc get lease gpuorch-reconciler -o jsonpath='{.spec.holderIdentity}')" "host-b" "state after 409"

# A second create of the same name is AlreadyExists.
expect_fail "duplicate create" kc create -f "$WORK/lease.yaml"
expect_contains "$ERR" "AlreadyExists" "409 AlreadyExists"

rv_before=$(kc get leases -o jsonpath='{.metadata.resourceVersion}')

# 400: a malformed body.
printf '{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {' >"$WORK/bad.json"
expect_fail "malformed JSON" kc create --raw /apis/coordination.k8s.io/v1/namespaces/default/leases -f "$WORK/bad.json"
expect_contains "$ERR" "BadRequest" "400 for malformed JSON"

# 404: an unknown resource, and an object that does not exist.
expect_fail "unknown resource" kc get --raw /apis/coordination.k8s.io/v1/namespaces/default/widgets
expect_contains "$ERR" "NotFound" "404 for an unknown resource"
expect_fail "missing object" kc get lease nope
expect_contains "$ERR" 'leases.coordination.k8s.io "nope" not found' "404 message"

# 413: a body over the 3 MiB limit.
head -c 4000000 /dev/zero | tr '\0' 'a' | jq -Rs '{apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: {name: "big", annotations: {blob: .}}}' >"$WORK/big.json"
expect_fail "oversized body" kc create --raw /apis/coordination.k8s.io/v1/namespaces/default/leases -f "$WORK/big.json"
expect_contains "$ERR" "RequestEntityTooLarge" "413 for an oversized body"

# 401: a wrong token.
expect_fail "wrong token" kc --token not-the-token get pods
expect_contains "$ERR" "Unauthorized" "401 without the right token"

# None of the failures above changed anything.
expect_eq "$(kc get leases -o jsonpath='{.metadata.resourceVersion}')" "$rv_before" "resourceVersion unchanged by failed requests"
expect_fail "the oversized object does not exist" kc get lease big

# Fault injection at run time: every lease GET answers 500, then back to normal.
printf '{"errors":[{"verb":"get","resource":"leases","code":500,"rate":1}]}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
expect_fail "injected 500" kc get lease gpuorch-reconciler --request-timeout=5s
expect_contains "$ERR" "injected fault" "injected 500 message"
printf '{}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
kc get lease gpuorch-reconciler >/dev/null

stop_sandbox
echo "PASS $TEST_NAME"
