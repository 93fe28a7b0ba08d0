# Shared by the bash completion tests: split_line and expect, which set
# COMP_WORDS/COMP_CWORD/COMP_LINE as readline would, call _gpuorch and compare
# COMPREPLY exactly (counting mismatches in $failures). Sourced after
# bash-completion and the gpuorch script.
# shellcheck shell=bash

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
