#!/usr/bin/env bash
# gpuorch has no license yet and must not look as if it had one: every place a
# user or a packager reads about it says "not yet licensed; the maintainers are
# to decide", the same words, and nothing names a license.
#   license_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
statement="not yet licensed; the maintainers are to decide"

grep -qF "gpuorch is $statement." "$src/README.md" || fail "README.md does not say: gpuorch is $statement."
# debian/copyright: the License paragraph says it (folded over lines as DEP-5 allows).
copyright=$src/packaging/deb/copyright
grep -qx 'License: not-yet-licensed' "$copyright" || fail "$copyright: the Files paragraph's License is not not-yet-licensed"
sed -n '/^License: not-yet-licensed$/,/^$/p' "$copyright" | tail -n +2 | tr -s ' \n' ' ' | grep -qF "$statement" \
  || fail "$copyright: the not-yet-licensed paragraph does not say: $statement"
# CPack shows the same file wherever a generator shows a license (not CMake's own license text).
grep -qF "set(CPACK_RESOURCE_FILE_LICENSE \"$src/packaging/deb/copyright\")" "$build/CPackConfig.cmake" \
  || fail "CPACK_RESOURCE_FILE_LICENSE is not packaging/deb/copyright: $(grep CPACK_RESOURCE_FILE_LICENSE "$build/CPackConfig.cmake")"
# No license file, and no SPDX tag in what the project ships.
for name in LICENSE LICENSE.md LICENSE.txt COPYING COPYING.md; do
  [[ ! -e $src/$name ]] || fail "$name exists: a license is for the maintainers to choose; update this test with them"
done
if tagged=$(cd "$src" && git ls-files 2>/dev/null | grep -v '^tests/package/license_test.sh$' \
  | xargs -d '\n' grep -l 'SPDX-License-Identifier' 2>/dev/null); then
  fail "files name a license: $tagged"
fi
echo "ok: README.md, packaging/deb/copyright and CPack say gpuorch is $statement"
