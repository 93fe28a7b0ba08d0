#!/usr/bin/env bash
# The container image is the runtime tree and nothing else. There is no Docker
# engine on the machines that test gpuorch, so instead of building the image
# this parses packaging/container/Dockerfile and holds it to the tree that
# scripts/runtime-tree.sh makes (runtime_tree_test.sh runs gpuorch in it):
#   - the build stage is Debian 12 with scripts/install-deps.sh's packages, and
#     runs the script on the binary the release preset builds;
#   - the final stage is FROM scratch with exactly one COPY, of that tree to /,
#     and only metadata besides (no RUN, no second COPY or ADD);
#   - its USER, WORKDIR, ENV HOME and PATH and ENTRYPOINT name a user, directories
#     and a binary the tree has.
#   dockerfile_test.sh GPUORCH SOURCE_DIR
set -euo pipefail
gpuorch=$1 src=$2
dockerfile=$src/packaging/container/Dockerfile
work=$(mktemp -d "${TMPDIR:-/tmp}/gpuorch-dockerfile-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Instructions one a line: comments dropped, "\" continuations joined.
awk '
  /^[ \t]*#/ { next }
  { line = (held == "" ? $0 : held " " $0) }
  /\\[ \t]*$/ { sub(/\\[ \t]*$/, "", line); held = line; next }
  { held = ""; if (line ~ /[^ \t]/) { gsub(/[ \t]+/, " ", line); sub(/^ /, "", line); print line } }
' "$dockerfile" >"$work/instructions"

mapfile -t froms < <(grep -n '^FROM ' "$work/instructions")
[[ ${#froms[@]} == 2 ]] || fail "expected two stages (build, runtime), found ${#froms[@]}: ${froms[*]}"
[[ ${froms[0]#*:} == "FROM debian:12 AS build" ]] || fail "the build stage is not 'FROM debian:12 AS build': ${froms[0]#*:}"
[[ ${froms[1]#*:} == "FROM scratch" ]] || fail "the final stage is not 'FROM scratch': ${froms[1]#*:}"
final_from=${froms[1]%%:*}
head -n "$((final_from - 1))" "$work/instructions" >"$work/build-stage"
tail -n "+$((final_from + 1))" "$work/instructions" >"$work/final-stage"

# The build stage: the CI machines' packages, the release preset, the script.
grep -qx 'COPY scripts/install-deps.sh scripts/install-deps.sh' "$work/build-stage" \
  || fail "the build stage does not copy scripts/install-deps.sh"
grep -q '^RUN scripts/install-deps.sh' "$work/build-stage" || fail "the build stage does not run scripts/install-deps.sh"
build_run=$(grep -m1 'scripts/runtime-tree.sh' "$work/build-stage") || fail "the build stage does not run scripts/runtime-tree.sh"
[[ $build_run == *"cmake --preset release"* && $build_run == *"--target gpuorch_exe"* ]] \
  || fail "the tree is not made from a release build of gpuorch_exe: $build_run"
read -r tree_binary tree_dir < <(sed 's/.*scripts\/runtime-tree\.sh \([^ ]*\) \([^ ]*\).*/\1 \2/' <<<"$build_run")
# The release preset's binary: binaryDir build/${presetName}, gpuorch_exe's OUTPUT_NAME gpuorch in cli/.
jq -e '.configurePresets[] | select(.name == "base") | .binaryDir == "${sourceDir}/build/${presetName}"' \
  "$src/CMakePresets.json" >/dev/null || fail "CMakePresets.json's binaryDir changed; the Dockerfile names build/release"
grep -q 'set_target_properties(gpuorch_exe PROPERTIES OUTPUT_NAME gpuorch)' "$src/cli/CMakeLists.txt" \
  || fail "gpuorch_exe's OUTPUT_NAME changed; the Dockerfile names .../cli/gpuorch"
[[ $tree_binary == build/release/cli/gpuorch ]] || fail "runtime-tree.sh is run on $tree_binary, not build/release/cli/gpuorch"
[[ $build_run == *"strip $tree_binary"* ]] || fail "the binary is not stripped before it goes into the tree"
grep -qx 'build/' "$src/.dockerignore" || fail ".dockerignore does not leave out build/ (a host build would be copied in)"

# The final stage: one COPY of the whole tree, then metadata only.
grep -vE '^(COPY|USER|WORKDIR|ENV|ENTRYPOINT|CMD|LABEL) ' "$work/final-stage" >"$work/other" || true
[[ ! -s $work/other ]] || fail "the final stage does more than copy the tree: $(cat "$work/other")"
mapfile -t copies < <(grep '^COPY ' "$work/final-stage")
[[ ${#copies[@]} == 1 ]] || fail "the final stage has ${#copies[@]} COPY instructions: ${copies[*]}"
[[ ${copies[0]} == "COPY --from=build ${tree_dir%/}/ /" ]] \
  || fail "the final stage copies '${copies[0]}', not the tree $tree_dir made by runtime-tree.sh"

# What the final stage names must be in the tree.
tree=$work/tree
"$src/scripts/runtime-tree.sh" "$gpuorch" "$tree" >/dev/null || fail "runtime-tree.sh"
user=$(sed -n 's/^USER //p' "$work/final-stage")
[[ $user =~ ^([0-9]+):([0-9]+)$ ]] || fail "USER is not a numeric uid:gid (Kubernetes runAsNonRoot needs one): $user"
uid=${BASH_REMATCH[1]} gid=${BASH_REMATCH[2]}
[[ $uid != 0 ]] || fail "the image runs as root"
passwd_home=$(awk -F: -v u="$uid" -v g="$gid" '$3 == u && $4 == g {print $6}' "$tree/etc/passwd")
[[ -n $passwd_home ]] || fail "the tree's /etc/passwd has no user $uid with group $gid"
awk -F: -v g="$gid" '$3 == g {found = 1} END {exit !found}' "$tree/etc/group" || fail "the tree's /etc/group has no group $gid"
workdir=$(sed -n 's/^WORKDIR //p' "$work/final-stage")
[[ -d $tree$workdir ]] || fail "WORKDIR $workdir is not a directory of the tree"
env_line=$(sed -n 's/^ENV //p' "$work/final-stage")
home=$(sed -n 's/.*HOME=\([^ ]*\).*/\1/p' <<<"$env_line")
path=$(sed -n 's/.*PATH=\([^ ]*\).*/\1/p' <<<"$env_line")
[[ $home == "$passwd_home" && -d $tree$home ]] || fail "ENV HOME=$home is not user $uid's home ($passwd_home) in the tree"
if [[ $(id -u) == 0 ]]; then
  [[ $(stat -c %u:%g "$tree$home") == "$uid:$gid" ]] || fail "$home in the tree is not owned by $uid:$gid"
fi
entrypoint=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)".*/\1/p' "$work/final-stage")
[[ -n $entrypoint ]] || fail "no exec-form ENTRYPOINT"
found=""
IFS=: read -ra path_dirs <<<"$path"
for dir in "${path_dirs[@]}"; do
  if [[ -x $tree$dir/$entrypoint && -f $tree$dir/$entrypoint ]]; then found=$dir/$entrypoint; break; fi
done
[[ $found == /usr/bin/gpuorch ]] || fail "ENTRYPOINT $entrypoint is not the tree's /usr/bin/gpuorch on PATH=$path (found: ${found:-nothing})"
cmp -s "$gpuorch" "$tree/usr/bin/gpuorch" || fail "the tree's /usr/bin/gpuorch is not the binary it was made from"
echo "ok: the Dockerfile's image is the runtime tree ($tree_dir), USER $uid:$gid, ENTRYPOINT $found"
