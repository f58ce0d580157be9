#!/usr/bin/env bash
# The bash completion script loads and completes command groups, subcommands,
# global flags and flag values. With the CLI binary as $1 it also checks that
# every group and subcommand the CLI has (from its --help) is offered, and
# nothing else. Prints "N passed, M failed"; exits 1 if any check failed.
set -uo pipefail
source "$(dirname "$0")/../clients/cpp/cli/budstikke-completion.bash" || { echo "cannot load"; exit 1; }
cli=${1:-}
if [ -n "$cli" ] && [ ! -x "$cli" ]; then echo "FAIL no CLI binary at $cli"; echo "0 passed, 1 failed"; exit 1; fi
passed=0 failed=0
check() {  # check "expected" word...   (SORTED=1: compare sorted)
  local want=$1 got; shift
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
  _budstikke
  got="${COMPREPLY[*]}"
  [ -n "${SORTED:-}" ] && got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)
  if [ "$got" = "$want" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL completing '$*': got '$got', want '$want'"
  fi
}
check "consult consent" budstikke con
check "verify" budstikke audit ve
check "table json" budstikke whoami --output ""
check "json" budstikke consent list --output j
check "--server" budstikke --se
check "ask answer" budstikke consult a
check "send show supplement" budstikke referral s
check "watch" budstikke inbox ""
check "key-status" budstikke admin k
check "" budstikke nosuchgroup x
check "--timeout" budstikke consent list --ti

# Subcommands of a CLI group, from "budstikke GROUP --help" (CLI11's "Subcommands:" list).
subcommands() {
  "$cli" "$@" --help 2>/dev/null | awk '/^Subcommands:/ {on = 1; next} /^[^ ]/ {on = 0} on && /^  [a-z]/ {print $1}' | sort | xargs
}
if [ -n "$cli" ]; then
  for group in $(subcommands) ; do
    check "$group" budstikke "$group"
    want=$(subcommands "$group")
    [ -z "$want" ] && continue
    SORTED=1 check "$want" budstikke "$group" ""
  done
  [ -z "$(subcommands)" ] && { failed=$((failed + 1)); echo "FAIL $cli --help lists no subcommands"; }
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
