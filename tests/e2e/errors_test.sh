#!/usr/bin/env bash
# Failures against a real HTTPS API server (the sandbox): a CA that does not
# sign the server's certificate, a token it does not accept, a CRD that is not
# installed, and NotFound. Each with its exact message and exit status.
source "$(dirname "$0")/lib.sh"
start_sandbox --nodes 1

server=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.server}')
context=$(kc config view --raw -o jsonpath='{.current-context}')
user=$(kc config view --raw -o jsonpath='{.contexts[0].context.user}')

# Before the CRD exists: the resource type is not served.
run_g get
expect_eq "$RC" 1 "CRD missing exit"
expect_eq "$ERR" 'error: the server doesn'"'"'t have a resource type "gpuworkloads" (is the GPUWorkload CRD installed?)' "CRD missing"
"$GPUORCH" crd | kc apply -f - >/dev/null
eventually "the GPUWorkload resource is served" 10 kc get gpuworkloads

# Wrong CA: another CA's certificate, given with --certificate-authority.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other.key" -out "$WORK/other.crt" -days 1 \
  -subj "/CN=not the sandbox CA" >/dev/null 2>&1
run_g --certificate-authority "$WORK/other.crt" get
expect_eq "$RC" 1 "wrong CA exit"
expect_contains "$ERR" "error: the TLS certificate of $server is not trusted" "wrong CA names the server"
expect_contains "$ERR" "--certificate-authority" "wrong CA suggests the flag"
expect_contains "$ERR" "certificate-authority(-data)" "wrong CA names the kubeconfig field"
# The same through submit: nothing is created.
run_g --certificate-authority "$WORK/other.crt" submit --name tls --model m --gpus 1
expect_eq "$RC" 1 "wrong CA submit exit"
expect_contains "$ERR" "is not trusted" "wrong CA submit message"

# --tls-server-name: the certificate is verified for that name instead of the
# address (the sandbox's names 127.0.0.1 and localhost), as kubectl does.
run_g --tls-server-name localhost get
expect_eq "$RC" 0 "--tls-server-name with a name of the certificate"
run_g --tls-server-name api.example.com get
expect_eq "$RC" 1 "--tls-server-name with another name"
expect_contains "$ERR" "error: the TLS certificate of $server is not trusted" "--tls-server-name mismatch message"
expect_fail "kubectl rejects the other name too" kc --tls-server-name api.example.com get gpuworkloads

# 401: the token is not accepted; the message names the user and the context.
run_g --token not-the-token get
expect_eq "$RC" 1 "401 exit"
expect_contains "$ERR" "Error from server (Unauthorized): You must be logged in to the server: it did not accept the credentials of user \"$user\" in context \"$context\"" "401 message"
expect_not_contains "$ERR" "not-the-token" "the token is not printed"
run_g --token not-the-token delete x
expect_eq "$RC" 1 "401 delete exit"
expect_contains "$ERR" "user \"$user\" in context \"$context\"" "401 delete message"

# NotFound, like kubectl.
run_g get nope
expect_eq "$RC" 1 "NotFound exit"
expect_eq "$ERR" 'Error from server (NotFound): gpuworkloads.gpuorch.io "nope" not found' "NotFound message"
expect_eq "$ERR" "$(kc get gpuworkload nope 2>&1)" "the same message as kubectl"

# An API server that stops answering mid-way: the request timeout bounds the wait.
printf '{"latencyMilliseconds":3000}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null
start=$SECONDS
run_g --request-timeout 1s get
expect_eq "$RC" 1 "request timeout exit"
expect_contains "$ERR" "no answer within the request timeout of 1s (--request-timeout)" "request timeout message"
((SECONDS - start <= 4)) || fail "--request-timeout 1s took $((SECONDS - start))s"
printf '{}' >"$WORK/faults.json"
kc replace --raw /sandbox/v1/faults -f "$WORK/faults.json" >/dev/null

stop_sandbox
echo "PASS $TEST_NAME"
