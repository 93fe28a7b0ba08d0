#!/usr/bin/env zsh
# Drives the zsh completion script in real zsh, three ways:
# 1. installed in $fpath and bound by compinit, called with words/CURRENT set as
#    for a widget and recording stand-ins for compadd and _files (exact checks,
#    including file completion and descriptions);
# 2. sourced into a shell, registering itself with compdef;
# 3. in a live interactive zsh on a pseudo-terminal (zpty): real TAB presses
#    through the real completion system and the real compadd builtin.
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
expect "gpuorch " submit get describe delete version validate crd completion simulate sandbox reconcile install uninstall
expect "gpuorch ver" version
expect "gpuorch submit --strategy B" BestFit
expect "gpuorch get -o j" json jsonpath=
expect "gpuorch delete --ign" --ignore-not-found
expect "gpuorch reconcile --watch --healthz" --healthz-stall-timeout
expect "gpuorch delete --dry-run=s" --dry-run=server
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

# 3. In a live interactive zsh on a pseudo-terminal (zpty): a real TAB through
# the real completion system, with the real compadd builtin. A wrapper around
# compadd records the matches it accepted (and its status) to a file.
zmodload zsh/zpty
live_out=$tmp/live.out
zpty gpuorch_live "zsh -f -i"
zpty -w gpuorch_live "PS1='%% '; path=(${(q)tmp}/bin \$path); fpath=(${(q)tmp}/fpath \$fpath); autoload -Uz compinit; compinit -u -d ${(q)tmp}/zcompdump.live"
zpty -w gpuorch_live "compadd() { builtin compadd \"\$@\"; local rc=\$?; local -a m; builtin compadd -O m \"\$@\"; print -rl -- \"rc=\$rc\" \$m END >> ${(q)live_out}; return rc }"

# live_expect LINE [CANDIDATE...]: typing LINE and TAB makes compadd accept exactly these.
live_expect() {
  local line=$1; shift
  rm -f $live_out
  zpty -w -n gpuorch_live $'\C-u'"$line"$'\t'
  integer i
  for (( i = 0; i < 200; i++ )); do
    [[ -f $live_out && "$(<$live_out)" == *END ]] && break
    sleep 0.05
  done
  local got want="rc=0|${(j:|:)@}|END"
  [[ -f $live_out ]] && got=${(j:|:)${(f)"$(<$live_out)"}}
  if [[ $got != $want ]]; then
    fail "live '$line': expected [$want], got [${got:-nothing within 10 s}]"
  else
    print -r -- "ok (live): '$line' -> [$got]"
  fi
}

live_expect "gpuorch ver" version
live_expect "gpuorch version -o " json yaml
live_expect "gpuorch completion " bash zsh fish
live_expect "gpuorch -n ml version --output=y" --output=yaml
zpty -d gpuorch_live

if (( failures )); then
  print -r -- "$failures zsh completion check(s) failed"
  exit 1
fi
print -r -- "zsh completion: all checks passed"
