#!/usr/bin/env bash
# --data FILE through kubectl: objects survive a restart, and so does the
# kubeconfig (same CA, serving certificate, token and port), so a client
# configured before the restart keeps working unchanged.
source "$(dirname "$0")/lib.sh"
DATA=$WORK/state.json
start_sandbox --nodes 1 --data "$DATA"

kc create namespace team-a >/dev/null
kc create -f - >/dev/null <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team-a"},"data":{"mode":"fast"}}'
cp "$KUBECONFIG_FILE" "$WORK/before.kubeconfig"
[[ -f $DATA.credentials ]] || fail "no credentials file next to the data file"
expect_eq "$(stat -c %a "$DATA.credentials")" "600" "the credentials file is private"
stop_sandbox

rm -f "$WORK/ready"
start_sandbox --nodes 1 --data "$DATA"
cmp -s "$WORK/before.kubeconfig" "$KUBECONFIG_FILE" || fail "the restarted sandbox wrote a different kubeconfig:
$(diff "$WORK/before.kubeconfig" "$KUBECONFIG_FILE")"
# The kubeconfig from before the restart, with a fresh client cache.
old() { kubectl --kubeconfig "$WORK/before.kubeconfig" --cache-dir "$WORK/cache-old" "$@"; }
expect_eq "$(old get cm settings -n team-a -o jsonpath='{.data.mode}')" "fast" "the old kubeconfig still works"
old patch cm settings -n team-a --type=merge -p '{"data":{"mode":"safe"}}' >/dev/null
expect_eq "$(kc get cm settings -n team-a -o jsonpath='{.data.mode}')" "safe" "writes through the old kubeconfig"
stop_sandbox

# An explicit --token replaces the saved one; the certificate stays.
rm -f "$WORK/ready"
start_sandbox --nodes 1 --data "$DATA" --token new-token-0123456789
expect_fail "the old token is refused" old get cm settings -n team-a
expect_contains "$ERR" "Unauthorized" "401 with the replaced token"
expect_eq "$(kc get cm settings -n team-a -o jsonpath='{.data.mode}')" "safe" "the new kubeconfig works"
stop_sandbox
echo "PASS $TEST_NAME"
