#!/usr/bin/env bash
# Exec credential plugins end to end: the real gpuorch binary spawns a real
# plugin (argv, no shell; a relative command resolved against the kubeconfig's
# directory), gives it KUBERNETES_EXEC_INFO and exec.env, and authenticates to
# the sandbox with the token it returns: v1 and v1beta1, the credential cached
# for the process, and a rejected token refreshed and the request retried once.
source "$(dirname "$0")/lib.sh"
start_with_crd --nodes 1

server=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.server}')
ca_data=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
token=$(kc config view --raw -o jsonpath='{.users[0].user.token}')
[[ -n $token && -n $ca_data ]] || fail "the sandbox kubeconfig lacks a token or CA"

# The plugin: records its input and arguments, answers with the token of
# $WORK/answers (one line per run; the last line repeats).
mkdir -p "$WORK/kc/bin"
cat >"$WORK/kc/bin/token-plugin" <<'SH'
#!/bin/sh
state=$PLUGIN_STATE
runs=$(($(cat "$state/runs" 2>/dev/null || echo 0) + 1))
echo "$runs" >"$state/runs"
printf '%s\n' "$KUBERNETES_EXEC_INFO" >"$state/info.$runs"
printf '%s\n' "$@" >"$state/args.$runs"
tok=$(sed -n "${runs}p" "$state/answers")
[ -n "$tok" ] || tok=$(tail -n 1 "$state/answers")
api=$(printf '%s' "$KUBERNETES_EXEC_INFO" | jq -r .apiVersion)
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}\n' "$api" "$tok"
SH
chmod +x "$WORK/kc/bin/token-plugin"

# write_kubeconfig API_VERSION EXTRA_EXEC_YAML
write_kubeconfig() {
  cat >"$WORK/kc/config" <<YAML
apiVersion: v1
kind: Config
current-context: plug
clusters:
- name: sandbox
  cluster: {server: "$server", certificate-authority-data: "$ca_data"}
users:
- name: plugged
  user:
    exec:
      apiVersion: $1
      command: ./bin/token-plugin
      args: ["--audience", "a b; touch $WORK/pwned"]
      env: [{name: PLUGIN_STATE, value: "$WORK/state"}]
$2
contexts:
- name: plug
  context: {cluster: sandbox, user: plugged}
YAML
  rm -rf "$WORK/state"
  mkdir -p "$WORK/state"
}

# v1: interactiveMode Never, cluster info provided.
write_kubeconfig client.authentication.k8s.io/v1 "      interactiveMode: Never
      provideClusterInfo: true"
echo "$token" >"$WORK/state/answers"
out=$("$GPUORCH" --kubeconfig "$WORK/kc/config" submit --name viaexec --model m --gpus 1 </dev/null 2>&1) ||
  fail "submit with a v1 exec plugin: $out"
expect_eq "$out" "gpuworkload.gpuorch.io/viaexec created" "v1 plugin: submit"
info=$(cat "$WORK/state/info.1")
expect_eq "$(jq -c '[.apiVersion, .kind, .spec.interactive, .spec.cluster.server]' <<<"$info")" \
  "[\"client.authentication.k8s.io/v1\",\"ExecCredential\",false,\"$server\"]" "v1 KUBERNETES_EXEC_INFO"
expect_eq "$(jq -r '.spec.cluster["certificate-authority-data"]' <<<"$info")" "$ca_data" "cluster CA in the input"
expect_eq "$(cat "$WORK/state/args.1")" $'--audience\na b; touch '"$WORK/pwned" "argv passed as is"
[[ ! -e $WORK/pwned ]] || fail "the plugin's arguments went through a shell"

# One process, several requests: the plugin runs once (cached until expiry).
rm -f "$WORK/state/runs"
printf 'apiVersion: gpuorch.io/v1alpha1\nkind: GPUWorkload\nmetadata: {name: c%s}\nspec: {modelName: m, gpuCount: 1}\n---\n' 1 2 3 |
  "$GPUORCH" --kubeconfig "$WORK/kc/config" submit -f - >/dev/null 2>"$WORK/err" || fail "submit -f: $(cat "$WORK/err")"
expect_eq "$(cat "$WORK/state/runs")" "1" "credential cached across the requests of one process"

# A token the server rejects: 401, the plugin runs again, the request is retried once.
rm -f "$WORK/state/runs"
printf 'expired-token\n%s\n' "$token" >"$WORK/state/answers"
out=$("$GPUORCH" --kubeconfig "$WORK/kc/config" get viaexec -o name </dev/null 2>&1) || fail "refresh on 401: $out"
expect_eq "$out" "gpuworkload.gpuorch.io/viaexec" "refreshed after 401"
expect_eq "$(cat "$WORK/state/runs")" "2" "the plugin ran again after the 401"

# Still rejected after the refresh: Unauthorized naming the user and context, no retry loop.
rm -f "$WORK/state/runs"
echo "never-valid" >"$WORK/state/answers"
rc=0
out=$("$GPUORCH" --kubeconfig "$WORK/kc/config" get viaexec </dev/null 2>&1) || rc=$?
expect_eq "$rc" 1 "rejected plugin token exit"
expect_contains "$out" "Error from server (Unauthorized)" "rejected plugin token message"
expect_contains "$out" 'user "plugged" in context "plug"' "rejected plugin token names user and context"
expect_not_contains "$out" "never-valid" "the token is not printed"
expect_eq "$(cat "$WORK/state/runs")" "2" "one refresh, not a loop"

# v1beta1 without interactiveMode (client-go defaults it to IfAvailable).
write_kubeconfig client.authentication.k8s.io/v1beta1 ""
echo "$token" >"$WORK/state/answers"
out=$("$GPUORCH" --kubeconfig "$WORK/kc/config" get viaexec -o name </dev/null 2>&1) || fail "v1beta1 plugin: $out"
expect_eq "$out" "gpuworkload.gpuorch.io/viaexec" "v1beta1 plugin"
expect_eq "$(jq -c '[.apiVersion, .spec.interactive, (.spec | has("cluster"))]' "$WORK/state/info.1")" \
  '["client.authentication.k8s.io/v1beta1",false,false]' "v1beta1 KUBERNETES_EXEC_INFO without a terminal"

# kubectl takes the same kubeconfig and plugin: the oracle agrees.
expect_eq "$(kubectl --kubeconfig "$WORK/kc/config" --cache-dir "$WORK/cache2" get gpuworkload viaexec -o name)" \
  "gpuworkload.gpuorch.io/viaexec" "kubectl with the same plugin"

stop_sandbox
echo "PASS $TEST_NAME"
