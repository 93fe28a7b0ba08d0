#!/usr/bin/env bash
# cmake --install into a temporary DESTDIR, then check the installed tree and
# build a downstream project against it with find_package(gpuorch).
#   install_test.sh BUILD_DIR SOURCE_DIR VERSION CXX_COMPILER [EXTRA_LINKER_FLAGS]
set -euo pipefail
build=$1 src=$2 version=$3 cxx=$4 ldflags=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A prefix other than /usr/local, staged with DESTDIR as a distribution would.
prefix=/opt/gpuorch
DESTDIR="$tmp/stage" cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" \
  || { cat "$tmp/install.log"; fail "cmake --install"; }
root="$tmp/stage$prefix"

for f in bin/gpuorch share/bash-completion/completions/gpuorch share/zsh/vendor-completions/_gpuorch \
         share/fish/vendor_completions.d/gpuorch.fish include/gpuorch/version.hpp \
         include/gpuorch/model/workload.hpp lib/libgpuorch.a lib/cmake/gpuorch/gpuorchConfig.cmake \
         lib/cmake/gpuorch/gpuorchConfigVersion.cmake lib/cmake/gpuorch/gpuorchTargets.cmake \
         share/doc/gpuorch/copyright share/doc/gpuorch/changelog.Debian.gz; do
  [ -f "$root/$f" ] || fail "$f is not installed"
done
[ -x "$root/bin/gpuorch" ] || fail "bin/gpuorch is not executable"
for link in kubectl-gpuorch kubectl_complete-gpuorch; do
  [ "$(readlink "$root/bin/$link")" = gpuorch ] || fail "bin/$link is not a relative link to gpuorch"
  [ "$(readlink "$root/share/man/man1/$link.1.gz")" = gpuorch.1.gz ] || fail "man1/$link.1.gz is not a link to gpuorch.1.gz"
done
# Every man page source is installed, gzipped, in its section, and man reads it.
for scd in "$src"/man/*.scd; do
  page=$(basename "$scd" .scd) section=${page##*.}
  gz="$root/share/man/man$section/$page.gz"
  [ -f "$gz" ] || fail "man page $page is not installed as man$section/$page.gz"
  gzip -t "$gz" || fail "$gz is not gzip"
  MANWIDTH=80 man -l "$gz" 2>/dev/null | grep -q "^NAME" || fail "man -l $gz shows no NAME section"
done
# The headers are exactly the public ones (plus the generated version.hpp).
expected=$(cd "$src/lib/include" && find gpuorch -name '*.hpp' | sort)
actual=$(cd "$root/include" && find gpuorch -name '*.hpp' ! -path gpuorch/version.hpp | sort)
[ "$expected" = "$actual" ] || fail "installed headers differ from lib/include: $(diff <(echo "$expected") <(echo "$actual"))"

# The installed binary runs, under both names.
"$root/bin/gpuorch" version | grep -q '^gpuorch v' || fail "installed gpuorch version"
"$root/bin/kubectl-gpuorch" --help | grep -q 'kubectl gpuorch' || fail "kubectl-gpuorch --help does not say kubectl gpuorch"

# A consumer that knows only the prefix.
cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_PREFIX_PATH="$root" \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configuring the consumer"; }
grep -q "gpuorch_DIR:PATH=$root/lib/cmake/gpuorch" "$tmp/consumer/CMakeCache.txt" \
  || fail "the consumer did not find the installed package: $(grep gpuorch_DIR "$tmp/consumer/CMakeCache.txt")"
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building the consumer"; }
out=$("$tmp/consumer/consumer" <"$src/examples/minimal.yaml") || fail "consumer on examples/minimal.yaml: $out"
[ "$out" = "libgpuorch $version: bert-base-uncased wants 1 GPU(s) with LeastLoaded" ] || fail "consumer printed: $out"
set +e
out=$(sed 's/gpuCount: 1/gpuCount: 0/' "$src/examples/minimal.yaml" | "$tmp/consumer/consumer")
rc=$?
set -e
[ $rc = 1 ] && [[ $out == "invalid: "*spec.gpuCount* ]] || fail "consumer on gpuCount 0: exit $rc, $out"

# The version file rejects an incompatible request.
mkdir -p "$tmp/wrong"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(w LANGUAGES CXX)\nfind_package(gpuorch 9.0 REQUIRED)\n' >"$tmp/wrong/CMakeLists.txt"
if cmake -S "$tmp/wrong" -B "$tmp/wrong/b" -DCMAKE_PREFIX_PATH="$root" >"$tmp/wrong.log" 2>&1; then
  fail "find_package(gpuorch 9.0) succeeded against $version"
fi
grep -q 'compatible with requested version "9.0"' "$tmp/wrong.log" || { cat "$tmp/wrong.log"; fail "unexpected failure for gpuorch 9.0"; }
echo "ok: installed tree complete, consumer built and ran against $root"
