#!/usr/bin/env bash
# Builds the .deb packages of this build with CPack, checks them with lintian
# (no errors or warnings allowed; infos are printed), installs them and uses
# the result: gpuorch version, man gpuorch, bash completion, and a
# find_package(gpuorch) consumer against libgpuorch-dev.
# Under CI=true as root the packages are installed for real (dpkg -i, then
# dpkg -r); elsewhere into a temporary root with a copy of the dpkg database,
# so a developer's machine is left alone.
# HARDENED lists what cmake/Hardening.cmake gave this build (relro, bindnow,
# fortify): lintian must then report no hardening-no-* tag for it.
#   deb_test.sh BUILD_DIR SOURCE_DIR CXX_COMPILER [EXTRA_LINKER_FLAGS [HARDENED]]
set -euo pipefail
build=$1 src=$2 cxx=$3 ldflags=${4:-} hardened=${5:-}
tmp=$(mktemp -d)
installed_for_real=0
cleanup() {
  if [ $installed_for_real = 1 ]; then dpkg -r gpuorch libgpuorch-dev >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg dpkg-deb dpkg-shlibdeps lintian man bash; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 \
  || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
arch=$(dpkg --print-architecture)
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")-1
tool_deb="$tmp/out/gpuorch_${version}_${arch}.deb"
dev_deb="$tmp/out/libgpuorch-dev_${version}_${arch}.deb"
[ -f "$tool_deb" ] && [ -f "$dev_deb" ] || fail "expected DEB-DEFAULT names, got: $(ls "$tmp/out")"

# Control fields: dependencies come from dpkg-shlibdeps (libc6 and libssl3 with
# versions); libcurl4 when the binary links the shared libcurl
# (GPUORCH_STATIC_CURL=OFF), else libcurl's own dependencies (libnghttp2-14)
# and no libcurl4.
field() { dpkg-deb -f "$1" "$2"; }
depends=$(field "$tool_deb" Depends)
[[ $depends == *"libc6 (>= "* && $depends == *"libssl3 (>= "* ]] \
  || fail "gpuorch Depends is not computed by dpkg-shlibdeps: $depends"
dpkg-deb --fsys-tarfile "$tool_deb" | tar -xO ./usr/bin/gpuorch >"$tmp/gpuorch.bin"
readelf -dW "$tmp/gpuorch.bin" >"$tmp/gpuorch.dynamic"
if grep -q 'NEEDED.*libcurl\.so' "$tmp/gpuorch.dynamic"; then
  [[ $depends == *"libcurl4 (>= "* ]] || fail "gpuorch links libcurl.so.4 but does not depend on libcurl4: $depends"
else
  [[ $depends != *libcurl4* && $depends == *"libnghttp2-14 (>= "* ]] \
    || fail "gpuorch links libcurl's archive: Depends should name libnghttp2-14, not libcurl4: $depends"
fi
[ "$(field "$tool_deb" Section)" = admin ] || fail "gpuorch Section: $(field "$tool_deb" Section)"
[ "$(field "$dev_deb" Section)" = libdevel ] || fail "libgpuorch-dev Section: $(field "$dev_deb" Section)"
[[ $(field "$dev_deb" Depends) == *nlohmann-json3-dev* ]] || fail "libgpuorch-dev Depends: $(field "$dev_deb" Depends)"
[[ $(field "$tool_deb" Maintainer) == *@* ]] || fail "no Maintainer"
[ "$(field "$tool_deb" Description | head -1)" = "run GPU workloads on Kubernetes without an operator" ] \
  || fail "gpuorch synopsis: $(field "$tool_deb" Description | head -1)"
[ "$(field "$dev_deb" Description | head -1)" = "C++ library of gpuorch (development files)" ] \
  || fail "libgpuorch-dev synopsis: $(field "$dev_deb" Description | head -1)"
# Files: everything under /usr, man pages gzipped, the -dev files only in the -dev package.
dpkg-deb -c "$tool_deb" | awk '{print $6}' >"$tmp/tool.files"
dpkg-deb -c "$dev_deb" | awk '{print $6}' >"$tmp/dev.files"
! grep -v '^\./usr/' "$tmp/tool.files" "$tmp/dev.files" | grep -v ':\./$' || fail "files outside /usr"
! grep '^\./usr/share/man/.*[1-9]$' "$tmp/tool.files" || fail "uncompressed man pages"
grep -qx './usr/share/man/man1/gpuorch.1.gz' "$tmp/tool.files" || fail "no gpuorch.1.gz in gpuorch"
! grep -E '\.hpp$|\.a$|cmake/gpuorch' "$tmp/tool.files" || fail "development files in the gpuorch package"
grep -q 'cmake/gpuorch/gpuorchConfig.cmake$' "$tmp/dev.files" || fail "no CMake package in libgpuorch-dev"

# lintian: errors and warnings fail the test; the remaining infos are shown.
lintian --fail-on error,warning --display-info --tag-display-limit 0 "$tool_deb" "$dev_deb" >"$tmp/lintian.log" 2>&1 \
  || { cat "$tmp/lintian.log"; fail "lintian reports errors or warnings"; }
! grep -qE 'unstripped|unneeded-section' "$tmp/lintian.log" \
  || fail "files not stripped like dh_strip does: $(grep -E 'unstripped|unneeded-section' "$tmp/lintian.log" | head -3)"
sed 's/^/lintian: /' "$tmp/lintian.log"
# Debian's hardening flags (cmake/Hardening.cmake), as lintian and the ELF headers see them.
dpkg-deb -x "$tool_deb" "$tmp/tool"
for feature in ${hardened//,/ }; do
  case $feature in
    relro) tag=hardening-no-relro ;;
    bindnow) tag=hardening-no-bindnow ;;
    fortify) tag=hardening-no-fortify-functions ;;
    *) fail "unknown hardening feature $feature" ;;
  esac
  ! grep -q "$tag" "$tmp/lintian.log" || fail "built with $feature, yet lintian reports $tag"
done
# (Into files first: grep -q closing a pipe early would fail the pipeline under pipefail.)
readelf -dlW "$tmp/tool/usr/bin/gpuorch" >"$tmp/readelf.txt"
nm -D "$tmp/tool/usr/bin/gpuorch" >"$tmp/nm.txt"
if [[ ,$hardened, == *,bindnow,* ]]; then
  grep -q 'FLAGS.*BIND_NOW' "$tmp/readelf.txt" || fail "/usr/bin/gpuorch is not linked with -z now"
fi
if [[ ,$hardened, == *,relro,* ]]; then
  grep -q GNU_RELRO "$tmp/readelf.txt" || fail "/usr/bin/gpuorch has no RELRO segment"
fi
if [[ ,$hardened, == *,fortify,* ]]; then
  grep -qE ' U __[a-z]+_chk(@|$)' "$tmp/nm.txt" || fail "/usr/bin/gpuorch calls no fortified (__*_chk) function"
fi

# Install.
if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
  if dpkg -s gpuorch >/dev/null 2>&1 || dpkg -s libgpuorch-dev >/dev/null 2>&1; then
    fail "gpuorch is already installed on this machine; a CI machine starts clean"
  fi
  installed_for_real=1
  dpkg -i "$tool_deb" "$dev_deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
  root=""
  run_env=(env)
else
  root="$tmp/root"
  admin="$root/var/lib/dpkg"
  mkdir -p "$admin/info" "$admin/updates" "$admin/triggers"
  # The real database, so dependencies resolve against what this machine has.
  cp /var/lib/dpkg/status "$admin/status"
  touch "$admin/available"
  [ -f /var/lib/dpkg/arch ] && cp /var/lib/dpkg/arch "$admin/arch"
  dpkg --root="$root" --force-not-root --force-script-chrootless -i "$tool_deb" "$dev_deb" >"$tmp/dpkg.log" 2>&1 \
    || { cat "$tmp/dpkg.log"; fail "dpkg --root -i"; }
  run_env=(env "PATH=$root/usr/bin:$PATH" "MANPATH=$root/usr/share/man" "XDG_DATA_DIRS=$root/usr/share")
fi
dpkg --root="${root:-/}" -s gpuorch | grep -q '^Status: install ok installed' || fail "dpkg does not list gpuorch as installed"

# gpuorch version, from the installed file.
out=$("${run_env[@]}" bash -c 'command -v gpuorch && gpuorch version')
[[ $out == "$root/usr/bin/gpuorch"$'\n'"gpuorch v"* ]] || fail "installed gpuorch version: $out"
# man gpuorch finds the installed page.
out=$("${run_env[@]}" MANWIDTH=80 MANPAGER=cat man gpuorch 2>&1) || fail "man gpuorch: $out"
grep -q 'gpuorch - ' <<<"$out" || fail "man gpuorch shows no NAME line: $(head -5 <<<"$out")"
out=$("${run_env[@]}" MANWIDTH=80 MANPAGER=cat man kubectl-gpuorch 2>&1) || fail "man kubectl-gpuorch: $out"
# bash-completion loads the installed script on demand and completes with it.
out=$("${run_env[@]}" bash --norc --noprofile -c '
  source /usr/share/bash-completion/bash_completion
  __load_completion gpuorch || { echo "not loaded"; exit 1; }
  complete -p gpuorch
  COMP_WORDS=(gpuorch vers) COMP_CWORD=1 COMP_LINE="gpuorch vers" COMP_POINT=12
  fn=$(complete -p gpuorch | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
  "$fn" gpuorch vers gpuorch
  printf "reply:%s\n" "${COMPREPLY[@]}"' 2>&1) || fail "bash completion: $out"
grep -q "^reply:version" <<<"$out" || fail "bash completion of 'gpuorch vers' from the installed script: $out"
# In a temporary root, only that root can have provided the script.
[ -z "$root" ] || [ ! -e /usr/share/bash-completion/completions/gpuorch ] \
  || fail "/usr/share/bash-completion/completions/gpuorch exists outside the test root"

# libgpuorch-dev: a consumer finds the installed package (in the prefix /usr of that root).
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_PREFIX_PATH="${root}/usr" \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configuring the consumer against libgpuorch-dev"; }
grep -q "gpuorch_DIR:PATH=$root/usr/lib/\(.*/\)\?cmake/gpuorch" "$tmp/consumer/CMakeCache.txt" \
  || fail "the consumer did not use the packaged CMake files: $(grep gpuorch_DIR "$tmp/consumer/CMakeCache.txt")"
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building the consumer"; }
"$tmp/consumer/consumer" <"$src/examples/minimal.yaml" | grep -q 'bert-base-uncased wants 1 GPU' || fail "consumer run"

if [ $installed_for_real = 1 ]; then
  dpkg -r gpuorch libgpuorch-dev >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -r"; }
  installed_for_real=0
  [ ! -e /usr/bin/gpuorch ] && [ ! -e /usr/share/man/man1/gpuorch.1.gz ] || fail "dpkg -r left files behind"
fi
echo "ok: $(basename "$tool_deb") and $(basename "$dev_deb") pass lintian, install and work"
