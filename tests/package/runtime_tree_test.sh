#!/usr/bin/env bash
# The container runtime tree (scripts/runtime-tree.sh, what the Dockerfile's
# image holds) is complete: gpuorch runs with only the tree's libraries and
# verifies TLS with only the tree's CA bundle.
#   runtime_tree_test.sh GPUORCH SOURCE_DIR
# As root the binary runs in a chroot of the tree as user 65532 (nothing from
# the host is reachable); every user also runs it through the tree's own
# loader with LD_DEBUG, and every library the loader opens must be in the tree.
src=$2
# shellcheck source=../e2e/lib.sh
source "$src/tests/e2e/lib.sh"

# The Dockerfile's image is this tree: dockerfile_test.sh holds the Dockerfile to it.
tree="$WORK/tree"
"$src/scripts/runtime-tree.sh" "$GPUORCH" "$tree" || fail "runtime-tree.sh"

# The tree has exactly ldd's libraries plus the loader, nothing else from the host.
mapfile -t listed < <("$src/scripts/runtime-tree.sh" --list "$GPUORCH")
expected=$(printf '%s\n' "${listed[@]}" | grep -v -x -e "$GPUORCH" -e /etc/ssl/certs/ca-certificates.crt \
  | sed 's|^/usr||' | sort)
actual=$(cd "$tree/usr" && find lib lib64 -type f | sed 's|^|/|' | sort)
expect_eq "$actual" "$expected" "the libraries in the tree"
for f in usr/bin/gpuorch etc/ssl/certs/ca-certificates.crt etc/passwd etc/group; do
  [[ -f $tree/$f ]] || fail "$f is not in the tree"
done
grep -qx 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' "$tree/etc/passwd" || fail "no user 65532"

# The tree's loader, the tree's libraries, no cache: every object loaded comes from the tree.
loader=$(find "$tree/usr/lib64" "$tree/usr/lib" -maxdepth 2 -name 'ld-linux*.so*' -type f | head -1)
[[ -n $loader ]] || fail "no dynamic loader in the tree"
libdirs=$(find "$tree/usr/lib" -name '*.so*' -type f -printf '%h\n' | sort -u | paste -sd:)
LD_DEBUG=libs LD_DEBUG_OUTPUT="$WORK/ld" "$loader" --inhibit-cache --library-path "$libdirs" \
  "$tree/usr/bin/gpuorch" version >"$WORK/version.out" || fail "gpuorch version through the tree's loader"
[[ $(cat "$WORK/version.out") == "gpuorch v"* ]] || fail "gpuorch version printed: $(cat "$WORK/version.out")"
opened=$(sed -n 's/.*calling init: \(.*\)$/\1/p' "$WORK"/ld.* | sort -u)
[[ -n $opened ]] || fail "LD_DEBUG recorded no library"
outside=$(grep -v "^$tree/" <<<"$opened" || true)
[[ -z $outside ]] || fail "libraries loaded from outside the tree: $outside"

if [[ $(id -u) != 0 ]]; then
  echo "ok: loader check passed (not root: the chroot and TLS checks need root, as under CI)"
  exit 0
fi

in_tree() { chroot --userspec=65532:65532 "$tree" /usr/bin/gpuorch "$@"; }
out=$(in_tree version) || fail "gpuorch version in the chroot: $out"
[[ $out == "gpuorch v"* ]] || fail "gpuorch version in the chroot: $out"
cp "$src/examples/minimal.yaml" "$tree/tmp/minimal.yaml"
out=$(in_tree validate -f /tmp/minimal.yaml 2>&1) || fail "gpuorch validate in the chroot: $out"
sed 's/gpuCount: 1/gpuCount: 0/' "$src/examples/minimal.yaml" >"$tree/tmp/bad.yaml"
if out=$(in_tree validate -f /tmp/bad.yaml 2>&1); then fail "validate accepted gpuCount 0 in the chroot"; fi
expect_contains "$out" "spec.gpuCount" "validate in the chroot"

# TLS: a kubeconfig without certificate-authority-data, so libcurl verifies
# with its default bundle, the tree's /etc/ssl/certs/ca-certificates.crt.
start_with_crd
ca=$(kc config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
[[ -n $ca ]] || fail "the sandbox kubeconfig has no CA"
kc config view --raw -o json | jq 'del(.clusters[0].cluster["certificate-authority-data"])' >"$tree/tmp/kubeconfig"
chmod 0644 "$tree/tmp/kubeconfig"
if out=$(in_tree --kubeconfig /tmp/kubeconfig get 2>&1); then
  fail "TLS verification passed without the sandbox CA in the tree's bundle: $out"
fi
expect_contains "$out" "certificate" "the TLS failure without the sandbox CA"
base64 -d <<<"$ca" >>"$tree/etc/ssl/certs/ca-certificates.crt"
out=$(in_tree --kubeconfig /tmp/kubeconfig get 2>&1) || fail "gpuorch get in the chroot with the CA in the tree's bundle: $out"
expect_contains "$out" "No resources found" "gpuorch get in the chroot"
echo "ok: the runtime tree runs gpuorch as 65532 with only its libraries and CA bundle"
