#!/usr/bin/env bash
# Builds the file tree of gpuorch's runtime container image without Docker:
#   scripts/runtime-tree.sh BINARY DEST
#   scripts/runtime-tree.sh --list BINARY
# DEST gets a Debian-style merged-/usr tree with
#   /usr/bin/gpuorch (and the kubectl-gpuorch link),
#   exactly the shared libraries `ldd BINARY` resolves, at the same paths, and the loader,
#   /etc/ssl/certs/ca-certificates.crt (the path Debian's libcurl verifies with by default),
#   /etc/passwd, /etc/group (root and nonroot 65532), /etc/nsswitch.conf, /tmp (1777),
#   /home/nonroot (owned by 65532 when run as root).
# packaging/container/Dockerfile runs this script in its build stage and copies
# DEST into an empty image, so the image and tests/package/runtime_tree_test.sh
# see the same list. --list prints the host files it would copy, one per line.
set -euo pipefail

list_only=0
if [ "${1:-}" = --list ]; then list_only=1; shift; fi
[ $# = $((2 - list_only)) ] || { echo "usage: $0 BINARY DEST | $0 --list BINARY" >&2; exit 2; }
binary=$1 dest=${2:-}
[ -x "$binary" ] || { echo "error: $binary is not an executable" >&2; exit 2; }
ca_bundle=/etc/ssl/certs/ca-certificates.crt

# What the dynamic loader resolves: "libx.so.1 => /path (0x...)" and the loader's own line.
# A library ldd cannot find is an error, not something to leave out.
libraries() {
  local out
  out=$(ldd "$binary") || { echo "error: ldd $binary failed" >&2; return 1; }
  if grep -q 'not found' <<<"$out"; then
    echo "error: ldd cannot resolve: $(grep 'not found' <<<"$out")" >&2
    return 1
  fi
  awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out" | sort -u
}

mapfile -t libs < <(libraries)
[ ${#libs[@]} -gt 0 ] || { echo "error: ldd found no libraries (a static binary needs no tree)" >&2; exit 1; }
[ -f "$ca_bundle" ] || { echo "error: $ca_bundle is missing (Debian package ca-certificates)" >&2; exit 1; }

if [ $list_only = 1 ]; then
  printf '%s\n' "$binary" "${libs[@]}" "$ca_bundle"
  exit 0
fi

# Merged /usr as in Debian 12: /lib, /lib64, /bin, /sbin are links into /usr.
mkdir -p "$dest"/usr/{bin,sbin,lib,lib64} "$dest"/etc/ssl/certs "$dest"/tmp "$dest"/home/nonroot
for dir in bin sbin lib lib64; do
  [ -L "$dest/$dir" ] || ln -s "usr/$dir" "$dest/$dir"
done
chmod 1777 "$dest/tmp"

install -m 0755 "$binary" "$dest/usr/bin/gpuorch"
ln -sf gpuorch "$dest/usr/bin/kubectl-gpuorch"
for lib in "${libs[@]}"; do
  # ldd names the path the loader opens (/lib/x86_64-linux-gnu/libc.so.6); the
  # same path in the tree holds the file it resolves to.
  target="$dest/usr${lib#/usr}"
  mkdir -p "$(dirname "$target")"
  cp -L "$lib" "$target"
  chmod 0755 "$target"
done
install -m 0644 "$ca_bundle" "$dest/etc/ssl/certs/ca-certificates.crt"

cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
# Host names from /etc/hosts first (the kubelet writes it), then DNS (resolv.conf, also from the kubelet).
echo 'hosts: files dns' >"$dest/etc/nsswitch.conf"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/nsswitch.conf"
if [ "$(id -u)" = 0 ]; then chown 65532:65532 "$dest/home/nonroot"; fi
