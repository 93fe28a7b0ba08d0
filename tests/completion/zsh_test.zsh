#!/usr/bin/env zsh
# Drives the zsh completion script in real zsh with compinit loaded. The
# completion builtins only work inside a live completion widget, so compadd and
# _files are replaced by functions that record what _gpuorch hands them; words
# and CURRENT are set as zsh sets them for a widget.
#   zsh -f zsh_test.zsh PATH/TO/gpuorch
emulate -L zsh
setopt err_return no_unset pipe_fail 2>/dev/null || true
unsetopt err_return

binary=${1:A}
tmp=$(mktemp -d)
trap 'rm -rf $tmp' EXIT
mkdir -p $tmp/bin $tmp/fpath
ln -s $binary $tmp/bin/gpuorch
path=($tmp/bin $path)

integer failures=0
fail() { print -r -- "FAIL: $*"; (( failures++ )) }

# 1. Installed the Debian way: the file _gpuorch in $fpath, picked up by compinit.
gpuorch completion zsh > $tmp/fpath/_gpuorch
fpath=($tmp/fpath $fpath)
autoload -Uz compinit
compinit -u -d $tmp/zcompdump
[[ ${_comps[gpuorch]-} == _gpuorch ]] || fail "compinit did not bind gpuorch to _gpuorch from fpath (got '${_comps[gpuorch]-}')"

# The recorders.
typeset -ga recorded
compadd() {
  local -a displays_array suffix
  local arg
  integer nospace=0
  while (( $# )); do
    arg=$1; shift
    case $arg in
      (--) break ;;
      (-d) displays_array=("${(@P)1}"); shift ;;
      (-S) [[ $1 == '' ]] && nospace=1; shift ;;
    esac
  done
  recorded+=("$@")
  (( nospace )) && recorded+=("(nospace)")
  return 0
}
_files() { recorded+=("(files $*)") }

# expect LINE [CANDIDATE...]: completing at the end of LINE yields exactly these.
expect() {
  local line=$1; shift
  words=(${(z)line})
  [[ $line == *' ' ]] && words+=('')
  CURRENT=${#words}
  recorded=()
  _gpuorch
  local got="${(j:|:)recorded}" want="${(j:|:)@}"
  if [[ $got != $want ]]; then
    fail "'$line': expected [$want], got [$got]"
  else
    print -r -- "ok: '$line' -> [$got]"
  fi
}

# The first call autoloads _gpuorch from fpath (the autoload branch of the script).
expect "gpuorch " version completion
expect "gpuorch ver" version
expect "gpuorch completion " bash zsh fish
expect "gpuorch completion z" zsh
expect "gpuorch version --out" --output
expect "gpuorch version -o " json yaml
expect "gpuorch version --output=j" --output=json
expect "gpuorch -v 4 --log-format " text json
expect "gpuorch --kubeconfig " "(files )"
expect "gpuorch version --client-key " "(files )"
expect "gpuorch --context "

# Descriptions reach zsh as display strings.
recorded=()
compadd() {
  local arg
  while (( $# )); do
    arg=$1; shift
    case $arg in
      (-d) recorded+=("${(@P)1}"); shift ;;
      (--) break ;;
    esac
  done
}
words=(gpuorch ver); CURRENT=2
_gpuorch
[[ ${recorded[1]-} == "version  -- Print the gpuorch version" ]] || fail "description: got '${recorded[1]-}'"

# 2. Sourced into a running shell: `source <(gpuorch completion zsh)` registers it with compdef.
unfunction _gpuorch
unset '_comps[gpuorch]'
source <(gpuorch completion zsh)
[[ ${_comps[gpuorch]-} == _gpuorch ]] || fail "sourcing did not register _gpuorch with compdef (got '${_comps[gpuorch]-}')"
(( $+functions[_gpuorch] )) || fail "sourcing did not define _gpuorch"

if (( failures )); then
  print -r -- "$failures zsh completion check(s) failed"
  exit 1
fi
print -r -- "zsh completion: all checks passed"
