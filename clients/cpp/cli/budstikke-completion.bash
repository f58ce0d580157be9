# bash completion for the budstikke CLI.
#   source clients/cpp/cli/budstikke-completion.bash   (or copy to /etc/bash_completion.d/)
_budstikke() {
  local cur=${COMP_WORDS[COMP_CWORD]} group=${COMP_WORDS[1]:-}
  local globals="--server --ca --cert --key --output --timeout --help"
  local groups="whoami check-text directory consult consent referral attachment inbox audit admin"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$groups $globals" -- "$cur"))
    return
  fi
  local subs=""
  case "$group" in
    directory) subs="list get create update" ;;
    consult) subs="ask list show claim answer close message" ;;
    consent) subs="record revoke list show" ;;
    referral) subs="send draft cosign return list show ack decide withdraw message thread invite supplement" ;;
    attachment) subs="put get" ;;
    inbox) subs="watch" ;;
    audit) subs="public-key checkpoint get prove consistency query report verify" ;;
    admin) subs="key-status rewrap-progress rotate-key shred-key backup server-info" ;;
  esac
  case "${COMP_WORDS[COMP_CWORD-1]}" in
    --output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
    --ca|--cert|--key|--text-file|--action-log|--attach|--state|--out)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$globals" -- "$cur"))
  fi
}
complete -F _budstikke budstikke
