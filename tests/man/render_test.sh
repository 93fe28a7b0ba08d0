#!/usr/bin/env bash
# Renders every built man page with groff (all warnings on) and with man -l:
# a page must render without a single warning and show its required sections
# (section 1: the nine of docs/development.md; section 5: NAME, DESCRIPTION,
# EXAMPLES, SEE ALSO).
#   render_test.sh BUILT_MAN_DIR
set -u
dir=$1
failures=0
shopt -s nullglob
pages=("$dir"/*.[1-9])
if ((${#pages[@]} == 0)); then
    echo "FAIL: no built man pages in $dir"
    exit 1
fi
for page in "${pages[@]}"; do
    name=$(basename "$page")
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    if [[ -n $warnings ]]; then
        echo "FAIL: $name: groff warnings:"
        echo "$warnings"
        failures=$((failures + 1))
    fi
    rendered=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man -l "$page" 2>&1 | sed "s/.\x08//g")
    # Commands (section 1) have the full set; file formats (section 5) the ones that apply.
    if [[ $name == *.1 ]]; then
        sections=(NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO")
    else
        sections=(NAME DESCRIPTION EXAMPLES "SEE ALSO")
    fi
    for section in "${sections[@]}"; do
        if ! grep -qx "$section" <<<"$rendered"; then
            echo "FAIL: $name: man -l shows no $section section"
            failures=$((failures + 1))
        fi
    done
    title=${name%.*}
    if ! head -1 <<<"$rendered" | grep -q "^$title(${name##*.})"; then
        echo "FAIL: $name: the header does not read $title(${name##*.}): $(head -1 <<<"$rendered")"
        failures=$((failures + 1))
    fi
    echo "checked $name"
done
((failures == 0))
