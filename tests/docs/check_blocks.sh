#!/usr/bin/env bash
# Checks that no page of the docs can rot unnoticed: every shell block is
# either run by tests/docs/run_blocks.sh or says why it cannot be.
#
#   tests/docs/check_blocks.sh SRCDIR PAGES_FILE [PAGE.md...]
#
# PAGES_FILE lists the pages registered to run (one path relative to SRCDIR
# a line, as in tests/docs/CMakeLists.txt). The pages checked are the PAGE
# arguments, or when there are none every Markdown file git tracks in SRCDIR
# outside tests/. A page fails the check when
#   - a fenced block has no language: say `text` for output, `sh` or
#     `console` for commands, so that a command cannot hide in an untyped block;
#   - a shell block (sh, bash, shell, console, zsh, fish) is neither marked
#     `test` nor `no-test: REASON` with a reason a reader understands, e.g.
#     ```sh no-test: needs a real cluster with GPU nodes
#   - it has blocks marked for testing but is not in PAGES_FILE (they would
#     never run), or it is in PAGES_FILE without any (run_blocks.sh would fail).
set -euo pipefail

SRCDIR=$(realpath "${1:?usage: $0 SRCDIR PAGES_FILE [PAGE.md...]}")
PAGES_FILE=$(realpath "${2:?usage: $0 SRCDIR PAGES_FILE [PAGE.md...]}")
[[ -f $PAGES_FILE ]] || { echo "check_blocks: no such file: $PAGES_FILE" >&2; exit 2; }
shift 2
cd "$SRCDIR"
if [[ $# -gt 0 ]]; then
  pages=("$@")
elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t pages < <(git ls-files '*.md' ':!:tests/**')
else  # a source tree without git (an unpacked release)
  mapfile -t pages < <(find . -name '*.md' -not -path './tests/*' -not -path './build/*' | sed 's|^\./||' | sort)
fi
[[ ${#pages[@]} -gt 0 ]] || { echo "check_blocks: no page to check" >&2; exit 2; }
mapfile -t registered < <(grep -v '^[[:space:]]*$' "$PAGES_FILE")

problems=0
for page in "${pages[@]}"; do
  [[ -f $page ]] || { echo "$page: no such page" >&2; problems=$((problems + 1)); continue; }
  # One line per problem, then "tested N" with the number of marked blocks.
  report=$(awk -v page="$page" '
    BEGIN { open = 0; tested = 0 }
    open && /^[ \t]*```+[ \t]*$/ { open = 0; next }
    open { next }
    /^[ \t]*<!--[ \t]*docs-test[ \t]*$/ { tested++; next }
    /^[ \t]*```/ {
      open = 1
      info = $0; sub(/^[ \t]*```+[ \t]*/, "", info)
      n = split(info, words, /[ \t]+/)
      if (n == 0 || words[1] == "") {
        printf "%s:%d: a fenced block without a language (text for output, sh or console for commands)\n", page, NR
        next
      }
      if (words[1] !~ /^(sh|bash|shell|console|zsh|fish)$/) next
      if (words[2] == "test") { tested++; next }
      if (words[2] == "no-test:") {
        reason = info; sub(/^[^ \t]+[ \t]+no-test:[ \t]*/, "", reason)
        if (length(reason) < 10) printf "%s:%d: no-test needs a reason (no-test: needs a real cluster ...)\n", page, NR
        next
      }
      printf "%s:%d: a %s block neither marked \"test\" nor \"no-test: REASON\"\n", page, NR, words[1]
    }
    END { printf "tested %d\n", tested }
  ' "$page")
  tested=$(sed -n 's/^tested //p' <<<"$report")
  if grep -v '^tested ' <<<"$report" >&2; then
    problems=$((problems + $(grep -cv '^tested ' <<<"$report")))
  fi
  is_registered=0
  for r in "${registered[@]}"; do [[ $r == "$page" ]] && is_registered=1; done
  if [[ $tested -gt 0 && $is_registered = 0 ]]; then
    echo "$page: $tested blocks are marked for testing but the page is not in GPUORCH_TESTED_PAGES (tests/docs/CMakeLists.txt)" >&2
    problems=$((problems + 1))
  elif [[ $tested = 0 && $is_registered = 1 ]]; then
    echo "$page: registered to run but has no block marked for testing" >&2
    problems=$((problems + 1))
  fi
done
if [[ $problems -gt 0 ]]; then
  echo "check_blocks: $problems problems in ${#pages[@]} pages" >&2
  exit 1
fi
echo "ok: ${#pages[@]} pages, every shell block is run or says why not"
