#!/usr/bin/env bash
# Drives the bash completion script in real bash with bash-completion loaded:
# sets COMP_WORDS/COMP_CWORD/COMP_LINE as readline would, calls _gpuorch and
# compares COMPREPLY exactly.
#   bash_test.sh PATH/TO/gpuorch
set -u
binary=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/files/manifests"
ln -s "$binary" "$tmp/bin/gpuorch"
touch "$tmp/files/kube.yaml" "$tmp/files/other.conf"
export PATH="$tmp/bin:$PATH"

# shellcheck disable=SC1091
source /usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
source <(gpuorch completion bash)

[[ $(complete -p gpuorch) == "complete -F _gpuorch gpuorch" ]] || {
    echo "FAIL: the script did not register _gpuorch: $(complete -p gpuorch 2>&1)"
    exit 1
}

failures=0
# shellcheck disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/bash_lib.sh"

expect "gpuorch " submit get describe delete version validate crd completion simulate sandbox reconcile install uninstall
expect "gpuorch ver" version
expect "gpuorch submit --strategy B" BestFit
expect "gpuorch get -o j" json jsonpath=
expect "gpuorch delete --ign" --ignore-not-found
expect "gpuorch reconcile --watch --healthz" --healthz-stall-timeout
expect "gpuorch delete --dry-run=s" server
expect "gpuorch x" 
expect "gpuorch completion " bash zsh fish
expect "gpuorch completion f" fish
expect "gpuorch completion fish " 
expect "gpuorch version --out" --output
expect "gpuorch version -o " json yaml
expect "gpuorch version --output y" yaml
expect "gpuorch version --output=" json yaml
expect "gpuorch version --output=y" yaml
expect "gpuorch --log-format=j" json
expect "gpuorch -v 1" 1
expect "gpuorch --context prod -n ml ver" version
expect "gpuorch version --insecure" --insecure-skip-tls-verify
expect "gpuorch version -o json --ou"
expect "gpuorch --token secret " submit get describe delete version validate crd completion simulate sandbox reconcile install uninstall
expect "gpuorch --insecure-skip-tls-verify ver" version
expect "gpuorch -n ml completion b" bash

# FILE-typed flags complete file names (bash-completion's _filedir).
cd "$tmp/files" || exit 1
expect "gpuorch --kubeconfig " kube.yaml manifests other.conf
expect "gpuorch --kubeconfig k" kube.yaml
expect "gpuorch version --client-key=o" other.conf
# Flags that are not files offer nothing (no file names either).
expect "gpuorch --context "

if ((failures > 0)); then
    echo "$failures bash completion check(s) failed"
    exit 1
fi
