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

# Splits a command line into COMP_WORDS the way readline does with the default
# COMP_WORDBREAKS: blanks separate words, '=' and ':' are words of their own.
split_line() {
    local line=$1 word="" c i
    COMP_WORDS=()
    for ((i = 0; i < ${#line}; i++)); do
        c=${line:i:1}
        if [[ $c == " " ]]; then
            [[ -n $word ]] && COMP_WORDS+=("$word")
            word=""
        elif [[ $c == [=:] ]]; then
            [[ -n $word ]] && COMP_WORDS+=("$word")
            COMP_WORDS+=("$c")
            word=""
        else
            word+=$c
        fi
    done
    if [[ -n $word || $line == *" " ]]; then
        COMP_WORDS+=("$word")
    fi
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
}

# expect LINE [CANDIDATE...]: completing at the end of LINE yields exactly these.
expect() {
    local line=$1
    shift
    split_line "$line"
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _gpuorch gpuorch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    local got expected
    # bash sorts candidates before showing them; compare sorted.
    got=$(printf '[%s] ' "${COMPREPLY[@]}" | tr ' ' '\n' | sort | tr '\n' ' ')
    expected=$(printf '[%s] ' "$@" | tr ' ' '\n' | sort | tr '\n' ' ')
    if [[ $got != "$expected" ]]; then
        echo "FAIL: '$line'"
        echo "  expected: $expected"
        echo "  got:      $got"
        failures=$((failures + 1))
    else
        echo "ok: '$line' -> $got"
    fi
}

expect "gpuorch " get version validate crd completion simulate sandbox
expect "gpuorch ver" version
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
expect "gpuorch --token secret " get version validate crd completion simulate sandbox
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
