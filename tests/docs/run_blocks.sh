#!/usr/bin/env bash
# Runs the commands a Markdown page shows, so the documentation cannot rot.
#
#   tests/docs/run_blocks.sh path/to/gpuorch SRCDIR PAGE.md
#
# What runs, in the order of the page, in ONE bash session (so `export`, `cd`
# and background jobs carry from one block to the next, as in a reader's
# terminal), with `set -e -o pipefail`: the first failing command fails the
# test and is reported with the page's line number.
#
#   ```sh test          the whole block is a script
#   ```console test     lines starting with "$ " are commands (a trailing "\"
#                       continues one onto the next line); the other lines are
#                       the output a reader sees, shown but not compared
#   <!-- docs-test      an HTML comment, invisible on the rendered page: set-up
#   ...                 or checks the reader does not need to see (starting a
#   -->                 sandbox for a reference page, asserting an outcome)
#
# Other blocks are not run: shell blocks that cannot run here say why with
# "```sh no-test: REASON" (a real cluster, a long benchmark), which
# tests/docs/check_blocks.sh requires of every shell block of the docs. A page
# with no marked block fails, so a page that loses its markers does not pass
# silently.
#
# The session runs in a fresh temporary directory: HOME is empty (no
# ~/.kube/config), KUBECONFIG is unset, the working directory holds links to
# the repository's examples/, scripts/ and packaging/, and `gpuorch` is the
# binary under test, first on PATH. Every process
# the session leaves behind (a sandbox started with `&`) is stopped at the end.
set -euo pipefail

GPUORCH=$(realpath "${1:?usage: $0 path/to/gpuorch SRCDIR PAGE.md}")
SRCDIR=$(realpath "${2:?usage: $0 path/to/gpuorch SRCDIR PAGE.md}")
PAGE=${3:?usage: $0 path/to/gpuorch SRCDIR PAGE.md}
[[ $PAGE == /* ]] || PAGE=$SRCDIR/$PAGE
[[ -f $PAGE ]] || { echo "run_blocks: no such page: $PAGE" >&2; exit 2; }
[[ -x $GPUORCH ]] || { echo "run_blocks: no gpuorch binary at $GPUORCH" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpuorch-docs-XXXXXX")
SESSION_PID=
cleanup() {
  if [[ -n $SESSION_PID ]]; then
    # The session runs in its own process group: stop what it left running.
    kill -TERM -- "-$SESSION_PID" 2>/dev/null || true
    sleep 0.2
    kill -KILL -- "-$SESSION_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/home" "$WORK/bin" "$WORK/work" "$WORK/tmp"
ln -s "$GPUORCH" "$WORK/bin/gpuorch"
for dir in examples scripts packaging; do
  [[ -e $SRCDIR/$dir ]] && ln -s "$SRCDIR/$dir" "$WORK/work/$dir"
done

# Extract the marked blocks into one script. Each console command, and each
# sh block or comment as a whole, is preceded by the page line it starts on,
# for the failure report.
SCRIPT=$WORK/session.sh
awk -v page="$(basename "$PAGE")" '
  function emit_line(n, text) { printf "__docs_line=%d\n%s\n", n, text }
  BEGIN { mode = ""; blocks = 0; pending = "" }
  # Closing fence or comment.
  mode != "" && ((mode != "comment" && $0 ~ /^[ \t]*```[ \t]*$/) || (mode == "comment" && $0 ~ /^[ \t]*-->[ \t]*$/)) {
    if (pending != "") { emit_line(pending_line, pending); pending = "" }
    mode = ""; next
  }
  # A fence indented in a list item indents its content as much (CommonMark):
  # strip that, so that the terminator of a here-document starts its line.
  mode == "sh" || mode == "console" { line = $0; for (i = 0; i < indent && substr(line, 1, 1) == " "; i++) line = substr(line, 2); $0 = line }
  mode == "sh" || mode == "comment" { print; next }
  mode == "console" {
    if (pending != "") {
      pending = pending "\n" $0
      if ($0 !~ /\\$/) { emit_line(pending_line, pending); pending = "" }
      next
    }
    if ($0 ~ /^\$ /) {
      cmd = substr($0, 3)
      if (cmd ~ /\\$/) { pending = cmd; pending_line = NR } else { emit_line(NR, cmd) }
    }
    next
  }
  mode == "skip" { if ($0 ~ /^[ \t]*```/) mode = ""; next }
  /^[ \t]*```/ {
    info = $0; sub(/^[ \t]*```[ \t]*/, "", info)
    indent = match($0, /[^ ]/) - 1
    n = split(info, words, /[ \t]+/)
    # "test" right after the language; "no-test: REASON" (whose reason may
    # say "test") and anything else is not run.
    if (n < 2 || words[2] != "test") { mode = "skip"; next }
    if (words[1] == "console") mode = "console"
    else if (words[1] == "sh" || words[1] == "bash" || words[1] == "shell") { mode = "sh"; printf "__docs_line=%d\n", NR + 1 }
    else { printf "%s:%d: a test block must be sh or console, got \"%s\"\n", page, NR, words[1] > "/dev/stderr"; exit 3 }
    blocks++; next
  }
  /^[ \t]*<!--[ \t]*docs-test[ \t]*$/ { mode = "comment"; printf "__docs_line=%d\n", NR + 1; blocks++; next }
  END {
    if (mode != "") { printf "%s: a test block is not closed\n", page > "/dev/stderr"; exit 3 }
    if (blocks == 0) { printf "%s: no block is marked for testing (```sh test, ```console test or <!-- docs-test)\n", page > "/dev/stderr"; exit 3 }
    printf "__docs_blocks=%d\n", blocks
  }
' "$PAGE" >"$WORK/body.sh"

{
  echo 'set -eE -o pipefail'
  echo '__docs_line=0'
  # shellcheck disable=SC2016  # expanded by the session, not here
  printf 'trap '\''echo "FAILED: %s, the block or command at line $__docs_line: \"$BASH_COMMAND\" exited with $?" >&2'\'' ERR\n' \
    "$(basename "$PAGE")"
  cat "$WORK/body.sh"
} >"$SCRIPT"

# A syntax error or a warning (a here-document without its terminator swallows
# the rest of the page) fails before anything runs.
if ! syntax=$(bash -n "$SCRIPT" 2>&1) || [[ -n $syntax ]]; then
  echo "run_blocks: $(basename "$PAGE"): the extracted commands do not parse: $syntax" >&2
  exit 1
fi

cd "$WORK/work"
set +e
env -i HOME="$WORK/home" TMPDIR="$WORK/tmp" PATH="$WORK/bin:/usr/local/bin:/usr/bin:/bin" \
  LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC TERM=dumb \
  setsid bash "$SCRIPT" &
SESSION_PID=$!
wait "$SESSION_PID"
status=$?
set -e
if [[ $status != 0 ]]; then
  echo "run_blocks: $(basename "$PAGE"): the documented commands failed (exit $status)" >&2
  exit 1
fi
echo "PASS $(basename "$PAGE"): $(sed -n 's/^__docs_blocks=//p' "$WORK/body.sh") blocks"
