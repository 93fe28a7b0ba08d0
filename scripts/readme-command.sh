#!/usr/bin/env bash
# Prints the README's Nth fenced sh block (1: the quick start's set-up and
# demo command, 2: the whole test suite). .ci/run runs block 2 exactly, and the
# docs tests check that both blocks are what the README says they are. The
# info string may go on after `sh` with the docs runner's marker.
#
#   scripts/readme-command.sh N [README.md]
set -euo pipefail
n=${1:?usage: $0 N [README.md]}
readme=${2:-README.md}
awk -v want="$n" '/^```sh( |$)/ {n++; next} /^```$/ {next} n == want {print; exit}' "$readme"
