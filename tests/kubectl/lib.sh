# Shared by the kubectl tests: starts a sandbox on a free port, points a
# private kubectl at it, and stops it whatever happens. Sourced by each
# *_test.sh with the gpuorch binary as $1.
set -euo pipefail

GPUORCH=${1:?usage: $0 path/to/gpuorch}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpuorch-kubectl-XXXXXX")
SANDBOX_PID=
KUBECONFIG_FILE=$WORK/kubeconfig

fail() {
  echo "FAIL ($TEST_NAME): $*" >&2
  if [[ -f $WORK/sandbox.log ]]; then
    echo "--- sandbox log" >&2
    tail -20 "$WORK/sandbox.log" >&2
  fi
  exit 1
}

cleanup() {
  local status=$?
  if [[ -n $SANDBOX_PID ]] && kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -TERM "$SANDBOX_PID" 2>/dev/null || true
    wait "$SANDBOX_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT

# kubectl must be the real client; a missing one is a failure, not a skip.
command -v kubectl >/dev/null || fail "kubectl is not installed; these tests need the real kubectl (v1.32)"
client_major=$(kubectl version --client -o json 2>/dev/null | jq -r .clientVersion.major)
[[ $client_major == 1 ]] || fail "kubectl at $(command -v kubectl) is not a real kubectl (version --client gave major '$client_major')"

# start_sandbox [flags...]: starts it and waits for the ready file.
start_sandbox() {
  "$GPUORCH" sandbox --port 0 --kubeconfig-out "$KUBECONFIG_FILE" --ready-file "$WORK/ready" "$@" \
    >"$WORK/sandbox.out" 2>"$WORK/sandbox.log" &
  SANDBOX_PID=$!
  for _ in $(seq 200); do
    [[ -f $WORK/ready ]] && return 0
    kill -0 "$SANDBOX_PID" 2>/dev/null || fail "the sandbox exited before it was ready"
    sleep 0.05
  done
  fail "the sandbox was not ready within 10 s"
}

# stop_sandbox: SIGTERM, then checks the clean exit.
stop_sandbox() {
  kill -TERM "$SANDBOX_PID"
  local rc=0
  wait "$SANDBOX_PID" || rc=$?
  SANDBOX_PID=
  [[ $rc == 0 ]] || fail "the sandbox exited with $rc after SIGTERM"
}

# kc ARGS...: kubectl against the sandbox, with a private discovery cache.
kc() {
  kubectl --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$WORK/cache" "$@"
}

expect_eq() {
  [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

expect_contains() {
  [[ $1 == *"$2"* ]] || fail "$3: expected to find '$2' in:
$1"
}

expect_not_contains() {
  [[ $1 != *"$2"* ]] || fail "$3: did not expect '$2' in:
$1"
}

# expect_fail DESCRIPTION CMD...: the command must fail; its stderr is in $ERR.
expect_fail() {
  local what=$1
  shift
  if ERR=$("$@" 2>&1 >/dev/null); then
    fail "$what: the command succeeded: $*"
  fi
}

# eventually DESCRIPTION SECONDS CMD...: retries CMD until it succeeds.
eventually() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what: not true within ${seconds}s: $*"
    sleep 0.2
  done
}

# The sandbox's control endpoints (stats, faults) through kubectl --raw.
sandbox_stats() {
  kc get --raw /sandbox/v1/stats
}
