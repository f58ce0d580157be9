#!/usr/bin/env bash
# The bash completion script loads and completes command groups and subcommands.
set -euo pipefail
source "$(dirname "$0")/../clients/cpp/cli/budstikke-completion.bash"
check() {  # check "expected" word...
  local want=$1; shift
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
  _budstikke
  [ "${COMPREPLY[*]}" = "$want" ] || { echo "completing '$*': got '${COMPREPLY[*]}', want '$want'"; exit 1; }
}
check "consult consent" budstikke con
check "verify" budstikke audit ve
check "table json" budstikke whoami --output ""
echo "1 passed, 0 failed"
