#!/usr/bin/env bash
# gpuorch links libcurl's archive without the libraries behind its LDAP, RTMP,
# SCP/SFTP and GSS-API code (cmake/Dependencies.cmake, GPUORCH_STATIC_CURL):
# the binary neither names nor loads them, nor the shared libcurl.
#   static_curl_test.sh GPUORCH
set -euo pipefail
gpuorch=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
left_out='lib(curl|ldap|lber|rtmp|ssh2|gssapi_krb5|krb5|gnutls|sasl2)[-.]'

# Into files first: grep -q closing a pipe early would fail the pipeline under pipefail.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
readelf -dW "$gpuorch" >"$tmp/dynamic"
grep -q '(NEEDED)' "$tmp/dynamic" || fail "readelf shows no NEEDED entries in $gpuorch"
! grep -E "\(NEEDED\).*\[$left_out" "$tmp/dynamic" || fail "$gpuorch names a library it should not link"
ldd "$gpuorch" >"$tmp/ldd"
! grep -E "^[[:space:]]*$left_out" "$tmp/ldd" || fail "$gpuorch loads a library it should not"
grep -q libssl.so "$tmp/ldd" || fail "ldd shows no libssl: $(cat "$tmp/ldd")"

# It starts: every symbol it binds at load time resolves (it is linked -z now).
"$gpuorch" version >"$tmp/version" || fail "gpuorch version failed: $(cat "$tmp/version")"
echo "ok: $(grep -c '(NEEDED)' "$tmp/dynamic") shared libraries named, none of libcurl's left-out ones"
