#!/usr/bin/env bash
# The README's first command sets up a machine and runs the demo; its second
# runs the whole test suite, and it is what .ci/run runs. Both are read the
# way .ci/run reads them (scripts/readme-command.sh), so a block inserted
# before them, or a fence marker the reader does not understand, fails here
# rather than in CI.
#
#   readme_commands_test.sh SRCDIR
set -euo pipefail
src=${1:?usage: $0 SRCDIR}
first=$("$src/scripts/readme-command.sh" 1 "$src/README.md")
second=$("$src/scripts/readme-command.sh" 2 "$src/README.md")
fail=0
case "$first" in
  scripts/install-deps.sh*scripts/demo.sh*) ;;
  *) echo "README's first command is not the set-up and demo: '$first'" >&2; fail=1 ;;
esac
case "$second" in
  scripts/install-deps.sh*"ctest --preset ci"*) ;;
  *) echo "README's second command is not the ci test suite: '$second'" >&2; fail=1 ;;
esac
grep -q 'scripts/readme-command.sh 2 README.md' "$src/.ci/run" ||
  { echo ".ci/run does not run the README's second command" >&2; fail=1; }
[ "$fail" = 0 ] && echo "README: 1) $first"$'\n'"README: 2) $second"
exit "$fail"
